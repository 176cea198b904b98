/**
 * The user-code entry page (RFC 8628 §3.3 `verification_uri`, RFC 9635 §4.1.2) through real
 * Requests: Gatehouse's handler and the pages side by side, as a host mounts them, driven
 * by a cookie-keeping browser, from the device authorization request to the device's tokens.
 */
import { createGatehouse, DEVICE_CODE_GRANT, UserCode, UserCodeStore } from "@gatehouse/core"
import { makeMemoryDatabase, type MemoryDatabase, memoryAccounts, MemoryStorage } from "@gatehouse/testkit"
import { describe, expect, it } from "vitest"
import { createInteractionPages, type InteractionPagesOptions } from "../src/index.js"

const ISSUER = "https://as.example.com"

let keys: MemoryDatabase["keys"] | undefined
const freshDatabase = () => {
  const db = makeMemoryDatabase()
  if (keys) for (const [k, v] of keys) db.keys.set(k, v)
  else keys = db.keys
  return db
}

const setup = (options: InteractionPagesOptions = {}) => {
  const gh = createGatehouse({
    issuer: ISSUER,
    storage: MemoryStorage.layer(freshDatabase()),
    accounts: memoryAccounts([{ id: "alice", username: "alice", password: "wonderland", claims: { name: "Alice" } }]),
    clients: [{
      client_id: "tv",
      token_endpoint_auth_method: "none",
      redirect_uris: [],
      grant_types: [DEVICE_CODE_GRANT],
      client_name: "Living Room TV"
    }]
  })
  const pages = createInteractionPages(gh, options)
  const route = (request: Request) => (pages.handles(new URL(request.url).pathname) ? pages.handler(request) : gh.handler(request))
  return { gh, pages, route }
}

type Route = ReturnType<typeof setup>["route"]

/** One origin, cookies by name. */
class Browser {
  readonly cookies = new Map<string, string>()
  constructor(readonly route: Route) {}
  async request(url: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers)
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "))
    const response = await this.route(new Request(new URL(url, ISSUER), { ...init, headers, redirect: "manual" }))
    for (const c of response.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";")
      const eq = pair!.indexOf("=")
      const name = pair!.slice(0, eq).trim()
      if (attrs.some((a) => /^\s*max-age=0$/i.test(a))) this.cookies.delete(name)
      else this.cookies.set(name, pair!.slice(eq + 1).trim())
    }
    return response
  }
  post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    return this.request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ISSUER, ...headers },
      body: new URLSearchParams(fields)
    })
  }
}

const csrfOf = (html: string) => {
  const match = /<input type="hidden" name="csrf" value="([^"]+)">/.exec(html)
  if (!match) throw new Error("no csrf field")
  return match[1]!
}

interface DeviceAuthorization {
  readonly device_code: string
  readonly user_code: string
  readonly verification_uri: string
  readonly verification_uri_complete: string
}

const startDevice = async (route: Route) => {
  const response = await route(new Request(`${ISSUER}/device_authorization`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: "tv", scope: "openid profile" })
  }))
  expect(response.status).toBe(200)
  return await response.json() as DeviceAuthorization
}

