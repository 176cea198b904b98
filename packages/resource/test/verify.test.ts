/**
 * The resource server against a real Gatehouse over HTTP: JWT access tokens verified locally
 * (RFC 9068 §4) with the AS's keys fetched from its JWKS (found through its RFC 8414
 * metadata), RFC 6750 §3 refusals with their challenges, RFC 9728 metadata. One clock for
 * both sides (TestClock on the AS, `clock` on the resource server): no sleeps.
 */
import * as jose from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createResourceServer, type ResourceServerInstance, ResourceServerConfigError } from "../src/index.js"
import { createServer } from "node:http"
import { API, apiRequest, challengeParams, clientCredentialsToken, listen, REPORTS, startAs, type TestAs, userTokens } from "./helpers.js"

let as: TestAs
let rs: ResourceServerInstance

beforeAll(async () => {
  as = await startAs()
  rs = createResourceServer({ issuer: as.issuer, audience: API, clock: () => as.now() })
})
afterAll(async () => {
  await as?.close()
})

const bearer = (token: string) => `Bearer ${token}`

const refused = async (authorization: string | undefined, scopes?: Array<string>, server = rs) => {
  const result = await server.verify(apiRequest(authorization), { scopes })
  if (result.ok) throw new Error(`expected a refusal, got the token of ${result.token.sub}`)
  const response = result.response
  const text = await response.clone().text()
  return {
    status: response.status,
    challenge: challengeParams(response),
    body: text === "" ? undefined : JSON.parse(text) as { error: string; error_description: string },
    response
  }
}

