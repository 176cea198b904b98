/**
 * Discovery documents (RFC 8414, OIDC Discovery 1.0), through real Requests. Each advertised
 * value is checked against what the server does.
 */
import { describe, expect, it } from "vitest"
import { ISSUER, makeHarness } from "./helpers/token-helpers.js"

const AS_METADATA = `${ISSUER}/.well-known/oauth-authorization-server`
const OPENID_CONFIGURATION = `${ISSUER}/.well-known/openid-configuration`

const fetchJson = async (h: Awaited<ReturnType<typeof makeHarness>>, url: string) => {
  const response = await h.gh.handler(new Request(url))
  expect(response.status).toBe(200)
  return { response, body: await response.json() as Record<string, unknown> }
}

describe("authorization server metadata (RFC 8414)", () => {
  it("RFC 8414 §3.2: 200 application/json, issuer identical to the configured issuer", async () => {
    const h = await makeHarness()
    const { response, body } = await fetchJson(h, AS_METADATA)
    expect(response.headers.get("content-type")).toMatch(/^application\/json/)
    // RFC 8414 §3.3: the issuer value MUST be identical to the issuer the metadata was fetched for
    expect(body["issuer"]).toBe(ISSUER)
    // browser clients read it cross-origin; it is the same for everyone so it may be cached
    expect(response.headers.get("access-control-allow-origin")).toBe("*")
    expect(response.headers.get("cache-control")).toMatch(/^public/)
  })

  it("RFC 8414 §2: the endpoints are the server's absolute endpoint URLs", async () => {
    const h = await makeHarness({ options: { registration: { open: true } } })
    const { body } = await fetchJson(h, AS_METADATA)
    expect(body).toMatchObject({
      authorization_endpoint: `${ISSUER}/authorize`,
      token_endpoint: `${ISSUER}/token`,
      jwks_uri: `${ISSUER}/jwks`,
      userinfo_endpoint: `${ISSUER}/userinfo`,
      registration_endpoint: `${ISSUER}/register`,
      introspection_endpoint: `${ISSUER}/introspect`,
      revocation_endpoint: `${ISSUER}/revoke`
    })
  })

  it("RFC 8414 §2: every advertised endpoint exists (none answers 404)", async () => {
    const h = await makeHarness({ options: { registration: { open: true } } })
    const { body } = await fetchJson(h, AS_METADATA)
    for (const name of ["authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "registration_endpoint", "introspection_endpoint", "revocation_endpoint"]) {
      const url = body[name] as string
      const get = await h.gh.handler(new Request(url))
      const post = await h.gh.handler(new Request(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "" }))
      expect([get.status, post.status], name).not.toContain(404)
    }
  })

  it("RFC 8414 §2: registration_endpoint is advertised only when registration is possible", async () => {
    const closed = (await fetchJson(await makeHarness(), AS_METADATA)).body
    expect(closed).not.toHaveProperty("registration_endpoint")
    const withToken = (await fetchJson(await makeHarness({ options: { registration: { initialAccessToken: "iat-0123456789" } } }), AS_METADATA)).body
    expect(withToken["registration_endpoint"]).toBe(`${ISSUER}/register`)
  })

  it("RFC 8414 §2 / OAuth 2.1: code flow only, S256 only, the grants the token endpoint serves", async () => {
    const { body } = await fetchJson(await makeHarness(), AS_METADATA)
    expect(body["response_types_supported"]).toEqual(["code"])
    expect(body["response_modes_supported"]).toEqual(["query", "form_post"])
    expect(body["code_challenge_methods_supported"]).toEqual(["S256"])
    expect([...body["grant_types_supported"] as Array<string>].sort()).toEqual(["authorization_code", "client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"])
  })

  it("RFC 8414 §2: client authentication methods and their algs at token, introspection and revocation; never none or HMAC algs", async () => {
    const { body } = await fetchJson(await makeHarness(), AS_METADATA)
    for (const endpoint of ["token_endpoint", "introspection_endpoint", "revocation_endpoint"]) {
      expect([...body[`${endpoint}_auth_methods_supported`] as Array<string>].sort(), endpoint)
        .toEqual(["client_secret_basic", "client_secret_post", "none", "private_key_jwt"])
      const algs = body[`${endpoint}_auth_signing_alg_values_supported`] as Array<string>
      expect(algs, endpoint).toContain("ES256")
      expect(algs, endpoint).toContain("RS256")
      // RFC 8414 §2: "none" MUST NOT be used
      expect(algs.some((a) => a === "none" || a.startsWith("HS")), endpoint).toBe(false)
    }
  })

  it("RFC 9207 §3: authorization_response_iss_parameter_supported is true", async () => {
    const { body } = await fetchJson(await makeHarness(), AS_METADATA)
    expect(body["authorization_response_iss_parameter_supported"]).toBe(true)
  })

  it("RFC 8414 §2: scopes_supported lists the OpenID scopes and the configured ones", async () => {
    const { body } = await fetchJson(await makeHarness(), AS_METADATA)
    const scopes = body["scopes_supported"] as Array<string>
    for (const s of ["openid", "profile", "email", "offline_access", "api:read", "api:write", "admin"]) expect(scopes).toContain(s)
  })

  it("RFC 8414 §3: with a path in the issuer, the well-known suffix goes before the path", async () => {
    const h = await makeHarness({ options: { issuer: "https://as.example.com/tenant-a" } })
    const { body } = await fetchJson(h, "https://as.example.com/.well-known/oauth-authorization-server/tenant-a")
    expect(body["issuer"]).toBe("https://as.example.com/tenant-a")
    const oidc = await fetchJson(h, "https://as.example.com/tenant-a/.well-known/openid-configuration")
    expect(oidc.body["issuer"]).toBe("https://as.example.com/tenant-a")
    expect((await h.gh.handler(new Request(AS_METADATA))).status).toBe(404)
  })

  it("RFC 8414 §3.1: metadata is fetched with GET; POST gets 405 with Allow: GET", async () => {
    const h = await makeHarness()
    const response = await h.gh.handler(new Request(AS_METADATA, { method: "POST" }))
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("GET")
  })
})

