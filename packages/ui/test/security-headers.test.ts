/**
 * Security-header and CSRF audit of every HTML page Gatehouse serves (issue 6; RFC 9700
 * §4.2.4 / §4.16 referrer leakage, §4.16 clickjacking, §4.4.1.8 CSRF on the AS's forms):
 * the default pages (login, consent for authorization, device and GNAP requests, user-code
 * entry, their error pages) and core's own (authorization error pages, the form_post
 * response, the device and GNAP "return to your device" pages and their errors).
 *
 * A recording browser drives every flow through real Requests, the pages' handler and
 * Gatehouse's side by side, as a host mounts them. Every HTML answer it sees must carry CSP
 * with `frame-ancestors 'none'`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`,
 * `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`; every `Set-Cookie` HttpOnly,
 * SameSite and Secure (the issuer is https); every `<form method="post">` to the AS a hidden
 * `csrf` field — and each form is first submitted without the field, with a wrong one, and
 * without the cookie, all refused (403) without touching the interaction. Token,
 * introspection, revocation, registration and GNAP JSON answers carry `Cache-Control:
 * no-store` and `Pragma: no-cache` (RFC 6749 §5.1, RFC 9635 §3).
 */
import { createGatehouse, DEVICE_CODE_GRANT } from "@gatehouse/core"
import { clientNonce, GnapClient, makeMemoryDatabase, type MemoryDatabase, memoryAccounts, MemoryStorage } from "@gatehouse/testkit"
import { beforeAll, describe, expect, it } from "vitest"
import { createInteractionPages } from "../src/index.js"

const ISSUER = "https://as.example.com"
const REDIRECT = "https://client.example.com/cb"

let keys: MemoryDatabase["keys"] | undefined
const freshDatabase = () => {
  const db = makeMemoryDatabase()
  if (keys) for (const [k, v] of keys) db.keys.set(k, v)
  else keys = db.keys
  return db
}

const setup = () => {
  const gh = createGatehouse({
    issuer: ISSUER,
    storage: MemoryStorage.layer(freshDatabase()),
    accounts: memoryAccounts([{ id: "alice", username: "alice", password: "wonderland", claims: { name: "Alice" } }]),
    registration: { open: true },
    clients: [
      { client_id: "web", client_secret: "web-secret-0123456789", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], client_name: "Web" },
      { client_id: "tv", token_endpoint_auth_method: "none", redirect_uris: [], grant_types: [DEVICE_CODE_GRANT], client_name: "TV" },
      { client_id: "svc", client_secret: "svc-secret-0123456789", redirect_uris: [], grant_types: ["client_credentials"] }
    ]
  })
  const pages = createInteractionPages(gh)
  const route = (request: Request) => (pages.handles(new URL(request.url).pathname) ? pages.handler(request) : gh.handler(request))
  return { gh, route }
}

type Route = ReturnType<typeof setup>["route"]

interface Seen {
  readonly label: string
  readonly method: string
  readonly url: string
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

/** One origin, cookies by name; records every answer under a label. */
class Browser {
  readonly cookies = new Map<string, string>()
  constructor(readonly route: Route, readonly seen: Array<Seen>) {}
  async request(label: string, url: string, init: RequestInit & { cookies?: boolean } = {}) {
    const headers = new Headers(init.headers)
    if (init.cookies !== false && this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "))
    const target = new URL(url, ISSUER)
    const response = await this.route(new Request(target, { ...init, headers, redirect: "manual" }))
    const text = await response.clone().text()
    this.seen.push({ label, method: init.method ?? "GET", url: target.toString(), status: response.status, headers: response.headers, text })
    for (const c of response.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";")
      const eq = pair!.indexOf("=")
      const name = pair!.slice(0, eq).trim()
      if (attrs.some((a) => /^\s*max-age=0$/i.test(a))) this.cookies.delete(name)
      else this.cookies.set(name, pair!.slice(eq + 1).trim())
    }
    return { response, text }
  }
  post(label: string, url: string, fields: Record<string, string>, o: { cookies?: boolean; headers?: Record<string, string> } = {}) {
    return this.request(label, url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ISSUER, ...o.headers },
      body: new URLSearchParams(fields),
      cookies: o.cookies ?? true
    })
  }
}