describe("JWT access tokens (RFC 9068 §4)", () => {
  it("a valid user token: sub, client_id, scope and every claim", async () => {
    const { access_token } = await userTokens(as, { scope: "openid api:read", resource: API })
    const result = await rs.verify(apiRequest(bearer(access_token)), { scopes: ["api:read"] })
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.token).toMatchObject({ sub: "alice", clientId: "web", scope: ["openid", "api:read"], format: "jwt" })
    expect(result.token.claims).toMatchObject({ iss: as.issuer, aud: API, client_id: "web", sub: "alice" })
    // RFC 8414 discovery once, then the JWKS once
    expect(as.hitsOf("/.well-known/oauth-authorization-server")).toBe(1)
    expect(as.hitsOf("/jwks")).toBe(1)
  })

  it("a valid client_credentials token: sub is the client; keys come from the cache", async () => {
    const token = await clientCredentialsToken(as, { scope: "api:read api:write", resource: API })
    const jwksBefore = as.hitsOf("/jwks")
    const result = await rs.verify(apiRequest(bearer(token)), { scopes: ["api:read", "api:write"] })
    expect(result.ok && result.token).toMatchObject({ sub: "svc", clientId: "svc", scope: ["api:read", "api:write"] })
    expect(as.hitsOf("/jwks")).toBe(jwksBefore)
    expect(as.hitsOf("/.well-known/oauth-authorization-server")).toBe(1)
  })

  it("the auth-scheme is case-insensitive (RFC 9110 §11.1)", async () => {
    const token = await clientCredentialsToken(as, { resource: API })
    expect((await rs.verify(apiRequest(`bEaReR ${token}`))).ok).toBe(true)
  })

  it("expired: 401 invalid_token once exp has passed by the clock; clockToleranceSeconds allows skew", async () => {
    const token = await clientCredentialsToken(as, { resource: API })
    const { exp } = jose.decodeJwt(token)
    const tolerant = createResourceServer({ issuer: as.issuer, audience: API, clock: () => as.now(), clockToleranceSeconds: 60 })
    const start = as.now()
    try {
      await as.setTime(exp! * 1000 - 1000)
      expect((await rs.verify(apiRequest(bearer(token)))).ok).toBe(true)
      await as.setTime(exp! * 1000 + 30_000)
      const r = await refused(bearer(token))
      expect(r.status).toBe(401)
      expect(r.challenge?.params).toMatchObject({ error: "invalid_token", error_description: "the access token expired" })
      expect(r.body).toEqual({ error: "invalid_token", error_description: "the access token expired" })
      // 30 s late is within a 60 s tolerance
      expect((await tolerant.verify(apiRequest(bearer(token)))).ok).toBe(true)
      await as.setTime(exp! * 1000 + 61_000)
      expect((await refused(bearer(token), undefined, tolerant)).status).toBe(401)
    } finally {
      await as.setTime(start)
    }
  })

  it("wrong audience (RFC 8707 / RFC 9068 §4): a token for another resource is refused", async () => {
    const token = await clientCredentialsToken(as, { resource: REPORTS })
    const r = await refused(bearer(token))
    expect(r.status).toBe(401)
    expect(r.challenge?.params).toMatchObject({ error: "invalid_token", error_description: "the access token is not intended for this resource" })
    // the same token is fine at the resource it was issued for
    const reports = createResourceServer({ issuer: as.issuer, audience: [REPORTS, "https://alias.example.com"], clock: () => as.now() })
    expect((await reports.verify(apiRequest(bearer(token)))).ok).toBe(true)
  })

  it("wrong issuer: a token signed with the same keys by an AS with another issuer is refused", async () => {
    // the second AS shares the first one's signing keys (seeded), so only `iss` tells them apart
    const other = await startAs({ issuer: (port) => `http://127.0.0.1:${port}` })
    try {
      const token = await clientCredentialsToken(other, { resource: API })
      expect(jose.decodeProtectedHeader(token).kid).toBeDefined()
      const r = await refused(bearer(token))
      expect(r.status).toBe(401)
      expect(r.challenge?.params).toMatchObject({
        error: "invalid_token",
        error_description: "the access token was not issued by the expected authorization server"
      })
    } finally {
      await other.close()
    }
  })

  it("insufficient scope: 403 insufficient_scope naming the scopes the route needs (RFC 6750 §3.1)", async () => {
    const token = await clientCredentialsToken(as, { scope: "api:read", resource: API })
    const r = await refused(bearer(token), ["api:read", "api:write"])
    expect(r.status).toBe(403)
    expect(r.challenge?.scheme).toBe("Bearer")
    expect(r.challenge?.params).toMatchObject({ error: "insufficient_scope", scope: "api:read api:write" })
    expect(r.challenge?.params["error_description"]).toBe("the access token lacks the scope api:write")
    expect(r.body?.error).toBe("insufficient_scope")
  })

  it("an ID token is not an access token (typ at+jwt, RFC 9068 §4)", async () => {
    const { id_token } = await userTokens(as, { scope: "openid" })
    expect(id_token).toBeDefined()
    const r = await refused(bearer(id_token!))
    expect(r.status).toBe(401)
    expect(r.challenge?.params["error"]).toBe("invalid_token")
    expect(r.challenge?.params["error_description"]).toContain("typ must be at+jwt")
  })

  it("a forged signature, alg none, an HMAC token and an encrypted token are refused", async () => {
    const token = await clientCredentialsToken(as, { resource: API })
    const [h, p, s] = token.split(".")
    const flipped = `${h}.${p}.${s!.startsWith("A") ? "B" : "A"}${s!.slice(1)}`
    expect((await refused(bearer(flipped))).challenge?.params["error_description"]).toBe("the access token's signature is invalid")
    // the payload changed (more scope), the signature kept
    const claims = jose.decodeJwt(token)
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, scope: "admin" })).toString("base64url")
    expect((await refused(bearer(`${h}.${forgedPayload}.${s}`))).status).toBe(401)
    const none = new jose.UnsecuredJWT(claims).encode()
    const unsecured = `${Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url")}.${none.split(".")[1]}.`
    expect((await refused(bearer(unsecured))).status).toBe(401)
    const hmac = await new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: jose.decodeProtectedHeader(token).kid! })
      .sign(new TextEncoder().encode("a-secret-that-is-long-enough-000"))
    expect((await refused(bearer(hmac))).challenge?.params["error_description"]).toBe("the access token's signing algorithm is not accepted")
    expect((await refused(bearer("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"))).challenge?.params["error_description"]).toBe("encrypted access tokens are not accepted here")
  })

  it("an opaque token without introspection configured: 401 invalid_token", async () => {
    const r = await refused(bearer("c29tZS1vcGFxdWUtdG9rZW4"))
    expect(r.status).toBe(401)
    expect(r.challenge?.params["error"]).toBe("invalid_token")
  })
})

