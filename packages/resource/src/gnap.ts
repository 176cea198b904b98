/**
 * GNAP on the resource-server side (RFC 9635 §7.2, §9.1; RFC 9767 §3).
 *
 * - Tokens presented as `Authorization: GNAP <token>` (RFC 9635 §7.2) are key-bound: the
 *   request must carry a proof by the token's key (§7.3) — here an HTTP Message Signature
 *   (RFC 9421) covering `@method`, `@target-uri` and `authorization` (§7.3.1), checked with
 *   core's own verifier (`Gnap.verifyProof`), the same code the AS runs.
 * - Tokens carrying the `bearer` flag are presented as `Authorization: Bearer` (RFC 9635 §7.2,
 *   RFC 6750 §2.1); a key-bound token presented that way is refused.
 * - Gatehouse's GNAP access tokens are opaque: their state and key come from the AS's
 *   RS-facing introspection (RFC 9767 §3.3), a JSON POST signed with this RS's own key
 *   (§3.2: the RS is a GNAP client of the AS, proving its key with `httpsig`).
 * - A request without a token (or with a refused one) is answered with the RS-first
 *   challenge `WWW-Authenticate: GNAP as_uri="<grant endpoint>"` (RFC 9635 §9.1).
 */
import { Gnap, GatehouseConfig, InvalidRequest, InvalidToken, ReplayCache, resolveConfig, type ResolvedConfig, StorageError } from "@gatehouse/core"
import { Clock, Effect, Predicate } from "effect"
import * as jose from "jose"
import { fetchJsonObject } from "./discovery.js"

/** `createResourceServer({ gnap })`: how this RS talks to a GNAP authorization server. */
export interface GnapResourceOptions {
  /**
   * The AS's grant endpoint (RFC 9635 §2): sent as `as_uri` in the RS-first challenge
   * (§9.1), and the `iss` an introspection response must name (RFC 9767 §3.3).
   * For Gatehouse: `gatehouse.config.endpoints.gnap`.
   */
  readonly asUri: string
  /**
   * This RS's private key as a JWK with `alg` and `kid` (RFC 9635 §7.1); its public part is
   * registered at the AS (Gatehouse: `gnap.resourceServers: [{ key: publicJwk }]`). Signs
   * the introspection requests (RFC 9767 §3.2).
   */
  readonly rsKey: jose.JWK
  /**
   * How the AS knows this RS in `resource_server` (RFC 9767 §3.3): its configured name
   * (Gatehouse: `gnap.resourceServers[].name`). Default: the key object by value.
   */
  readonly rsName?: string | undefined
  /** RFC 9767 §3.3 introspection endpoint. Default: from `/.well-known/gnap-as-rs` at `asUri`'s origin (§3.1). */
  readonly introspectionEndpoint?: string | undefined
  /** RFC 9635 §7.3.1: how old (seconds) a client signature's `created` may be. Default 300. */
  readonly signatureMaxAgeSeconds?: number | undefined
  /** RFC 9635 §7.3.1 SHOULD: refuse client signatures without a `nonce`. Default false. */
  readonly requireNonce?: boolean | undefined
}

export interface ResolvedGnapOptions {
  readonly asUri: string
  readonly rsName: string | undefined
  readonly introspectionEndpoint: string | undefined
  /** the private JWK (validated) and its public part */
  readonly privateJwk: jose.JWK & { readonly kid: string; readonly alg: string }
  readonly publicJwk: jose.JWK & { readonly kid: string; readonly alg: string }
  readonly signatureMaxAgeSeconds: number
  readonly requireNonce: boolean
}

/** Algorithms this RS can sign introspection requests with (RFC 9421 §3.3 via their JWS names). */
const SIGN_PARAMS: Record<string, AlgorithmIdentifier | RsaPssParams | EcdsaParams> = {
  ES256: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams,
  ES384: { name: "ECDSA", hash: "SHA-384" } as EcdsaParams,
  PS256: { name: "RSA-PSS", saltLength: 32 } as RsaPssParams,
  PS384: { name: "RSA-PSS", saltLength: 48 } as RsaPssParams,
  PS512: { name: "RSA-PSS", saltLength: 64 } as RsaPssParams,
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  EdDSA: { name: "Ed25519" },
  Ed25519: { name: "Ed25519" }
}
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "key_ops", "ext"]
/** the characters an sf-string may hold (RFC 8941 §3.3.3) minus `"` and `\` */
const SF_STRING_SAFE = /^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/

