/**
 * The client credentials grant (RFC 6749 §4.4): a confidential client asks for a token for
 * itself, no user involved. No refresh token (§4.4.3) and no OpenID Connect user scopes.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { GatehouseConfig, OIDC_SCOPES } from "../config.js"
import { InvalidScope, UnauthorizedClient } from "../errors.js"
import { optionalParam, splitList } from "../http/request.js"
import { Crypto } from "../ports/Crypto.js"
import { Events } from "../ports/Events.js"
import { issueAccessToken, resolveAudience } from "../tokens/access_token.js"
import type { GrantContext, GrantHandler, TokenResponse } from "./types.js"

export const GRANT_TYPE = "client_credentials"

/** Scopes about an end-user (OIDC Core §5.4, §11): meaningless without one. */
const USER_SCOPES: ReadonlySet<string> = new Set(OIDC_SCOPES)

const handle = Effect.fnUntraced(function*({ client, params }: GrantContext) {
  // the services in one read of the fiber's context (one step, not one per service)
  const services = yield* Effect.context<GatehouseConfig | Crypto | Events>()
  const config = Context.get(services, GatehouseConfig)
  // RFC 6749 §4.4: "MUST only be used by confidential clients"
  if (client.metadata.token_endpoint_auth_method === "none") {
    return yield* new UnauthorizedClient({ description: "the client_credentials grant is for confidential clients only" })
  }
  // RFC 6749 §3.3 / §4.4.2: each scope offered by this server, allowed to this client (its
  // registered `scope`, RFC 7591 §2, when set) and not an end-user scope. Omitted: no scope
  // (the least-privilege default §3.3 leaves to us).
  const scope = splitList(yield* optionalParam(params, "scope"))
  const allowed = client.metadata.scope === undefined ? undefined : splitList(client.metadata.scope)
  for (const s of scope) {
    if (USER_SCOPES.has(s)) {
      return yield* new InvalidScope({ description: `scope "${s}" concerns an end-user and is not available with client_credentials` })
    }
    if (!config.scopes.includes(s) || (allowed !== undefined && !allowed.includes(s))) {
      return yield* new InvalidScope({ description: `scope "${s}" is not available to this client` })
    }
  }
  // RFC 8707 §2: the audience from `resource`, else the default
  const audience = yield* resolveAudience(config, params.get("resource") ?? [])
  // every issuance is its own grant: revoking one token's grant touches nothing else
  const grantId = yield* Context.get(services, Crypto).randomToken(16)
  const access = yield* issueAccessToken({ grantId, client, scope, audience })
  yield* Context.get(services, Events).emit({ type: "token.issued", grantType: GRANT_TYPE, clientId: client.clientId, grantId, scope })
  // RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included"
  return {
    access_token: access.token,
    token_type: "Bearer",
    expires_in: access.expiresIn,
    ...(scope.length > 0 ? { scope: scope.join(" ") } : {})
  } satisfies TokenResponse
})

export const clientCredentials = {
  grantType: GRANT_TYPE,
  handle
} satisfies GrantHandler<unknown>