interface Form {
  readonly action: string
  readonly fields: Record<string, string>
  readonly html: string
}

/** The `<form method="post">` elements of a page, with their hidden fields. */
const formsOf = (html: string): Array<Form> =>
  [...html.matchAll(/<form\b[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/gi)].map((m) => {
    const action = /action="([^"]*)"/.exec(m[0])![1]!.replace(/&amp;/g, "&")
    const fields: Record<string, string> = {}
    for (const input of m[1]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[input[1]!] = input[2]!
    return { action, fields, html: m[0] }
  })

/** The only form of a page, which must post to the AS with a csrf field. */
const theForm = (html: string): Form => {
  const forms = formsOf(html)
  expect(forms).toHaveLength(1)
  expect(forms[0]!.fields["csrf"], forms[0]!.html.slice(0, 300)).toMatch(/^[A-Za-z0-9_-]{43}$/)
  return forms[0]!
}

const WRONG_CSRF = "A".repeat(43)

/**
 * Submit a form the way a forger could first — no csrf field, a wrong one, the right field
 * without the browser's cookie — each refused with the 403 page; then for real.
 */
const submit = async (browser: Browser, label: string, form: Form, fields: Record<string, string>) => {
  const { csrf, ...hidden } = form.fields
  for (const [how, body, cookies] of [
    ["without csrf", { ...hidden, ...fields }, true],
    ["with a wrong csrf", { ...hidden, ...fields, csrf: WRONG_CSRF }, true],
    ["without the csrf cookie", { ...hidden, ...fields, csrf: csrf! }, false]
  ] as const) {
    const { response, text } = await browser.post(`${label} (forged: ${how})`, form.action, body, { cookies })
    expect(response.status, `${label} ${how}`).toBe(403)
    expect(text).toContain("This form was not accepted")
  }
  return browser.post(label, form.action, { ...hidden, ...fields, csrf: csrf! })
}

const challenge = async (verifier: string) => {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)))
  return btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
}

const authorizeUrl = async (extra: Record<string, string> = {}) => {
  const url = new URL(`${ISSUER}/authorize`)
  const params = {
    response_type: "code",
    client_id: "web",
    redirect_uri: REDIRECT,
    scope: "openid profile",
    state: "st4te",
    code_challenge: await challenge("a-verifier-that-is-long-enough-0123456789abcdef"),
    code_challenge_method: "S256",
    ...extra
  }
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
  return url.toString()
}

/** login page (a wrong password first) -> consent page -> allow; returns where the consent POST sends the browser */
const signInAndAllow = async (browser: Browser, interaction: string, what: string) => {
  const login = await browser.request(`login page (${what})`, interaction)
  expect(login.response.status).toBe(200)
  const loginForm = theForm(login.text)
  const wrong = await submit(browser, `login: wrong password (${what})`, loginForm, { username: "alice", password: "nope" })
  expect(wrong.response.status).toBe(401)
  const signedIn = await browser.post(`login (${what})`, loginForm.action, { ...theForm(wrong.text).fields, username: "alice", password: "wonderland" })
  expect(signedIn.response.status).toBe(303)
  const consent = await browser.request(`consent page (${what})`, interaction)
  expect(consent.response.status, consent.text.replace(/<style>[\s\S]*<\/style>/, "").slice(-600)).toBe(200)
  const allowed = await submit(browser, `consent: allow (${what})`, theForm(consent.text), { action: "allow" })
  expect(allowed.response.status).toBe(303)
  return allowed.response.headers.get("location")!
}

const isHtml = (s: Seen) => (s.headers.get("content-type") ?? "").startsWith("text/html")

