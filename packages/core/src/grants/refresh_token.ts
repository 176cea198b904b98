/**
 * The refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700
 * §4.14.2): every use consumes the presented token and issues its successor in the same
 * family; presenting a consumed token again revokes the whole family and its access tokens.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { GatehouseConfig } from "../config.js"
import { InvalidGrant, InvalidScope, InvalidTarget } from "../errors.js"
import { optionalParam, requiredParam, splitList } from "../http/request.js"
import { Accounts } from "../ports/Accounts.js"
import { Crypto } from "../ports/Crypto.js"
import { Events } from "../ports/Events.js"
import { type RefreshTokenRecord, RefreshTokenStore } from "../ports/RefreshTokenStore.js"
import { millisIn } from "../time.js"
import { issueAccessToken, resolveAudience } from "../tokens/access_token.js"
import { issueIdToken } from "../tokens/id_token.js"
import { mintRefreshToken } from "../tokens/refresh_token.js"
import { revokeGrant } from "../tokens/revoke_grant.js"
import type { GrantContext, GrantHandler, TokenResponse } from "./types.js"

export const GRANT_TYPE = "refresh_token"

/** One answer for unknown, expired, revoked and foreign tokens: nothing to learn from it. */
const invalidToken = (detail: string) =>
  new InvalidGrant({ description: "the refresh token is invalid, expired or revoked", detail })

const handle = Effect.fnUntraced(function*({ client, params }: GrantContext) {
  // the services in one read of the fiber's context (one step, not one per service)
  const services = yield* Effect.context<GatehouseConfig | Crypto | RefreshTokenStore>()
  const config = Context.get(services, GatehouseConfig)
  const crypto = Context.get(services, Crypto)
  const store = Context.get(services, RefreshTokenStore)
  const value = yield* requiredParam(params, "refresh_token")
  const scopeParam = yield* optionalParam(params, "scope")
  const digest = yield* crypto.digest(value)

  // Everything that can refuse the request is checked BEFORE the token is consumed, so a
  // bad request (wrong client, wider scope) does not burn the client's refresh token.
  const found = yield* store.find(digest)
  if (found === undefined) return yield* invalidToken("unknown refresh token")
  // RFC 6749 §6: "the refresh token was issued to the authenticated client"
  if (found.clientId !== client.clientId) {
    return yield* invalidToken(`refresh token of client ${found.clientId} presented by ${client.clientId}`)
  }
  // RFC 6749 §6: the requested scope MUST NOT include any scope not originally granted;
  // omitted = the original scope. It narrows this access token only.
  const scope = scopeParam === undefined ? found.scope : splitList(scopeParam)
  const wider = scope.filter((s) => !found.scope.includes(s))
  if (wider.length > 0) {
    return yield* new InvalidScope({ description: `scope "${wider.join(" ")}" was not granted to this refresh token` })
  }
  // RFC 8707 §2.2: `resource` may narrow the audience to resources of the original grant
  const resource = params.get("resource") ?? []
  const foreign = resource.filter((r) => !found.resource.includes(r))
  if (foreign.length > 0) {
    return yield* new InvalidTarget({ description: `resource "${foreign[0]}" was not part of the original grant` })
  }
  const audience = yield* resolveAudience(config, resource.length > 0 ? resource : found.resource)
  // OIDC Core §12.2: tokens only for an account that still exists
  const account = yield* (yield* Accounts).claims(found.accountId)
  if (account === undefined) {
    return yield* invalidToken(`account ${found.accountId} no longer exists`)
  }

  // RFC 9700 §4.14.2: rotate atomically. The successor keeps the family's grant, scope and
  // resources (a narrowed request narrows only this response's access token).
  const minted = yield* mintRefreshToken({
    grantId: found.grantId,
    clientId: found.clientId,
    accountId: found.accountId,
    scope: found.scope,
    resource: found.resource,
    authTime: found.authTime,
    acr: found.acr,
    amr: found.amr,
    sessionId: found.sessionId
  })
  const now = millisIn(services)
  const result = yield* store.rotate(digest, now, (previous): RefreshTokenRecord => ({
    tokenDigest: minted.record.tokenDigest,
    issuedAt: minted.record.issuedAt,
    expiresAt: minted.record.expiresAt,
    grantId: previous.grantId,
    clientId: previous.clientId,
    accountId: previous.accountId,
    scope: previous.scope,
    resource: previous.resource,
    authTime: previous.authTime,
    acr: previous.acr,
    amr: previous.amr,
    sessionId: previous.sessionId
  }))
  switch (result._tag) {
    case "Rotated":
      break
    case "Reused":
      // RFC 9700 §4.14.2: a consumed token presented again means one of two parties holds a
      // stolen copy: revoke the family (the live successor too) and its access tokens.
      yield* (yield* Events).emit({
        type: "refresh_token.reused",
        clientId: result.previous.clientId,
        accountId: result.previous.accountId,
        grantId: result.previous.grantId
      })
      yield* revokeGrant(result.previous.grantId, "refresh_token_reuse", result.previous.clientId)
      return yield* new InvalidGrant({
        description: "the refresh token was already used; the grant has been revoked",
        detail: `reuse in grant ${result.previous.grantId}`
      })
    case "Inactive":
      return yield* invalidToken("refresh token expired or revoked")
    case "NotFound":
      return yield* invalidToken("refresh token vanished before rotation")
  }
  const record = result.previous

  const access = yield* issueAccessToken({
    grantId: record.grantId,
    client,
    accountId: record.accountId,
    scope,
    audience,
    authTime: record.authTime,
    acr: record.acr,
    amr: record.amr
  })
  const response: { -readonly [K in keyof TokenResponse]: TokenResponse[K] } = {
    access_token: access.token,
    token_type: "Bearer",
    expires_in: access.expiresIn,
    refresh_token: minted.token,
    scope: scope.join(" ")
  }
  if (scope.includes("openid")) {
    // OIDC Core §12.2: a new ID token, same sub and auth_time as at authentication; no nonce
    response.id_token = yield* issueIdToken({
      client,
      accountId: record.accountId,
      account,
      scope,
      authTime: record.authTime,
      acr: record.acr,
      amr: record.amr,
      accessToken: access.token
    })
  }
  yield* (yield* Events).emit({
    type: "token.issued",
    grantType: GRANT_TYPE,
    clientId: client.clientId,
    accountId: record.accountId,
    grantId: record.grantId,
    scope
  })
  return response as TokenResponse
})

export const refreshToken = {
  grantType: GRANT_TYPE,
  handle
} satisfies GrantHandler<unknown>
