/**
 * The default interaction pages, through real Requests: Gatehouse's handler and the pages'
 * handler side by side, as a host app mounts them, driven by a cookie-keeping browser.
 */
import { createGatehouse, type GatehouseInstance } from "@gatehouse/core"
import { makeMemoryDatabase, type MemoryDatabase, memoryAccounts, MemoryStorage } from "@gatehouse/testkit"
import { describe, expect, it } from "vitest"
import { createInteractionPages, type InteractionPages, type InteractionPagesOptions } from "../src/index.js"

const ISSUER = "https://as.example.com"
const REDIRECT = "https://client.example.com/cb"

/** Keys are generated once and copied into each fresh database (RSA generation is slow). */
let keys: MemoryDatabase["keys"] | undefined
const freshDatabase = () => {
  const db = makeMemoryDatabase()
  if (keys) for (const [k, v] of keys) db.keys.set(k, v)
  else keys = db.keys
  return db
}

const setup = (options: InteractionPagesOptions = {}, clientName = "Example App") => {
  const gh = createGatehouse({
    issuer: ISSUER,
    storage: MemoryStorage.layer(freshDatabase()),
    accounts: memoryAccounts([
      { id: "alice", username: "alice", password: "wonderland", claims: { name: "Alice Liddell", email: "alice@example.com" } }
    ]),
    clients: [{
      client_id: "web",
      client_secret: "web-secret-0123456789",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      client_name: clientName,
      policy_uri: "https://client.example.com/privacy",
      tos_uri: "javascript:alert(1)"
    }]
  })
  const pages = createInteractionPages(gh, options)
  return { gh, pages, browser: new Browser(gh, pages) }
}

/** One origin, cookies by name, both handlers routed the way the Express adapter routes them. */
class Browser {
  readonly cookies = new Map<string, string>()
  readonly setCookies: Array<string> = []
  constructor(readonly gh: GatehouseInstance, readonly pages: InteractionPages) {}
  async request(url: string, init: RequestInit & { cookies?: boolean } = {}): Promise<Response> {
    const target = new URL(url, ISSUER)
    const headers = new Headers(init.headers)
    if (init.cookies !== false && this.cookies.size > 0) {
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "))
    }
    const request = new Request(target, { ...init, headers, redirect: "manual" })
    const response = this.pages.handles(target.pathname) ? await this.pages.handler(request) : await this.gh.handler(request)
    for (const c of response.headers.getSetCookie()) {
      this.setCookies.push(c)
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
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields)
    })
  }
}

const challenge = async (verifier: string) => {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)))
  return btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
}

/** GET /authorize -> the interaction page's path */
const startAuthorization = async (browser: Browser, extra: Record<string, string> = {}) => {
  const url = new URL(`${ISSUER}/authorize`)
  const params = {
    response_type: "code",
    client_id: "web",
    redirect_uri: REDIRECT,
    scope: "openid profile email",
    state: "st4te",
    nonce: "n0nce",
    code_challenge: await challenge("a-verifier-that-is-long-enough-0123456789abcdef"),
    code_challenge_method: "S256",
    ...extra
  }
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
  const response = await browser.request(url.toString())
  expect(response.status).toBe(303)
  const location = new URL(response.headers.get("location")!)
  expect(location.pathname).toMatch(/^\/interaction\/[A-Za-z0-9_-]+$/)
  return location.pathname
}

const csrfOf = (html: string) => {
  const match = /<input type="hidden" name="csrf" value="([^"]+)">/.exec(html)
  if (!match) throw new Error("no csrf field")
  return match[1]!
}

const expectSecurityHeaders = (response: Response) => {
  expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8")
  expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'")
  expect(response.headers.get("content-security-policy")).toContain("default-src 'none'")
  expect(response.headers.get("x-frame-options")).toBe("DENY")
  expect(response.headers.get("x-content-type-options")).toBe("nosniff")
  expect(response.headers.get("referrer-policy")).toBe("no-referrer")
  expect(response.headers.get("cache-control")).toBe("no-store")
}

/** authorize -> login page -> sign in as alice -> consent page */
const toConsent = async (browser: Browser) => {
  const page = await startAuthorization(browser)
  const login = await browser.request(page)
  const signedIn = await browser.post(`${page}/login`, { csrf: csrfOf(await login.text()), username: "alice", password: "wonderland" })
  expect(signedIn.status).toBe(303)
  expect(signedIn.headers.get("location")).toBe(page)
  const consent = await browser.request(page)
  return { page, consent, html: await consent.text() }
}

/** follow core's resume redirect to the client */
const resume = async (browser: Browser, response: Response) => {
  expect(response.status).toBe(303)
  const location = response.headers.get("location")!
  expect(location.startsWith(`${ISSUER}/authorize/resume?interaction=`)).toBe(true)
  const back = await browser.request(location)
  expect(back.status).toBe(303)
  return new URL(back.headers.get("location")!)
}

