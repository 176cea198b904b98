/**
 * What a resource server passes to `createResourceServer`, validated once at start-up (never
 * per request) with one message per bad field, and resolved with defaults.
 */
import { type GnapResourceOptions, type ResolvedGnapOptions, resolveGnapOptions } from "./gnap.js"
import type { ProtectedResourceMetadata } from "./metadata.js"

export interface IntrospectionOptions {
  /**
   * The RFC 7662 introspection endpoint. Default: `introspection_endpoint` from the
   * authorization server's RFC 8414 metadata.
   */
  readonly endpoint?: string | undefined
  /** The resource server's client credentials at the AS, sent as HTTP Basic (RFC 7662 §2.1, RFC 6749 §2.3.1). */
  readonly clientId: string
  readonly clientSecret: string
  /**
   * How long an active introspection result is reused, in seconds; never beyond the token's
   * `exp` (RFC 7662 §4). Default 10. 0 turns the cache off.
   *
   * > [!WARNING]
   * > A revoked token keeps being accepted from the cache for up to this long.
   */
  readonly cacheTtlSeconds?: number | undefined
}

export interface JwksOptions {
  /** How long a fetched JWK Set is used before it is fetched again, in seconds. Default 600. */
  readonly maxAgeSeconds?: number | undefined
  /**
   * The least time between two fetches, in seconds: a token whose `kid` is unknown triggers
   * one re-fetch (key rotation), but not more often than this. Default 30.
   */
  readonly cooldownSeconds?: number | undefined
}

export interface ResourceServerOptions {
  /** The authorization server's issuer identifier (RFC 8414 §2): tokens must carry it as `iss`. */
  readonly issuer: string
  /**
   * This resource's identifier(s) (RFC 8707 §2, RFC 9068 §4): a token's `aud` must contain
   * one of them. The first is the `resource` of the RFC 9728 metadata unless
   * `resourceMetadata.resource` says otherwise.
   */
  readonly audience: string | ReadonlyArray<string>
  /** The AS's JWK Set URL. Default: `jwks_uri` from its RFC 8414 metadata. */
  readonly jwksUri?: string | undefined
  /** Opaque (non-JWT) access tokens are checked by RFC 7662 introspection when this is set. */
  readonly introspection?: IntrospectionOptions | undefined
  /** RFC 9728 §2 members of this resource's metadata, over the defaults. */
  readonly resourceMetadata?: Partial<ProtectedResourceMetadata> | undefined
  /**
   * The fetch used to reach the AS (metadata, JWKS, introspection). Default `globalThis.fetch`.
   * An app that embeds Gatehouse can pass `(input, init) => gatehouse.handler(new Request(input, init))`
   * to skip the network.
   */
  readonly fetch?: typeof fetch | undefined
  /** Leeway for `exp`, `nbf` and `iat`, in seconds. Default 0. */
  readonly clockToleranceSeconds?: number | undefined
  /**
   * JWS algorithms accepted for JWT access tokens. Default: the asymmetric ones (ES256/384/512,
   * EdDSA, Ed25519, RS256/384/512, PS256/384/512). `none` and the HMAC algorithms are always refused.
   */
  readonly algorithms?: ReadonlyArray<string> | undefined
  /** JWK Set caching. */
  readonly jwks?: JwksOptions | undefined
  /** `realm` of the `WWW-Authenticate` challenges (RFC 6750 §3). Default: the resource identifier. */
  readonly realm?: string | undefined
  /** Give up on a call to the AS after this many seconds. Default 10. */
  readonly timeoutSeconds?: number | undefined
  /**
   * The current time, in milliseconds since the epoch. Default: Effect's `Clock` (the system
   * clock unless an Effect user provides another, such as `TestClock`).
   *
   * > [!WARNING]
   * > For tests and hosts with their own time source only: a clock that lags lets expired
   * > tokens through.
   */
  readonly clock?: (() => number) | undefined
  /**
   * GNAP (RFC 9635 §7.2, RFC 9767): accept GNAP access tokens — key-bound ones as
   * `Authorization: GNAP <token>` with an HTTP Message Signature by the token's key,
   * `bearer`-flagged ones as `Authorization: Bearer` — checked by the AS's RS-facing
   * introspection, and add the RS-first `WWW-Authenticate: GNAP as_uri="..."` challenge (§9.1).
   */
  readonly gnap?: GnapResourceOptions | undefined
}

/** Algorithms that can verify an AS's signature with a public key. */
export const ASYMMETRIC_ALGS = [
  "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"
] as const

export interface ResolvedOptions {
  readonly issuer: string
  readonly audience: ReadonlyArray<string>
  /** the RFC 9728 resource identifier */
  readonly resource: string
  /** RFC 9728 §3.1: where the metadata document is published */
  readonly resourceMetadataUrl: string
  readonly realm: string
  readonly jwksUri: string | undefined
  readonly introspection: {
    readonly endpoint: string | undefined
    readonly clientId: string
    readonly clientSecret: string
    readonly cacheTtlMs: number
  } | undefined
  readonly resourceMetadata: Partial<ProtectedResourceMetadata>
  readonly fetch: typeof fetch
  readonly clockToleranceSeconds: number
  readonly algorithms: ReadonlyArray<string>
  readonly jwksMaxAgeMs: number
  readonly jwksCooldownMs: number
  readonly timeoutMs: number
  readonly clock: (() => number) | undefined
  readonly gnap: ResolvedGnapOptions | undefined
}

