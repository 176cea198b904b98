/**
 * The validated authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) as it is kept
 * while the user signs in and consents, and the issuing of the authorization response
 * (RFC 6749 §4.1.2, RFC 9207 `iss`, OAuth 2.0 Form Post Response Mode).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { GatehouseConfig } from "../config.js"
import type { ProtocolError } from "../errors.js"
import { errorCode, publicDescription } from "../errors.js"
import { formPost, redirect } from "../http/response.js"
import { AuthorizationCodeStore } from "../ports/AuthorizationCodeStore.js"
import { Crypto } from "../ports/Crypto.js"
import { Events } from "../ports/Events.js"

export interface AuthorizationRequest {
  readonly clientId: string
  readonly redirectUri: string
  /** whether redirect_uri was present in the request (RFC 6749 §4.1.3) */
  readonly redirectUriProvided: boolean
  readonly responseMode: "query" | "form_post"
  readonly scope: ReadonlyArray<string>
  readonly state?: string | undefined
  readonly codeChallenge?: string | undefined
  readonly codeChallengeMethod?: "S256" | undefined
  readonly resource: ReadonlyArray<string>
  readonly nonce?: string | undefined
  readonly prompt: ReadonlyArray<string>
  readonly maxAge?: number | undefined
  readonly loginHint?: string | undefined
  readonly idTokenHintSub?: string | undefined
  readonly acrValues: ReadonlyArray<string>
  /** OIDC Core §5.5, JSON */
  readonly claims?: string | undefined
  readonly uiLocales?: string | undefined
}

/** Send authorization response parameters to the client (query or form_post). */
export const respond = (
  request: Pick<AuthorizationRequest, "redirectUri" | "responseMode" | "state">,
  params: Record<string, string>,
  headers: Array<[string, string]> = []
) =>
  Effect.map(GatehouseConfig, (config) => {
    // RFC 9207 §2: `iss` in every authorization response, success or error
    const all: Record<string, string> = { ...params, iss: config.issuer }
    if (request.state !== undefined) all["state"] = request.state
    if (request.responseMode === "form_post") return formPost(request.redirectUri, all, headers)
    // RFC 6749 §3.1.2: keep the redirect URI's own query, add ours
    const url = new URL(request.redirectUri)
    for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v)
    return redirect(url.toString(), headers)
  })

/** RFC 6749 §4.1.2.1: an error sent back to the (verified) redirect URI. */
export const respondError = Effect.fnUntraced(function*(
  request: Pick<AuthorizationRequest, "redirectUri" | "responseMode" | "state" | "clientId">,
  error: ProtocolError,
  headers: Array<[string, string]> = []
) {
  yield* (yield* Events).emit({ type: "authorization.denied", flow: "authorize", clientId: request.clientId, error: errorCode(error) })
  return yield* respond(request, { error: errorCode(error), error_description: publicDescription(error) }, headers)
})

export interface Authorization {
  readonly accountId: string
  readonly scope: ReadonlyArray<string>
  readonly authTime: number
  readonly acr?: string | undefined
  readonly amr?: ReadonlyArray<string> | undefined
  readonly sessionId?: string | undefined
}

/**
 * RFC 6749 §4.1.2: mint a single-use code (256 bits, stored as a digest), valid for the
 * configured lifetime (60 s), bound to client, redirect URI, PKCE challenge and nonce.
 */
export const issueCode = Effect.fnUntraced(function*(
  request: AuthorizationRequest,
  authorization: Authorization,
  headers: Array<[string, string]> = []
) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const codes = yield* AuthorizationCodeStore
  const now = yield* Clock.currentTimeMillis
  const code = yield* crypto.randomToken(32)
  const grantId = yield* crypto.randomToken(16)
  yield* codes.save({
    codeDigest: yield* crypto.digest(code),
    grantId,
    clientId: request.clientId,
    accountId: authorization.accountId,
    redirectUri: request.redirectUri,
    scope: authorization.scope,
    resource: request.resource,
    codeChallenge: request.codeChallenge,
    codeChallengeMethod: request.codeChallengeMethod,
    nonce: request.nonce,
    authTime: authorization.authTime,
    acr: authorization.acr,
    amr: authorization.amr,
    claims: request.claims,
    sessionId: authorization.sessionId,
    expiresAt: now + config.ttl.authorizationCode * 1000
  })
  yield* (yield* Events).emit({
    type: "authorization.granted",
    flow: "authorize",
    clientId: request.clientId,
    grantId,
    accountId: authorization.accountId,
    scope: authorization.scope
  })
  return yield* respond(request, { code }, headers)
})