describe("login page", () => {
  it("GET /interaction/:id renders the login form: username, password, submit, csrf; labelled; security headers", async () => {
    const { browser } = setup()
    const page = await startAuthorization(browser)
    const response = await browser.request(page)
    expect(response.status).toBe(200)
    expectSecurityHeaders(response)
    const html = await response.text()
    expect(html).toMatch(/<form method="post" action="\/interaction\/[^"]+\/login">/)
    expect(html).toContain(`<label for="gh-username">Username</label>`)
    expect(html).toMatch(/<input id="gh-username" name="username" type="text" autocomplete="username"[^>]* required/)
    expect(html).toContain(`<label for="gh-password">Password</label>`)
    expect(html).toMatch(/<input id="gh-password" name="password" type="password" autocomplete="current-password" required/)
    expect(html).toContain(`<button type="submit" class="gh-primary">Sign in</button>`)
    expect(html).toContain("Example App")
    expect(html).not.toContain("<script")
    // the CSRF cookie: HttpOnly, SameSite=Lax, scoped to this interaction, same value as the field
    const cookie = browser.setCookies.find((c) => c.startsWith("gatehouse.csrf="))!
    expect(cookie).toContain(`Path=${page};`)
    expect(cookie).toContain("HttpOnly")
    expect(cookie).toContain("SameSite=Lax")
    expect(cookie).toContain("Secure")
    expect(browser.cookies.get("gatehouse.csrf")).toBe(csrfOf(html))
  })

  it("login_hint pre-fills the username", async () => {
    const { browser } = setup()
    const page = await startAuthorization(browser, { login_hint: "alice" })
    const html = await (await browser.request(page)).text()
    expect(html).toContain(`name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="alice"`)
  })

  it("a wrong password re-renders the login form with an error, 401, and the interaction stays usable", async () => {
    const { browser } = setup()
    const page = await startAuthorization(browser)
    const csrf = csrfOf(await (await browser.request(page)).text())
    const wrong = await browser.post(`${page}/login`, { csrf, username: "alice", password: "looking-glass" })
    expect(wrong.status).toBe(401)
    expectSecurityHeaders(wrong)
    const html = await wrong.text()
    expect(html).toContain(`<p class="gh-alert" id="gh-error" role="alert">Incorrect username or password.</p>`)
    expect(html).toContain(`aria-invalid="true" aria-describedby="gh-error"`)
    expect(html).toContain(`value="alice"`)
    expect(csrfOf(html)).toBe(csrf)
    const unknown = await browser.post(`${page}/login`, { csrf, username: "mallory", password: "wonderland" })
    expect(unknown.status).toBe(401)
    const empty = await browser.post(`${page}/login`, { csrf, username: "alice", password: "" })
    expect(empty.status).toBe(400)
    expect(await empty.text()).toContain("Enter your username and password.")
    const right = await browser.post(`${page}/login`, { csrf, username: "alice", password: "wonderland" })
    expect(right.status).toBe(303)
  })
})

