/**
 * Token revocation (RFC 7009): an authenticated client tells the AS it no longer needs a
 * token. A refresh token takes its whole grant with it (the refresh-token family and the
 * access tokens issued under it, RFC 7009 §2.1); an access token only itself.
 *
 * The answer is 200 whatever the token was (RFC 7009 §2.2): unknown, already invalid, or
 * issued to another client. For the last case RFC 7009 §2.1 lets the server refuse with an
 * error; Gatehouse answers 200 and does nothing instead, so a client cannot learn that a
 * token it does not own exists.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { authenticateClient } from "../client-auth/index.js"
import { GatehouseConfig } from "../config.js"
import { optionalParam, readForm, requiredParam } from "../http/request.js"
import { NO_STORE } from "../http/response.js"
import type { EndpointContext, Endpoint } from "../http/router.js"
import { AccessTokenStore } from "../ports/AccessTokenStore.js"
import { Events } from "../ports/Events.js"
import { observeEndpoint } from "../observability/endpoint.js"
import type { GatehouseServices } from "../services.js"
import { findActiveAccessToken, findRefreshToken } from "../tokens/lookup.js"
import { revokeGrant } from "../tokens/revoke_grant.js"

const ok = () => new Response(null, { status: 200, headers: NO_STORE })

/**
 * A refresh token of the client: revoke its grant unless already revoked. A consumed
 * (rotated) or expired token still names its family, and the client that owns it asks for
 * the family to end: that is honoured (RFC 7009 §2.1 "SHOULD also invalidate the access
 * token", RFC 9700 §4.14.2 treats a presented rotated token as compromising the family anyway).
 */
const revokeRefreshToken = Effect.fnUntraced(function*(token: string, clientId: string) {
  const found = yield* findRefreshToken(token)
  if (found === undefined) return false
  if (found.record.clientId === clientId && found.record.revokedAt === undefined) {
    yield* revokeGrant(found.record.grantId, "revocation", clientId)
    yield* (yield* Events).emit({ type: "token.revoked", clientId, tokenType: "refresh_token", grantId: found.record.grantId })
  }
  return true
})

/** An active access token of the client: revoke it alone (its record, by digest). */
const revokeAccessToken = Effect.fnUntraced(function*(token: string, clientId: string) {
  const found = yield* findActiveAccessToken(token)
  if (found === undefined) return false
  if (found.record.clientId === clientId) {
    const now = yield* Clock.currentTimeMillis
    if (yield* (yield* AccessTokenStore).revoke(found.record.tokenDigest, now)) {
      yield* (yield* Events).emit({ type: "token.revoked", clientId, tokenType: "access_token", grantId: found.record.grantId })
    }
  }
  return true
})

const revoke = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const params = yield* readForm(ctx.request, config.limits)
  // RFC 7009 §2.1: the client authenticates as at the token endpoint
  const client = yield* authenticateClient({ request: ctx.request, params, endpoint: config.endpoints.revocation })
  const token = yield* requiredParam(params, "token")
  // RFC 7009 §2.1: the hint orders the search; an unknown hint value is ignored. Both token
  // types are supported, so `unsupported_token_type` (§2.2.1) never applies.
  const hint = yield* optionalParam(params, "token_type_hint")
  if (hint === "access_token") {
    if (!(yield* revokeAccessToken(token, client.clientId))) yield* revokeRefreshToken(token, client.clientId)
  } else {
    if (!(yield* revokeRefreshToken(token, client.clientId))) yield* revokeAccessToken(token, client.clientId)
  }
  // RFC 7009 §2.2: 200 for a revoked or an invalid token alike; the body is ignored
  return ok()
})

export const revokeEndpoint: Endpoint<GatehouseServices> = (ctx) => observeEndpoint("revoke", ctx, revoke(ctx))
