/**
 * The UserInfo endpoint (OIDC Core §5.3), a protected resource of the AS itself: a Bearer
 * access token (RFC 6750) with the `openid` scope, for a user, returns that user's claims
 * released by the token's scopes (OIDC Core §5.4). Errors are RFC 6750 §3 challenges.
 *
 * Not yet: the `userinfo` member of the `claims` request parameter (OIDC Core §5.5) — the
 * access token record does not carry it, so only scope claims are released here.
 */
import * as Effect from "effect/Effect"
import { Clients } from "../clients.js"
import { GatehouseConfig } from "../config.js"
import { InsufficientScope, InvalidRequest, InvalidToken } from "../errors.js"
import { bearerToken, optionalParam, readForm } from "../http/request.js"
import { bearerErrorResponse, json } from "../http/response.js"
import type { EndpointContext, Endpoint } from "../http/router.js"
import { Accounts } from "../ports/Accounts.js"
import { observeEndpoint } from "../observability/endpoint.js"
import type { GatehouseServices } from "../services.js"
import { claimsFor } from "../tokens/claims.js"
import { findActiveAccessToken } from "../tokens/lookup.js"
import type { IncomingRequest } from "../http/incoming.js"

const isForm = (request: IncomingRequest) =>
  (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase() === "application/x-www-form-urlencoded"

/**
 * RFC 6750 §2: the token from the Authorization header (§2.1) or, on POST, the form body
 * (§2.2) — one method only (§2). The URI query (§2.3) is refused: it leaks into logs and
 * Referer headers (RFC 6750 §5.3, RFC 9700 §4.3.2). Undefined when no token was presented.
 */
const presentedToken = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  if (ctx.url.searchParams.has("access_token")) {
    return yield* new InvalidRequest({ description: "the access token must not be sent in the URI query (RFC 6750 §2.3)" })
  }
  const header = ctx.request.headers.get("authorization")
  const fromHeader = bearerToken(ctx.request)
  // RFC 6750 §2.1 b64token syntax; another scheme is "no Bearer token" (§3.1: no error code)
  if (fromHeader === undefined && header !== null && /^Bearer(\s|$)/i.test(header)) {
    return yield* new InvalidRequest({ description: "malformed Bearer authorization header" })
  }
  let fromBody: string | undefined
  if (ctx.request.method.toUpperCase() === "POST" && isForm(ctx.request)) {
    const params = yield* readForm(ctx.request, config.limits)
    fromBody = yield* optionalParam(params, "access_token")
  }
  if (fromHeader !== undefined && fromBody !== undefined) {
    return yield* new InvalidRequest({ description: "the access token must be sent one way only (RFC 6750 §2)" })
  }
  return fromHeader ?? fromBody
})

const userinfo = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const token = yield* presentedToken(ctx)
  // RFC 6750 §3.1: no authentication information at all -> a bare challenge, no error code
  if (token === undefined) return bearerErrorResponse(undefined)
  const found = yield* findActiveAccessToken(token)
  if (found === undefined) {
    return yield* new InvalidToken({ description: "the access token is invalid, expired or revoked" })
  }
  const { record } = found
  // RFC 8707 §2 / RFC 9068 §4: a token restricted to another resource is not for this endpoint
  const audiences = new Set([config.issuer, config.accessToken.defaultAudience, config.endpoints.userinfo])
  if (!record.audience.some((a) => audiences.has(a))) {
    return yield* new InvalidToken({ description: "the access token's audience does not include the UserInfo endpoint" })
  }
  // OIDC Core §5.3: an access token obtained through an OpenID Connect request
  if (!record.scope.includes("openid")) {
    return yield* new InsufficientScope({ description: "the access token lacks the openid scope", scope: "openid" })
  }
  if (record.accountId === undefined) {
    return yield* new InvalidToken({ description: "the access token was not issued for a user" })
  }
  // a deleted client's tokens stop working (RFC 7592 §2.3)
  if ((yield* (yield* Clients).find(record.clientId)) === undefined) {
    return yield* new InvalidToken({ description: "the access token's client no longer exists" })
  }
  const account = yield* (yield* Accounts).claims(record.accountId)
  if (account === undefined) {
    return yield* new InvalidToken({ description: "the access token's user no longer exists" })
  }
  // OIDC Core §5.3.2: `sub` always, and it is the ID token's `sub` (the account id)
  const claims: Record<string, unknown> = claimsFor(account, record.scope)
  claims["sub"] = record.accountId
  return json(claims)
})

export const userinfoEndpoint: Endpoint<GatehouseServices> = (ctx) => observeEndpoint("userinfo", ctx, userinfo(ctx))