describe("consent page", () => {
  it("after login: lists the client and each scope with a description; Allow and Deny buttons", async () => {
    const { browser } = setup()
    const { consent, html } = await toConsent(browser)
    expect(consent.status).toBe(200)
    expectSecurityHeaders(consent)
    expect(html).toContain(`<h1 id="gh-title">Allow access?</h1>`)
    expect(html).toContain("<strong>Example App</strong> is asking to:")
    expect(html).toContain("Know who you are (your account identifier)<code>openid</code>")
    expect(html).toContain("See your basic profile: name, username, picture and similar details<code>profile</code>")
    expect(html).toContain("See your email address<code>email</code>")
    expect(html).toContain(`<button type="submit" name="action" value="allow" class="gh-primary">Allow</button>`)
    expect(html).toContain(`<button type="submit" name="action" value="deny">Deny</button>`)
    expect(html).toContain("Signed in as <strong>alice</strong>")
    // client links: http(s) only
    expect(html).toContain(`href="https://client.example.com/privacy"`)
    expect(html).not.toContain("javascript:")
  })

  it("Allow -> 303 to core's resume -> redirect to the client with code, state and iss (RFC 9207)", async () => {
    const { browser } = setup()
    const { page, html } = await toConsent(browser)
    const allowed = await browser.post(`${page}/consent`, { csrf: csrfOf(html), action: "allow" })
    expect(allowed.headers.get("cache-control")).toBe("no-store")
    // the CSRF cookie is cleared once the interaction is finished
    expect(allowed.headers.getSetCookie().some((c) => c.startsWith("gatehouse.csrf=;") && c.includes("Max-Age=0"))).toBe(true)
    const back = await resume(browser, allowed)
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT)
    expect(back.searchParams.get("code")).toMatch(/^[A-Za-z0-9_-]{20,}$/)
    expect(back.searchParams.get("state")).toBe("st4te")
    expect(back.searchParams.get("iss")).toBe(ISSUER)
    // the finished interaction's page is an error page, not a 500
    const again = await browser.request(page)
    expect(again.status).toBe(400)
    expectSecurityHeaders(again)
  })

  it("Deny -> redirect to the client with error=access_denied, state and iss", async () => {
    const { browser } = setup()
    const { page, html } = await toConsent(browser)
    const back = await resume(browser, await browser.post(`${page}/consent`, { csrf: csrfOf(html), action: "deny" }))
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT)
    expect(back.searchParams.get("error")).toBe("access_denied")
    expect(back.searchParams.get("state")).toBe("st4te")
    expect(back.searchParams.get("iss")).toBe(ISSUER)
    expect(back.searchParams.get("code")).toBeNull()
  })

  it("remembered consent: a new browser signing in goes straight back to the client", async () => {
    const { gh, pages, browser } = setup()
    const { page, html } = await toConsent(browser)
    await resume(browser, await browser.post(`${page}/consent`, { csrf: csrfOf(html), action: "allow" }))
    const other = new Browser(gh, pages)
    const next = await startAuthorization(other)
    const csrf = csrfOf(await (await other.request(next)).text())
    const signedIn = await other.post(`${next}/login`, { csrf, username: "alice", password: "wonderland" })
    const back = await resume(other, signedIn)
    expect(back.searchParams.get("code")).toBeTruthy()
  })

  it("an existing session skips the login form and shows consent directly (prompt=consent)", async () => {
    const { browser } = setup()
    const { page, html } = await toConsent(browser)
    await resume(browser, await browser.post(`${page}/consent`, { csrf: csrfOf(html), action: "allow" }))
    const next = await startAuthorization(browser, { prompt: "consent" })
    const consent = await (await browser.request(next)).text()
    expect(consent).toContain("Allow access?")
    expect(consent).not.toContain(`name="password"`)
    const back = await resume(browser, await browser.post(`${next}/consent`, { csrf: csrfOf(consent), action: "allow" }))
    expect(back.searchParams.get("code")).toBeTruthy()
  })

  it("posting consent before signing in goes back to the login form", async () => {
    const { browser } = setup()
    const page = await startAuthorization(browser)
    const csrf = csrfOf(await (await browser.request(page)).text())
    const response = await browser.post(`${page}/consent`, { csrf, action: "allow" })
    expect(response.status).toBe(303)
    expect(response.headers.get("location")).toBe(page)
  })
})

describe("CSRF (double-submit cookie)", () => {
  it("a form without the csrf field -> 403 page", async () => {
    const { browser } = setup()
    const page = await startAuthorization(browser)
    await browser.request(page)
    const response = await browser.post(`${page}/login`, { username: "alice", password: "wonderland" })
    expect(response.status).toBe(403)
    expectSecurityHeaders(response)
    expect(await response.text()).toContain("This form was not accepted")
  })

  it("a wrong csrf value -> 403; the same value without the cookie -> 403", async () => {
    const { browser } = setup()
    const { page, html } = await toConsent(browser)
    const csrf = csrfOf(html)
    const flipped = (csrf[0] === "A" ? "B" : "A") + csrf.slice(1)
    expect((await browser.post(`${page}/consent`, { csrf: flipped, action: "allow" })).status).toBe(403)
    expect((await browser.post(`${page}/consent`, { csrf: "", action: "allow" })).status).toBe(403)
    const noCookie = await browser.request(`${page}/consent`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, action: "allow" }),
      cookies: false
    })
    expect(noCookie.status).toBe(403)
    // nothing happened: the real form still works
    const back = await resume(browser, await browser.post(`${page}/consent`, { csrf, action: "allow" }))
    expect(back.searchParams.get("code")).toBeTruthy()
  })

  it("a cross-site POST (Sec-Fetch-Site, Origin) -> 403 even with matching tokens", async () => {
    const { browser } = setup()
    const { page, html } = await toConsent(browser)
    const csrf = csrfOf(html)
    expect((await browser.post(`${page}/consent`, { csrf, action: "allow" }, { "sec-fetch-site": "cross-site" })).status).toBe(403)
    expect((await browser.post(`${page}/consent`, { csrf, action: "allow" }, { origin: "https://evil.example" })).status).toBe(403)
    expect((await browser.post(`${page}/consent`, { csrf, action: "allow" }, { origin: ISSUER, "sec-fetch-site": "same-origin" })).status).toBe(303)
  })

  it("a reload keeps the csrf value, so two open tabs both work", async () => {
    const { browser } = setup()
    const page = await startAuthorization(browser)
    const first = csrfOf(await (await browser.request(page)).text())
    const second = csrfOf(await (await browser.request(page)).text())
    expect(second).toBe(first)
  })
})

