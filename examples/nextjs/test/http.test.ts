/**
 * The Next.js example as built by `next build` and run by `next start` (its own process, a
 * temporary SQLite database), over real HTTP: discovery at the origin's root with the OAuth
 * endpoints under /oauth, the JWKS, the default login page, the protected API route
 * (RFC 6750), a public ISSUER that differs from the address Next listens on, and the shared
 * adapter conformance suite (endpoints at the root and under /oauth).
 */
import { adapterConformance } from "@gatehouse/testkit"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type BuiltExample, ensureBuilt, startBuiltExample } from "../test-support.mjs"

const BUILD_TIMEOUT = 15 * 60_000
const TIMEOUT = 60_000
const REDIRECT = "https://client.example.com/callback"

const tmp = mkdtempSync(join(tmpdir(), "gatehouse-nextjs-"))
let databases = 0
const databaseUrl = () => `file:${join(tmp, `db-${++databases}.sqlite`)}`

/** Print what `next start` logged when it reported an error, so a failing run shows why. */
const reportServerErrors = (name: string, app: BuiltExample) => {
  if (/⨯|Error/.test(app.output())) console.error(`next start (${name}) logged:\n${app.output()}`)
}

beforeAll(async () => {
  const { seconds } = await ensureBuilt()
  console.log(`examples/nextjs: build check and next build took ${seconds.toFixed(1)} s`)
}, BUILD_TIMEOUT)

afterAll(() => rmSync(tmp, { recursive: true, force: true }))

