/**
 * Revoke everything issued under one grant: its refresh-token family and its access
 * tokens. Used on code replay (RFC 6749 §4.1.2), refresh-token reuse (RFC 9700 §4.14.2) and
 * revocation of a refresh token (RFC 7009 §2.1: "SHOULD also invalidate the access token").
 */
import { Clock, Effect } from "effect"
import { AccessTokenStore } from "../ports/AccessTokenStore.js"
import { Events } from "../ports/Events.js"
import { RefreshTokenStore } from "../ports/RefreshTokenStore.js"

export const revokeGrant = Effect.fnUntraced(function*(
  grantId: string,
  reason: "code_replay" | "refresh_token_reuse" | "revocation" | "client_deleted"
) {
  const now = yield* Clock.currentTimeMillis
  yield* (yield* RefreshTokenStore).revokeByGrant(grantId, now)
  yield* (yield* AccessTokenStore).revokeByGrant(grantId, now)
  yield* (yield* Events).emit({ type: "grant.revoked", grantId, reason })
})
