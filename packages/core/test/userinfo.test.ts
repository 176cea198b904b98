/**
 * The UserInfo endpoint (OIDC Core §5.3) and its Bearer token handling (RFC 6750), through
 * real Requests with tokens from the real token endpoint.
 */
import * as jose from "jose"
import { describe, expect, it } from "vitest"
import { bearerChallenge, postForm, revoke, USERINFO, userinfo } from "./helpers/endpoint-helpers.js"
import {
  advance,
  API,
  CLIENTS,
  form,
  makeHarness,
  oauthError,
  obtainTokens,
  tokenRequest,
  tokens
} from "./helpers/token-helpers.js"

const withToken = async (scope = "openid profile", o: Parameters<typeof makeHarness>[0] = {}) => {
  const h = await makeHarness(o)
  const { tokens: t } = await obtainTokens(h, CLIENTS.web, { scope })
  return { h, t }
}

/** RFC 6750 §3: status, the challenge's error code, and the JSON body's code. */
const expectBearerError = async (response: Response, status: number, error: string) => {
  expect(response.status).toBe(status)
  const challenge = bearerChallenge(response)
  expect(challenge["realm"]).toBe("gatehouse")
  expect(challenge["error"]).toBe(error)
  expect(challenge["error_description"]).toBeTruthy()
  expect((await oauthError(response)).error).toBe(error)
  return challenge
}

describe("UserInfo: successful responses (OIDC Core §5.3)", () => {
  it("OIDC Core §5.3.2: GET with a Bearer JWT -> 200 JSON, sub and the profile claims, nothing else", async () => {
    const { h, t } = await withToken("openid profile")
    const response = await userinfo(h, t.access_token)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/^application\/json/)
    // RFC 6749 §5.1 spirit: personal data is not cached
    expect(response.headers.get("cache-control")).toBe("no-store")
    expect(await response.json()).toEqual({ sub: "alice", name: "Alice Liddell" })
  })

  it("OIDC Core §5.4: the email scope releases email and email_verified only", async () => {
    const { h, t } = await withToken("openid email")
    expect(await (await userinfo(h, t.access_token)).json()).toEqual({ sub: "alice", email: "alice@example.com", email_verified: true })
  })

  it("OIDC Core §5.3.2: sub is the account id even when the account's claims say otherwise", async () => {
    const h = await makeHarness()
    h.accounts.set("alice", { sub: "mallory", name: "Alice Liddell" })
    const { tokens: t } = await obtainTokens(h, CLIENTS.web, { scope: "openid profile" })
    expect((await (await userinfo(h, t.access_token)).json() as { sub: string }).sub).toBe("alice")
  })

  it("OIDC Core §5.3.1: POST with the Bearer header works too", async () => {
    const { h, t } = await withToken()
    const response = await userinfo(h, t.access_token, { method: "POST" })
    expect(response.status).toBe(200)
    expect((await response.json() as { sub: string }).sub).toBe("alice")
  })

  it("RFC 6750 §2.2: POST with access_token in a form body", async () => {
    const { h, t } = await withToken()
    const response = await postForm(h, USERINFO, { access_token: t.access_token })
    expect(response.status).toBe(200)
    expect((await response.json() as { sub: string }).sub).toBe("alice")
  })

  it("RFC 9068 / opaque tokens: an opaque access token works as well", async () => {
    const { h, t } = await withToken("openid profile", { options: { accessToken: { format: "opaque" } } })
    expect(t.access_token.split(".")).toHaveLength(1)
    const response = await userinfo(h, t.access_token)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ sub: "alice", name: "Alice Liddell" })
  })

  it("CORS: browser clients may call it (Access-Control-Allow-Origin)", async () => {
    const { h, t } = await withToken()
    expect((await userinfo(h, t.access_token, { headers: { origin: "https://app.example.com" } })).headers.get("access-control-allow-origin")).toBe("*")
  })
})

