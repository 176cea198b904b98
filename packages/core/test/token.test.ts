/** The token endpoint (RFC 6749 §3.2, §5): transport, parameters, dispatch and responses. */
import * as jose from "jose"
import { describe, expect, it } from "vitest"
import {
  advance,
  API,
  authorize,
  CLIENTS,
  exchangeCode,
  ISSUER,
  makeHarness,
  oauthError,
  REPORTS,
  TOKEN_ENDPOINT,
  tokenRequest,
  tokens
} from "./helpers/token-helpers.js"

const svc = ["svc", "svc-secret"] as const

describe("token endpoint transport", () => {
  it("RFC 6749 §3.2: GET is refused with 405 and Allow: POST", async () => {
    const h = await makeHarness()
    const response = await tokenRequest(h, {}, { method: "GET" })
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("POST")
    expect((await oauthError(response)).error).toBe("invalid_request")
  })

  it("RFC 6749 §3.2: a body that is not application/x-www-form-urlencoded -> invalid_request", async () => {
    const h = await makeHarness()
    const response = await tokenRequest(h, {}, {
      basic: svc,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials" })
    })
    const e = await oauthError(response)
    expect(e.status).toBe(400)
    expect(e.error).toBe("invalid_request")
    expect(e.description).toContain("application/x-www-form-urlencoded")
  })

  it("RFC 9110 §15.5.14: a body over maxBodyBytes -> 413", async () => {
    const h = await makeHarness({ options: { maxBodyBytes: 1024 } })
    const response = await tokenRequest(h, { grant_type: "client_credentials", pad: "x".repeat(2000) }, { basic: svc })
    expect(response.status).toBe(413)
  })

  it("RFC 6749 §5.1: success is JSON with Cache-Control: no-store and Pragma: no-cache", async () => {
    const h = await makeHarness()
    const response = await tokenRequest(h, { grant_type: "client_credentials" }, { basic: svc })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/^application\/json/)
    expect(response.headers.get("cache-control")).toBe("no-store")
    expect(response.headers.get("pragma")).toBe("no-cache")
    const body = await tokens(response)
    expect(body.token_type).toBe("Bearer")
    expect(body.expires_in).toBe(3600)
  })

  it("RFC 6749 §5.2: errors are JSON {error, error_description} with Cache-Control: no-store", async () => {
    const h = await makeHarness()
    const response = await tokenRequest(h, { grant_type: "password", username: "alice", password: "x" }, { basic: svc })
    expect(response.status).toBe(400)
    expect(response.headers.get("cache-control")).toBe("no-store")
    const body = await response.json()
    expect(Object.keys(body).sort()).toEqual(["error", "error_description"])
  })
})

