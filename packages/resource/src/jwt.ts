/**
 * JWT access tokens, verified locally (RFC 9068 §4): the `typ` header, an allowed `alg`, the
 * signature by a key of the AS's JWK Set, `iss`, `aud`, `exp` (and `nbf`, `iat`) against the
 * clock with the configured tolerance, and the claims RFC 9068 §2.2 requires.
 */
import { InvalidToken, type StorageError } from "@gatehouse/core"
import { Effect } from "effect"
import * as jose from "jose"
import type { JwksCache } from "./jwks.js"
import type { ResolvedOptions } from "./options.js"

/** RFC 7515 §7.1: three base64url segments. */
export const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/
/** RFC 7516 §7.1: five segments (an encrypted token, which this server cannot decrypt). */
export const JWE_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/** RFC 9068 §2.1 / §4: `at+jwt`, or its full media type `application/at+jwt` (case-insensitive, RFC 8725 §3.11). */
const isAccessTokenTyp = (typ: unknown) => typeof typ === "string" && /^(application\/)?at\+jwt$/i.test(typ)

/** RFC 9068 §2.2: every JWT access token carries these. */
const REQUIRED_CLAIMS = ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"]

const invalid = (description: string, detail?: string) => new InvalidToken({ description, detail })

/** What a JOSE failure means to the client (the library's message stays internal). */
const describe = (e: unknown): InvalidToken => {
  if (e instanceof jose.errors.JWTExpired) return invalid("the access token expired", e.message)
  if (e instanceof jose.errors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case "iss":
        return invalid("the access token was not issued by the expected authorization server", e.message)
      case "aud":
        return invalid("the access token is not intended for this resource", e.message)
      case "nbf":
        return invalid("the access token is not valid yet", e.message)
      default:
        return invalid(`the access token's "${e.claim}" claim is missing or invalid`, e.message)
    }
  }
  if (e instanceof jose.errors.JWSSignatureVerificationFailed) return invalid("the access token's signature is invalid", e.message)
  if (e instanceof jose.errors.JOSEAlgNotAllowed) return invalid("the access token's signing algorithm is not accepted", e.message)
  return invalid("the access token is malformed", e instanceof Error ? e.message : String(e))
}

export interface VerifiedJwt {
  readonly payload: jose.JWTPayload
}

export const verifyJwt = Effect.fnUntraced(function*(
  o: ResolvedOptions,
  jwks: JwksCache,
  token: string,
  nowMs: number
): Effect.fn.Return<VerifiedJwt, InvalidToken | StorageError> {
  let header: jose.ProtectedHeaderParameters
  try {
    header = jose.decodeProtectedHeader(token)
  } catch (e) {
    return yield* invalid("the access token is malformed", e instanceof Error ? e.message : String(e))
  }
  // RFC 9068 §4: "reject JWTs with a typ other than at+jwt" — an ID token, also signed by
  // the AS, must never pass for an access token (RFC 8725 §3.11)
  if (!isAccessTokenTyp(header.typ)) {
    return yield* invalid("the token is not a JWT access token (typ must be at+jwt, RFC 9068 §4)", `typ ${JSON.stringify(header.typ)}`)
  }
  // checked before any key lookup, so an unexpected alg never costs a JWKS fetch
  if (typeof header.alg !== "string" || !o.algorithms.includes(header.alg)) {
    return yield* invalid("the access token's signing algorithm is not accepted", `alg ${JSON.stringify(header.alg)}`)
  }
  const key = yield* jwks.key(header)
  return yield* Effect.tryPromise({
    try: async () => {
      const { payload } = await jose.jwtVerify(token, key, {
        algorithms: [...o.algorithms],
        typ: "at+jwt",
        // RFC 9068 §4: iss exactly the AS's issuer identifier
        issuer: o.issuer,
        // RFC 9068 §4 / RFC 8707: aud contains an identifier of this resource
        audience: [...o.audience],
        currentDate: new Date(nowMs),
        clockTolerance: o.clockToleranceSeconds,
        requiredClaims: REQUIRED_CLAIMS
      })
      return { payload }
    },
    catch: describe
  })
})
