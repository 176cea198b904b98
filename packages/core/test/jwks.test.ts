/**
 * The JWK Set endpoint (RFC 7517 §5, RFC 8414 §2 `jwks_uri`), through real Requests.
 */
import * as jose from "jose"
import { describe, expect, it } from "vitest"
import { JWKS } from "./helpers/endpoint-helpers.js"
import { CLIENTS, type Harness, ISSUER, makeHarness, obtainTokens, T0 } from "./helpers/token-helpers.js"

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

const jwks = async (h: Harness) => {
  const response = await h.gh.handler(new Request(JWKS))
  expect(response.status).toBe(200)
  return { response, body: await response.json() as { keys: Array<jose.JWK & { kid: string; alg: string }> } }
}

describe("JWK Set (RFC 7517)", () => {
  it("RFC 7517 §5: a `keys` array of public signing keys, each with kid, alg, use=sig", async () => {
    const { body } = await jwks(await makeHarness())
    expect(body.keys.length).toBeGreaterThan(0)
    for (const key of body.keys) {
      expect(key.kid).toBeTruthy()
      expect(key.alg).toBeTruthy()
      expect(key.use).toBe("sig")
      expect(["EC", "OKP", "RSA"]).toContain(key.kty)
      // RFC 7518 §6: nothing of the private key
      for (const m of PRIVATE_MEMBERS) expect(key, `${key.kid} ${m}`).not.toHaveProperty(m)
    }
    expect(new Set(body.keys.map((k) => k.kid)).size).toBe(body.keys.length)
  })

  it("RFC 7517 §5: keys for the access-token alg and every ID-token alg (RS256 always), current and next", async () => {
    const h = await makeHarness()
    const { body } = await jwks(h)
    for (const alg of new Set([h.gh.config.accessToken.alg, ...h.gh.config.idTokenAlgs])) {
      expect(body.keys.filter((k) => k.alg === alg).length, alg).toBe(2)
    }
    expect(body.keys.some((k) => k.alg === "RS256")).toBe(true)
  })

  it("RFC 7517 §8.5.1: application/jwk-set+json, cacheable, readable cross-origin", async () => {
    const { response } = await jwks(await makeHarness())
    expect(response.headers.get("content-type")).toMatch(/^application\/jwk-set\+json/)
    expect(response.headers.get("cache-control")).toMatch(/^public, max-age=\d+/)
    expect(response.headers.get("access-control-allow-origin")).toBe("*")
  })

  it("RFC 9068 §4: an issued JWT access token and ID token verify against the published set", async () => {
    const h = await makeHarness()
    const { tokens } = await obtainTokens(h, CLIENTS.web, { scope: "openid" })
    const set = jose.createLocalJWKSet((await jwks(h)).body as jose.JSONWebKeySet)
    const at = await jose.jwtVerify(tokens.access_token, set, { issuer: ISSUER, typ: "at+jwt", currentDate: new Date(T0) })
    expect(at.payload.client_id).toBe("web")
    const id = await jose.jwtVerify(tokens.id_token!, set, { issuer: ISSUER, audience: "web", currentDate: new Date(T0) })
    expect(id.payload.sub).toBe("alice")
  })

  it("RFC 7517 §5: after a rotation the retired key stays published, so earlier tokens still verify", async () => {
    const h = await makeHarness()
    const { tokens } = await obtainTokens(h, CLIENTS.web, { scope: "openid" })
    const before = (await jwks(h)).body.keys.map((k) => k.kid)
    await h.gh.keys.rotate(h.gh.config.accessToken.alg)
    const after = (await jwks(h)).body
    // the old current and next remain; a new next appears
    for (const kid of before) expect(after.keys.map((k) => k.kid)).toContain(kid)
    expect(after.keys.length).toBe(before.length + 1)
    const set = jose.createLocalJWKSet(after as jose.JSONWebKeySet)
    await expect(jose.jwtVerify(tokens.access_token, set, { currentDate: new Date(T0) })).resolves.toBeTruthy()
  })

  it("RFC 7517 §5: the current key is listed before the next one of the same alg (verifiers try in order)", async () => {
    const h = await makeHarness()
    const { tokens } = await obtainTokens(h, CLIENTS.web)
    const { kid } = jose.decodeProtectedHeader(tokens.access_token)
    const keys = (await jwks(h)).body.keys.filter((k) => k.alg === h.gh.config.accessToken.alg)
    expect(keys[0]!.kid).toBe(kid)
  })

  it("RFC 9110 §15.5.6: POST to the JWKS gets 405 with Allow: GET", async () => {
    const h = await makeHarness()
    const response = await h.gh.handler(new Request(JWKS, { method: "POST" }))
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("GET")
  })
})
