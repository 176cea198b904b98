/**
 * Revoke everything issued under one grant: its refresh-token family and its access
 * tokens. Used on code replay (RFC 6749 §4.1.2), refresh-token reuse (RFC 9700 §4.14.2) and
 * revocation of a refresh token (RFC 7009 §2.1: "SHOULD also invalidate the access token").
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { AccessTokenStore } from "../ports/AccessTokenStore.js"
import { Events, type GrantRevocationReason } from "../ports/Events.js"
import { traced } from "../observability/tracing.js"
import { RefreshTokenStore } from "../ports/RefreshTokenStore.js"

const revoke = Effect.fnUntraced(function*(
  grantId: string,
  reason: GrantRevocationReason,
  /** the client the grant belongs to, for the event */
  clientId?: string
) {
  const now = yield* Clock.currentTimeMillis
  yield* (yield* RefreshTokenStore).revokeByGrant(grantId, now)
  yield* (yield* AccessTokenStore).revokeByGrant(grantId, now)
  yield* (yield* Events).emit({ type: "grant.revoked", grantId, clientId, reason })
})

export const revokeGrant = (grantId: string, reason: GrantRevocationReason, clientId?: string) =>
  traced("gatehouse.grant.revoke", revoke(grantId, reason, clientId), () => ({ "gatehouse.revocation_reason": reason, "gatehouse.client_id": clientId }))