/** Validate `gnap` options; problems are pushed, one per bad field. */
export const resolveGnapOptions = (g: GnapResourceOptions, problems: Array<string>): ResolvedGnapOptions | undefined => {
  const before = problems.length
  if (typeof g.asUri !== "string" || !URL.canParse(g.asUri)) problems.push(`gnap.asUri: must be an absolute URL (the AS's grant endpoint), got ${JSON.stringify(g.asUri)}`)
  else if (/["\\]/.test(g.asUri)) problems.push(`gnap.asUri: must not contain '"' or '\\'`)
  if (g.introspectionEndpoint !== undefined && !URL.canParse(g.introspectionEndpoint)) {
    problems.push(`gnap.introspectionEndpoint: must be an absolute URL, got ${JSON.stringify(g.introspectionEndpoint)}`)
  }
  if (g.rsName !== undefined && (typeof g.rsName !== "string" || g.rsName === "")) problems.push(`gnap.rsName: must be a non-empty string`)
  const k = g.rsKey as (jose.JWK & { kid?: unknown; alg?: unknown }) | undefined
  if (!Predicate.isObject(k) || typeof k.kid !== "string" || !SF_STRING_SAFE.test(k.kid) || typeof k.alg !== "string" || !(k.alg in SIGN_PARAMS) || typeof k.d !== "string") {
    problems.push(`gnap.rsKey: must be a private JWK with a "kid" (printable ASCII, no quotes) and an "alg" among ${Object.keys(SIGN_PARAMS).join(", ")} (RFC 9635 §7.1)`)
  }
  const maxAge = g.signatureMaxAgeSeconds ?? 300
  if (typeof maxAge !== "number" || !Number.isFinite(maxAge) || maxAge <= 0) problems.push(`gnap.signatureMaxAgeSeconds: must be a number of seconds > 0`)
  if (g.requireNonce !== undefined && typeof g.requireNonce !== "boolean") problems.push(`gnap.requireNonce: must be a boolean`)
  if (problems.length > before) return undefined
  const privateJwk = { ...g.rsKey } as ResolvedGnapOptions["privateJwk"]
  const publicJwk = Object.fromEntries(Object.entries(privateJwk).filter(([name]) => !PRIVATE_MEMBERS.includes(name))) as ResolvedGnapOptions["publicJwk"]
  return {
    asUri: g.asUri,
    rsName: g.rsName,
    introspectionEndpoint: g.introspectionEndpoint,
    privateJwk,
    publicJwk,
    signatureMaxAgeSeconds: maxAge,
    requireNonce: g.requireNonce ?? false
  }
}

/** RFC 9635 §7.2: `GNAP <token>`, the token in token68 form (RFC 9110 §11.2, RFC 9635 §3.2.1). */
const GNAP = /^GNAP +([A-Za-z0-9\-._~+/]+=*) *$/i
const GNAP_SCHEME = /^GNAP(?:\s|$)/i

/** The token of an `Authorization: GNAP` header; `undefined` for any other scheme; InvalidRequest when malformed. */
export const presentedGnapToken = (request: Request): { readonly token: string | undefined } | InvalidRequest => {
  const header = request.headers.get("authorization")
  if (header === null || !GNAP_SCHEME.test(header.trim())) return { token: undefined }
  const match = GNAP.exec(header.trim())
  // RFC 6750 §3.1 (whose error codes RFC 9635 §7.2 presentation reuses): a malformed request is invalid_request
  if (match === null) return new InvalidRequest({ description: "malformed GNAP authorization header (RFC 9635 §7.2)" })
  return { token: match[1]! }
}

/**
 * RFC 9635 §9.1: the RS-first challenge, naming the AS's grant endpoint (`as_uri`) and
 * optionally a resource reference the client may request as an access right (`access`,
 * e.g. one registered at the AS, RFC 9767 §3.4) and this RS's URI (`referrer`, which the
 * client checks against the URI it called).
 */
export const gnapChallenge = (asUri: string, extra: { readonly access?: string | undefined; readonly referrer?: string | undefined } = {}) =>
  `GNAP as_uri="${asUri}"${extra.access !== undefined ? `, access="${extra.access}"` : ""}${extra.referrer !== undefined ? `, referrer="${extra.referrer}"` : ""}`

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes))
const encoder = new TextEncoder()

/** One-time nonces of client signatures (RFC 9635 §7.3.1), kept in memory until they could no longer be fresh. */
const memoryReplayCache = (clock: () => number) => {
  const seen = new Map<string, number>()
  return ReplayCache.of({
    use: (key, expiresAt) =>
      Effect.sync(() => {
        const now = clock()
        if (seen.size > 10_000) for (const [k, until] of seen) if (until <= now) seen.delete(k)
        const until = seen.get(key)
        if (until !== undefined && until > now) return false
        seen.set(key, expiresAt)
        return true
      }),
    sweep: (now) =>
      Effect.sync(() => {
        let n = 0
        for (const [k, until] of seen) if (until <= now && seen.delete(k)) n++
        return n
      })
  })
}

