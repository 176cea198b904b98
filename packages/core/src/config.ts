/**
 * The Gatehouse configuration: what a host passes to `createGatehouse`, validated once at
 * start-up (never per request) with one clear message per bad field, and resolved with
 * defaults into `ResolvedConfig`, served to the workflows as the `GatehouseConfig` service.
 */
import { Context, Exit, Schema } from "effect"
import { ClientMetadata } from "./schema/client.js"

const Seconds = Schema.Int.check(Schema.isGreaterThan(0))

const Alg = Schema.Literals(["ES256", "EdDSA", "RS256", "PS256"])
export type SigningAlg = typeof Alg.Type

/** A client declared in config rather than registered (its secret is hashed at start-up). */
export const StaticClient = Schema.Struct({
  client_id: Schema.NonEmptyString,
  client_secret: Schema.optional(Schema.String),
  ...ClientMetadata.fields,
  token_endpoint_auth_method: Schema.optional(ClientMetadata.fields.token_endpoint_auth_method),
  grant_types: Schema.optional(Schema.Array(Schema.String)),
  response_types: Schema.optional(Schema.Array(Schema.String))
})
export type StaticClient = typeof StaticClient.Encoded

export const GatehouseOptions = Schema.Struct({
  /**
   * The issuer identifier (RFC 8414 §2): an https URL (http only for localhost) with no
   * query or fragment. Usually the host app's origin.
   */
  issuer: Schema.String,
  /** Path under the issuer's origin where the OAuth endpoints are mounted, e.g. "/oauth". Default "". */
  basePath: Schema.optional(Schema.String),
  /**
   * Where the host app shows login/consent: a URL or a path, `{id}` replaced by the
   * interaction id (appended as `?interaction=` when absent). Default "/interaction/{id}".
   */
  interactionUrl: Schema.optional(Schema.String),
  /** Scopes offered beyond the OpenID ones (openid profile email address phone offline_access). */
  scopes: Schema.optional(Schema.Array(Schema.String)),
  registration: Schema.optional(Schema.Struct({
    /**
     * > [!WARNING] open registration lets anyone create clients. Off by default.
     */
    open: Schema.optional(Schema.Boolean),
    /** RFC 7591 §3: when set, registration requires this initial access token as a Bearer token. */
    initialAccessToken: Schema.optional(Schema.String)
  })),
  pkce: Schema.optional(Schema.Struct({
    /**
     * "all" (default, OAuth 2.1 / RFC 9700 §2.1.1) or "public".
     * > [!WARNING] "public" lets confidential clients skip PKCE, losing code-injection protection.
     */
    required: Schema.optional(Schema.Literals(["all", "public"]))
  })),
  accessToken: Schema.optional(Schema.Struct({
    /** "jwt" (RFC 9068, default) or "opaque" */
    format: Schema.optional(Schema.Literals(["jwt", "opaque"])),
    /** signing alg for JWT access tokens; default ES256 */
    alg: Schema.optional(Alg),
    /** audience when the request names no resource; default the issuer */
    defaultAudience: Schema.optional(Schema.String)
  })),
  idToken: Schema.optional(Schema.Struct({
    /** algs offered for ID tokens; RS256 is always included (OIDC Discovery §3). */
    algs: Schema.optional(Schema.Array(Alg))
  })),
  /** RFC 8707 resources this AS issues tokens for, with per-resource token format. */
  resources: Schema.optional(Schema.Array(Schema.Struct({
    uri: Schema.String,
    format: Schema.optional(Schema.Literals(["jwt", "opaque"])),
    scopes: Schema.optional(Schema.Array(Schema.String))
  }))),
  ttl: Schema.optional(Schema.Struct({
    authorizationCode: Schema.optional(Seconds),
    accessToken: Schema.optional(Seconds),
    idToken: Schema.optional(Seconds),
    refreshToken: Schema.optional(Seconds),
    session: Schema.optional(Seconds),
    interaction: Schema.optional(Seconds),
    registrationSecret: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
  })),
  clients: Schema.optional(Schema.Array(StaticClient)),
  cookies: Schema.optional(Schema.Struct({
    /** Secure cookies; default true when the issuer is https */
    secure: Schema.optional(Schema.Boolean),
    /** cookie name prefix; default "gatehouse" */
    name: Schema.optional(Schema.String)
  })),
  /** Maximum accepted request body, bytes. Default 64 KiB. */
  maxBodyBytes: Schema.optional(Seconds)
})
export type GatehouseOptions = typeof GatehouseOptions.Encoded

