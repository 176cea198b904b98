/**
 * Opaque access tokens checked by RFC 7662 introspection at a real Gatehouse over HTTP: the
 * resource is configured on the AS to get opaque tokens (RFC 8707 per-resource format).
 * Revocation (RFC 7009) takes effect once the short cache lets go; inactive answers are never
 * cached; nothing is cached past the token's `exp`.
 *
 * Gatehouse's introspection endpoint answers a client only about tokens issued to that client
 * (see core's endpoints/introspect.ts), so the resource server here authenticates as the
 * client the tokens were issued to.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createResourceServer, type ResourceServerOptions } from "../src/index.js"
import { apiRequest, basic, challengeParams, CLIENTS, clientCredentialsToken, OPAQUE_API, startAs, type TestAs } from "./helpers.js"

let as: TestAs

beforeAll(async () => {
  as = await startAs()
})
afterAll(async () => {
  await as?.close()
})

const server = (extra: Partial<ResourceServerOptions["introspection"]> = {}) =>
  createResourceServer({
    issuer: as.issuer,
    audience: OPAQUE_API,
    clock: () => as.now(),
    introspection: { clientId: CLIENTS.svc.client_id, clientSecret: CLIENTS.svc.client_secret, ...extra }
  })

const verify = async (rs: ReturnType<typeof server>, token: string, scopes?: Array<string>) =>
  rs.verify(apiRequest(`Bearer ${token}`, `${OPAQUE_API}/me`), { scopes })

const revoke = async (token: string) => {
  const response = await fetch(`${as.issuer}/revoke`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(CLIENTS.svc.client_id, CLIENTS.svc.client_secret) },
    body: new URLSearchParams({ token })
  })
  expect(response.status).toBe(200)
}

describe("opaque tokens by introspection (RFC 7662)", () => {
  it("a valid opaque token: active, with sub, client_id and scope; the endpoint found in the AS metadata", async () => {
    const token = await clientCredentialsToken(as, { scope: "api:read", resource: OPAQUE_API })
    expect(token.split(".")).toHaveLength(1)
    const rs = server()
    const before = as.hitsOf("/introspect")
    const result = await verify(rs, token, ["api:read"])
    expect(result.ok && result.token).toMatchObject({ sub: "svc", clientId: "svc", scope: ["api:read"], format: "opaque" })
    expect(result.ok && result.token.claims).toMatchObject({ active: true, aud: OPAQUE_API, iss: as.issuer, token_type: "Bearer" })
    expect(as.hitsOf("/introspect")).toBe(before + 1)
    expect(as.hitsOf("/.well-known/oauth-authorization-server")).toBeGreaterThanOrEqual(1)
  })

  it("revoked: accepted from the cache until its TTL, then refused with invalid_token", async () => {
    const rs = server({ cacheTtlSeconds: 10 })
    const token = await clientCredentialsToken(as, { resource: OPAQUE_API })
    const before = as.hitsOf("/introspect")
    expect((await verify(rs, token)).ok).toBe(true)
    expect((await verify(rs, token)).ok).toBe(true)
    expect(as.hitsOf("/introspect")).toBe(before + 1)
    await revoke(token)
    // RFC 7662 §4: the cache trades revocation latency for load — at most cacheTtlSeconds
    await as.advance(9)
    expect((await verify(rs, token)).ok).toBe(true)
    expect(as.hitsOf("/introspect")).toBe(before + 1)
    await as.advance(1)
    const result = await verify(rs, token)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.response.status).toBe(401)
    expect(challengeParams(result.response)?.params).toMatchObject({ error: "invalid_token", error_description: "the access token is not active (revoked, expired or unknown)" })
    expect(as.hitsOf("/introspect")).toBe(before + 2)
  })

  it("revoked, with the cache off: refused at once", async () => {
    const rs = server({ cacheTtlSeconds: 0 })
    const token = await clientCredentialsToken(as, { resource: OPAQUE_API })
    expect((await verify(rs, token)).ok).toBe(true)
    await revoke(token)
    expect((await verify(rs, token)).ok).toBe(false)
  })

  it("inactive answers are never cached", async () => {
    const rs = server({ cacheTtlSeconds: 60 })
    const before = as.hitsOf("/introspect")
    for (let i = 0; i < 3; i++) expect((await verify(rs, "bm90LWEtdG9rZW4tYXQtYWxs")).ok).toBe(false)
    expect(as.hitsOf("/introspect")).toBe(before + 3)
  })

  it("nothing is cached past the token's exp (RFC 7662 §4)", async () => {
    const rs = server({ cacheTtlSeconds: 24 * 3600 })
    const token = await clientCredentialsToken(as, { resource: OPAQUE_API })
    const before = as.hitsOf("/introspect")
    expect((await verify(rs, token)).ok).toBe(true)
    // the AS's access tokens live 3600 s
    await as.advance(3600)
    expect((await verify(rs, token)).ok).toBe(false)
    expect(as.hitsOf("/introspect")).toBe(before + 2)
  })

  it("insufficient scope is checked per request, cached or not", async () => {
    const rs = server()
    const token = await clientCredentialsToken(as, { scope: "api:read", resource: OPAQUE_API })
    expect((await verify(rs, token, ["api:read"])).ok).toBe(true)
    const result = await verify(rs, token, ["api:write"])
    expect(result.ok).toBe(false)
    if (!result.ok) {
      expect(result.response.status).toBe(403)
      expect(challengeParams(result.response)?.params).toMatchObject({ error: "insufficient_scope", scope: "api:write" })
    }
  })

  it("an active token for another audience is refused (RFC 7662 §4)", async () => {
    const rs = createResourceServer({
      issuer: as.issuer,
      audience: "https://somewhere-else.example.com",
      clock: () => as.now(),
      introspection: { clientId: CLIENTS.svc.client_id, clientSecret: CLIENTS.svc.client_secret, endpoint: `${as.issuer}/introspect` }
    })
    const token = await clientCredentialsToken(as, { resource: OPAQUE_API })
    const result = await rs.verify(apiRequest(`Bearer ${token}`))
    expect(result.ok).toBe(false)
    if (!result.ok) expect(challengeParams(result.response)?.params["error_description"]).toBe("the access token is not intended for this resource")
  })

  it("refused resource-server credentials are our configuration's fault: 503, not the client's 401", async () => {
    const rs = server({ clientSecret: "wrong-secret" })
    const token = await clientCredentialsToken(as, { resource: OPAQUE_API })
    const result = await verify(rs, token)
    expect(result.ok).toBe(false)
    if (!result.ok) {
      expect(result.response.status).toBe(503)
      expect(result.response.headers.get("www-authenticate")).toBeNull()
    }
  })
})
