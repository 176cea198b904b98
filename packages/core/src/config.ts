/**
 * The Gatehouse configuration: what a host passes to `createGatehouse`, validated once at
 * start-up (never per request) with one clear message per bad field, and resolved with
 * defaults into `ResolvedConfig`, served to the workflows as the `GatehouseConfig` service.
 */
import * as Context from "effect/Context"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { ClientMetadata } from "./schema/client.js"
import { type IncomingRequest, remoteAddressOf } from "./http/incoming.js"

const Seconds = Schema.Int.check(Schema.isGreaterThan(0))

/** A failure limit: `max` failures within `window` seconds (config `rateLimit`). */
const RateLimitWindow = Schema.Struct({
  /** failures allowed in one window */
  max: Schema.optional(Seconds),
  /** seconds a window lasts, from its first failure */
  window: Schema.optional(Seconds)
})

/** Reads the client's address from a request (config `rateLimit.clientAddress`). */
export type ClientAddress = (request: IncomingRequest) => string | undefined
const ClientAddressFn = Schema.declare((u: unknown): u is ClientAddress => typeof u === "function", {
  expected: "a function (request) => string | undefined"
})

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
    /** RFC 8628 §3.2 `expires_in` of device codes and their user codes. Default 600. */
    deviceCode: Schema.optional(Seconds),
    registrationSecret: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
  })),
  clients: Schema.optional(Schema.Array(StaticClient)),
  /**
   * User codes (RFC 8628 §6.1 device flow, RFC 9635 §3.3.3 GNAP): where people type them and
   * how many wrong codes a browser (or address) may enter (RFC 8628 §5.1).
   */
  userCode: Schema.optional(Schema.Struct({
    /**
     * The page where users enter codes (RFC 8628 `verification_uri`): a URL or a path on
     * the issuer's origin. Default "/device" (served by @gatehouse/ui's pages).
     */
    verificationUrl: Schema.optional(Schema.String),
    /** Wrong codes allowed per browser / address within `failureWindow`. Default 5 (RFC 8628 §5.1). */
    maxFailures: Schema.optional(Seconds),
    /** Seconds a failure counts for (from the first of a window). Default 900. */
    failureWindow: Schema.optional(Seconds)
  })),
  /** RFC 8628 device authorization grant. */
  deviceFlow: Schema.optional(Schema.Struct({
    /** RFC 8628 §3.2 `interval`: seconds between polls. Default 5. */
    interval: Schema.optional(Seconds)
  })),
  /**
   * Failure limits on the credential-guessing surfaces (RFC 6749 §10.10, docs/security.md
   * "Rate limits"). Failures are counted in storage (the `RateLimiter` port), so a limit
   * holds across every process sharing the database.
   */
  rateLimit: Schema.optional(Schema.Struct({
    /**
     * Client authentication (token, introspection, revocation, device authorization):
     * failed attempts allowed per client_id, and per address when `clientAddress` is set,
     * within `window` seconds. Past it the credentials are not checked: 429 `invalid_client`
     * with `Retry-After` until the window ends. Default 10 per 300 s.
     * > [!WARNING] client ids are not secret: anyone may spend a client's budget and lock it
     * > out for one window. A larger `max` trades that risk against guesses of weak secrets.
     */
    clientAuth: Schema.optional(RateLimitWindow),
    /**
     * The login check (`accounts.authenticate` / `accounts.check`, @gatehouse/ui's login
     * form): wrong passwords allowed per username, and per address when the caller gives
     * one, within `window` seconds. Default 10 per 900 s.
     */
    login: Schema.optional(RateLimitWindow),
    /**
     * The client's address, to count client-authentication failures per address as well.
     * Default: the address the Express / Fastify adapter gives (`remoteAddress`: the
     * framework's `ip`, which follows its own trust-proxy setting); none for plain Fetch
     * `Request`s (Next.js, workers), where only the per-client budget applies.
     * > [!WARNING] return an address you can trust (the socket's, or your own proxy's
     * > header), never one any client can set: a forged address escapes the limit.
     */
    clientAddress: Schema.optional(ClientAddressFn)
  })),
  cookies: Schema.optional(Schema.Struct({
    /** Secure cookies; default true when the issuer is https */
    secure: Schema.optional(Schema.Boolean),
    /** cookie name prefix; default "gatehouse" */
    name: Schema.optional(Schema.String)
  })),
  /** Maximum accepted request body, bytes. Default 64 KiB. The same setting as `limits.maxBodyBytes` (which wins). */
  maxBodyBytes: Schema.optional(Seconds),
  /**
   * Request limits, checked before any work: a request over one is refused in the endpoint's
   * own error format (RFC 6749 §5.2 JSON, RFC 6750 challenge, RFC 9635 §3.6, or an error page)
   * with `invalid_request` — 413 for the body, 431 for header fields (RFC 6585 §5), 400 for
   * parameters and JSON shape.
   */
  limits: Schema.optional(Schema.Struct({
    /** Request body, bytes. Default 64 KiB (or the top-level `maxBodyBytes`). */
    maxBodyBytes: Schema.optional(Seconds),
    /** Parameters in one query string or form body. Default 200. */
    maxParams: Schema.optional(Seconds),
    /** Characters of one parameter value (names: at most 256). Default 8192. */
    maxParamLength: Schema.optional(Seconds),
    /** All header fields together, bytes (name + value + 4 per field, as on the HTTP/1.1 wire). Default 16 KiB. */
    maxHeaderBytes: Schema.optional(Seconds),
    /** One header field's value, bytes (`Authorization`, `DPoP`, `Signature`, `Cookie`, ...). Default 8 KiB. */
    maxHeaderValueBytes: Schema.optional(Seconds),
    /** JSON bodies (registration, GNAP): nesting depth of objects and arrays. Default 32. */
    maxJsonDepth: Schema.optional(Seconds),
    /** JSON bodies: object members plus array elements, in total. Default 1000. */
    maxJsonMembers: Schema.optional(Seconds)
  })),
  /** GNAP (RFC 9635, RFC 9767): the grant endpoint at `{basePath}/gnap`. On by default. */
  gnap: Schema.optional(Schema.Struct({
    /** false: no GNAP endpoints */
    enabled: Schema.optional(Schema.Boolean),
    /** RFC 9635 §3.1 `wait`: seconds a client waits between continuation calls while pending. Default 5. */
    wait: Schema.optional(Seconds),
    /** RFC 9635 §7.3.1: how old (seconds) a signature's `created` may be. Default 300. */
    signatureMaxAge: Schema.optional(Seconds),
    /** RFC 9635 §7.3.1 SHOULD: refuse signatures without a `nonce`. Default false. */
    requireNonce: Schema.optional(Schema.Boolean),
    /** RFC 9635 §5.2: continuation calls allowed while pending, then `too_many_attempts`. Default 100. */
    maxPolls: Schema.optional(Seconds),
    /**
     * RFC 9635 §8: the access rights this AS grants — object `type`s and string references,
     * compared byte for byte. Unset: any type or reference is accepted.
     */
    accessTypes: Schema.optional(Schema.Array(Schema.String)),
    /**
     * RFC 9635 §2.3.1: pre-registered client instances, referenced by `instance_id` (or
     * recognised by their key); their `display` takes precedence over what a request says.
     */
    clients: Schema.optional(Schema.Array(Schema.Struct({
      instanceId: Schema.NonEmptyString,
      /** public JWK with `alg` and `kid` (RFC 9635 §7.1) */
      key: Schema.Record(Schema.String, Schema.Unknown),
      /** proofing method, default "httpsig" */
      proof: Schema.optional(Schema.String),
      /** RFC 9635 §7.1.1: an opaque reference clients may send as `key` instead of the key itself */
      keyRef: Schema.optional(Schema.NonEmptyString),
      display: Schema.optional(Schema.Struct({
        name: Schema.optional(Schema.String),
        uri: Schema.optional(Schema.String),
        logoUri: Schema.optional(Schema.String)
      }))
    }))),
    /**
     * RFC 9635 Appendix D: top-level grant request members this AS does not know —
     * "ignore" (default) or "reject" (`invalid_request`).
     */
    unknownMembers: Schema.optional(Schema.Literals(["ignore", "reject"])),
    /**
     * RFC 9635 §2.3: the `class_id`s this AS can interpret; a request naming another is
     * ignored (`unknownClassId: "ignore"`, default) or refused (`"reject"`: `invalid_client`).
     */
    classIds: Schema.optional(Schema.Array(Schema.String)),
    unknownClassId: Schema.optional(Schema.Literals(["ignore", "reject"])),
    /**
     * RFC 9635 §7.3.2 `mtls` key proofing: the client certificate reaches Gatehouse in the
     * RFC 9440 `Client-Cert` header, set by the TLS-terminating proxy (or the Express
     * adapter's `clientCertificate` option). Off by default: `mtls` is then not offered.
     * > [!WARNING] `trustClientCertHeader: true` makes Gatehouse believe whatever `Client-Cert`
     * > a request carries. Turn it on ONLY behind a proxy that strips an incoming
     * > `Client-Cert` and sets it from the TLS handshake; else anyone can claim any key.
     */
    mtls: Schema.optional(Schema.Struct({ trustClientCertHeader: Schema.optional(Schema.Boolean) })),
    /**
     * RFC 9635 §3.6 `user_denied`: true answers it with a `continue`, so the client may modify
     * the grant (§5.3, PATCH re-prompts the RO) or delete it; false (default) finalizes the grant.
     */
    continueAfterDenial: Schema.optional(Schema.Boolean),
    /**
     * RFC 9635 §4.2.2 push finish: the AS POSTs to a URI the client chose.
     * > [!WARNING] `allowPrivateNetworks: true` lets clients make the AS call loopback and
     * > private addresses (SSRF, RFC 9635 §11.34). For tests and closed networks only.
     */
    finishPush: Schema.optional(Schema.Struct({ allowPrivateNetworks: Schema.optional(Schema.Boolean) })),
    /**
     * RFC 9767 §3.2: resource servers allowed to introspect tokens, by public JWK (with `alg`
     * and `kid`) and proofing method (default "httpsig").
     */
    resourceServers: Schema.optional(Schema.Array(Schema.Struct({
      key: Schema.Record(Schema.String, Schema.Unknown),
      proof: Schema.optional(Schema.String),
      /** how the RS names itself in `resource_server` (RFC 9767 §3.2) and, chaining, in `client` (§4); its `instance_id` */
      name: Schema.optional(Schema.String),
      /**
       * RFC 9767 §3.4, §4: the access rights this RS protects — object `type`s and string
       * references it may register (else `invalid_access`), and whose tokens it may chain.
       * Unset: it may register any right (within `accessTypes`).
       */
      access: Schema.optional(Schema.Array(Schema.String)),
      /** RFC 9767 §3.3: false refuses this RS introspection (and registrations requiring it, §3.4). Default true. */
      introspection: Schema.optional(Schema.Boolean)
    })))
  }))
})
export type GatehouseOptions = typeof GatehouseOptions.Encoded

