/**
 * Token introspection (RFC 7662): an authenticated client asks whether a token is active and
 * what it carries.
 *
 * Who may introspect what: a client may introspect the tokens issued to itself. A token of
 * any other client introspects as `{"active": false}` — the same answer as for an unknown
 * token, so introspection is no oracle for other clients' tokens (RFC 7662 §4). A
 * resource-server role allowed to introspect tokens issued for its audience can come later.
 */
import * as Effect from "effect/Effect"
import { authenticateClient } from "../client-auth/index.js"
import { GatehouseConfig } from "../config.js"
import { optionalParam, readForm, requiredParam } from "../http/request.js"
import { json } from "../http/response.js"
import type { EndpointContext, Endpoint } from "../http/router.js"
import type { AccessTokenRecord } from "../ports/AccessTokenStore.js"
import type { RefreshTokenRecord } from "../ports/RefreshTokenStore.js"
import { observeEndpoint } from "../observability/endpoint.js"
import { Events } from "../ports/Events.js"
import type { GatehouseServices } from "../services.js"
import { type ActiveAccessToken, findActiveAccessToken, findRefreshToken } from "../tokens/lookup.js"

/** RFC 7662 §2.2: "the authorization server MUST return ... only the active member". */
const INACTIVE = { active: false } as const

const seconds = (ms: number) => Math.floor(ms / 1000)

/** RFC 7662 §2.2 members for an active access token. */
const accessTokenResponse = (issuer: string, { record, jwt }: ActiveAccessToken): Record<string, unknown> => {
  // extra claims recorded at issuance (auth_time, acr, amr, cnf ...) come first and never
  // override the members below (assigned over them, in this order)
  const body = parseExtra(record)
  body["active"] = true
  if (record.scope.length > 0) body["scope"] = record.scope.join(" ")
  body["client_id"] = record.clientId
  // RFC 6749 §7.1 token type
  body["token_type"] = "Bearer"
  body["exp"] = seconds(record.expiresAt)
  body["iat"] = seconds(record.issuedAt)
  // the same subject as the JWT form (tokens/access_token.ts): the user, else the client
  body["sub"] = record.accountId ?? record.clientId
  body["aud"] = record.audience.length === 1 ? record.audience[0] : [...record.audience]
  body["iss"] = issuer
  if (typeof jwt?.jti === "string") body["jti"] = jwt.jti
  return body
}

/** RFC 7662 §2.2 members for an active refresh token (no `token_type`: it is not an access token type). */
const refreshTokenResponse = (issuer: string, record: RefreshTokenRecord): Record<string, unknown> => {
  const body: Record<string, unknown> = {}
  if (record.acr !== undefined) body["acr"] = record.acr
  if (record.amr !== undefined) body["amr"] = record.amr
  body["auth_time"] = record.authTime
  body["active"] = true
  if (record.scope.length > 0) body["scope"] = record.scope.join(" ")
  body["client_id"] = record.clientId
  body["exp"] = seconds(record.expiresAt)
  body["iat"] = seconds(record.issuedAt)
  body["sub"] = record.accountId
  body["iss"] = issuer
  return body
}

const parseExtra = (record: AccessTokenRecord): Record<string, unknown> => {
  if (record.extra === undefined) return {}
  try {
    const value: unknown = JSON.parse(record.extra)
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

const introspect = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const params = yield* readForm(ctx.request, config.limits)
  // RFC 7662 §2.1: the caller must be authorized to introspect: an authenticated client
  const client = yield* authenticateClient({ request: ctx.request, params, endpoint: config.endpoints.introspection })
  const token = yield* requiredParam(params, "token")
  // RFC 7662 §2.1: a hint only orders the search; an unknown hint is ignored, a miss extends the search
  const hint = yield* optionalParam(params, "token_type_hint")
  const lookups = [
    Effect.map(findActiveAccessToken(token), (found) =>
      found === undefined ? undefined : { clientId: found.record.clientId, body: accessTokenResponse(config.issuer, found) }),
    Effect.map(findRefreshToken(token), (found) =>
      found === undefined || !found.active
        ? undefined
        : { clientId: found.record.clientId, body: refreshTokenResponse(config.issuer, found.record) })
  ] as const
  for (const lookup of hint === "refresh_token" ? [lookups[1], lookups[0]] : lookups) {
    const result = yield* lookup
    if (result === undefined) continue
    // only the client the token was issued to learns anything about it (see the header)
    const active = result.clientId === client.clientId
    yield* (yield* Events).emit({ type: "token.introspected", clientId: client.clientId, active })
    return json(active ? result.body : INACTIVE)
  }
  yield* (yield* Events).emit({ type: "token.introspected", clientId: client.clientId, active: false })
  return json(INACTIVE)
})

export const introspectEndpoint: Endpoint<GatehouseServices> = (ctx) => observeEndpoint("introspect", ctx, introspect(ctx))