/** A clock reading `now` (the resource server's `clock` option). */
const clockFrom = (now: () => number, base: Clock.Clock): Clock.Clock => ({
  currentTimeMillisUnsafe: now,
  currentTimeMillis: Effect.sync(now),
  currentTimeNanosUnsafe: () => BigInt(now()) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => BigInt(now()) * 1_000_000n),
  monotonicTimeNanosUnsafe: () => base.monotonicTimeNanosUnsafe(),
  monotonicTimeNanos: base.monotonicTimeNanos,
  sleep: (duration) => base.sleep(duration)
})

/** What introspection said about an active token (RFC 9767 §3.3). */
export interface GnapTokenInfo {
  readonly claims: Record<string, unknown>
  /** the rights granted (§3.3 `access`, REQUIRED) */
  readonly access: ReadonlyArray<unknown>
  readonly flags: ReadonlyArray<string>
  /** the key the token is bound to (§3.3: REQUIRED for bound tokens), validated */
  readonly key: Gnap.ClientKey | undefined
}

export interface GnapVerifierDeps {
  readonly fetch: typeof fetch
  readonly timeoutMs: number
  readonly clock: (() => number) | undefined
  readonly clockToleranceSeconds: number
}

export const makeGnapVerifier = (g: ResolvedGnapOptions, deps: GnapVerifierDeps) => {
  // core's proof verifier reads only `gnap.signatureMaxAge` and `gnap.requireNonce` of its
  // config; the rest is a placeholder (this RS is not an authorization server)
  const config: ResolvedConfig = resolveConfig({
    issuer: "http://localhost",
    gnap: { signatureMaxAge: g.signatureMaxAgeSeconds, requireNonce: g.requireNonce }
  })
  const replay = memoryReplayCache(deps.clock ?? Date.now)
  const withClock = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    deps.clock === undefined ? effect : Clock.clockWith((base) => Effect.provideService(effect, Clock.Clock, clockFrom(deps.clock!, base)))
  const now = deps.clock ? Effect.sync(deps.clock) : Clock.currentTimeMillis

  let signingKey: CryptoKey | undefined
  const importSigningKey = Effect.tryPromise({
    try: async () => {
      signingKey ??= (await jose.importJWK(g.privateJwk, g.privateJwk.alg === "Ed25519" ? "EdDSA" : g.privateJwk.alg)) as CryptoKey
      return signingKey
    },
    catch: (cause) => new StorageError({ detail: "gnap.rsKey cannot be imported for signing", cause })
  })

  /** RFC 9767 §3.1: the introspection endpoint from the AS's RS-facing discovery document. */
  let endpoint = g.introspectionEndpoint
  const introspectionEndpoint = Effect.suspend(() => {
    if (endpoint !== undefined) return Effect.succeed(endpoint)
    const url = `${new URL(g.asUri).origin}/.well-known/gnap-as-rs`
    return Effect.flatMap(fetchJsonObject(deps, url), ({ status, body }) => {
      const found = body?.["introspection_endpoint"]
      if (status !== 200 || typeof found !== "string" || !URL.canParse(found)) {
        return Effect.fail(new StorageError({ detail: `${url}: HTTP ${status}, no introspection_endpoint (RFC 9767 §3.1)` }))
      }
      endpoint = found
      return Effect.succeed(found)
    })
  })

  /**
   * RFC 9767 §3.2 / RFC 9635 §7.3.1: sign a JSON POST with the RS key — `@method`,
   * `@target-uri`, `content-digest` (RFC 9530) and `content-type`, `tag="gnap"`, a fresh
   * `created` and `nonce`. The signature base is built by core's `signatureBase`, so signer
   * and verifier share one implementation.
   */
  const signedPost = Effect.fnUntraced(function*(url: string, body: string) {
    const key = yield* importSigningKey
    const created = Math.floor((yield* now) / 1000)
    const bytes = encoder.encode(body)
    const digest = new Uint8Array(yield* Effect.promise(() => crypto.subtle.digest("SHA-256", bytes)))
    const nonce = b64(crypto.getRandomValues(new Uint8Array(16))).replace(/[+/=]/g, "")
    const headers = new Headers({ "content-type": "application/json", "content-digest": `sha-256=:${b64(digest)}:` })
    headers.set(
      "signature-input",
      `sig1=("@method" "@target-uri" "content-digest" "content-type");created=${created};keyid="${g.privateJwk.kid}";nonce="${nonce}";tag="gnap"`
    )
    // a placeholder value lets core parse the input we just wrote
    headers.set("signature", "sig1=:AA==:")
    const [parsed] = Gnap.readSignatures(headers)
    const base = Gnap.signatureBase({ method: "POST", url, headers }, parsed!.input)
    const signature = new Uint8Array(yield* Effect.promise(() => crypto.subtle.sign(SIGN_PARAMS[g.privateJwk.alg]!, key, encoder.encode(base))))
    headers.set("signature", `sig1=:${b64(signature)}:`)
    return { method: "POST", headers, body } satisfies RequestInit
  })

  /**
   * RFC 9767 §3.3: ask the AS about `token`. Inactive, or active but not from this AS
   * (`iss`), expired or malformed: `invalid_token`. The AS refusing this RS, or being
   * unreachable: `StorageError` (503; the client's token was not found wanting).
   */
  const introspect = Effect.fnUntraced(function*(token: string, access?: ReadonlyArray<unknown>) {
    const url = yield* introspectionEndpoint
    const request = {
      access_token: token,
      resource_server: g.rsName ?? { key: { proof: "httpsig", jwk: g.publicJwk } },
      ...(access !== undefined && access.length > 0 ? { access } : {})
    }
    const init = yield* signedPost(url, JSON.stringify(request))
    const { status, body } = yield* fetchJsonObject(deps, url, init)
    if (status !== 200 || body === undefined) {
      return yield* new StorageError({ detail: `GNAP introspection at ${url}: HTTP ${status} ${JSON.stringify(body?.["error"] ?? "")}` })
    }
    const inactive = new InvalidToken({ description: "the access token is not active" })
    if (body["active"] !== true) return yield* inactive
    // §3.3: `iss` is REQUIRED, the AS's grant endpoint
    if (body["iss"] !== g.asUri) return yield* new InvalidToken({ description: "the access token was not issued by the expected authorization server", detail: `iss ${JSON.stringify(body["iss"])}` })
    const exp = body["exp"]
    if (typeof exp === "number" && exp * 1000 <= (yield* now) - deps.clockToleranceSeconds * 1000) return yield* inactive
    const granted = Array.isArray(body["access"]) ? body["access"] as Array<unknown> : []
    const flags = Array.isArray(body["flags"]) ? (body["flags"] as Array<unknown>).filter((f): f is string => typeof f === "string") : []
    let key: Gnap.ClientKey | undefined
    if (body["key"] !== undefined) {
      const parsed = yield* Effect.promise(() => Gnap.parseClientKey(body["key"]))
      if (!("thumbprint" in parsed)) return yield* new StorageError({ detail: `GNAP introspection returned an unusable key: ${parsed.description ?? ""}` })
      key = parsed
    }
    // §3.3: `key` REQUIRED for bound tokens and absent for bearer ones
    if (flags.includes("bearer") === (key !== undefined)) return yield* new StorageError({ detail: "GNAP introspection: a token must have either the bearer flag or a key" })
    return { claims: body, access: granted, flags, key } satisfies GnapTokenInfo
  })

  /**
   * RFC 9635 §7.2: a token presented with `Authorization: GNAP` — active, key-bound, and
   * the request proven with that key (§7.3), the proof covering the Authorization header.
   */
  const verifyBound = Effect.fnUntraced(function*(request: Request, token: string, access?: ReadonlyArray<unknown>) {
    const info = yield* introspect(token, access)
    if (info.key === undefined) {
      return yield* new InvalidToken({ description: "a bearer access token is presented with Authorization: Bearer (RFC 9635 §7.2)" })
    }
    const body = new Uint8Array(yield* Effect.promise(() => request.clone().arrayBuffer()))
    yield* withClock(
      Gnap.verifyProof(info.key, { request, url: new URL(request.url), body, token }).pipe(
        Effect.provideService(GatehouseConfig, config),
        Effect.provideService(ReplayCache, replay),
        Effect.catchTag("InvalidClient", (e) =>
          Effect.fail(new InvalidToken({ description: `the request is not proven with the access token's key: ${e.description ?? ""}` })))
      )
    )
    return info
  })

  /** RFC 9635 §7.2: a token presented with `Authorization: Bearer` must carry the `bearer` flag. */
  const verifyBearer = Effect.fnUntraced(function*(token: string, access?: ReadonlyArray<unknown>) {
    const info = yield* introspect(token, access)
    if (info.key !== undefined) {
      return yield* new InvalidToken({ description: "the access token is bound to a key: present it with Authorization: GNAP and a proof (RFC 9635 §7.2)" })
    }
    return info
  })

  // signedPost: RFC 9767 §3.2 calls to the AS (resource set registration §3.4, token chaining §4: gnap-registration.ts)
  return { options: g, introspect, verifyBound, verifyBearer, signedPost }
}

export type GnapVerifier = ReturnType<typeof makeGnapVerifier>