describe("token endpoint parameters", () => {
  it("RFC 6749 §4.1.3: missing grant_type -> invalid_request", async () => {
    const h = await makeHarness()
    const e = await oauthError(await tokenRequest(h, { scope: "api:read" }, { basic: svc }))
    expect(e.error).toBe("invalid_request")
    expect(e.description).toBe(`parameter "grant_type" is required`)
  })

  it("RFC 6749 §3.2: grant_type included twice -> invalid_request", async () => {
    const h = await makeHarness()
    const e = await oauthError(await tokenRequest(h, { grant_type: ["client_credentials", "client_credentials"] }, { basic: svc }))
    expect(e.error).toBe("invalid_request")
    expect(e.description).toBe(`parameter "grant_type" is included more than once`)
  })

  it("RFC 6749 §3.2: any other parameter twice (scope) -> invalid_request", async () => {
    const h = await makeHarness()
    const e = await oauthError(await tokenRequest(h, { grant_type: "client_credentials", scope: ["api:read", "api:write"] }, { basic: svc }))
    expect(e.error).toBe("invalid_request")
    expect(e.description).toBe(`parameter "scope" is included more than once`)
  })

  it("RFC 6749 §3.2: even a parameter the grant does not read may not repeat -> invalid_request", async () => {
    const h = await makeHarness()
    const e = await oauthError(await tokenRequest(h, { grant_type: "client_credentials", nonce: ["a", "b"] }, { basic: svc }))
    expect(e.error).toBe("invalid_request")
    expect(e.description).toBe(`parameter "nonce" is included more than once`)
  })

  it("RFC 8707 §2: resource may repeat; the token's audience is every resource", async () => {
    const h = await makeHarness()
    const body = await tokens(await tokenRequest(h, { grant_type: "client_credentials", resource: [API, REPORTS] }, { basic: svc }))
    expect(jose.decodeJwt(body.access_token).aud).toEqual([API, REPORTS])
  })

  it("RFC 6749 §5.2: unknown grant_type -> unsupported_grant_type", async () => {
    const h = await makeHarness()
    const e = await oauthError(await tokenRequest(h, { grant_type: "urn:example:unknown" }, { basic: svc }))
    expect(e.status).toBe(400)
    expect(e.error).toBe("unsupported_grant_type")
  })

  it("RFC 9700 §2.4: the password grant (ROPC) is not offered -> unsupported_grant_type", async () => {
    const h = await makeHarness()
    const e = await oauthError(await tokenRequest(h, { grant_type: "password", username: "alice", password: "wonderland" }, { basic: ["web", "web-secret"] }))
    expect(e.error).toBe("unsupported_grant_type")
  })

  it("RFC 9700 §2.1.2: implicit is not a grant_type at the token endpoint -> unsupported_grant_type", async () => {
    const h = await makeHarness()
    for (const grantType of ["implicit", "token", "id_token"]) {
      const e = await oauthError(await tokenRequest(h, { grant_type: grantType }, { basic: ["web", "web-secret"] }))
      expect(e.error, grantType).toBe("unsupported_grant_type")
    }
  })

  it("RFC 6749 §5.2: a grant the client is not registered for -> unauthorized_client", async () => {
    const h = await makeHarness()
    // "web" is registered for authorization_code and refresh_token only
    const e = await oauthError(await tokenRequest(h, { grant_type: "client_credentials" }, { basic: ["web", "web-secret"] }))
    expect(e.status).toBe(400)
    expect(e.error).toBe("unauthorized_client")
  })

  it("RFC 6749 §3.2.1: the client is authenticated before its grant is looked at", async () => {
    const h = await makeHarness()
    const e = await oauthError(await tokenRequest(h, { grant_type: "client_credentials" }, { basic: ["web", "wrong"] }))
    expect(e.error).toBe("invalid_client")
  })
})

describe("token endpoint with the authorization code grant", () => {
  it("RFC 6749 §4.1.3: a code from the real flow is exchanged for tokens", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web", scope: "openid offline_access api:read", nonce: "n-1" })
    expect(auth.response.get("iss")).toBe(ISSUER)
    const body = await tokens(await exchangeCode(h, auth, CLIENTS.web))
    expect(body.scope).toBe("openid offline_access api:read")
    expect(body.refresh_token).toBeTypeOf("string")
    expect(jose.decodeJwt(body.id_token!)).toMatchObject({ iss: ISSUER, sub: "alice", aud: "web", nonce: "n-1" })
    expect(jose.decodeJwt(body.access_token)).toMatchObject({ iss: ISSUER, sub: "alice", client_id: "web" })
  })

  it("RFC 6749 §4.1.2 (TestClock): the handler's clock is the test clock — a code is dead 61 s later", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web", scope: "api:read" })
    await advance(h, "61 seconds")
    const e = await oauthError(await exchangeCode(h, auth, CLIENTS.web))
    expect(e.error).toBe("invalid_grant")
    expect(e.description).toBe("the authorization code has expired")
  })

  it("RFC 6749 §4.1.2: within its lifetime the same code works (control for the test above)", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "web", scope: "api:read" })
    await advance(h, "59 seconds")
    const body = await tokens(await exchangeCode(h, auth, CLIENTS.web))
    // iat follows the test clock: T0 + 59 s
    expect(jose.decodeJwt(body.access_token).iat).toBe(Date.UTC(2025, 0, 1) / 1000 + 59)
  })

  it("RFC 6749 §5.2: a public client's code exchange needs only client_id (none)", async () => {
    const h = await makeHarness()
    const auth = await authorize(h, { clientId: "spa", scope: "api:read" })
    const body = await tokens(await exchangeCode(h, auth, CLIENTS.spa))
    expect(body.refresh_token).toBeTypeOf("string")
  })

  it("RFC 6749 §3.2: the token endpoint URL is the one in the config", async () => {
    const h = await makeHarness()
    expect(h.gh.config.endpoints.token).toBe(TOKEN_ENDPOINT)
  })
})
