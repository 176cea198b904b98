/**
 * The token response of a user grant (authorization code, device code): an access token
 * for the granted resources, a refresh token per policy (OIDC Core §11), an ID token when
 * `openid` was granted (OIDC Core §3.1.3.3), and the `token.issued` event.
 */
import * as Effect from "effect/Effect"
import { GatehouseConfig } from "../config.js"
import { InvalidTarget } from "../errors.js"
import type { ClientRecord } from "../ports/ClientStore.js"
import { Events } from "../ports/Events.js"
import type { TokenResponse } from "../grants/types.js"
import { issueAccessToken, resolveAudience } from "./access_token.js"
import type { ClaimsRequest } from "./claims.js"
import { issueIdToken } from "./id_token.js"
import { issueRefreshToken } from "./refresh_token.js"

/**
 * RFC 6749 §4.1.3 + OIDC Core §11: a refresh token when the client may use the refresh_token
 * grant and either asked for offline_access or is not doing OpenID Connect.
 */
export const wantsRefreshToken = (grantTypes: ReadonlyArray<string>, scope: ReadonlyArray<string>) =>
  grantTypes.includes("refresh_token") && (scope.includes("offline_access") || !scope.includes("openid"))

export interface GrantedAuthorization {
  readonly grantId: string
  readonly accountId: string
  readonly scope: ReadonlyArray<string>
  /** resources granted at authorization (RFC 8707) */
  readonly resource: ReadonlyArray<string>
  readonly authTime: number
  readonly acr?: string | undefined
  readonly amr?: ReadonlyArray<string> | undefined
  readonly sessionId?: string | undefined
  readonly nonce?: string | undefined
  readonly claims?: ClaimsRequest | undefined
}

/**
 * The authorization a redeemed code carries (an authorization code, an approved device code),
 * for `issueGrantTokens`: written out member by member, not `{ ...record, claims }` (on Node
 * 20's V8 a spread followed by members the source lacks is a slow path).
 */
export const grantedBy = (
  record: Omit<GrantedAuthorization, "accountId" | "authTime" | "claims">,
  accountId: string,
  authTime: number,
  claims?: ClaimsRequest
): GrantedAuthorization => ({
  grantId: record.grantId,
  accountId,
  scope: record.scope,
  resource: record.resource,
  authTime,
  acr: record.acr,
  amr: record.amr,
  sessionId: record.sessionId,
  nonce: record.nonce,
  claims
})

export const issueGrantTokens = Effect.fnUntraced(function*(
  grantType: string,
  client: ClientRecord,
  /** `resource` parameters of the token request */
  requested: ReadonlyArray<string>,
  g: GrantedAuthorization
) {
  // RFC 8707 §2.2: the token request may narrow the resources granted at authorization
  if (requested.some((r) => !g.resource.includes(r))) {
    return yield* new InvalidTarget({ description: "resource was not part of the authorization request (RFC 8707 §2.2)" })
  }
  const audience = yield* resolveAudience(yield* GatehouseConfig, requested.length > 0 ? requested : g.resource)
  const access = yield* issueAccessToken({
    grantId: g.grantId,
    client,
    accountId: g.accountId,
    scope: g.scope,
    audience,
    authTime: g.authTime,
    acr: g.acr,
    amr: g.amr
  })
  const response: { -readonly [K in keyof TokenResponse]: TokenResponse[K] } = {
    access_token: access.token,
    token_type: "Bearer",
    expires_in: access.expiresIn,
    scope: g.scope.join(" ")
  }
  if (wantsRefreshToken(client.metadata.grant_types, g.scope)) {
    response.refresh_token = yield* issueRefreshToken({
      grantId: g.grantId,
      clientId: client.clientId,
      accountId: g.accountId,
      scope: g.scope,
      resource: g.resource,
      authTime: g.authTime,
      acr: g.acr,
      amr: g.amr,
      sessionId: g.sessionId
    })
  }
  if (g.scope.includes("openid")) {
    response.id_token = yield* issueIdToken({
      client,
      accountId: g.accountId,
      scope: g.scope,
      authTime: g.authTime,
      nonce: g.nonce,
      acr: g.acr,
      amr: g.amr,
      accessToken: access.token,
      claims: g.claims
    })
  }
  yield* (yield* Events).emit({
    type: "token.issued",
    grantType,
    clientId: client.clientId,
    accountId: g.accountId,
    grantId: g.grantId,
    scope: g.scope
  })
  return response as TokenResponse
})