/** Cookies by name and path; the requests go to `base`, whatever origin a URL names. */
class Browser {
  readonly cookies = new Map<string, { value: string; path: string }>()
  constructor(readonly base: string, readonly origin: string) {}
  url(u: string) {
    const url = new URL(u, this.origin)
    return new URL(`${url.pathname}${url.search}`, this.base)
  }
  async go(u: string, init: RequestInit = {}) {
    const target = this.url(u)
    const headers = new Headers(init.headers)
    const cookie = [...this.cookies]
      .filter(([, c]) => target.pathname === c.path || target.pathname.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`))
      .map(([name, c]) => `${name.split(" ")[0]}=${c.value}`)
      .join("; ")
    if (cookie) headers.set("cookie", cookie)
    const response = await fetch(target, { ...init, headers, redirect: "manual" })
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";").map((s) => s.trim())
      const eq = pair!.indexOf("=")
      const path = attrs.find((a) => a.toLowerCase().startsWith("path="))?.slice(5) ?? "/"
      const key = `${pair!.slice(0, eq)} ${path}`
      if (attrs.some((a) => a.toLowerCase() === "max-age=0")) this.cookies.delete(key)
      else this.cookies.set(key, { value: pair!.slice(eq + 1), path })
    }
    return response
  }
  async submit(pageUrl: string, html: string, fields: Record<string, string>) {
    const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1]
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1]
    if (!action || !csrf) throw new Error(`no form on ${pageUrl}:\n${html.slice(0, 1000)}`)
    return this.go(new URL(action.replace(/&amp;/g, "&"), new URL(pageUrl, this.origin)).toString(), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: this.origin },
      body: new URLSearchParams({ csrf, ...fields })
    })
  }
}

const S256 = async (v: string) => Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(v))).toString("base64url")

interface Metadata {
  issuer: string
  authorization_endpoint: string
  token_endpoint: string
  jwks_uri: string
  registration_endpoint: string
}

/** Register a client, sign in as alice through the default pages, allow, redeem the code. */
const accessTokenFor = async (base: string, origin: string, metadata: Metadata) => {
  const browser = new Browser(base, origin)
  const registered = await browser.go(metadata.registration_endpoint, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: "http test" })
  })
  expect(registered.status).toBe(201)
  const client = await registered.json() as { client_id: string; client_secret: string }
  const verifier = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")
  const query = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    scope: "openid profile",
    state: "st4te",
    code_challenge: await S256(verifier),
    code_challenge_method: "S256"
  })
  let response = await browser.go(`${metadata.authorization_endpoint}?${query}`)
  let callback: URL | undefined
  for (let step = 0; step < 8 && !callback; step++) {
    const location = response.headers.get("location")
    if (!location) throw new Error(`unexpected ${response.status}: ${await response.text()}`)
    if (location.startsWith(REDIRECT)) {
      callback = new URL(location)
      break
    }
    const page = await browser.go(location)
    if (page.status === 303) {
      response = page
      continue
    }
    const html = await page.text()
    response = html.includes(`name="password"`)
      ? await browser.submit(location, html, { username: "alice", password: "wonderland" })
      : await browser.submit(location, html, { action: "allow" })
  }
  expect(callback?.searchParams.get("iss")).toBe(origin)
  const token = await browser.go(metadata.token_endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code: callback!.searchParams.get("code")!, code_verifier: verifier, redirect_uri: REDIRECT })
  })
  const tokens = await token.json() as { access_token: string }
  expect(token.status, JSON.stringify(tokens)).toBe(200)
  return tokens.access_token
}

describe("examples/nextjs, built and started (npm start's next build + next start)", () => {
  let app: BuiltExample
  let metadata: Metadata

  beforeAll(async () => {
    app = await startBuiltExample({ databaseUrl: databaseUrl() })
    const response = await fetch(`${app.url}/.well-known/openid-configuration`)
    expect(response.status).toBe(200)
    metadata = await response.json() as Metadata
  }, TIMEOUT)
  afterAll(async () => {
    if (app) reportServerErrors("default", app)
    await app?.close()
  })

  it("OIDC Discovery §4 and RFC 8414 §3 at the origin's root; the OAuth endpoints under /oauth", async () => {
    expect(metadata.issuer).toBe(app.url)
    expect(metadata.authorization_endpoint).toBe(`${app.url}/oauth/authorize`)
    expect(metadata.token_endpoint).toBe(`${app.url}/oauth/token`)
    const as = await fetch(`${app.url}/.well-known/oauth-authorization-server`)
    expect(as.status).toBe(200)
    const asMetadata = await as.json() as Metadata
    expect(asMetadata.issuer).toBe(app.url)
    expect(asMetadata.jwks_uri).toBe(metadata.jwks_uri)
  }, TIMEOUT)

  it("RFC 7517: the JWKS has public signing keys only", async () => {
    expect(metadata.jwks_uri).toBe(`${app.url}/oauth/jwks`)
    const response = await fetch(metadata.jwks_uri)
    expect(response.status).toBe(200)
    const { keys } = await response.json() as { keys: Array<Record<string, string>> }
    expect(keys.length).toBeGreaterThan(0)
    for (const key of keys) {
      expect(key.kid).toBeTruthy()
      expect(key.d).toBeUndefined()
    }
    expect(keys.map((k) => k.alg)).toContain("ES256")
  }, TIMEOUT)

  it("the app's own home page and its own 404", async () => {
    const home = await fetch(`${app.url}/`)
    expect(home.status).toBe(200)
    expect(home.headers.get("content-type")).toMatch(/^text\/html/)
    expect(await home.text()).toContain(`${app.url}/.well-known/openid-configuration`)
    for (const path of ["/nowhere", "/oauth/nowhere", "/authorize"]) {
      const response = await fetch(`${app.url}${path}`)
      expect(response.status, path).toBe(404)
      expect(await response.text(), path).toContain("host-not-found")
    }
  }, TIMEOUT)

  it("GET /api/me: RFC 6750 §3 challenge without a token, error=\"invalid_token\" for a bad one", async () => {
    const none = await fetch(`${app.url}/api/me`)
    expect(none.status).toBe(401)
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer\b/)
    expect(none.headers.get("www-authenticate")).not.toContain("error=")
    const bad = await fetch(`${app.url}/api/me`, { headers: { authorization: "Bearer not-a-token" } })
    expect(bad.status).toBe(401)
    expect(bad.headers.get("www-authenticate")).toMatch(/^Bearer\b.*error="invalid_token"/)
    // RFC 9728 §5.1: the challenge names the resource's metadata, which is served
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(none.headers.get("www-authenticate")!)?.[1]
    expect(metadataUrl).toBe(`${app.url}/.well-known/oauth-protected-resource`)
    const resource = await fetch(metadataUrl!)
    expect(resource.status).toBe(200)
    expect(await resource.json()).toMatchObject({ resource: app.url, authorization_servers: [app.url] })
  }, TIMEOUT)

  it("the default login page at /interaction/:id has inputs username and password", async () => {
    const browser = new Browser(app.url, app.url)
    const registered = await (await browser.go(metadata.registration_endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [REDIRECT] })
    })).json() as { client_id: string }
    const start = await browser.go(`${metadata.authorization_endpoint}?${new URLSearchParams({
      response_type: "code",
      client_id: registered.client_id,
      redirect_uri: REDIRECT,
      scope: "openid",
      code_challenge: await S256("v".repeat(43)),
      code_challenge_method: "S256"
    })}`)
    expect(start.status).toBe(303)
    const location = start.headers.get("location")!
    expect(location.startsWith(`${app.url}/interaction/`)).toBe(true)
    const page = await browser.go(location)
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toMatch(/<input[^>]*\bname="username"/)
    expect(html).toMatch(/<input[^>]*\bname="password"/)
    expect(html).toMatch(/<label[^>]*\bfor="[^"]+"/)
  }, TIMEOUT)

  it("GET /api/me with alice's access token answers { sub: \"alice\" }", async () => {
    const accessToken = await accessTokenFor(app.url, app.url, metadata)
    const response = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ sub: "alice" })
  }, TIMEOUT)
})

describe("examples/nextjs behind a proxy: ISSUER is the public origin, not the address Next listens on", () => {
  const ISSUER = "https://auth.example.test"
  let app: BuiltExample
  let base: string

  beforeAll(async () => {
    app = await startBuiltExample({ issuer: ISSUER, databaseUrl: databaseUrl() })
    base = `http://127.0.0.1:${app.port}`
  }, TIMEOUT)
  afterAll(() => app?.close())