describe("key rotation: an unknown kid triggers one JWKS refresh", () => {
  it("the pre-published next key needs no fetch; a newer one costs exactly one, rate-limited and shared by concurrent requests", async () => {
    const rotating = createResourceServer({ issuer: as.issuer, audience: API, clock: () => as.now(), jwksUri: `${as.issuer}/jwks` })
    const verify = async (token: string) => (await rotating.verify(apiRequest(bearer(token)))).ok
    const start = as.hitsOf("/jwks")
    expect(await verify(await clientCredentialsToken(as, { resource: API }))).toBe(true)
    expect(as.hitsOf("/jwks")).toBe(start + 1)

    // 1st rotation: next -> current, which the cached set already holds (Gatehouse publishes it ahead)
    await as.gh.keys.rotate("ES256")
    expect(await verify(await clientCredentialsToken(as, { resource: API }))).toBe(true)
    expect(as.hitsOf("/jwks")).toBe(start + 1)

    // 2nd rotation: a key the cache has never seen; within the cooldown (30 s) no fetch happens
    await as.gh.keys.rotate("ES256")
    const unknownKid = await clientCredentialsToken(as, { resource: API })
    expect(await verify(unknownKid)).toBe(false)
    expect(as.hitsOf("/jwks")).toBe(start + 1)

    // after the cooldown: exactly one refresh, then the key is known
    await as.advance(31)
    expect(await verify(unknownKid)).toBe(true)
    expect(as.hitsOf("/jwks")).toBe(start + 2)
    expect(await verify(await clientCredentialsToken(as, { resource: API }))).toBe(true)
    expect(as.hitsOf("/jwks")).toBe(start + 2)

    // a made-up kid right after: refused without another fetch (rate limit)
    const claims = jose.decodeJwt(unknownKid)
    const { privateKey } = await jose.generateKeyPair("ES256")
    const madeUp = await new jose.SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "made-up" }).sign(privateKey)
    const r = await refused(bearer(madeUp), undefined, rotating)
    expect(r.challenge?.params["error_description"]).toBe("the access token is not signed by a key of the authorization server")
    expect(as.hitsOf("/jwks")).toBe(start + 2)

    // two more rotations, then five concurrent requests with the new key: one fetch between them
    await as.gh.keys.rotate("ES256")
    await as.gh.keys.rotate("ES256")
    await as.advance(31)
    const fresh = await clientCredentialsToken(as, { resource: API })
    const results = await Promise.all(Array.from({ length: 5 }, () => verify(fresh)))
    expect(results).toEqual([true, true, true, true, true])
    expect(as.hitsOf("/jwks")).toBe(start + 3)

    // tokens signed by retired keys still verify while they live (the AS keeps publishing them)
    expect(await verify(unknownKid)).toBe(true)
  })
})

describe("malformed requests and the RFC 6750 §3 challenge", () => {
  it("no token: 401 with a bare challenge: realm and resource_metadata, no error code (§3.1, RFC 9728 §5.1)", async () => {
    const r = await refused(undefined)
    expect(r.status).toBe(401)
    expect(r.body).toBeUndefined()
    expect(r.challenge).toEqual({
      scheme: "Bearer",
      params: { realm: API, resource_metadata: `${"https://api.example.com"}/.well-known/oauth-protected-resource` }
    })
    expect(r.response.headers.get("cache-control")).toBe("no-store")
  })

  it("another auth-scheme counts as no token (§3.1)", async () => {
    const r = await refused("Basic YWxpY2U6d29uZGVybGFuZA==")
    expect(r.status).toBe(401)
    expect(r.challenge?.params["error"]).toBeUndefined()
  })

  it.each([
    ["Bearer", "no token"],
    ["Bearer ", "an empty token"],
    ["Bearer a b", "two tokens"],
    ["Bearer abc,def", "a character outside b64token"],
    ["Bearer ab=c", "padding inside the token"],
    ["Bearer\tabc", "a tab for the space"],
    ["Bearer a, Bearer b", "two Authorization headers folded into one"]
  ])("a malformed Authorization header (%j: %s): 400 invalid_request", async (header) => {
    const r = await refused(header)
    expect(r.status).toBe(400)
    expect(r.challenge?.params["error"]).toBe("invalid_request")
    expect(r.body?.error).toBe("invalid_request")
  })

  it("a token in the URI query is refused, even next to a good header (§2.3, RFC 9700 §4.3.2)", async () => {
    const token = await clientCredentialsToken(as, { resource: API })
    const result = await rs.verify(new Request(`${API}/me?access_token=${token}`, { headers: { authorization: bearer(token) } }))
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.response.status).toBe(400)
  })

  it("garbage that looks like a JWT: 401 invalid_token, never a 5xx", async () => {
    for (const token of ["a.b.c", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NiJ9.bm90LWpzb24.c2ln"]) {
      const r = await refused(bearer(token))
      expect(r.status, token).toBe(401)
      expect(r.challenge?.params["error"]).toBe("invalid_token")
    }
  })

  it("challenge values stay within the RFC 6750 §3 character set", async () => {
    const server = createResourceServer({ issuer: as.issuer, audience: API, realm: "my api", clock: () => as.now() })
    const token = await clientCredentialsToken(as, { scope: "api:read", resource: API })
    const r = await refused(bearer(token), ["api:write"], server)
    const header = r.response.headers.get("www-authenticate")!
    expect(header).toMatch(/^Bearer realm="my api", error="insufficient_scope", error_description="[^"\\]*", scope="api:write", resource_metadata="[^"]+"$/)
  })
})

