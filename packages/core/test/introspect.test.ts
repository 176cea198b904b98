/**
 * Token introspection (RFC 7662), through real Requests with tokens from the real token
 * endpoint.
 */
import * as jose from "jose"
import { describe, expect, it } from "vitest"
import { INTROSPECT, introspect, introspection, postForm, revoke } from "./helpers/endpoint-helpers.js"
import {
  advance,
  API,
  assertionParams,
  CLIENTS,
  generateClientKey,
  ISSUER,
  jwtClient,
  makeHarness,
  now,
  oauthError,
  obtainTokens,
  refresh,
  signAssertion,
  T0,
  tokenRequest,
  tokens
} from "./helpers/token-helpers.js"

const withTokens = async (scope = "openid profile offline_access", o: Parameters<typeof makeHarness>[0] = {}) => {
  const h = await makeHarness(o)
  const { tokens: t } = await obtainTokens(h, CLIENTS.web, { scope })
  return { h, t }
}

describe("introspection: active tokens (RFC 7662 §2.2)", () => {
  it("RFC 7662 §2.2: an active JWT access token -> its members, matching the JWT's claims", async () => {
    const { h, t } = await withTokens()
    const response = await introspect(h, CLIENTS.web, t.access_token)
    expect(response.headers.get("content-type")).toMatch(/^application\/json/)
    expect(response.headers.get("cache-control")).toBe("no-store")
    const body = await introspection(response)
    const jwt = jose.decodeJwt(t.access_token)
    expect(body).toMatchObject({
      active: true,
      scope: "openid profile offline_access",
      client_id: "web",
      token_type: "Bearer",
      exp: jwt.exp,
      iat: jwt.iat,
      sub: "alice",
      aud: ISSUER,
      iss: ISSUER,
      jti: jwt.jti
    })
    expect(body["exp"]).toBe(Math.floor(T0 / 1000) + 3600)
    // RFC 9068 §2.2.1 auth_time recorded at issuance comes along
    expect(typeof body["auth_time"]).toBe("number")
  })

  it("RFC 7662 §2.2: an active opaque access token -> active, no jti", async () => {
    const { h, t } = await withTokens("openid profile", { options: { accessToken: { format: "opaque" } } })
    const body = await introspection(await introspect(h, CLIENTS.web, t.access_token))
    expect(body).toMatchObject({ active: true, client_id: "web", token_type: "Bearer", sub: "alice", scope: "openid profile", iss: ISSUER })
    expect(body).not.toHaveProperty("jti")
  })

  it("RFC 7662 §2.2: an active refresh token -> active with scope, client_id, sub, exp", async () => {
    const { h, t } = await withTokens()
    const body = await introspection(await introspect(h, CLIENTS.web, t.refresh_token!, { token_type_hint: "refresh_token" }))
    expect(body).toMatchObject({ active: true, client_id: "web", sub: "alice", scope: "openid profile offline_access", iss: ISSUER })
    expect(body["exp"]).toBe(Math.floor(T0 / 1000) + h.gh.config.ttl.refreshToken)
    expect(body).not.toHaveProperty("token_type")
  })

  it("RFC 7662 §2.1: a wrong hint does not hide the token (the search extends to every type)", async () => {
    const { h, t } = await withTokens()
    expect((await introspection(await introspect(h, CLIENTS.web, t.refresh_token!, { token_type_hint: "access_token" })))["active"]).toBe(true)
    expect((await introspection(await introspect(h, CLIENTS.web, t.access_token, { token_type_hint: "refresh_token" })))["active"]).toBe(true)
  })

  it("RFC 7662 §2.1: an unknown hint value is ignored", async () => {
    const { h, t } = await withTokens()
    expect((await introspection(await introspect(h, CLIENTS.web, t.access_token, { token_type_hint: "id_token" })))["active"]).toBe(true)
  })

  it("RFC 7662 §2.2: a client_credentials token -> sub is the client, aud the requested resource", async () => {
    const h = await makeHarness()
    const t = await tokens(await tokenRequest(h, { grant_type: "client_credentials", scope: "api:read", resource: API }, { basic: ["svc", "svc-secret"] }))
    const body = await introspection(await introspect(h, CLIENTS.svc, t.access_token))
    expect(body).toMatchObject({ active: true, client_id: "svc", sub: "svc", aud: API, scope: "api:read" })
  })

  it("RFC 7662 §2.1: client_secret_post authenticates too", async () => {
    const h = await makeHarness()
    const t = await tokens(await tokenRequest(h, { grant_type: "client_credentials", client_id: "post", client_secret: "post-secret" }))
    expect((await introspection(await introspect(h, CLIENTS.post, t.access_token)))["active"]).toBe(true)
  })

  it("RFC 7523 §3: private_key_jwt with the introspection endpoint as aud authenticates", async () => {
    const key = await generateClientKey()
    const client = jwtClient("jwt-client", key)
    const h = await makeHarness({ clients: [...Object.values(CLIENTS), client] })
    const t = await tokens(await tokenRequest(h, { grant_type: "client_credentials", ...assertionParams(await signAssertion(key, client.client_id, await now(h))) }))
    const assertion = await signAssertion(key, client.client_id, await now(h), { aud: INTROSPECT })
    const body = await introspection(await postForm(h, INTROSPECT, { token: t.access_token, ...assertionParams(assertion) }))
    expect(body).toMatchObject({ active: true, client_id: "jwt-client" })
  })
})