  it("names the public origin everywhere and accepts forms posted from it", async () => {
    const metadata = await (await fetch(`${base}/.well-known/openid-configuration`)).json() as Metadata
    expect(metadata.issuer).toBe(ISSUER)
    expect(metadata.token_endpoint).toBe(`${ISSUER}/oauth/token`)
    // the whole flow through the pages, whose Origin check compares with the public URL
    const accessToken = await accessTokenFor(base, ISSUER, metadata)
    const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } })
    expect(await me.json()).toEqual({ sub: "alice" })
  }, TIMEOUT)
})

describe("examples/nextjs with its own login page (GATEHOUSE_PAGES=own): Server Actions, posted as a browser without JavaScript does", () => {
  let app: BuiltExample
  let metadata: Metadata

  beforeAll(async () => {
    app = await startBuiltExample({ databaseUrl: databaseUrl(), env: { GATEHOUSE_PAGES: "own" } })
    metadata = await (await fetch(`${app.url}/.well-known/openid-configuration`)).json() as Metadata
  }, TIMEOUT)
  afterAll(() => app?.close())

  /** The page's form as a browser would send it: React's hidden action fields plus `fields`, multipart. */
  const submitAction = async (browser: Browser, pageUrl: string, html: string, fields: Record<string, string>, button?: [string, string]) => {
    const form = new FormData()
    for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)"(?: value="([^"]*)")?\/?>/g)) {
      form.append(name!.replace(/&quot;/g, "\""), (value ?? "").replace(/&quot;/g, "\"").replace(/&amp;/g, "&"))
    }
    for (const [k, v] of Object.entries(fields)) form.append(k, v)
    if (button) form.append(button[0], button[1])
    return browser.go(pageUrl, { method: "POST", headers: { origin: app.url }, body: form })
  }

  const start = async (browser: Browser) => {
    const registered = await (await browser.go(metadata.registration_endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: "Own pages test" })
    })).json() as { client_id: string }
    const response = await browser.go(`${metadata.authorization_endpoint}?${new URLSearchParams({
      response_type: "code",
      client_id: registered.client_id,
      redirect_uri: REDIRECT,
      scope: "openid profile",
      state: "st4te",
      code_challenge: await S256("v".repeat(43)),
      code_challenge_method: "S256"
    })}`)
    const location = response.headers.get("location")!
    expect(location.startsWith(`${app.url}/signin/`)).toBe(true)
    return location
  }

  it("signs in, consents and sends the client its code; a wrong password shows the form again", async () => {
    const browser = new Browser(app.url, app.url)
    const pageUrl = await start(browser)
    const login = await browser.go(pageUrl)
    expect(login.status).toBe(200)
    const loginHtml = await login.text()
    // (React separates adjacent text nodes with <!-- -->)
    expect(loginHtml.replace(/<!-- -->/g, "")).toContain("Sign in to continue to Own pages test")
    const wrong = await submitAction(browser, pageUrl, loginHtml, { username: "alice", password: "nope" })
    expect(wrong.status).toBe(303)
    expect(wrong.headers.get("location")).toMatch(/\/signin\/[^/?]+\?error=credentials$/)
    const signedIn = await submitAction(browser, pageUrl, loginHtml, { username: "alice", password: "wonderland" })
    expect(signedIn.status).toBe(303)
    expect(new URL(signedIn.headers.get("location")!, app.url).pathname).toBe(new URL(pageUrl).pathname)
    const consentHtml = await (await browser.go(pageUrl)).text()
    expect(consentHtml.replace(/<!-- -->/g, "")).toContain("Own pages test asks for access")
    const allowed = await submitAction(browser, pageUrl, consentHtml, {}, ["decision", "allow"])
    expect(allowed.status).toBe(303)
    const resume = allowed.headers.get("location")!
    expect(resume.startsWith(`${app.url}/oauth/authorize/resume?interaction=`)).toBe(true)
    const back = await browser.go(resume)
    expect(back.status).toBe(303)
    const callback = new URL(back.headers.get("location")!)
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT)
    expect(callback.searchParams.get("code")).toBeTruthy()
    expect(callback.searchParams.get("state")).toBe("st4te")
  }, TIMEOUT)

  it("deny: the client receives access_denied (RFC 6749 §4.1.2.1)", async () => {
    const browser = new Browser(app.url, app.url)
    const pageUrl = await start(browser)
    const loginHtml = await (await browser.go(pageUrl)).text()
    await submitAction(browser, pageUrl, loginHtml, { username: "alice", password: "wonderland" })
    const consentHtml = await (await browser.go(pageUrl)).text()
    const denied = await submitAction(browser, pageUrl, consentHtml, {}, ["decision", "deny"])
    const back = await browser.go(denied.headers.get("location")!)
    expect(new URL(back.headers.get("location")!).searchParams.get("error")).toBe("access_denied")
  }, TIMEOUT)
})

adapterConformance("next", async ({ prefix }) => {
  const app = await startBuiltExample({ basePath: prefix ?? "", databaseUrl: databaseUrl() })
  return {
    url: app.url,
    close: async () => {
      reportServerErrors(`basePath "${prefix ?? ""}"`, app)
      await app.close()
    }
  }
})
