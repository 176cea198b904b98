/**
 * The Fastify example end to end: in-process on a free port and a temporary SQLite file
 * (discovery, registration, the authorization code flow through the default pages, the
 * protected `GET /api/me`, the host's own pages), and as `node server.mjs` with `PORT`,
 * `ISSUER` and `DATABASE_URL` from the environment, the way `npm start` runs it.
 */
import {
  ADAPTER_SUITE_REDIRECT_URI,
  authorizeThroughPages,
  basicAuthorization,
  FormBrowser
} from "@gatehouse/testkit"
import { spawn } from "node:child_process"
import { once } from "node:events"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Example, startExample } from "../server.mjs"

const dir = mkdtempSync(join(tmpdir(), "gatehouse-fastify-example-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("examples/fastify in-process (startExample)", () => {
  let example: Example

  beforeAll(async () => {
    example = await startExample({ port: 0, host: "127.0.0.1", databaseUrl: `file:${join(dir, "in-process.sqlite")}` })
  }, 60_000)
  afterAll(async () => {
    await example?.close()
  })

  it("the issuer is the app's origin; discovery at its root; the home page is the app's own", async () => {
    expect(example.url).toBe(`http://localhost:${example.port}`)
    const metadata = await (await fetch(`${example.url}/.well-known/openid-configuration`)).json() as Record<string, string>
    expect(metadata["issuer"]).toBe(example.url)
    expect(metadata["token_endpoint"]).toBe(`${example.url}/token`)
    const home = await fetch(`${example.url}/`)
    expect(home.status).toBe(200)
    expect(home.headers.get("content-type")).toMatch(/^text\/html/)
    expect(await home.text()).toContain("Gatehouse on Fastify")
    // RFC 9728: the API's protected resource metadata names this authorization server
    const resource = await (await fetch(`${example.url}/.well-known/oauth-protected-resource`)).json() as Record<string, unknown>
    expect(resource["authorization_servers"]).toEqual([example.url])
    expect((await fetch(`${example.url}/no-such-page`)).status).toBe(404)
  })

  it("register, sign in as alice through the default pages, and call GET /api/me with the access token (RFC 6750)", async () => {
    const registration = await fetch(`${example.url}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [ADAPTER_SUITE_REDIRECT_URI], client_name: "example test" })
    })
    expect(registration.status).toBe(201)
    const client = await registration.json() as { client_id: string; client_secret: string }
    const browser = new FormBrowser(example.url)
    const { callback, verifier } = await authorizeThroughPages(browser, {
      authorizationEndpoint: `${example.url}/authorize`,
      clientId: client.client_id,
      scope: "openid profile"
    })
    expect(callback.searchParams.get("iss")).toBe(example.url)
    const token = await fetch(`${example.url}/token`, {
      method: "POST",
      headers: { authorization: basicAuthorization(client.client_id, client.client_secret) },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: callback.searchParams.get("code")!,
        redirect_uri: ADAPTER_SUITE_REDIRECT_URI,
        code_verifier: verifier
      })
    })
    const tokens = await token.json() as { access_token: string }
    expect(token.status, JSON.stringify(tokens)).toBe(200)
    const me = await fetch(`${example.url}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
    expect(me.status).toBe(200)
    expect(await me.json()).toEqual({ sub: "alice", client_id: client.client_id, scope: "openid profile" })
    const bad = await fetch(`${example.url}/api/me`, { headers: { authorization: "Bearer not-a-token" } })
    expect(bad.status).toBe(401)
    expect(bad.headers.get("www-authenticate")).toMatch(/^Bearer .*error="invalid_token"/)
    const none = await fetch(`${example.url}/api/me`)
    expect(none.status).toBe(401)
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer\b/)
  }, 60_000)

  it("consent denied: the client receives access_denied", async () => {
    const registration = await fetch(`${example.url}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [ADAPTER_SUITE_REDIRECT_URI] })
    })
    const client = await registration.json() as { client_id: string }
    const { callback } = await authorizeThroughPages(new FormBrowser(example.url), {
      authorizationEndpoint: `${example.url}/authorize`,
      clientId: client.client_id,
      decision: "deny"
    })
    expect(callback.searchParams.get("error")).toBe("access_denied")
  }, 60_000)
})

describe("examples/fastify as a process (node server.mjs)", () => {
  it("PORT, ISSUER and DATABASE_URL come from the environment; SIGTERM stops it cleanly", async () => {
    const child = spawn(process.execPath, [fileURLToPath(new URL("../server.mjs", import.meta.url))], {
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ISSUER: "https://auth.example.com", DATABASE_URL: `file:${join(dir, "process.sqlite")}` },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    child.stderr.on("data", (d) => (out += d))
    const exited = once(child, "exit")
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on("data", (d) => {
          out += d
          // the last line of the start-up banner
          const m = /running at \S+ \(port (\d+)\)[^]*storage: /.exec(out)
          if (m && out.endsWith("\n")) resolve(Number(m[1]))
        })
        child.once("exit", (code) => reject(new Error(`exited (${code}) before listening:\n${out}`)))
      })
      expect(out).toContain("running at https://auth.example.com")
      expect(out).toContain(`storage:      file:${join(dir, "process.sqlite")}`)
      const metadata = await (await fetch(`http://127.0.0.1:${port}/.well-known/oauth-authorization-server`)).json() as Record<string, string>
      // behind a TLS proxy: the public origin, whatever the socket was
      expect(metadata["issuer"]).toBe("https://auth.example.com")
      expect(metadata["authorization_endpoint"]).toBe("https://auth.example.com/authorize")
    } finally {
      child.kill("SIGTERM")
      const [code] = await exited
      expect(code, out).toBe(0)
    }
  }, 60_000)
})
