/**
 * The authorization code grant at the token endpoint: RFC 6749 §4.1.3, PKCE (RFC 7636 §4.6),
 * single use with revocation on replay (RFC 6749 §4.1.2), and OpenID Connect ID tokens
 * (OIDC Core §3.1.3.6, §2).
 */
import * as jose from "jose"
import { describe, expect, it } from "vitest"
import {
  accessTokenRecord,
  advance,
  API,
  authorize,
  CLIENTS,
  exchangeCode,
  ISSUER,
  makeHarness,
  oauthError,
  REPORTS,
  T0,
  tokens
} from "./helpers/token-helpers.js"

const jwksOf = async (h: Awaited<ReturnType<typeof makeHarness>>) =>
  jose.createLocalJWKSet(await (await h.gh.handler(new Request(`${ISSUER}/jwks`))).json() as jose.JSONWebKeySet)

describe("RFC 6749 §4.1.3: code exchange", () => {
  it("issues a Bearer access token, refresh token and ID token; the code's scope is echoed", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web", scope: "openid profile offline_access", nonce: "n-1" })
    const body = await tokens(await exchangeCode(h, auth, CLIENTS.web))
    expect(body.token_type).toBe("Bearer")
    expect(body.expires_in).toBe(3600)
    expect(body.scope).toBe("openid profile offline_access")
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(body.id_token).toBeTruthy()
  })

  it("RFC 9068 §2: the access token is an at+jwt with iss, exp, aud, sub, client_id, iat, jti, scope", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web", scope: "openid profile" })
    const body = await tokens(await exchangeCode(h, auth, CLIENTS.web))
    const { payload, protectedHeader } = await jose.jwtVerify(body.access_token, await jwksOf(h), {
      issuer: ISSUER,
      audience: ISSUER,
      typ: "at+jwt",
      currentDate: new Date(T0)
    })
    expect(protectedHeader.alg).toBe("ES256")
    expect(payload).toMatchObject({ sub: "alice", client_id: "web", scope: "openid profile", iat: T0 / 1000, exp: T0 / 1000 + 3600 })
    expect(typeof payload.jti).toBe("string")
    expect(typeof payload["auth_time"]).toBe("number")
  })

  it("OIDC Core §3.1.3.6 / §2: the ID token has iss, sub, aud, exp, iat, auth_time, nonce, azp and at_hash (RS256 by default)", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web", scope: "openid", nonce: "n-0S6_WzA2Mj" })
    const body = await tokens(await exchangeCode(h, auth, CLIENTS.web))
    const { payload, protectedHeader } = await jose.jwtVerify(body.id_token!, await jwksOf(h), { issuer: ISSUER, audience: "web", currentDate: new Date(T0) })
    expect(protectedHeader.alg).toBe("RS256")
    expect(payload).toMatchObject({ sub: "alice", nonce: "n-0S6_WzA2Mj", azp: "web", auth_time: T0 / 1000 })
    // at_hash: left half of SHA-256 of the access token, base64url
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body.access_token)))
    expect(payload["at_hash"]).toBe(Buffer.from(hash.slice(0, 16)).toString("base64url"))
  })

  it("OIDC Core §11: with openid, a refresh token only for offline_access", async () => {
    const h = await makeHarness()
    const body = await tokens(await exchangeCode(h, await authorize(h, { clientId: "web", scope: "openid profile" }), CLIENTS.web))
    expect(body.refresh_token).toBeUndefined()
  })

  it("RFC 6749 §4.1.3: no refresh token for a client without the refresh_token grant", async () => {
    const h = await makeHarness()
    const body = await tokens(await exchangeCode(h, await authorize(h, { clientId: "coder", scope: "api:read" }), CLIENTS.coder))
    expect(body.refresh_token).toBeUndefined()
    expect(body.id_token).toBeUndefined()
  })

  it("RFC 6749 §4.1.3: missing code -> invalid_request", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web" })
    const e = await oauthError(await exchangeCode(h, auth, CLIENTS.web, { code: undefined }))
    expect([e.status, e.error]).toEqual([400, "invalid_request"])
  })

  it("RFC 6749 §5.2: an unknown code -> invalid_grant", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web" })
    const e = await oauthError(await exchangeCode(h, { ...auth, code: "not-a-code" }, CLIENTS.web))
    expect([e.status, e.error]).toEqual([400, "invalid_grant"])
  })

  it("RFC 6749 §4.1.3: a code issued to another client -> invalid_grant", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web" })
    expect((await oauthError(await exchangeCode(h, auth, CLIENTS.other))).error).toBe("invalid_grant")
  })

  it("RFC 6749 §4.1.3: redirect_uri must be identical to the authorization request's", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web" })
    const e = await oauthError(await exchangeCode(h, auth, CLIENTS.web, { redirect_uri: "https://app.example.com/other" }))
    expect(e.error).toBe("invalid_grant")
  })

  it("RFC 6749 §4.1.2: a code expires (60 s, TestClock)", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web" })
    await advance(h, "60 seconds")
    const e = await oauthError(await exchangeCode(h, auth, CLIENTS.web))
    expect(e.error).toBe("invalid_grant")
    expect(e.description).toContain("expired")
  })

  it("RFC 6749 §4.1.2: a replayed code is refused and the tokens issued from it are revoked", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web", scope: "openid offline_access" })
    const first = await tokens(await exchangeCode(h, auth, CLIENTS.web))
    expect((await accessTokenRecord(h, first.access_token))?.revokedAt).toBeUndefined()
    const replay = await oauthError(await exchangeCode(h, auth, CLIENTS.web))
    expect(replay.error).toBe("invalid_grant")
    expect((await accessTokenRecord(h, first.access_token))?.revokedAt).toBe(T0)
    // the refresh token of that grant is dead too
    const refreshed = await oauthError(await h.gh.handler(new Request(`${ISSUER}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${btoa("web:web-secret")}` },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: first.refresh_token! })
    })))
    expect(refreshed.error).toBe("invalid_grant")
    expect(h.events).toContainEqual(expect.objectContaining({ type: "grant.revoked", reason: "code_replay" }))
  })

  it("RFC 6749 §4.1.2: 50 concurrent redemptions of one code -> exactly one success", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web" })
    const statuses = (await Promise.all(Array.from({ length: 50 }, () => exchangeCode(h, auth, CLIENTS.web)))).map((r) => r.status)
    expect(statuses.filter((s) => s === 200)).toHaveLength(1)
    expect(statuses.filter((s) => s === 400)).toHaveLength(49)
  })
})