export interface ResolvedConfig {
  readonly issuer: string
  readonly origin: string
  /** normalised, no trailing slash, "" or "/x" */
  readonly basePath: string
  readonly interactionUrl: (id: string) => string
  readonly scopes: ReadonlyArray<string>
  readonly registration: { readonly open: boolean; readonly initialAccessToken?: string | undefined }
  readonly pkceRequired: "all" | "public"
  readonly accessToken: { readonly format: "jwt" | "opaque"; readonly alg: SigningAlg; readonly defaultAudience: string }
  readonly idTokenAlgs: ReadonlyArray<SigningAlg>
  readonly resources: ReadonlyArray<{ readonly uri: string; readonly format?: "jwt" | "opaque" | undefined; readonly scopes?: ReadonlyArray<string> | undefined }>
  readonly ttl: {
    readonly authorizationCode: number
    readonly accessToken: number
    readonly idToken: number
    readonly refreshToken: number
    readonly session: number
    readonly interaction: number
    readonly registrationSecret: number
  }
  readonly clients: ReadonlyArray<StaticClient>
  readonly cookies: { readonly secure: boolean; readonly name: string }
  readonly maxBodyBytes: number
  /** endpoint URLs, absolute */
  readonly endpoints: {
    readonly authorization: string
    readonly token: string
    readonly userinfo: string
    readonly jwks: string
    readonly registration: string
    readonly introspection: string
    readonly revocation: string
    readonly resume: string
  }
}

/** The OpenID scopes always offered (OIDC Core §5.4, §11). */
export const OIDC_SCOPES = ["openid", "profile", "email", "address", "phone", "offline_access"] as const

/** Thrown by `resolveConfig`: every problem, one per line, each naming its field. */
export class GatehouseConfigError extends Error {
  override readonly name = "GatehouseConfigError"
  constructor(readonly problems: ReadonlyArray<string>) {
    super(`Invalid Gatehouse config:\n${problems.map((p) => `  - ${p}`).join("\n")}`)
  }
}

const decodeOptions = Schema.decodeUnknownExit(GatehouseOptions)

const isLoopbackHost = (hostname: string) =>
  hostname === "localhost" || hostname === "127.0.0.1" || hostname === "[::1]" || hostname.endsWith(".localhost")