describe("OpenID Provider metadata (OIDC Discovery 1.0)", () => {
  it("OIDC Discovery §4.2: served at issuer + /.well-known/openid-configuration, the same document", async () => {
    const h = await makeHarness()
    const oidc = (await fetchJson(h, OPENID_CONFIGURATION)).body
    const oauth = (await fetchJson(h, AS_METADATA)).body
    expect(oidc).toEqual(oauth)
  })

  it("OIDC Discovery §3: the REQUIRED members are present", async () => {
    const { body } = await fetchJson(await makeHarness(), OPENID_CONFIGURATION)
    for (const m of ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported"]) {
      expect(body, m).toHaveProperty(m)
    }
    expect(body["subject_types_supported"]).toEqual(["public"])
  })

  it("OIDC Discovery §3: id_token_signing_alg_values_supported follows the config and always includes RS256", async () => {
    const defaults = (await fetchJson(await makeHarness(), OPENID_CONFIGURATION)).body
    expect([...defaults["id_token_signing_alg_values_supported"] as Array<string>].sort()).toEqual(["ES256", "EdDSA", "RS256"])
    const configured = (await fetchJson(await makeHarness({ options: { idToken: { algs: ["PS256"] } } }), OPENID_CONFIGURATION)).body
    expect([...configured["id_token_signing_alg_values_supported"] as Array<string>].sort()).toEqual(["PS256", "RS256"])
  })

  it("OIDC Discovery §3: claims, claims parameter, request objects not supported, prompt values", async () => {
    const { body } = await fetchJson(await makeHarness(), OPENID_CONFIGURATION)
    const claims = body["claims_supported"] as Array<string>
    for (const c of ["sub", "iss", "auth_time", "name", "email", "email_verified", "address", "phone_number"]) expect(claims).toContain(c)
    expect(new Set(claims).size).toBe(claims.length)
    expect(body["claims_parameter_supported"]).toBe(true)
    expect(body["request_parameter_supported"]).toBe(false)
    expect(body["request_uri_parameter_supported"]).toBe(false)
    expect(body["prompt_values_supported"]).toEqual(["none", "login", "consent", "select_account"])
  })
})