describe("RFC 7636 §4.6: PKCE at the token endpoint", () => {
  it("a wrong code_verifier -> invalid_grant", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web" })
    const e = await oauthError(await exchangeCode(h, auth, CLIENTS.web, { code_verifier: "x".repeat(43) }))
    expect(e.error).toBe("invalid_grant")
    expect(e.description).toContain("code_verifier")
  })

  it("a missing code_verifier -> invalid_grant", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "spa" })
    expect((await oauthError(await exchangeCode(h, auth, CLIENTS.spa, { code_verifier: undefined }))).error).toBe("invalid_grant")
  })

  it("RFC 7636 §4.1: a malformed code_verifier (too short) -> invalid_request", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web" })
    expect((await oauthError(await exchangeCode(h, auth, CLIENTS.web, { code_verifier: "short" }))).error).toBe("invalid_request")
  })

  it("RFC 9700 §4.8.2: a code_verifier for a code issued without a challenge is refused (PKCE downgrade)", async () => {
    const h = await makeHarness({ options: { pkce: { required: "public" } } })
    // authorize without PKCE (allowed for confidential clients under pkce.required=public)
    const url = new URL(`${ISSUER}/authorize`)
    url.search = new URLSearchParams({ response_type: "code", client_id: "web", redirect_uri: "https://app.example.com/callback", state: "s" }).toString()
    const start = await h.gh.handler(new Request(url))
    const id = decodeURIComponent(new URL(start.headers.get("location")!).pathname.split("/").pop()!)
    const cookie = start.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ")
    const { redirectTo } = await h.gh.interactions.complete(id, { accountId: "alice" })
    const code = new URL((await h.gh.handler(new Request(redirectTo, { headers: { cookie } }))).headers.get("location")!).searchParams.get("code")!
    const auth = { code, verifier: "y".repeat(43), redirectUri: "https://app.example.com/callback", response: new URLSearchParams() }
    expect((await oauthError(await exchangeCode(h, auth, CLIENTS.web))).error).toBe("invalid_grant")
  })
})

describe("RFC 8707: resource indicators through the code", () => {
  it("§2.2: the token request narrows to one of the authorized resources", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web", resource: [API, REPORTS] })
    const body = await tokens(await exchangeCode(h, auth, CLIENTS.web, { resource: REPORTS }))
    expect(jose.decodeJwt(body.access_token).aud).toBe(REPORTS)
  })

  it("§2.2: a resource that was not authorized -> invalid_target", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web", resource: [API] })
    expect((await oauthError(await exchangeCode(h, auth, CLIENTS.web, { resource: REPORTS }))).error).toBe("invalid_target")
  })
})