describe("introspection: inactive tokens are exactly {\"active\": false} (RFC 7662 §2.2)", () => {
  it("RFC 7662 §2.2: an unknown token", async () => {
    const { h } = await withTokens()
    expect(await introspection(await introspect(h, CLIENTS.web, "bm8tc3VjaC10b2tlbg"))).toEqual({ active: false })
  })

  it("RFC 7662 §2.2: a JWT-shaped string that does not verify", async () => {
    const { h, t } = await withTokens()
    const [header, payload] = t.access_token.split(".")
    expect(await introspection(await introspect(h, CLIENTS.web, `${header}.${payload}.AAAA`))).toEqual({ active: false })
  })

  it("RFC 7662 §2.2: an expired access token", async () => {
    const { h, t } = await withTokens()
    await advance(h, "2 hours")
    expect(await introspection(await introspect(h, CLIENTS.web, t.access_token))).toEqual({ active: false })
  })

  it("RFC 7662 §2.2: an expired opaque access token", async () => {
    const { h, t } = await withTokens("openid", { options: { accessToken: { format: "opaque" } } })
    await advance(h, "2 hours")
    expect(await introspection(await introspect(h, CLIENTS.web, t.access_token))).toEqual({ active: false })
  })

  it("RFC 7662 §2.2: a revoked access token", async () => {
    const { h, t } = await withTokens()
    expect((await revoke(h, CLIENTS.web, t.access_token)).status).toBe(200)
    expect(await introspection(await introspect(h, CLIENTS.web, t.access_token))).toEqual({ active: false })
  })

  it("RFC 7662 §2.2: a revoked refresh token, and the access token of its grant", async () => {
    const { h, t } = await withTokens()
    expect((await revoke(h, CLIENTS.web, t.refresh_token!)).status).toBe(200)
    expect(await introspection(await introspect(h, CLIENTS.web, t.refresh_token!))).toEqual({ active: false })
    expect(await introspection(await introspect(h, CLIENTS.web, t.access_token))).toEqual({ active: false })
  })

  it("RFC 9700 §4.14.2: a rotated (consumed) refresh token is inactive; its successor is active", async () => {
    const { h, t } = await withTokens()
    const next = await tokens(await refresh(h, CLIENTS.web, t.refresh_token!))
    expect(await introspection(await introspect(h, CLIENTS.web, t.refresh_token!))).toEqual({ active: false })
    expect((await introspection(await introspect(h, CLIENTS.web, next.refresh_token!)))["active"]).toBe(true)
  })

  it("RFC 7662 §2.2: an expired refresh token", async () => {
    const { h, t } = await withTokens()
    await advance(h, "15 days")
    expect(await introspection(await introspect(h, CLIENTS.web, t.refresh_token!))).toEqual({ active: false })
  })

  it("RFC 7662 §4: a token issued to another client introspects as inactive (no oracle)", async () => {
    const { h, t } = await withTokens()
    expect(await introspection(await introspect(h, CLIENTS.other, t.access_token))).toEqual({ active: false })
    expect(await introspection(await introspect(h, CLIENTS.other, t.refresh_token!))).toEqual({ active: false })
    // still active for its own client
    expect((await introspection(await introspect(h, CLIENTS.web, t.access_token)))["active"]).toBe(true)
  })
})

