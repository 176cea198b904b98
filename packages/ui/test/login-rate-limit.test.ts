/**
 * The login form within core's login limits (issue 6; RFC 6749 §10.10, config
 * `rateLimit.login`): past the limit the same form answers 429 with `Retry-After` and a clear
 * message, without checking the password; CSRF still applies. (The window's end, on a
 * TestClock, is tested in packages/core/test/rate-limit.test.ts: this package has no Effect.)
 */
import { createGatehouse, type GatehouseInstance } from "@gatehouse/core"
import { makeMemoryDatabase, memoryAccounts, MemoryStorage } from "@gatehouse/testkit"
import { describe, expect, it } from "vitest"
import { createInteractionPages, type InteractionPages, type InteractionPagesOptions } from "../src/index.js"

const ISSUER = "https://as.example.com"
const REDIRECT = "https://client.example.com/cb"

const setup = async (options: InteractionPagesOptions = {}) => {
  const gh = createGatehouse({
    issuer: ISSUER,
    storage: MemoryStorage.layer(makeMemoryDatabase()),
    accounts: memoryAccounts([{ id: "alice", username: "alice", password: "wonderland", claims: { name: "Alice" } }]),
    clients: [{ client_id: "web", client_secret: "web-secret-0123456789", redirect_uris: [REDIRECT], grant_types: ["authorization_code"] }],
    rateLimit: { login: { max: 3, window: 600 } }
  })
  const pages = createInteractionPages(gh, options)
  return { gh, browser: new Browser(gh, pages) }
}

/** One origin, cookies by name; pages and core routed as the Express adapter routes them. */
class Browser {
  readonly cookies = new Map<string, string>()
  constructor(readonly gh: GatehouseInstance, readonly pages: InteractionPages) {}
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url, ISSUER)
    const headers = new Headers(init.headers)
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "))
    const request = new Request(target, { ...init, headers, redirect: "manual" })
    const response = this.pages.handles(target.pathname) ? await this.pages.handler(request) : await this.gh.handler(request)
    for (const c of response.headers.getSetCookie()) {
      const [pair] = c.split(";")
      const eq = pair!.indexOf("=")
      this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim())
    }
    return response
  }
  post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    return this.request(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(fields) })
  }
}

const startAuthorization = async (browser: Browser) => {
  const verifier = "a-verifier-that-is-long-enough-0123456789abcdef"
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)))
  const url = new URL(`${ISSUER}/authorize`)
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: "web",
    redirect_uri: REDIRECT,
    scope: "openid",
    state: "st4te",
    code_challenge: btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
    code_challenge_method: "S256"
  })) url.searchParams.set(k, v)
  const response = await browser.request(url.toString())
  expect(response.status).toBe(303)
  return new URL(response.headers.get("location")!).pathname
}

const csrfOf = (html: string) => /<input type="hidden" name="csrf" value="([^"]+)">/.exec(html)![1]!

describe("login page rate limit (RFC 6749 §10.10, RFC 6585 §4)", () => {
  it("after max wrong passwords the form answers 429 with Retry-After, even for the right password", async () => {
    const { gh, browser } = await setup()
    const page = await startAuthorization(browser)
    const csrf = csrfOf(await (await browser.request(page)).text())
    for (let i = 0; i < 3; i++) {
      expect((await browser.post(`${page}/login`, { csrf, username: "alice", password: `guess-${i}` })).status).toBe(401)
    }
    const locked = await browser.post(`${page}/login`, { csrf, username: "alice", password: "wonderland" })
    expect(locked.status).toBe(429)
    // the window opened at the first failure, a moment ago
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(590)
    expect(Number(locked.headers.get("retry-after"))).toBeLessThanOrEqual(600)
    expect(locked.headers.get("content-type")).toBe("text/html; charset=utf-8")
    expect(locked.headers.get("cache-control")).toBe("no-store")
    const html = await locked.text()
    expect(html).toContain(`<p class="gh-alert" id="gh-error" role="alert">Too many failed sign-in attempts. Try again in 10 minutes.</p>`)
    // the same form, still CSRF-protected, the username kept; no stack or internals
    expect(csrfOf(html)).toBe(csrf)
    expect(html).toContain(`value="alice"`)
    expect(html).not.toMatch(/\bat .*\.(ts|js):\d+/)

    // still locked on the next try
    expect((await browser.post(`${page}/login`, { csrf, username: "alice", password: "wonderland" })).status).toBe(429)
    await gh.dispose()
  })

  it("a forged form is refused before any password is counted (CSRF first)", async () => {
    const { gh, browser } = await setup()
    const page = await startAuthorization(browser)
    const csrf = csrfOf(await (await browser.request(page)).text())
    for (let i = 0; i < 5; i++) {
      expect((await browser.post(`${page}/login`, { csrf: "forged", username: "alice", password: `guess-${i}` })).status).toBe(403)
    }
    expect((await browser.post(`${page}/login`, { csrf, username: "alice", password: "wonderland" })).status).toBe(303)
    await gh.dispose()
  })

  it("with clientAddress, wrong passwords count per address too: another username from that address is refused", async () => {
    const { gh, browser } = await setup({ clientAddress: (request) => request.headers.get("x-test-address") ?? undefined })
    const page = await startAuthorization(browser)
    const csrf = csrfOf(await (await browser.request(page)).text())
    const from = { "x-test-address": "192.0.2.1" }
    for (const user of ["bob", "carol", "dave"]) {
      expect((await browser.post(`${page}/login`, { csrf, username: user, password: "x" }, from)).status).toBe(401)
    }
    expect((await browser.post(`${page}/login`, { csrf, username: "alice", password: "wonderland" }, from)).status).toBe(429)
    expect((await browser.post(`${page}/login`, { csrf, username: "alice", password: "wonderland" }, { "x-test-address": "192.0.2.2" })).status).toBe(303)
    await gh.dispose()
  })
})