describe("errors and routing", () => {
  it("unknown or malformed interaction -> 400 error page, not 500", async () => {
    const { browser } = setup()
    for (const path of ["/interaction/does-not-exist", "/interaction/%E0%A4%A", "/interaction/a%20b"]) {
      const response = await browser.request(path)
      expect(response.status).toBe(400)
      expectSecurityHeaders(response)
      expect(await response.text()).toContain("This sign-in cannot continue")
    }
  })

  it("wrong methods -> 405 with Allow; not a form -> 415", async () => {
    const { browser } = setup()
    const page = await startAuthorization(browser)
    const get = await browser.request(`${page}/login`)
    expect(get.status).toBe(405)
    expect(get.headers.get("allow")).toBe("POST")
    const post = await browser.request(page, { method: "POST" })
    expect(post.status).toBe(405)
    expect(post.headers.get("allow")).toBe("GET")
    const json = await browser.request(`${page}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
    expect(json.status).toBe(415)
  })

  it("a storage failure is a 500 page without detail, reported to onError", async () => {
    const errors: Array<unknown> = []
    const { gh } = setup()
    const broken = {
      ...gh,
      interactions: { ...gh.interactions, details: () => Promise.reject(new Error("database is down")) }
    }
    const pages = createInteractionPages(broken, { onError: (e) => errors.push(e) })
    const response = await pages.handler(new Request(`${ISSUER}/interaction/abc`))
    expect(response.status).toBe(500)
    const html = await response.text()
    expect(html).toContain("Something went wrong")
    expect(html).not.toContain("database is down")
    expect(errors).toHaveLength(1)
  })

  it("handles(): the pages' paths only", () => {
    const { pages } = setup()
    expect(pages.basePath).toBe("/interaction")
    for (const p of ["/interaction/abc", "/interaction/abc/", "/interaction/abc/login", "/interaction/abc/consent"]) {
      expect(pages.handles(p), p).toBe(true)
    }
    for (const p of ["/interaction", "/interaction/", "/interaction/abc/other", "/interactions/abc", "/authorize", "/"]) {
      expect(pages.handles(p), p).toBe(false)
    }
  })

  it("basePath follows the config's interactionUrl; an explicit one wins", () => {
    const gh = createGatehouse({
      issuer: ISSUER,
      interactionUrl: "/account/consent/{id}",
      storage: MemoryStorage.layer(freshDatabase()),
      accounts: memoryAccounts([])
    })
    expect(createInteractionPages(gh).basePath).toBe("/account/consent")
    expect(createInteractionPages(gh).handles("/account/consent/abc/login")).toBe(true)
    expect(createInteractionPages(gh, { basePath: "/login/" }).basePath).toBe("/login")
    expect(() => createInteractionPages(gh, { basePath: "login" })).toThrow(`"basePath" must be a path`)
  })
})

describe("presentation", () => {
  it("escapes client-supplied text", async () => {
    const { browser } = setup({}, `<img src=x onerror="alert(1)">`)
    const page = await startAuthorization(browser)
    const html = await (await browser.request(page)).text()
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;")
    expect(html).not.toContain("<img")
  })

  it("title, theme variables and extra CSS; unsafe theme values are refused", async () => {
    const { browser } = setup({ title: "Wonderland Inc.", theme: { accent: "#0a7d52", radius: "4px" }, css: ".gh-site{font-size:1rem}" })
    const page = await startAuthorization(browser)
    const html = await (await browser.request(page)).text()
    expect(html).toContain("<title>Sign in – Wonderland Inc.</title>")
    expect(html).toContain(`<p class="gh-site">Wonderland Inc.</p>`)
    expect(html).toContain(":root{--gh-accent:#0a7d52;--gh-radius:4px}")
    expect(html).toContain(".gh-site{font-size:1rem}")
    const { gh } = setup()
    expect(() => createInteractionPages(gh, { theme: { accent: "red}</style><script>" } })).toThrow(`"theme.accent" must be a plain CSS value`)
    expect(() => createInteractionPages(gh, { theme: { colour: "red" } as never })).toThrow(`"theme.colour" is not a theme variable`)
    expect(() => createInteractionPages(gh, { css: "</style><script>" })).toThrow(`"css" must not close the style element`)
  })

  it("the default site name is the issuer's host", async () => {
    const { browser } = setup()
    const page = await startAuthorization(browser)
    expect(await (await browser.request(page)).text()).toContain(`<p class="gh-site">as.example.com</p>`)
  })
})