describe("UserInfo: how the token may be sent (RFC 6750 §2)", () => {
  it("RFC 6750 §3.1: no token at all -> 401 with a bare Bearer challenge, no error code", async () => {
    const h = await makeHarness()
    const response = await h.gh.handler(new Request(USERINFO))
    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="gatehouse"`)
  })

  it("RFC 6750 §3.1: another authentication scheme counts as no token -> bare challenge", async () => {
    const h = await makeHarness()
    const response = await h.gh.handler(new Request(USERINFO, { headers: { authorization: "Basic d2ViOndlYi1zZWNyZXQ=" } }))
    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="gatehouse"`)
  })

  it("RFC 6750 §2.3: access_token in the URI query is refused -> 400 invalid_request", async () => {
    const { h, t } = await withToken()
    const response = await h.gh.handler(new Request(`${USERINFO}?access_token=${encodeURIComponent(t.access_token)}`))
    await expectBearerError(response, 400, "invalid_request")
  })

  it("RFC 6750 §2: header and body at once -> 400 invalid_request", async () => {
    const { h, t } = await withToken()
    const response = await postForm(h, USERINFO, { access_token: t.access_token }, { headers: { authorization: `Bearer ${t.access_token}` } })
    await expectBearerError(response, 400, "invalid_request")
  })

  it("RFC 6749 §3.1: access_token twice in the body -> 400 invalid_request", async () => {
    const { h, t } = await withToken()
    const response = await postForm(h, USERINFO, { access_token: [t.access_token, t.access_token] })
    await expectBearerError(response, 400, "invalid_request")
  })

  it("RFC 6750 §2.1: a malformed Bearer header -> 400 invalid_request", async () => {
    const { h, t } = await withToken()
    const response = await h.gh.handler(new Request(USERINFO, { headers: { authorization: `Bearer ${t.access_token} extra` } }))
    await expectBearerError(response, 400, "invalid_request")
  })

  it("RFC 6750 §2.2: a body that is not a form is not read for a token -> bare 401", async () => {
    const { h, t } = await withToken()
    const response = await h.gh.handler(new Request(USERINFO, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ access_token: t.access_token })
    }))
    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="gatehouse"`)
  })

  it("OIDC Core §5.3: methods other than GET and POST -> 405 with Allow", async () => {
    const { h, t } = await withToken()
    const response = await userinfo(h, t.access_token, { method: "PUT" })
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("GET, POST")
  })
})

describe("UserInfo: token validation (RFC 6750 §3.1 invalid_token)", () => {
  it("RFC 6750 §3.1: an unknown opaque token -> 401 invalid_token", async () => {
    const h = await makeHarness()
    await expectBearerError(await userinfo(h, "bm90LWEtdG9rZW4"), 401, "invalid_token")
  })

  it("RFC 9068 §4: a JWT signed by another key (same kid, same claims) -> 401 invalid_token", async () => {
    const { h, t } = await withToken()
    const header = jose.decodeProtectedHeader(t.access_token)
    const { privateKey } = await jose.generateKeyPair(header.alg!)
    const forged = await new jose.SignJWT(jose.decodeJwt(t.access_token)).setProtectedHeader(header as jose.JWTHeaderParameters).sign(privateKey)
    await expectBearerError(await userinfo(h, forged), 401, "invalid_token")
  })

  it("RFC 9068 §4: an ID token is not an access token (typ at+jwt) -> 401 invalid_token", async () => {
    const { h, t } = await withToken("openid profile")
    expect(t.id_token).toBeTruthy()
    await expectBearerError(await userinfo(h, t.id_token!), 401, "invalid_token")
  })

  it("RFC 6750 §3.1: an expired token -> 401 invalid_token", async () => {
    const { h, t } = await withToken()
    expect((await userinfo(h, t.access_token)).status).toBe(200)
    await advance(h, "61 minutes")
    await expectBearerError(await userinfo(h, t.access_token), 401, "invalid_token")
  })

  it("RFC 6750 §3.1: an expired opaque token -> 401 invalid_token", async () => {
    const { h, t } = await withToken("openid profile", { options: { accessToken: { format: "opaque" } } })
    await advance(h, "61 minutes")
    await expectBearerError(await userinfo(h, t.access_token), 401, "invalid_token")
  })

  it("RFC 7009 §2: a revoked access token -> 401 invalid_token", async () => {
    const { h, t } = await withToken()
    expect((await revoke(h, CLIENTS.web, t.access_token)).status).toBe(200)
    await expectBearerError(await userinfo(h, t.access_token), 401, "invalid_token")
  })

  it("RFC 7009 §2.1: revoking the refresh token revokes the grant's access tokens too", async () => {
    const { h, t } = await withToken("openid profile offline_access")
    expect(t.refresh_token).toBeTruthy()
    expect((await revoke(h, CLIENTS.web, t.refresh_token!)).status).toBe(200)
    await expectBearerError(await userinfo(h, t.access_token), 401, "invalid_token")
  })

  it("RFC 8707 §2: a token for another resource (aud) is refused here -> 401 invalid_token", async () => {
    const h = await makeHarness()
    const { tokens: t } = await obtainTokens(h, CLIENTS.web, { scope: "openid profile", resource: [API] })
    expect(jose.decodeJwt(t.access_token).aud).toBe(API)
    await expectBearerError(await userinfo(h, t.access_token), 401, "invalid_token")
  })

  it("Accounts port: a token of a deleted account -> 401 invalid_token", async () => {
    const { h, t } = await withToken()
    h.accounts.delete("alice")
    await expectBearerError(await userinfo(h, t.access_token), 401, "invalid_token")
  })
})

describe("UserInfo: scope (RFC 6750 §3.1 insufficient_scope)", () => {
  it("OIDC Core §5.3: a token without openid -> 403 insufficient_scope with scope=\"openid\"", async () => {
    const { h, t } = await withToken("profile")
    const challenge = await expectBearerError(await userinfo(h, t.access_token), 403, "insufficient_scope")
    expect(challenge["scope"]).toBe("openid")
  })

  it("OIDC Core §5.3: a client_credentials token (no user, no openid) -> 403 insufficient_scope", async () => {
    const h = await makeHarness()
    const t = await tokens(await tokenRequest(h, { grant_type: "client_credentials", scope: "api:read" }, { basic: ["svc", "svc-secret"] }))
    await expectBearerError(await userinfo(h, t.access_token), 403, "insufficient_scope")
  })

  it("RFC 6750 §2.2: a form body with other parameters but no access_token -> bare 401", async () => {
    const h = await makeHarness()
    const response = await h.gh.handler(new Request(USERINFO, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form({ foo: "bar" })
    }))
    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="gatehouse"`)
  })
})