/** Validate and resolve. Throws GatehouseConfigError listing every bad field. */
export const resolveConfig = (input: unknown): ResolvedConfig => {
  const exit = decodeOptions(input, { errors: "all" })
  if (Exit.isFailure(exit)) {
    const message = String(exit.cause).replace(/^Cause\(\[Fail\(SchemaError\(|\)\)\]\)$/g, "")
    throw new GatehouseConfigError(message.split("\n").reduce<Array<string>>((acc, line) => {
      if (line.startsWith("  at ")) {
        // ["ttl"]["accessToken"] -> ttl.accessToken ; ["clients"][0] -> clients[0]
        const path = line.slice(5).replace(/\["([^"]*)"\]/g, ".$1").replace(/^\./, "")
        acc[acc.length - 1] = `${path}: ${acc[acc.length - 1]}`
      }
      else acc.push(line)
      return acc
    }, []))
  }
  const o = exit.value
  const problems: Array<string> = []
  let issuerUrl: URL | undefined
  try {
    issuerUrl = new URL(o.issuer)
  } catch {
    problems.push(`issuer: "${o.issuer}" is not an absolute URL`)
  }
  if (issuerUrl) {
    // RFC 8414 §2: https scheme, no query or fragment.
    if (issuerUrl.protocol !== "https:" && !(issuerUrl.protocol === "http:" && isLoopbackHost(issuerUrl.hostname))) {
      problems.push(`issuer: must use https (http is allowed only for localhost), got "${o.issuer}"`)
    }
    if (issuerUrl.search || issuerUrl.hash || o.issuer.includes("?") || o.issuer.includes("#")) {
      problems.push(`issuer: must not contain a query or fragment (RFC 8414 §2), got "${o.issuer}"`)
    }
  }
  const basePath = (o.basePath ?? "").replace(/\/+$/, "")
  if (basePath !== "" && !/^\/[A-Za-z0-9._~\-/]*$/.test(basePath)) {
    problems.push(`basePath: must start with "/" and contain only path characters, got "${o.basePath}"`)
  }
  const ids = new Set<string>()
  for (const [i, c] of (o.clients ?? []).entries()) {
    if (ids.has(c.client_id)) problems.push(`clients[${i}].client_id: duplicate "${c.client_id}"`)
    ids.add(c.client_id)
    const method = c.token_endpoint_auth_method ?? (c.client_secret ? "client_secret_basic" : "none")
    if ((method === "client_secret_basic" || method === "client_secret_post") && !c.client_secret) {
      problems.push(`clients[${i}].client_secret: required for token_endpoint_auth_method "${method}"`)
    }
    if (method === "private_key_jwt" && !c.jwks) problems.push(`clients[${i}].jwks: required for private_key_jwt`)
    for (const [j, uri] of c.redirect_uris.entries()) {
      if (!URL.canParse(uri) || uri.includes("#")) {
        problems.push(`clients[${i}].redirect_uris[${j}]: must be an absolute URL without fragment, got "${uri}"`)
      }
    }
  }
  for (const [i, r] of (o.resources ?? []).entries()) {
    if (!URL.canParse(r.uri) || r.uri.includes("#")) problems.push(`resources[${i}].uri: must be an absolute URL without fragment (RFC 8707 §2)`)
  }
  if (problems.length > 0 || !issuerUrl) throw new GatehouseConfigError(problems)

  const issuer = o.issuer.replace(/\/+$/, "")
  const origin = issuerUrl.origin
  const base = `${origin}${basePath}`
  const template = o.interactionUrl ?? "/interaction/{id}"
  const interactionBase = new URL(template.replace("{id}", "__ID__"), origin).toString()
  const interactionUrl = template.includes("{id}")
    ? (id: string) => interactionBase.replace("__ID__", encodeURIComponent(id))
    : (id: string) => {
      const u = new URL(interactionBase)
      u.searchParams.set("interaction", id)
      return u.toString()
    }
  const idAlgs = new Set<SigningAlg>(["RS256", ...(o.idToken?.algs ?? ["ES256", "EdDSA"])])
  return {
    issuer,
    origin,
    basePath,
    interactionUrl,
    scopes: [...new Set([...OIDC_SCOPES, ...(o.scopes ?? []), ...(o.resources ?? []).flatMap((r) => r.scopes ?? [])])],
    registration: { open: o.registration?.open ?? false, initialAccessToken: o.registration?.initialAccessToken },
    pkceRequired: o.pkce?.required ?? "all",
    accessToken: {
      format: o.accessToken?.format ?? "jwt",
      alg: o.accessToken?.alg ?? "ES256",
      defaultAudience: o.accessToken?.defaultAudience ?? issuer
    },
    idTokenAlgs: [...idAlgs],
    resources: o.resources ?? [],
    ttl: {
      authorizationCode: o.ttl?.authorizationCode ?? 60,
      accessToken: o.ttl?.accessToken ?? 3600,
      idToken: o.ttl?.idToken ?? 3600,
      refreshToken: o.ttl?.refreshToken ?? 14 * 24 * 3600,
      session: o.ttl?.session ?? 14 * 24 * 3600,
      interaction: o.ttl?.interaction ?? 600,
      registrationSecret: o.ttl?.registrationSecret ?? 0
    },
    clients: o.clients ?? [],
    cookies: { secure: o.cookies?.secure ?? issuerUrl.protocol === "https:", name: o.cookies?.name ?? "gatehouse" },
    maxBodyBytes: o.maxBodyBytes ?? 64 * 1024,
    endpoints: {
      authorization: `${base}/authorize`,
      token: `${base}/token`,
      userinfo: `${base}/userinfo`,
      jwks: `${base}/jwks`,
      registration: `${base}/register`,
      introspection: `${base}/introspect`,
      revocation: `${base}/revoke`,
      resume: `${base}/authorize/resume`
    }
  }
}

export class GatehouseConfig extends Context.Service<GatehouseConfig, ResolvedConfig>()(
  "@gatehouse/core/config/GatehouseConfig"
) {}