/** Every flow that shows a page, recorded. */
const crawl = async () => {
  const { gh, route } = setup()
  const seen: Array<Seen> = []
  const browser = () => new Browser(route, seen)

  // 1. authorization code (RFC 6749 §4.1): login, consent, resume -> redirect to the client
  {
    const b = browser()
    const start = await b.request("authorize", await authorizeUrl())
    expect(start.response.status).toBe(303)
    const resume = await signInAndAllow(b, start.response.headers.get("location")!, "authorization")
    const back = await b.request("authorize/resume", resume)
    expect(back.response.status).toBe(303)
    expect(back.response.headers.get("location")).toMatch(/^https:\/\/client\.example\.com\/cb\?code=/)
  }
  // 2. response_mode=form_post: the auto-submitting page to the client (no csrf: it posts to the client)
  {
    const b = browser()
    const start = await b.request("authorize (form_post)", await authorizeUrl({ response_mode: "form_post", prompt: "consent" }))
    const resume = await signInAndAllow(b, start.response.headers.get("location")!, "form_post")
    const page = await b.request("form_post response page", resume)
    expect(page.response.status).toBe(200)
    const forms = formsOf(page.text)
    expect(forms.map((f) => f.action)).toEqual([REDIRECT])
    expect(forms[0]!.fields["code"]).toBeTruthy()
  }
  // 3. authorization endpoint and resume errors, shown (RFC 6749 §4.1.2.1)
  {
    const b = browser()
    expect((await b.request("authorize error: unknown client", await authorizeUrl({ client_id: "nobody" }))).response.status).toBe(400)
    expect((await b.request("authorize error: unregistered redirect_uri", await authorizeUrl({ redirect_uri: "https://evil.example/cb" }))).response.status).toBe(400)
    expect((await b.request("authorize error: 405", `${ISSUER}/authorize`, { method: "PUT" })).response.status).toBe(405)
    expect((await b.request("authorize error: 431", await authorizeUrl(), { headers: { "x-big": "x".repeat(9000) } })).response.status).toBe(431)
    expect((await b.request("authorize/resume error", `${ISSUER}/authorize/resume?interaction=nope`)).response.status).toBe(400)
  }
  // 4. the pages' own errors
  {
    const b = browser()
    expect((await b.request("pages error: unknown interaction", "/interaction/unknown-id")).response.status).toBe(400)
    expect((await b.request("pages error: 405", "/interaction/abc", { method: "PUT" })).response.status).toBe(405)
    expect((await b.post("pages error: forged login", "/interaction/abc/login", { username: "a", password: "b" })).response.status).toBe(403)
    expect((await b.post("pages error: cross-site login", "/interaction/abc/login", { csrf: WRONG_CSRF }, { headers: { origin: "https://evil.example" } })).response.status).toBe(403)
  }
  // 5. device flow (RFC 8628 §3.3): user-code entry, login, device consent, "device connected"
  {
    const device = await route(new Request(`${ISSUER}/device_authorization`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: "tv", scope: "openid" })
    }))
    const { user_code } = (await device.json()) as { user_code: string }
    const b = browser()
    const entry = await b.request("user-code page", "/device")
    expect(entry.response.status).toBe(200)
    const wrong = await submit(b, "user-code: wrong code", theForm(entry.text), { user_code: "BCDF-GHJK" })
    expect(wrong.response.status).toBe(400)
    const entered = await submit(b, "user-code: right code", theForm(wrong.text), { user_code })
    expect(entered.response.status).toBe(303)
    const resume = await signInAndAllow(b, entered.response.headers.get("location")!, "device")
    const done = await b.request("device/resume page", resume)
    expect(done.response.status).toBe(200)
    expect(done.text).toContain("Device connected")
    expect((await b.request("device/resume error", "/device/resume?interaction=nope")).response.status).toBe(400)
  }
  // 6. GNAP (RFC 9635 §4.1.1 redirect start, §4.2 finish): the approval page, and "return to your device" without finish
  {
    const client = await GnapClient.create({ grantEndpoint: `${ISSUER}/gnap`, fetch: gh.handler })
    const withFinish = await client.request({
      access_token: { access: ["photos"] },
      interact: { start: ["redirect"], finish: { method: "redirect", uri: "https://client.example.com/return", nonce: clientNonce() } }
    })
    expect(withFinish.status).toBe(200)
    const b = browser()
    const start = await b.request("gnap interact start", withFinish.interact!["redirect"])
    expect(start.response.status).toBe(303)
    const resume = await signInAndAllow(b, start.response.headers.get("location")!, "gnap")
    const finish = await b.request("gnap resume", resume)
    expect(finish.response.status).toBe(303)
    expect(finish.response.headers.get("location")).toMatch(/^https:\/\/client\.example\.com\/return\?/)

    const noFinish = await client.request({ access_token: { access: ["photos"] }, interact: { start: ["redirect"] } })
    const b2 = browser()
    const start2 = await b2.request("gnap interact start (no finish)", noFinish.interact!["redirect"])
    const resume2 = await signInAndAllow(b2, start2.response.headers.get("location")!, "gnap without finish")
    const page = await b2.request("gnap resume page (no finish)", resume2)
    expect(page.response.status).toBe(200)
    expect((await b2.request("gnap interact error", "/gnap/interact/bad/bad")).response.status).toBe(400)
    expect((await b2.request("gnap resume error", "/gnap/resume?interaction=nope")).response.status).toBe(400)
  }
  return { gh, route, seen }
}

