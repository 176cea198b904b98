/**
 * The quickstart's protected API, `GET /api/me` (RFC 6750), and its RFC 9728 metadata, over
 * real HTTP, with alice's tokens from the quickstart itself (the authorization code flow
 * driven over HTTP; the same in a real browser is in browser.test.ts).
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Quickstart, startQuickstart } from "../server.mjs"
import { authorize, HttpBrowser, redeem, register } from "./support.js"

const databaseUrl = () => `file:${join(mkdtempSync(join(tmpdir(), "gatehouse-api-")), "gatehouse.sqlite")}`

/** alice's access token from the quickstart at `base` (authorization code flow over HTTP, see support.ts). */
const userToken = async (base: string, issuer: string) => {
  const client = await register(base)
  const { code, verifier } = await authorize(new HttpBrowser(base, issuer), client)
  const response = await redeem(base, client, code, verifier)
  expect(response.status).toBe(200)
  return { clientId: client.clientId, token: (await response.json() as { access_token: string }).access_token }
}

describe("GET /api/me", () => {
  let app: Quickstart
  beforeAll(async () => {
    app = await startQuickstart({ port: 0, databaseUrl: databaseUrl() })
  })
  afterAll(async () => {
    await app?.close()
  })

  it("a valid access token: 200 with the caller's sub", async () => {
    const { clientId, token } = await userToken(app.url, app.url)
    const response = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(response.status).toBe(200)
    expect(response.headers.get("cache-control")).toBe("no-store")
    expect(await response.json()).toEqual({ sub: "alice", client_id: clientId, scope: "openid offline_access", name: "Alice Liddell" })
  })

  it("no token: 401 with a bare RFC 6750 challenge (§3.1) naming the resource metadata (RFC 9728 §5.1)", async () => {
    const response = await fetch(`${app.url}/api/me`)
    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="${app.url}", resource_metadata="${app.url}/.well-known/oauth-protected-resource"`)
  })

  it("a bad token: 401 error=\"invalid_token\"", async () => {
    const response = await fetch(`${app.url}/api/me`, { headers: { authorization: "Bearer not-a-token" } })
    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm="[^"]+", error="invalid_token", error_description="[^"]+", resource_metadata="[^"]+"$/)
    expect((await response.json() as { error: string }).error).toBe("invalid_token")
  })

  it("a malformed Authorization header or a token in the query: 400 invalid_request", async () => {
    const { token } = await userToken(app.url, app.url)
    for (const [url, headers] of [[`${app.url}/api/me`, { authorization: "Bearer a b" }], [`${app.url}/api/me?access_token=${token}`, {}]] as const) {
      const response = await fetch(url, { headers })
      expect(response.status, url).toBe(400)
      expect(response.headers.get("www-authenticate")).toContain(`error="invalid_request"`)
    }
  })

  it("the RFC 9728 metadata at /.well-known/oauth-protected-resource", async () => {
    const response = await fetch(`${app.url}/.well-known/oauth-protected-resource`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      resource: app.url,
      authorization_servers: [app.url],
      bearer_methods_supported: ["header"],
      resource_name: "Gatehouse quickstart API",
      scopes_supported: ["openid", "profile", "email"]
    })
  })
})

describe("GET /api/me behind a proxy (ISSUER is a public https origin)", () => {
  it("verifies tokens without calling the public origin: the resource server asks Gatehouse in-process", async () => {
    const app = await startQuickstart({ port: 0, issuer: "https://auth.example.com", databaseUrl: databaseUrl() })
    try {
      // talk to the process directly; the issuer's host does not exist
      const local = `http://127.0.0.1:${app.port}`
      const { token } = await userToken(local, app.url)
      const response = await fetch(`${local}/api/me`, { headers: { authorization: `Bearer ${token}` } })
      expect(response.status).toBe(200)
      expect((await response.json() as { sub: string }).sub).toBe("alice")
    } finally {
      await app.close()
    }
  })
})