/** Resolved request limits (defaults filled in). */
export interface RequestLimits {
  readonly maxBodyBytes: number
  readonly maxParams: number
  readonly maxParamLength: number
  readonly maxHeaderBytes: number
  readonly maxHeaderValueBytes: number
  readonly maxJsonDepth: number
  readonly maxJsonMembers: number
}

/** A resolved failure limit: at most `max` failures per `window` seconds. */
export interface RateLimitSetting {
  readonly max: number
  /** seconds */
  readonly window: number
}

export interface ResolvedConfig {
  readonly issuer: string
  readonly origin: string
  /** normalised, no trailing slash, "" or "/x" */
  readonly basePath: string
  readonly interactionUrl: (id: string) => string
  readonly scopes: ReadonlyArray<string>
  readonly registration: { readonly open: boolean; readonly initialAccessToken?: string | undefined }
  readonly pkceRequired: "all" | "public"
  /** user codes (RFC 8628 §6.1, RFC 9635 §3.3.3) */
  readonly userCode: {
    /** absolute URL of the code entry page (RFC 8628 `verification_uri`) */
    readonly verificationUri: string
    readonly maxFailures: number
    /** seconds */
    readonly failureWindow: number
  }
  /** RFC 8628 device authorization grant */
  readonly deviceFlow: {
    /** seconds, RFC 8628 §3.2 `interval` */
    readonly interval: number
  }
  /** failure limits on the credential-guessing surfaces (see `GatehouseOptions.rateLimit`) */
  readonly rateLimit: {
    readonly clientAuth: RateLimitSetting
    readonly login: RateLimitSetting
    readonly clientAddress?: ClientAddress | undefined
  }
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
    /** RFC 8628 §3.2 `expires_in` */
    readonly deviceCode: number
    readonly registrationSecret: number
  }
  readonly clients: ReadonlyArray<StaticClient>
  readonly cookies: { readonly secure: boolean; readonly name: string }
  /** = `limits.maxBodyBytes` */
  readonly maxBodyBytes: number
  /** request limits (see `GatehouseOptions.limits`) */
  readonly limits: RequestLimits
  /** GNAP (RFC 9635) settings */
  readonly gnap: {
    readonly enabled: boolean
    readonly wait: number
    readonly signatureMaxAge: number
    readonly requireNonce: boolean
    readonly maxPolls: number
    readonly allowPrivatePush: boolean
    /** undefined: any access type or reference */
    readonly accessTypes?: ReadonlyArray<string> | undefined
    /** RFC 9635 §2.3.1 pre-registered client instances */
    readonly clients: ReadonlyArray<{
      readonly instanceId: string
      readonly key: Record<string, unknown>
      readonly proof: string
      readonly keyRef?: string | undefined
      readonly display?: { readonly name?: string | undefined; readonly uri?: string | undefined; readonly logoUri?: string | undefined } | undefined
    }>
    /** Appendix D: unknown top-level request members */
    readonly unknownMembers: "ignore" | "reject"
    /** §2.3: interpretable class_ids (undefined: none) and what to do with the others */
    readonly classIds?: ReadonlyArray<string> | undefined
    readonly unknownClassId: "ignore" | "reject"
    /** §7.3.2: trust the RFC 9440 Client-Cert header (mtls offered) */
    readonly mtls: boolean
    /** §3.6: `user_denied` comes with a `continue` (the grant stays pending) */
    readonly continueAfterDenial: boolean
    readonly resourceServers: ReadonlyArray<{
      readonly key: Record<string, unknown>
      readonly proof: string
      readonly name?: string | undefined
      /** RFC 9767 §3.4: what it may register; undefined: anything */
      readonly access?: ReadonlyArray<string> | undefined
      /** RFC 9767 §3.3: may it introspect */
      readonly introspection: boolean
    }>
  }
  /** endpoint URLs, absolute */
  readonly endpoints: {
    readonly authorization: string
    readonly token: string
    readonly userinfo: string
    readonly jwks: string
    readonly registration: string
    readonly introspection: string
    readonly revocation: string
    /** RFC 8628 §3.1 device authorization endpoint */
    readonly deviceAuthorization: string
    /** back from the host's pages after a user code was entered (RFC 8628 §3.3) */
    readonly deviceResume: string
    readonly resume: string
    /** RFC 9635 §2 grant endpoint */
    readonly gnap: string
    /** RFC 9635 §5 continuation URIs: this + "/" + grant id */
    readonly gnapContinue: string
    /** RFC 9635 §6 token management URIs: this + "/" + manage id */
    readonly gnapToken: string
    /** RFC 9635 §4.1.1 interaction start (redirect mode): this + "/" + grant id + "/" + secret */
    readonly gnapInteract: string
    /** back from the host's pages: RFC 9635 §4.2 finish */
    readonly gnapResume: string
    /** RFC 9767 §3.3 token introspection for resource servers */
    readonly gnapIntrospect: string
    /** RFC 9767 §3.1 RS-facing discovery, at the origin's root */
    readonly gnapResourceServerDiscovery: string
    /** RFC 9767 §3.4 resource set registration */
    readonly gnapResourceRegistration: string
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
  // RFC 8628 §3.2: verification_uri is an absolute URI the user types; no fragment
  const verificationUrl = o.userCode?.verificationUrl ?? "/device"
  const verification = issuerUrl && URL.canParse(verificationUrl, issuerUrl.origin) ? new URL(verificationUrl, issuerUrl.origin) : undefined
  if (issuerUrl && (!verification || verificationUrl.includes("#") || !/^https?:$/.test(verification.protocol))) {
    problems.push(`userCode.verificationUrl: must be a path or an http(s) URL without fragment, got "${verificationUrl}"`)
  }
  if (problems.length > 0 || !issuerUrl) throw new GatehouseConfigError(problems)
  const verificationUri = verification!.toString()

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
    userCode: {
      verificationUri,
      maxFailures: o.userCode?.maxFailures ?? 5,
      failureWindow: o.userCode?.failureWindow ?? 900
    },
    deviceFlow: { interval: o.deviceFlow?.interval ?? 5 },
    rateLimit: {
      clientAuth: { max: o.rateLimit?.clientAuth?.max ?? 10, window: o.rateLimit?.clientAuth?.window ?? 300 },
      login: { max: o.rateLimit?.login?.max ?? 10, window: o.rateLimit?.login?.window ?? 900 },
      clientAddress: o.rateLimit?.clientAddress ?? remoteAddressOf
    },
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
      deviceCode: o.ttl?.deviceCode ?? 600,
      registrationSecret: o.ttl?.registrationSecret ?? 0
    },
    clients: o.clients ?? [],
    cookies: { secure: o.cookies?.secure ?? issuerUrl.protocol === "https:", name: o.cookies?.name ?? "gatehouse" },
    maxBodyBytes: o.limits?.maxBodyBytes ?? o.maxBodyBytes ?? 64 * 1024,
    limits: {
      maxBodyBytes: o.limits?.maxBodyBytes ?? o.maxBodyBytes ?? 64 * 1024,
      maxParams: o.limits?.maxParams ?? 200,
      maxParamLength: o.limits?.maxParamLength ?? 8192,
      maxHeaderBytes: o.limits?.maxHeaderBytes ?? 16 * 1024,
      maxHeaderValueBytes: o.limits?.maxHeaderValueBytes ?? 8 * 1024,
      maxJsonDepth: o.limits?.maxJsonDepth ?? 32,
      maxJsonMembers: o.limits?.maxJsonMembers ?? 1000
    },
    endpoints: {
      authorization: `${base}/authorize`,
      token: `${base}/token`,
      userinfo: `${base}/userinfo`,
      jwks: `${base}/jwks`,
      registration: `${base}/register`,
      introspection: `${base}/introspect`,
      revocation: `${base}/revoke`,
      deviceAuthorization: `${base}/device_authorization`,
      deviceResume: `${base}/device/resume`,
      resume: `${base}/authorize/resume`,
      gnap: `${base}/gnap`,
      gnapContinue: `${base}/gnap/continue`,
      gnapToken: `${base}/gnap/token`,
      gnapInteract: `${base}/gnap/interact`,
      gnapResume: `${base}/gnap/resume`,
      gnapIntrospect: `${base}/gnap/introspect`,
      gnapResourceServerDiscovery: `${origin}/.well-known/gnap-as-rs`,
      gnapResourceRegistration: `${base}/gnap/resource`
    },
    gnap: {
      enabled: o.gnap?.enabled ?? true,
      wait: o.gnap?.wait ?? 5,
      signatureMaxAge: o.gnap?.signatureMaxAge ?? 300,
      requireNonce: o.gnap?.requireNonce ?? false,
      maxPolls: o.gnap?.maxPolls ?? 100,
      allowPrivatePush: o.gnap?.finishPush?.allowPrivateNetworks ?? false,
      accessTypes: o.gnap?.accessTypes,
      clients: (o.gnap?.clients ?? []).map((c) => ({ instanceId: c.instanceId, key: c.key, proof: c.proof ?? "httpsig", keyRef: c.keyRef, display: c.display })),
      unknownMembers: o.gnap?.unknownMembers ?? "ignore",
      classIds: o.gnap?.classIds,
      unknownClassId: o.gnap?.unknownClassId ?? "ignore",
      mtls: o.gnap?.mtls?.trustClientCertHeader ?? false,
      continueAfterDenial: o.gnap?.continueAfterDenial ?? false,
      resourceServers: (o.gnap?.resourceServers ?? []).map((rs) => ({
        key: rs.key,
        proof: rs.proof ?? "httpsig",
        name: rs.name,
        access: rs.access,
        introspection: rs.introspection ?? true
      }))
    }
  }
}

export class GatehouseConfig extends Context.Service<GatehouseConfig, ResolvedConfig>()(
  "@gatehouse/core/config/GatehouseConfig"
) {}
