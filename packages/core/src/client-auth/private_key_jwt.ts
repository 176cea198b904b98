/**
 * `private_key_jwt`: the client proves itself with a JWT it signed with a key it registered
 * (RFC 7523 §2.2 and §3, RFC 7521 §4.2, OIDC Core §9). Each assertion is single-use: its
 * `jti` goes into the ReplayCache port until the assertion expires.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as jose from "jose"
import { GatehouseConfig } from "../config.js"
import { InvalidClient, InvalidRequest } from "../errors.js"
import { optionalParam, type Params } from "../http/request.js"
import type { ClientRecord } from "../ports/ClientStore.js"
import { Crypto } from "../ports/Crypto.js"
import { ReplayCache } from "../ports/ReplayCache.js"
import { AUTH_FAILED } from "./client_secret_basic.js"

export const METHOD = "private_key_jwt" as const

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
export const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/**
 * Asymmetric JWS algs only: never "none" (RFC 7523 §3 item 9: the JWT MUST be signed) and
 * never HS* (a MAC keyed with a shared secret is `client_secret_jwt`, not offered here).
 */
export const ASSERTION_ALGS: ReadonlyArray<string> = [
  "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"
]

/** Allowed clock difference between the client and us, seconds. */
export const CLOCK_TOLERANCE_S = 30

/**
 * RFC 7523 §3 item 4 lets the AS reject assertions whose `exp` is unreasonably far in the
 * future: an assertion is for one request, so it may live at most this long, seconds.
 */
export const MAX_ASSERTION_LIFETIME_S = 300

export interface AssertionCredentials {
  readonly clientId: string
  readonly assertion: string
}

/** Does the body carry an assertion (or its type)? */
export const attempted = (params: Params): boolean => params.has("client_assertion") || params.has("client_assertion_type")

const invalid = (description: string, detail?: string) => new InvalidClient({ description, detail })

/**
 * RFC 7521 §4.2: `client_assertion_type` and `client_assertion` are both REQUIRED, the type
 * the one RFC 7523 §2.2 defines. The client is named by the assertion's `sub` (RFC 7523 §3
 * item 2); a `client_id` parameter, when present, must name the same client (RFC 7521 §4.2).
 * The claims read here are not yet verified: they only select whose keys to verify with.
 */
export const read = Effect.fnUntraced(function*(params: Params) {
  const type = yield* optionalParam(params, "client_assertion_type")
  const assertion = yield* optionalParam(params, "client_assertion")
  const clientIdParam = yield* optionalParam(params, "client_id")
  if (type === undefined) {
    return yield* new InvalidRequest({ description: `parameter "client_assertion_type" is required with "client_assertion"` })
  }
  if (type !== JWT_BEARER) {
    return yield* new InvalidRequest({ description: `client_assertion_type must be "${JWT_BEARER}"` })
  }
  if (assertion === undefined) return yield* new InvalidRequest({ description: `parameter "client_assertion" is required` })
  let sub: unknown
  try {
    sub = jose.decodeJwt(assertion).sub
  } catch (e) {
    return yield* invalid("client_assertion is not a well-formed JWT", e instanceof Error ? e.message : undefined)
  }
  if (typeof sub !== "string" || sub.length === 0) {
    return yield* invalid(`client_assertion must carry the client_id in "sub" (RFC 7523 §3)`)
  }
  if (clientIdParam !== undefined && clientIdParam !== sub) {
    return yield* new InvalidRequest({ description: `client_id does not match the "sub" of client_assertion` })
  }
  return { clientId: sub, assertion } satisfies AssertionCredentials
})