const poll = async (route: Route, deviceCode: string) => {
  const response = await route(new Request(`${ISSUER}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, client_id: "tv" })
  }))
  return { status: response.status, body: await response.json() as Record<string, string> }
}

/** GET the page, submit `code` with its CSRF token. */
const enter = async (browser: Browser, code: string, page = "/device") => {
  const form = await browser.request(page)
  return browser.post("/device", { csrf: csrfOf(await form.text()), user_code: code })
}

describe("user-code entry page (RFC 8628 verification_uri)", () => {
  it("RFC 8628 §3.3: code -> sign in as alice -> allow -> the device's poll gets tokens, all through the default pages", async () => {
    const { route, pages } = setup()
    expect(pages.handles("/device")).toBe(true)
    const auth = await startDevice(route)
    expect(auth.verification_uri).toBe(`${ISSUER}/device`)
    const browser = new Browser(route)
    const page = await browser.request("/device")
    expect(page.status).toBe(200)
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'")
    expect(page.headers.get("cache-control")).toBe("no-store")
    const html = await page.text()
    expect(html).toContain(`<input id="gh-user-code" name="user_code" type="text"`)
    expect(html).toContain("Enter the code shown on your device.")
    // typed in lower case with a space: still the code (RFC 8628 §6.1)
    const entered = await browser.post("/device", { csrf: csrfOf(html), user_code: auth.user_code.toLowerCase().replace("-", " ") })
    expect(entered.status).toBe(303)
    const interaction = new URL(entered.headers.get("location")!).pathname
    expect(interaction).toMatch(/^\/interaction\/[A-Za-z0-9_-]+$/)
    expect(browser.cookies.has("gatehouse.usercode")).toBe(true)
    const login = await browser.request(interaction)
    const signedIn = await browser.post(`${interaction}/login`, { csrf: csrfOf(await login.text()), username: "alice", password: "wonderland" })
    expect(signedIn.headers.get("location")).toBe(interaction)
    const consent = await (await browser.request(interaction)).text()
    // RFC 8628 §5.4: the consent page says a device is being connected
    expect(consent).toContain("Living Room TV")
    expect(consent).toContain("You are connecting a device with a code")
    expect((await poll(route, auth.device_code)).body["error"]).toBe("authorization_pending")
    const allowed = await browser.post(`${interaction}/consent`, { csrf: csrfOf(consent), action: "allow" })
    expect(allowed.status).toBe(303)
    const done = await browser.request(allowed.headers.get("location")!)
    expect(done.status).toBe(200)
    expect(await done.text()).toContain("Device connected")
    const { status, body } = await poll(route, auth.device_code)
    expect(status).toBe(200)
    expect(body["token_type"]).toBe("Bearer")
    expect(body["id_token"]).toBeTruthy()
  })

  it("RFC 8628 §3.3.1, §5.4: verification_uri_complete pre-fills the code but the user must still confirm it", async () => {
    const { route, gh } = setup()
    const auth = await startDevice(route)
    const browser = new Browser(route)
    const page = await browser.request(auth.verification_uri_complete)
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain(`value="${auth.user_code}"`)
    expect(html).toContain("Check that this is the code shown on your device")
    expect(html).not.toContain("<script")
    // nothing happened yet: the code is still unclaimed
    const digest = await gh.run(UserCode.digest(auth.user_code.replace("-", "")))
    expect((await gh.run(UserCodeStore.use((s) => s.find(digest))))?.claimedAt).toBeUndefined()
    const confirmed = await browser.post("/device", { csrf: csrfOf(html), user_code: auth.user_code })
    expect(confirmed.status).toBe(303)
  })

  it("RFC 8628 §3.3: a wrong code shows the form again with the error and what was typed; a used one says so", async () => {
    const { route } = setup()
    const auth = await startDevice(route)
    const browser = new Browser(route)
    const wrong = await enter(browser, "BCDF-GHJK" === auth.user_code ? "BCDF-GHJL" : "BCDF-GHJK")
    expect(wrong.status).toBe(400)
    const html = await wrong.text()
    expect(html).toContain(`role="alert"`)
    expect(html).toContain("That code is not valid")
    expect(html).toContain(`aria-invalid="true"`)
    const malformed = await enter(browser, "12345")
    expect(await malformed.text()).toContain("does not look like a code")
    expect((await enter(browser, auth.user_code)).status).toBe(303)
    const other = new Browser(route)
    const used = await enter(other, auth.user_code)
    expect(used.status).toBe(400)
    expect(await used.text()).toContain("already used")
  })

  it("RFC 8628 §5.1: after 5 wrong codes the page answers 429 with Retry-After, warning as the limit nears", async () => {
    const { route } = setup()
    const auth = await startDevice(route)
    const browser = new Browser(route)
    const texts: Array<string> = []
    for (const code of ["BCDF-BCDF", "BCDF-BCDG", "BCDF-BCDH", "BCDF-BCDJ", "BCDF-BCDK"].filter((c) => c !== auth.user_code).slice(0, 5)) {
      texts.push(await (await enter(browser, code)).text())
    }
    expect(texts[2]).toContain("2 tries left")
    expect(texts[3]).toContain("1 try left")
    expect(texts[4]).toContain("This was the last try for now")
    const blocked = await enter(browser, auth.user_code)
    expect(blocked.status).toBe(429)
    expect(blocked.headers.get("retry-after")).toBe("900")
    expect(await blocked.text()).toContain("Too many attempts")
  })

  it("RFC 8628 §5.1: with clientAddress, an address is limited across browsers", async () => {
    const { route } = setup({ clientAddress: (request) => request.headers.get("x-test-address") ?? undefined })
    const auth = await startDevice(route)
    const from = { "x-test-address": "198.51.100.7" }
    for (const code of ["BCDF-BCDF", "BCDF-BCDG", "BCDF-BCDH", "BCDF-BCDJ", "BCDF-BCDK"].filter((c) => c !== auth.user_code).slice(0, 5)) {
      const browser = new Browser(route) // a fresh "browser" each time: no cookies
      const form = await browser.request("/device")
      await browser.post("/device", { csrf: csrfOf(await form.text()), user_code: code }, from)
    }
    const browser = new Browser(route)
    const form = await browser.request("/device")
    const blocked = await browser.post("/device", { csrf: csrfOf(await form.text()), user_code: auth.user_code }, from)
    expect(blocked.status).toBe(429)
    // another address is not affected
    expect((await enter(new Browser(route), auth.user_code)).status).toBe(303)
  })

  it("CSRF: a POST without the page's token, or from another site, is refused (403) and counts nothing", async () => {
    const { route } = setup()
    const auth = await startDevice(route)
    const browser = new Browser(route)
    await browser.request("/device")
    expect((await browser.post("/device", { user_code: auth.user_code })).status).toBe(403)
    expect((await browser.post("/device", { csrf: "x".repeat(43), user_code: auth.user_code })).status).toBe(403)
    const form = await browser.request("/device")
    const csrf = csrfOf(await form.text())
    expect((await browser.post("/device", { csrf, user_code: auth.user_code }, { origin: "https://evil.example.com" })).status).toBe(403)
    expect((await browser.post("/device", { csrf, user_code: auth.user_code }, { "sec-fetch-site": "cross-site" })).status).toBe(403)
    expect((await browser.post("/device", { csrf, user_code: auth.user_code })).status).toBe(303)
  })

  it("the page answers GET and POST only, and is not served with userCodePath: false", async () => {
    const { route } = setup()
    const put = await route(new Request(`${ISSUER}/device`, { method: "PUT" }))
    expect(put.status).toBe(405)
    expect(put.headers.get("allow")).toBe("GET, POST")
    const { pages } = setup({ userCodePath: false })
    expect(pages.handles("/device")).toBe(false)
    const { pages: custom } = setup({ userCodePath: "/activate" })
    expect(custom.handles("/activate")).toBe(true)
    expect(custom.handles("/device")).toBe(false)
  })
})
