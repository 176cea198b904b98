/** The refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2). */
import * as jose from "jose"
import { describe, expect, it } from "vitest"
import {
  accessTokenRecord,
  advance,
  API,
  CLIENTS,
  digest,
  type Harness,
  ISSUER,
  makeHarness,
  oauthError,
  obtainTokens,
  refresh,
  REPORTS,
  tokenRequest,
  tokens
} from "./helpers/token-helpers.js"
import { introspect, introspection } from "./helpers/endpoint-helpers.js"

const SCOPE = "openid offline_access api:read api:write"

/** A grant for "web" with a refresh token. */
const start = async (h: Harness, o: { scope?: string; resource?: ReadonlyArray<string>; client?: typeof CLIENTS.web | typeof CLIENTS.spa | typeof CLIENTS.post } = {}) => {
  const { tokens: first } = await obtainTokens(h, o.client ?? CLIENTS.web, { scope: o.scope ?? SCOPE, nonce: "n-0", resource: o.resource })
  expect(first.refresh_token).toBeTypeOf("string")
  return first
}

const refreshRecord = async (h: Harness, token: string) => h.db.refreshTokens.get(await digest(h, token))

describe("refresh token grant", () => {
  it("RFC 6749 §6: a refresh token gets a new access token and a new refresh token (rotation)", async () => {
    const h = await makeHarness()
    const first = await start(h)
    await advance(h, "10 minutes")
    const response = await refresh(h, CLIENTS.web, first.refresh_token!)
    expect(response.headers.get("cache-control")).toBe("no-store")
    const second = await tokens(response)
    expect(second.token_type).toBe("Bearer")
    expect(second.expires_in).toBe(3600)
    expect(second.scope).toBe(SCOPE)
    expect(second.refresh_token).toBeTypeOf("string")
    expect(second.refresh_token).not.toBe(first.refresh_token)
    expect(second.access_token).not.toBe(first.access_token)
    const at = jose.decodeJwt(second.access_token)
    expect(at).toMatchObject({ iss: ISSUER, sub: "alice", client_id: "web", scope: SCOPE, aud: ISSUER })
    expect(at.iat).toBe(Math.floor(Date.UTC(2025, 0, 1, 0, 10) / 1000))
    // RFC 9700 §4.14.2: same family, the old one consumed
    const previous = await refreshRecord(h, first.refresh_token!)
    const next = await refreshRecord(h, second.refresh_token!)
    expect(previous?.consumedAt).toBeDefined()
    expect(next?.grantId).toBe(previous?.grantId)
    expect(next?.consumedAt).toBeUndefined()
    // and the successor works in turn
    await tokens(await refresh(h, CLIENTS.web, second.refresh_token!))
  })

  it("RFC 9700 §4.14.2: a reused refresh token revokes the whole family and its access tokens", async () => {
    const h = await makeHarness()
    const first = await start(h)
    const second = await tokens(await refresh(h, CLIENTS.web, first.refresh_token!))
    // the attacker (or the client) replays the consumed token
    const e = await oauthError(await refresh(h, CLIENTS.web, first.refresh_token!))
    expect(e.error).toBe("invalid_grant")
    expect(e.description).toBe("the refresh token was already used; the grant has been revoked")
    // the rotated-to refresh token is dead
    const dead = await oauthError(await refresh(h, CLIENTS.web, second.refresh_token!))
    expect(dead.error).toBe("invalid_grant")
    // every access token of the grant is revoked, the first one and the one from the refresh
    expect((await accessTokenRecord(h, first.access_token))?.revokedAt).toBeDefined()
    expect((await accessTokenRecord(h, second.access_token))?.revokedAt).toBeDefined()
    expect((await refreshRecord(h, second.refresh_token!))?.revokedAt).toBeDefined()
    const grantId = (await refreshRecord(h, first.refresh_token!))!.grantId
    expect(h.events).toContainEqual(expect.objectContaining({ type: "grant.revoked", grantId, reason: "refresh_token_reuse" }))
    // RFC 7662 §2.2: and introspection says so
    for (const token of [first.access_token, second.access_token, second.refresh_token!]) {
      expect(await introspection(await introspect(h, CLIENTS.web, token))).toEqual({ active: false })
    }
  })

  it("RFC 9700 §4.14.2: reuse in one family leaves another grant of the same client alone", async () => {
    const h = await makeHarness()
    const a = await start(h)
    const b = await start(h)
    await tokens(await refresh(h, CLIENTS.web, a.refresh_token!))
    await refresh(h, CLIENTS.web, a.refresh_token!)
    expect((await accessTokenRecord(h, b.access_token))?.revokedAt).toBeUndefined()
    await tokens(await refresh(h, CLIENTS.web, b.refresh_token!))
  })

  it("RFC 6749 §6: a refresh token of another client -> invalid_grant, and it is not consumed", async () => {
    const h = await makeHarness()
    const first = await start(h)
    const e = await oauthError(await refresh(h, CLIENTS.other, first.refresh_token!))
    expect(e.error).toBe("invalid_grant")
    expect(e.description).toBe("the refresh token is invalid, expired or revoked")
    expect((await refreshRecord(h, first.refresh_token!))?.consumedAt).toBeUndefined()
    // the rightful client can still use it, and nothing was revoked
    await tokens(await refresh(h, CLIENTS.web, first.refresh_token!))
    expect(h.events.some((ev) => ev.type === "grant.revoked")).toBe(false)
  })

  it("RFC 6749 §6: a scope beyond the original grant -> invalid_scope, token not consumed", async () => {
    const h = await makeHarness()
    const first = await start(h, { scope: "offline_access api:read" })
    const e = await oauthError(await refresh(h, CLIENTS.web, first.refresh_token!, { scope: "api:read api:write" }))
    expect(e.error).toBe("invalid_scope")
    expect(e.description).toContain("api:write")
    expect((await refreshRecord(h, first.refresh_token!))?.consumedAt).toBeUndefined()
    await tokens(await refresh(h, CLIENTS.web, first.refresh_token!))
  })

  it("RFC 6749 §6: a narrower scope narrows this access token only; the new refresh token keeps the original scope", async () => {
    const h = await makeHarness()
    const first = await start(h)
    const narrowed = await tokens(await refresh(h, CLIENTS.web, first.refresh_token!, { scope: "api:read" }))
    expect(narrowed.scope).toBe("api:read")
    expect(jose.decodeJwt(narrowed.access_token).scope).toBe("api:read")
    // OIDC Core §12.2: no openid in the narrowed scope, no ID token
    expect(narrowed.id_token).toBeUndefined()
    expect((await refreshRecord(h, narrowed.refresh_token!))?.scope).toEqual(SCOPE.split(" "))
    const full = await tokens(await refresh(h, CLIENTS.web, narrowed.refresh_token!))
    expect(full.scope).toBe(SCOPE)
  })

  it("OIDC Core §12.2: with openid, a new ID token for the same sub and auth_time, without nonce", async () => {
    const h = await makeHarness()
    const first = await start(h)
    const original = jose.decodeJwt(first.id_token!)
    expect(original.nonce).toBe("n-0")
    await advance(h, "1 hour")
    const second = await tokens(await refresh(h, CLIENTS.web, first.refresh_token!))
    const idToken = jose.decodeJwt(second.id_token!)
    expect(idToken).toMatchObject({ iss: ISSUER, sub: "alice", aud: "web", azp: "web", auth_time: original.auth_time })
    expect(idToken.nonce).toBeUndefined()
    expect(idToken.iat).toBe(original.iat! + 3600)
    expect(idToken.at_hash).toBeTypeOf("string")
  })

  it("RFC 6749 §6: an expired refresh token -> invalid_grant", async () => {
    const h = await makeHarness({ options: { ttl: { refreshToken: 3600 } } })
    const first = await start(h)
    await advance(h, "3601 seconds")
    const e = await oauthError(await refresh(h, CLIENTS.web, first.refresh_token!))
    expect(e.error).toBe("invalid_grant")
    expect(e.description).toBe("the refresh token is invalid, expired or revoked")
    // expiry is not reuse: nothing revoked
    expect(h.events.some((ev) => ev.type === "grant.revoked")).toBe(false)
  })

  it("RFC 6749 §6: a refresh token just inside its lifetime still works (control for expiry)", async () => {
    const h = await makeHarness({ options: { ttl: { refreshToken: 3600 } } })
    const first = await start(h)
    await advance(h, "3599 seconds")
    await tokens(await refresh(h, CLIENTS.web, first.refresh_token!))
  })

  it("RFC 6749 §6: an unknown refresh token -> invalid_grant", async () => {
    const h = await makeHarness()
    const e = await oauthError(await refresh(h, CLIENTS.web, "not-a-refresh-token"))
    expect(e.error).toBe("invalid_grant")
  })

  it("RFC 6749 §6: refresh_token is required, at most once", async () => {
    const h = await makeHarness()
    const missing = await oauthError(await tokenRequest(h, { grant_type: "refresh_token" }, { basic: ["web", "web-secret"] }))
    expect(missing.error).toBe("invalid_request")
    expect(missing.description).toBe(`parameter "refresh_token" is required`)
    const first = await start(h)
    const twice = await oauthError(await tokenRequest(h, { grant_type: "refresh_token", refresh_token: [first.refresh_token!, first.refresh_token!] }, { basic: ["web", "web-secret"] }))
    expect(twice.error).toBe("invalid_request")
  })

  it("RFC 6749 §6: the client must authenticate (wrong secret -> invalid_client, token not consumed)", async () => {
    const h = await makeHarness()
    const first = await start(h)
    const e = await oauthError(await tokenRequest(h, { grant_type: "refresh_token", refresh_token: first.refresh_token! }, { basic: ["web", "wrong"] }))
    expect(e.status).toBe(401)
    expect(e.error).toBe("invalid_client")
    expect((await refreshRecord(h, first.refresh_token!))?.consumedAt).toBeUndefined()
  })

  it("RFC 6749 §5.2: a client not registered for refresh_token -> unauthorized_client", async () => {
    const h = await makeHarness()
    const first = await start(h)
    const e = await oauthError(await tokenRequest(h, { grant_type: "refresh_token", refresh_token: first.refresh_token! }, { basic: ["coder", "coder-secret"] }))
    expect(e.error).toBe("unauthorized_client")
  })

  it("RFC 9700 §4.14.2: a public client's refresh tokens rotate, and reuse revokes", async () => {
    const h = await makeHarness()
    const first = await start(h, { client: CLIENTS.spa })
    const second = await tokens(await refresh(h, CLIENTS.spa, first.refresh_token!))
    expect((await oauthError(await refresh(h, CLIENTS.spa, first.refresh_token!))).error).toBe("invalid_grant")
    expect((await oauthError(await refresh(h, CLIENTS.spa, second.refresh_token!))).error).toBe("invalid_grant")
  })

  it("RFC 8707 §2.2: resource narrows the audience within the original grant", async () => {
    const h = await makeHarness()
    const first = await start(h, { resource: [API, REPORTS] })
    expect(jose.decodeJwt(first.access_token).aud).toEqual([API, REPORTS])
    const narrowed = await tokens(await refresh(h, CLIENTS.web, first.refresh_token!, { resource: API }))
    expect(jose.decodeJwt(narrowed.access_token).aud).toBe(API)
    // without resource: the family's resources
    const again = await tokens(await refresh(h, CLIENTS.web, narrowed.refresh_token!))
    expect(jose.decodeJwt(again.access_token).aud).toEqual([API, REPORTS])
  })

  it("RFC 8707 §2: a resource outside the original grant -> invalid_target, token not consumed", async () => {
    const h = await makeHarness()
    const first = await start(h, { resource: [API] })
    const e = await oauthError(await refresh(h, CLIENTS.web, first.refresh_token!, { resource: REPORTS }))
    expect(e.error).toBe("invalid_target")
    expect((await refreshRecord(h, first.refresh_token!))?.consumedAt).toBeUndefined()
  })

  it("OIDC Core §12.2: once the account is gone, its refresh tokens stop working", async () => {
    const h = await makeHarness()
    const first = await start(h)
    h.accounts.delete("alice")
    const e = await oauthError(await refresh(h, CLIENTS.web, first.refresh_token!))
    expect(e.error).toBe("invalid_grant")
  })

  it("audit: a refresh emits token.issued for the family's grant", async () => {
    const h = await makeHarness()
    const first = await start(h)
    await tokens(await refresh(h, CLIENTS.web, first.refresh_token!, { scope: "openid api:read" }))
    const grantId = (await refreshRecord(h, first.refresh_token!))!.grantId
    expect(h.events.filter((e) => e.type === "token.issued").at(-1)).toMatchObject({
      type: "token.issued",
      grantType: "refresh_token",
      clientId: "web",
      accountId: "alice",
      grantId,
      scope: ["openid", "api:read"]
    })
  })

  it("RFC 9700 §4.14.2: two concurrent refreshes with one token: exactly one wins", async () => {
    const h = await makeHarness()
    const first = await start(h)
    const responses = await Promise.all([1, 2, 3].map(() => refresh(h, CLIENTS.web, first.refresh_token!)))
    expect(responses.map((r) => r.status).sort()).toEqual([200, 400, 400])
  })
})