/** A jose failure as a description for the client (the jose message stays in `detail`). */
const describe = (e: unknown): InvalidClient => {
  const detail = e instanceof Error ? e.message : String(e)
  const code = (e as { code?: unknown } | null)?.code
  const claim = (e as { claim?: unknown } | null)?.claim
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return invalid("client_assertion has expired", detail)
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return invalid(
        typeof claim === "string"
          ? `client_assertion "${claim}" claim is missing or invalid`
          : "client_assertion claims are invalid",
        detail
      )
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return invalid("client_assertion is signed with an algorithm that is not allowed", detail)
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return invalid("client_assertion signature does not verify with the client's registered keys", detail)
    default:
      return invalid("client_assertion is invalid", detail)
  }
}

/**
 * RFC 7523 §3 and OIDC Core §9, in order:
 * - the header alg is asymmetric, and the client's `token_endpoint_auth_signing_alg` when
 *   registered (OIDC Registration §2);
 * - the signature verifies with a key of the client's registered `jwks` (RFC 7591 §2);
 * - `iss` = `sub` = client_id (items 1, 2); `aud` names this endpoint, the token endpoint or
 *   the issuer (item 3); `exp` present and not passed (item 4), and not more than
 *   `MAX_ASSERTION_LIFETIME_S` ahead; `nbf` not in the future (item 5);
 * - `jti` present (OIDC Core §9 REQUIRED) and never seen before for this client (item 7):
 *   recorded in the ReplayCache until the assertion expires, only after the signature
 *   verified, so unsigned junk cannot burn a client's `jti`s.
 */
export const verify = Effect.fnUntraced(function*(
  client: ClientRecord | undefined,
  credentials: AssertionCredentials,
  endpoint: string
) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  if (client === undefined) return yield* invalid(AUTH_FAILED, "unknown client")
  const jwks = client.metadata.jwks
  if (jwks === undefined || jwks.keys.length === 0) {
    return yield* invalid("the client has no registered jwks to verify client_assertion with")
  }
  let alg: unknown
  try {
    alg = jose.decodeProtectedHeader(credentials.assertion).alg
  } catch (e) {
    return yield* invalid("client_assertion is not a well-formed JWT", e instanceof Error ? e.message : undefined)
  }
  if (typeof alg !== "string" || !ASSERTION_ALGS.includes(alg)) {
    return yield* invalid(`client_assertion alg "${String(alg)}" is not allowed; use an asymmetric algorithm`)
  }
  const registeredAlg = client.metadata.token_endpoint_auth_signing_alg
  if (registeredAlg !== undefined && registeredAlg !== alg) {
    return yield* invalid(`client_assertion must be signed with ${registeredAlg} (token_endpoint_auth_signing_alg)`)
  }
  const now = yield* Clock.currentTimeMillis
  const nowSeconds = Math.floor(now / 1000)
  const { payload } = yield* Effect.tryPromise({
    try: () =>
      jose.jwtVerify(credentials.assertion, jose.createLocalJWKSet(jwks as jose.JSONWebKeySet), {
        algorithms: [alg as string],
        issuer: client.clientId,
        subject: client.clientId,
        audience: [...new Set([endpoint, config.endpoints.token, config.issuer])],
        requiredClaims: ["exp", "jti"],
        currentDate: new Date(now),
        clockTolerance: CLOCK_TOLERANCE_S
      }),
    catch: describe
  })
  const exp = payload.exp!
  if (exp - nowSeconds > MAX_ASSERTION_LIFETIME_S + CLOCK_TOLERANCE_S) {
    return yield* invalid(`client_assertion "exp" is too far in the future (at most ${MAX_ASSERTION_LIFETIME_S} seconds)`)
  }
  if (typeof payload.jti !== "string" || payload.jti.length === 0) {
    return yield* invalid(`client_assertion "jti" claim is missing or invalid`)
  }
  // RFC 7523 §3 item 7: one use per jti, per client (keyed by digest: bounded, no separator games)
  const key = yield* crypto.digest(JSON.stringify([METHOD, client.clientId, payload.jti]))
  const first = yield* (yield* ReplayCache).use(key, (exp + CLOCK_TOLERANCE_S) * 1000)
  if (!first) return yield* invalid("client_assertion was already used (jti replay)")
  return client
})