describe("the authorization server unreachable", () => {
  it("503 without a challenge (the token was not found wanting)", async () => {
    // a port nothing listens on
    const closed = createServer()
    const url = await listen(closed)
    await new Promise((resolve) => closed.close(resolve))
    const down = createResourceServer({ issuer: url, audience: API, jwksUri: `${url}/jwks`, clock: () => as.now(), timeoutSeconds: 5 })
    const token = await clientCredentialsToken(as, { resource: API })
    const r = await refused(bearer(token), undefined, down)
    expect(r.status).toBe(503)
    expect(r.response.headers.get("www-authenticate")).toBeNull()
    expect(r.body?.error).toBe("temporarily_unavailable")
  })

  it("metadata naming another issuer is not trusted (RFC 8414 §3.3)", async () => {
    const other = await startAs()
    try {
      // the RS believes the issuer is `other`'s URL but `other` says it is someone else
      const confused = createResourceServer({ issuer: `${other.issuer}/`, audience: API, clock: () => as.now() })
      const token = await clientCredentialsToken(other, { resource: API })
      expect((await refused(bearer(token), undefined, confused)).status).toBe(503)
      expect(other.hitsOf("/jwks")).toBe(0)
    } finally {
      await other.close()
    }
  })
})

describe("RFC 9728 protected resource metadata", () => {
  it("the document: resource, authorization_servers, bearer_methods_supported, plus the host's members", async () => {
    const server = createResourceServer({
      issuer: as.issuer,
      audience: [API, "https://alias.example.com"],
      resourceMetadata: { scopes_supported: ["api:read", "api:write"], resource_name: "Example API" }
    })
    const response = server.metadataResponse()
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("application/json")
    expect(await response.json()).toEqual({
      resource: API,
      authorization_servers: [as.issuer],
      bearer_methods_supported: ["header"],
      scopes_supported: ["api:read", "api:write"],
      resource_name: "Example API"
    })
    expect(server.metadataPath).toBe("/.well-known/oauth-protected-resource")
  })

  it("§3.1: a resource with a path publishes at /.well-known/oauth-protected-resource/<path>", () => {
    const server = createResourceServer({ issuer: as.issuer, audience: "https://example.com/api/v1/" })
    expect(server.metadataUrl).toBe("https://example.com/.well-known/oauth-protected-resource/api/v1")
    expect(server.metadataPath).toBe("/.well-known/oauth-protected-resource/api/v1")
  })
})

describe("options", () => {
  it("bad options are refused at start-up, every one named", () => {
    let error: unknown
    try {
      createResourceServer({
        issuer: "not a url",
        audience: [],
        algorithms: ["HS256", "none"],
        introspection: { clientId: "", clientSecret: "x", cacheTtlSeconds: -1 }
      })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ResourceServerConfigError)
    expect((error as ResourceServerConfigError).problems).toEqual([
      `issuer: must be an absolute URL, got "not a url"`,
      "audience: must be a non-empty string or a non-empty array of them, got []",
      "introspection.clientId: must be a non-empty string",
      `algorithms: "HS256" cannot verify an authorization server's signature`,
      `algorithms: "none" cannot verify an authorization server's signature`,
      "introspection.cacheTtlSeconds: must be a number of seconds >= 0, got -1"
    ])
  })
})