describe("security headers and CSRF on every HTML page (issue 6, RFC 9700)", () => {
  let seen: Array<Seen> = []
  let pages: Array<Seen> = []
  let route: Route
  beforeAll(async () => {
    const crawled = await crawl()
    seen = crawled.seen
    route = crawled.route
    pages = seen.filter(isHtml)
  }, 60_000)

  it("the crawl saw every kind of page", () => {
    const labels = new Set(pages.map((p) => p.label))
    for (
      const label of [
        "login page (authorization)", "login: wrong password (authorization)", "consent page (authorization)",
        "form_post response page", "authorize error: unknown client", "authorize error: unregistered redirect_uri",
        "authorize error: 405", "authorize error: 431", "authorize/resume error",
        "pages error: unknown interaction", "pages error: 405", "pages error: forged login",
        "user-code page", "user-code: wrong code", "login page (device)", "consent page (device)", "device/resume page",
        "device/resume error", "login page (gnap)", "consent page (gnap)", "gnap resume page (no finish)", "gnap interact error",
        "gnap resume error", "consent: allow (gnap) (forged: with a wrong csrf)"
      ]
    ) expect(labels, label).toContain(label)
    expect(pages.length).toBeGreaterThan(50)
  })

  it("RFC 9700 §4.16 / §4.2.4: CSP frame-ancestors 'none', X-Frame-Options DENY, Referrer-Policy no-referrer, no-store, nosniff on every page", () => {
    for (const p of pages) {
      const what = `${p.label}: ${p.method} ${p.url} -> ${p.status}`
      const csp = p.headers.get("content-security-policy") ?? ""
      expect(csp, what).toMatch(/(^|;)\s*frame-ancestors 'none'\s*(;|$)/)
      expect(csp, what).toMatch(/(^|;)\s*default-src 'none'\s*(;|$)/)
      expect(p.headers.get("x-frame-options"), what).toBe("DENY")
      expect(p.headers.get("referrer-policy"), what).toBe("no-referrer")
      expect(p.headers.get("cache-control"), what).toBe("no-store")
      expect(p.headers.get("x-content-type-options"), what).toBe("nosniff")
      expect(p.headers.get("content-type"), what).toBe("text/html; charset=utf-8")
    }
  })

  it("redirects carry Referrer-Policy: no-referrer and Cache-Control: no-store (the code is in their Location)", () => {
    const redirects = seen.filter((s) => s.status === 303)
    expect(redirects.length).toBeGreaterThan(10)
    for (const r of redirects) {
      expect(r.headers.get("referrer-policy"), r.label).toBe("no-referrer")
      expect(r.headers.get("cache-control"), r.label).toBe("no-store")
    }
  })

  it("every Set-Cookie is HttpOnly, SameSite and Secure (https issuer)", () => {
    const cookies = seen.flatMap((s) => s.headers.getSetCookie().map((c) => ({ label: s.label, c })))
    // the CSRF, interaction binding, user-code binding and session cookies at least
    expect(new Set(cookies.map(({ c }) => c.slice(0, c.indexOf("="))))).toEqual(
      new Set(["gatehouse.csrf", "gatehouse.interaction", "gatehouse.usercode", "gatehouse.session"])
    )
    for (const { label, c } of cookies) {
      const attrs = c.split(";").slice(1).map((a) => a.trim().toLowerCase())
      expect(attrs, `${label}: ${c}`).toContain("httponly")
      expect(attrs, `${label}: ${c}`).toContain("secure")
      expect(attrs.some((a) => a === "samesite=lax" || a === "samesite=strict"), `${label}: ${c}`).toBe(true)
    }
  })

  it("every <form method=post> to the AS has a hidden csrf field; the only other form is form_post's, to the client", () => {
    let checked = 0
    for (const p of pages) {
      for (const form of formsOf(p.text)) {
        const target = new URL(form.action, p.url)
        if (target.origin !== ISSUER) {
          expect(p.label).toBe("form_post response page")
          expect(target.toString()).toBe(REDIRECT)
          continue
        }
        checked++
        expect(form.fields["csrf"], `${p.label}: ${form.html.slice(0, 200)}`).toMatch(/^[A-Za-z0-9_-]{43}$/)
      }
    }
    expect(checked).toBeGreaterThan(10)
  })

  it("CSRF: login, consent (authorization, device, GNAP) and user-code forms refused a missing, wrong or cookie-less csrf with 403", () => {
    const forged = seen.filter((s) => s.label.includes("(forged: "))
    const forms = new Set(forged.map((s) => s.label.replace(/ \(forged: .*$/, "")))
    expect([...forms].sort()).toEqual([
      "consent: allow (authorization)", "consent: allow (device)", "consent: allow (form_post)", "consent: allow (gnap without finish)",
      "consent: allow (gnap)", "login: wrong password (authorization)", "login: wrong password (device)",
      "login: wrong password (form_post)", "login: wrong password (gnap without finish)", "login: wrong password (gnap)",
      "user-code: right code", "user-code: wrong code"
    ])
    for (const s of forged) {
      expect(s.status, s.label).toBe(403)
      expect(s.headers.getSetCookie(), s.label).toEqual([])
    }
  })

  it("RFC 6749 §5.1 / RFC 9635 §3: token, introspection, revocation, registration, device and GNAP JSON answers are no-store + no-cache", async () => {
    const basic = (id: string, secret: string) => `Basic ${btoa(`${id}:${secret}`)}`
    const formPost = (path: string, body: Record<string, string>, auth?: string) =>
      route(new Request(`${ISSUER}${path}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...(auth ? { authorization: auth } : {}) },
        body: new URLSearchParams(body)
      }))
    const svc = basic("svc", "svc-secret-0123456789")
    const issued = await formPost("/token", { grant_type: "client_credentials" }, svc)
    const { access_token } = (await issued.clone().json()) as { access_token: string }
    const { gh } = setup()
    const client = await GnapClient.create({ grantEndpoint: `${ISSUER}/gnap`, fetch: gh.handler })
    const gnap = await client.request({ access_token: { access: ["photos"] }, interact: { start: ["redirect"] } })
    const answers: Array<[string, Response, number]> = [
      ["token 200", issued, 200],
      ["token error", await formPost("/token", { grant_type: "password" }, svc), 400],
      ["token 401", await formPost("/token", { grant_type: "client_credentials" }, basic("svc", "wrong")), 401],
      ["introspection", await formPost("/introspect", { token: access_token }, svc), 200],
      ["introspection error", await formPost("/introspect", {}, svc), 400],
      ["revocation", await formPost("/revoke", { token: access_token }, svc), 200],
      ["device authorization", await formPost("/device_authorization", { client_id: "tv" }), 200],
      ["registration 201", await route(new Request(`${ISSUER}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [REDIRECT] }) })), 201],
      ["registration error", await route(new Request(`${ISSUER}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })), 400],
      ["gnap grant", gnap.response, 200],
      ["gnap error", await gh.handler(new Request(`${ISSUER}/gnap`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })), 400],
      ["gnap continue error", await client.continue(gnap.continue!, {}).then((r) => r.response), 429]
    ]
    for (const [what, response, status] of answers) {
      expect(response.status, what).toBe(status)
      // RFC 7009 §2.2: revocation answers 200 with no content
      if (what !== "revocation") expect(response.headers.get("content-type"), what).toMatch(/^application\/json/)
      expect(response.headers.get("cache-control"), what).toBe("no-store")
      expect(response.headers.get("pragma"), what).toBe("no-cache")
    }
  })
})