describe("introspection: bad requests", () => {
  it("RFC 7662 §2.1: no client authentication -> 401 invalid_client", async () => {
    const { h, t } = await withTokens()
    const response = await postForm(h, INTROSPECT, { token: t.access_token })
    expect(response.status).toBe(401)
    expect((await oauthError(response)).error).toBe("invalid_client")
  })

  it("RFC 6749 §5.2: a wrong secret over Basic -> 401 invalid_client with a Basic challenge", async () => {
    const { h, t } = await withTokens()
    const response = await postForm(h, INTROSPECT, { token: t.access_token }, { basic: ["web", "wrong-secret"] })
    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toMatch(/^Basic /)
    expect((await oauthError(response)).error).toBe("invalid_client")
  })

  it("RFC 7523 §3: a private_key_jwt assertion whose aud is another server -> 401 invalid_client", async () => {
    const key = await generateClientKey()
    const client = jwtClient("jwt-client", key)
    const h = await makeHarness({ clients: [...Object.values(CLIENTS), client] })
    const assertion = await signAssertion(key, client.client_id, await now(h), { aud: "https://elsewhere.example.com/introspect" })
    const response = await postForm(h, INTROSPECT, { token: "x", ...assertionParams(assertion) })
    expect(response.status).toBe(401)
    expect((await oauthError(response)).error).toBe("invalid_client")
  })

  it("RFC 7662 §2.1: token is REQUIRED -> 400 invalid_request", async () => {
    const { h } = await withTokens()
    const response = await introspect(h, CLIENTS.web, undefined)
    expect(response.status).toBe(400)
    const error = await oauthError(response)
    expect(error.error).toBe("invalid_request")
    expect(error.description).toContain(`"token"`)
  })

  it("RFC 6749 §3.2: token twice -> 400 invalid_request", async () => {
    const { h, t } = await withTokens()
    const response = await postForm(h, INTROSPECT, { token: [t.access_token, t.access_token] }, { basic: ["web", "web-secret"] })
    expect(response.status).toBe(400)
    expect((await oauthError(response)).error).toBe("invalid_request")
  })

  it("RFC 6749 §3.2: token_type_hint twice -> 400 invalid_request", async () => {
    const { h, t } = await withTokens()
    const response = await introspect(h, CLIENTS.web, t.access_token, { token_type_hint: ["access_token", "refresh_token"] })
    expect(response.status).toBe(400)
    expect((await oauthError(response)).error).toBe("invalid_request")
  })

  it("RFC 7662 §2.1: the body must be application/x-www-form-urlencoded -> 400 invalid_request", async () => {
    const { h, t } = await withTokens()
    const response = await h.gh.handler(new Request(INTROSPECT, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Basic ${btoa("web:web-secret")}` },
      body: JSON.stringify({ token: t.access_token })
    }))
    expect(response.status).toBe(400)
    expect((await oauthError(response)).error).toBe("invalid_request")
  })

  it("RFC 7662 §2.1: POST only -> GET gets 405", async () => {
    const { h, t } = await withTokens()
    const response = await h.gh.handler(new Request(`${INTROSPECT}?token=${t.access_token}`))
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("POST")
  })
})
