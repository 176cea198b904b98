/**
 * The authorization code grant, token request (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.5,
 * §4.6) and OpenID Connect ID tokens (OIDC Core §3.1.3).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { InvalidGrant, InvalidRequest } from "../errors.js"
import { optionalParam, requiredParam } from "../http/request.js"
import { matchRedirectUri } from "../endpoints/authorize.js"
import { AuthorizationCodeStore } from "../ports/AuthorizationCodeStore.js"
import { base64url, Crypto } from "../ports/Crypto.js"
import { Events } from "../ports/Events.js"
import { millisIn } from "../time.js"
import { parseClaimsRequest } from "../tokens/claims.js"
import { grantedBy, issueGrantTokens } from "../tokens/grant_tokens.js"
import { revokeGrant } from "../tokens/revoke_grant.js"
import type { GrantContext, GrantHandler } from "./types.js"

/** RFC 7636 §4.1: 43-128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/

const invalidCode = new InvalidGrant({ description: "the authorization code is invalid, expired or already used" })



const handle = Effect.fnUntraced(function*({ client, params }: GrantContext) {
  // the services in one read of the fiber's context (one step, not one per service)
  const services = yield* Effect.context<Crypto | AuthorizationCodeStore>()
  const crypto = Context.get(services, Crypto)
  const now = millisIn(services)
  const code = yield* requiredParam(params, "code")
  const redirectUri = yield* optionalParam(params, "redirect_uri")
  const verifier = yield* optionalParam(params, "code_verifier")
  if (verifier !== undefined && !CODE_VERIFIER.test(verifier)) {
    return yield* new InvalidRequest({ description: "code_verifier must be 43-128 characters of [A-Z a-z 0-9 - . _ ~] (RFC 7636 §4.1)" })
  }
  // Single use, atomically (exactly one concurrent redemption wins)
  const result = yield* Context.get(services, AuthorizationCodeStore).consume(yield* crypto.digest(code), now)
  if (result._tag === "NotFound") return yield* invalidCode
  const record = result.record
  if (result._tag === "AlreadyConsumed") {
    // RFC 6749 §4.1.2: a code used twice -> deny, and revoke the tokens issued from it
    yield* (yield* Events).emit({ type: "code.replayed", clientId: client.clientId, accountId: record.accountId, grantId: record.grantId })
    yield* revokeGrant(record.grantId, "code_replay", record.clientId)
    return yield* new InvalidGrant({ description: "the authorization code was already used", detail: `replay of grant ${record.grantId}` })
  }
  // RFC 6749 §4.1.3: issued to this client
  if (record.clientId !== client.clientId) {
    return yield* new InvalidGrant({ description: "the authorization code was issued to another client" })
  }
  if (record.expiresAt <= now) return yield* new InvalidGrant({ description: "the authorization code has expired" })
  // RFC 6749 §4.1.3: identical redirect_uri when it was in the authorization request
  if (redirectUri !== undefined ? redirectUri !== record.redirectUri : !(client.metadata.redirect_uris.length === 1 && client.metadata.redirect_uris[0] === record.redirectUri)) {
    return yield* new InvalidGrant({ description: "redirect_uri does not match the authorization request" })
  }
  if (redirectUri !== undefined && !matchRedirectUri(client.metadata.redirect_uris, redirectUri)) {
    return yield* new InvalidGrant({ description: "redirect_uri is no longer registered for this client" })
  }
  // RFC 7636 §4.6 (S256 only)
  if (record.codeChallenge !== undefined) {
    if (verifier === undefined) return yield* new InvalidGrant({ description: "code_verifier is required (PKCE)" })
    const computed = base64url(yield* crypto.sha256(verifier))
    if (!crypto.equal(computed, record.codeChallenge)) {
      return yield* new InvalidGrant({ description: "code_verifier does not match the code_challenge" })
    }
  } else if (verifier !== undefined) {
    // RFC 9700 §4.8.2: PKCE downgrade — a verifier without a challenge is rejected
    return yield* new InvalidGrant({ description: "code_verifier sent, but the authorization request had no code_challenge" })
  }
  const claims = parseClaimsRequest(record.claims)
  return yield* issueGrantTokens(
    "authorization_code",
    client,
    params.get("resource") ?? [],
    grantedBy(record, record.accountId, record.authTime, claims === "invalid" ? undefined : claims)
  )
})

export const authorizationCode = {
  grantType: "authorization_code",
  handle
} satisfies GrantHandler<unknown>