/** Thrown by `createResourceServer`: every problem, one per line, each naming its field. */
export class ResourceServerConfigError extends Error {
  override readonly name = "ResourceServerConfigError"
  constructor(readonly problems: ReadonlyArray<string>) {
    super(`Invalid resource server options:\n${problems.map((p) => `  - ${p}`).join("\n")}`)
  }
}

const isAbsoluteUrl = (s: unknown): s is string => typeof s === "string" && URL.canParse(s)

/**
 * RFC 9728 §3.1: the metadata URL is the resource identifier with
 * `/.well-known/oauth-protected-resource` inserted between its host and its path
 * (a terminating slash of the path removed).
 */
export const resourceMetadataUrlFor = (resource: string): string => {
  const url = new URL(resource)
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "")
  return `${url.origin}/.well-known/oauth-protected-resource${path}${url.search}`
}

const seconds = (problems: Array<string>, name: string, value: number | undefined, fallback: number) => {
  if (value === undefined) return fallback
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    problems.push(`${name}: must be a number of seconds >= 0, got ${JSON.stringify(value)}`)
    return fallback
  }
  return value
}

/** Validate and resolve. Throws ResourceServerConfigError listing every bad field. */
export const resolveOptions = (o: ResourceServerOptions): ResolvedOptions => {
  const problems: Array<string> = []
  if (!isAbsoluteUrl(o.issuer)) problems.push(`issuer: must be an absolute URL, got ${JSON.stringify(o.issuer)}`)
  const audience = typeof o.audience === "string" ? [o.audience] : Array.isArray(o.audience) ? [...o.audience] : []
  if (audience.length === 0 || audience.some((a) => typeof a !== "string" || a === "")) {
    problems.push(`audience: must be a non-empty string or a non-empty array of them, got ${JSON.stringify(o.audience)}`)
  }
  if (o.jwksUri !== undefined && !isAbsoluteUrl(o.jwksUri)) problems.push(`jwksUri: must be an absolute URL, got ${JSON.stringify(o.jwksUri)}`)
  const i = o.introspection
  if (i !== undefined) {
    if (i.endpoint !== undefined && !isAbsoluteUrl(i.endpoint)) problems.push(`introspection.endpoint: must be an absolute URL, got ${JSON.stringify(i.endpoint)}`)
    if (typeof i.clientId !== "string" || i.clientId === "") problems.push(`introspection.clientId: must be a non-empty string`)
    if (typeof i.clientSecret !== "string" || i.clientSecret === "") problems.push(`introspection.clientSecret: must be a non-empty string`)
  }
  const algorithms = o.algorithms === undefined ? [...ASYMMETRIC_ALGS] : [...o.algorithms]
  for (const alg of algorithms) {
    // RFC 9068 §4: "MUST reject any JWT in which the value of alg is none"; HMAC would need a secret shared with the AS
    if (alg === "none" || /^HS/.test(alg)) problems.push(`algorithms: "${alg}" cannot verify an authorization server's signature`)
  }
  if (algorithms.length === 0) problems.push(`algorithms: must name at least one algorithm`)
  const resource = o.resourceMetadata?.resource ?? audience[0]
  if (resource !== undefined && !isAbsoluteUrl(resource)) {
    problems.push(`resourceMetadata.resource: the resource identifier must be an absolute URL (RFC 9728 §1.2), got ${JSON.stringify(resource)}`)
  }
  if (o.realm !== undefined && /["\\]/.test(o.realm)) problems.push(`realm: must not contain '"' or '\\'`)
  if (o.fetch !== undefined && typeof o.fetch !== "function") problems.push(`fetch: must be a function`)
  if (o.clock !== undefined && typeof o.clock !== "function") problems.push(`clock: must be a function returning milliseconds`)
  const clockToleranceSeconds = seconds(problems, "clockToleranceSeconds", o.clockToleranceSeconds, 0)
  const cacheTtl = seconds(problems, "introspection.cacheTtlSeconds", i?.cacheTtlSeconds, 10)
  const maxAge = seconds(problems, "jwks.maxAgeSeconds", o.jwks?.maxAgeSeconds, 600)
  const cooldown = seconds(problems, "jwks.cooldownSeconds", o.jwks?.cooldownSeconds, 30)
  const timeout = seconds(problems, "timeoutSeconds", o.timeoutSeconds, 10)
  const gnap = o.gnap === undefined ? undefined : resolveGnapOptions(o.gnap, problems)
  if (problems.length > 0 || resource === undefined) throw new ResourceServerConfigError(problems)
  return {
    issuer: o.issuer,
    audience,
    resource,
    resourceMetadataUrl: resourceMetadataUrlFor(resource),
    realm: o.realm ?? resource,
    jwksUri: o.jwksUri,
    introspection: i === undefined ? undefined : {
      endpoint: i.endpoint,
      clientId: i.clientId,
      clientSecret: i.clientSecret,
      cacheTtlMs: cacheTtl * 1000
    },
    resourceMetadata: o.resourceMetadata ?? {},
    fetch: o.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    clockToleranceSeconds,
    algorithms,
    jwksMaxAgeMs: maxAge * 1000,
    jwksCooldownMs: cooldown * 1000,
    timeoutMs: (timeout === 0 ? 10 : timeout) * 1000,
    clock: o.clock,
    gnap
  }
}
