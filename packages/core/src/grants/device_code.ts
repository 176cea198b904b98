/**
 * The device authorization grant at the token endpoint (RFC 8628 §3.4, §3.5): the device
 * polls with its `device_code` until the user approved or denied at the verification page,
 * or the code expired. Tokens as in authorization_code.ts: an access token, a refresh
 * token per policy, an ID token with `openid` (OIDC Core §3.1.3.3).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import {
  AuthorizationPending,
  DeviceAccessDenied,
  ExpiredToken,
  InvalidGrant,
  ServerError,
  SlowDown
} from "../errors.js"
import { requiredParam } from "../http/request.js"
import { Crypto } from "../ports/Crypto.js"
import { type DeviceCodeRecord, DeviceCodeStore } from "../ports/DeviceCodeStore.js"
import { grantedBy, issueGrantTokens } from "../tokens/grant_tokens.js"
import type { GrantContext, GrantHandler } from "./types.js"

/** RFC 8628 §3.4 / §7.2: the grant type's URN. */
export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

const unknownCode = new InvalidGrant({ description: "the device code is invalid" })

/** Issue the tokens of an authorized (now consumed) device code. */
const issueTokens = Effect.fnUntraced(function*(ctx: GrantContext, record: DeviceCodeRecord) {
  const { client, params } = ctx
  if (record.accountId === undefined || record.authTime === undefined) {
    return yield* new ServerError({ detail: `device code of grant ${record.grantId} is authorized without an account` })
  }
  return yield* issueGrantTokens(DEVICE_CODE_GRANT, client, params.get("resource") ?? [], grantedBy(record, record.accountId, record.authTime))
})

const handle = Effect.fnUntraced(function*(ctx: GrantContext) {
  const crypto = yield* Crypto
  const store = yield* DeviceCodeStore
  const now = yield* Clock.currentTimeMillis
  // RFC 8628 §3.4: device_code REQUIRED
  const digest = yield* crypto.digest(yield* requiredParam(ctx.params, "device_code"))
  const record = yield* store.find(digest)
  if (!record) return yield* unknownCode
  // RFC 8628 §3.4 / RFC 6749 §5.2: issued to this client (checked before anything is recorded)
  if (record.clientId !== ctx.client.clientId) {
    return yield* new InvalidGrant({ description: "the device code was issued to another client" })
  }
  if (record.state === "consumed") return yield* new InvalidGrant({ description: "the device code was already used" })
  // RFC 8628 §3.5 expired_token: the device authorization session has concluded
  if (record.expiresAt <= now) return yield* new ExpiredToken({ description: "the device code has expired" })
  // RFC 8628 §3.5 access_denied
  if (record.state === "denied") return yield* new DeviceAccessDenied({ description: "the user denied the authorization request" })
  if (record.state === "pending") {
    // RFC 8628 §3.5: pending; too fast -> slow_down, the interval raised by 5 s for good
    const polled = yield* store.poll(digest, now)
    if (polled._tag === "NotFound") return yield* unknownCode
    if (polled.record.state === "pending") {
      return yield* polled.slowDown
        ? new SlowDown({ description: `polling too fast: wait ${polled.record.interval} seconds between requests` })
        : new AuthorizationPending({ description: "the user has not completed the authorization yet" })
    }
  }
  // authorized: single use, atomically (exactly one concurrent poll gets the tokens)
  const consumed = yield* store.consume(digest, now)
  if (consumed._tag === "NotFound") return yield* unknownCode
  if (consumed._tag === "NotAuthorized") {
    return yield* consumed.record.state === "denied"
      ? new DeviceAccessDenied({ description: "the user denied the authorization request" })
      : new InvalidGrant({ description: "the device code was already used" })
  }
  return yield* issueTokens(ctx, consumed.record)
})

export const deviceCode = {
  grantType: DEVICE_CODE_GRANT,
  handle
} satisfies GrantHandler<unknown>
