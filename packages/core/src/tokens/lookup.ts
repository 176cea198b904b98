/**
 * The stored record behind a presented token, for the endpoints that receive tokens back:
 * userinfo (RFC 6750), introspection (RFC 7662) and revocation (RFC 7009). Access tokens are
 * found by digest of the value (opaque) or of `jti:<jti>` (JWT, signature checked first, see
 * tokens/access_token.ts); refresh tokens by digest of the value.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as jose from "jose"
import { GatehouseConfig } from "../config.js"
import type { ServerError, StorageError } from "../errors.js"
import { type AccessTokenRecord, AccessTokenStore } from "../ports/AccessTokenStore.js"
import { Crypto } from "../ports/Crypto.js"
import { type RefreshTokenRecord, RefreshTokenStore } from "../ports/RefreshTokenStore.js"
import { millisIn } from "../time.js"
import { Keys } from "./keys.js"

/**
 * The record digest (of `jti:<jti>`) of a verified payload. `verifyOwn` hands out the same
 * frozen payload for every presentation of a token it remembers, so the digest is computed
 * once per token, not once per introspection.
 */
const recordDigests = new WeakMap<object, string>()

const AT_JWT_TYP: ReadonlyArray<string> = ["at+jwt", "application/at+jwt"]

/**
 * RFC 9068 §4 / RFC 7519 §4.1: issued by us (`iss`), a non-empty `jti`, not expired (`exp`
 * after now, in seconds), not before its `nbf` when it has one.
 */
const claimsValid = (payload: Record<string, unknown>, issuer: string, nowMs: number): boolean => {
  const now = Math.floor(nowMs / 1000)
  const { iss, jti, exp, nbf } = payload
  return iss === issuer &&
    typeof jti === "string" && jti !== "" &&
    typeof exp === "number" && exp > now &&
    (nbf === undefined || (typeof nbf === "number" && nbf <= now))
}

export interface ActiveAccessToken {
  readonly record: AccessTokenRecord
  /** the verified claims, for JWT access tokens */
  readonly jwt?: jose.JWTPayload | undefined
}

/**
 * The record of an access token that is active now, or undefined (unknown, forged, expired,
 * revoked). A JWT must verify against our keys with `iss` = the issuer, `typ` = `at+jwt`
 * (RFC 9068 §4: so an ID token, also signed by us, is never taken for an access token) and
 * `exp` in the future by the Effect clock; its record (by `jti`) must exist and be unrevoked
 * too, which is what makes revocation of a JWT effective here.
 */
export const findActiveAccessToken = Effect.fnUntraced(function*(
  token: string
): Effect.fn.Return<ActiveAccessToken | undefined, StorageError | ServerError, GatehouseConfig | Crypto | Keys | AccessTokenStore> {
  // the services in one read of the fiber's context (one step, not one per service)
  const services = yield* Effect.context<GatehouseConfig | Crypto | Keys | AccessTokenStore>()
  const crypto = Context.get(services, Crypto)
  const now = millisIn(services)
  let digest: string
  let jwt: jose.JWTPayload | undefined
  // RFC 7515 §7.1: a JWS has dots, an opaque token (one base64url string) none; whether it
  // is three base64url segments is `verifyOwn`'s to check
  if (token.includes(".")) {
    const config = Context.get(services, GatehouseConfig)
    // RFC 9068 §4: typ "at+jwt" (or its media type form); signed by one of our keys
    const payload = yield* Context.get(services, Keys).verifyOwn(token, AT_JWT_TYP)
    if (payload === undefined || !claimsValid(payload, config.issuer, now)) return undefined
    const known = recordDigests.get(payload)
    if (known === undefined) {
      digest = yield* crypto.digest(`jti:${payload["jti"] as string}`)
      if (Object.isFrozen(payload)) recordDigests.set(payload, digest)
    } else {
      digest = known
    }
    jwt = payload as jose.JWTPayload
  } else {
    digest = yield* crypto.digest(token)
  }
  const record = yield* Context.get(services, AccessTokenStore).find(digest)
  if (record === undefined || record.format !== (jwt ? "jwt" : "opaque")) return undefined
  if (record.revokedAt !== undefined || record.expiresAt <= now) return undefined
  // a JWT whose claims disagree with its record is not ours to honour
  if (jwt !== undefined && jwt["client_id"] !== record.clientId) return undefined
  return { record, jwt }
})

export interface FoundRefreshToken {
  readonly record: RefreshTokenRecord
  /**
   * Usable now: not revoked, not consumed (a rotated token is spent, RFC 9700 §4.14.2),
   * not expired.
   */
  readonly active: boolean
}

/** The record of a refresh token, active or not; undefined when unknown. */
export const findRefreshToken = Effect.fnUntraced(function*(
  token: string
): Effect.fn.Return<FoundRefreshToken | undefined, StorageError, Crypto | RefreshTokenStore> {
  const crypto = yield* Crypto
  const record = yield* (yield* RefreshTokenStore).find(yield* crypto.digest(token))
  if (record === undefined) return undefined
  const now = yield* Clock.currentTimeMillis
  const active = record.revokedAt === undefined && record.consumedAt === undefined && record.expiresAt > now
  return { record, active }
})
