/**
 * The adapter conformance suite: the same flows, over real HTTP, through any framework
 * that embeds Gatehouse (Express, Fastify, Next.js, ...). Each adapter's test file runs it:
 *
 *   adapterConformance("fastify", async ({ prefix }) => { ...build and listen...; return { url, close } })
 *
 * It is run twice: with Gatehouse's endpoints at the app's root and under the prefix
 * "/oauth" (the config's `basePath`). Either way the issuer is the app's origin, so
 * discovery is at its root `/.well-known/` paths (RFC 8414 §3, OIDC Discovery §4).
 *
 * What `start({ prefix })` must build (the quickstart's shape, see examples/quickstart):
 *
 * - Gatehouse with `issuer` = the returned `url` (the app's origin, no trailing slash),
 *   `basePath` = `prefix` (absent: ""), `registration: { open: true }`, the accounts of
 *   `adapterSuiteAccounts()` (alice / wonderland), and any storage (`adapterSuiteStorage()`,
 *   or a temp SQLite);
 * - the default pages, `createInteractionPages(gatehouse)` from `@gatehouse/ui`, at
 *   `/interaction/:id` (the config's default `interactionUrl`);
 * - the host's own body parsers (urlencoded and JSON), registered app-wide BEFORE Gatehouse,
 *   and `POST /host/echo` answering 200 `{ "body": <what the host's parser made of the body> }`;
 * - a host session (express-session, @fastify/session, or the framework's equivalent)
 *   app-wide, with its cookie named `HOST_SESSION_COOKIE` ("host.sid"), re-sent on every
 *   response once the browser has a session (rolling), Gatehouse's responses included;
 *   `GET /host/session` counts visits in it and answers 200 `{ "visits": n }`;
 * - `GET /api/me` protected by `@gatehouse/resource` (`createResourceServer({ issuer, audience: issuer })`,
 *   audience = issuer being Gatehouse's default; its `fetch` option may reach Gatehouse
 *   in-process: `(input, init) => gatehouse.handler(new Request(input, init))`):
 *   200 `{ "sub": ... }` for a valid access token, the RFC 6750 challenge otherwise;
 * - `GET /` the host's home page (200, HTML);
 * - the host's not-found handler: status 404 and a body containing `HOST_NOT_FOUND_MARKER`.
 */
import type { Layer } from "effect"
import type { Accounts } from "@gatehouse/core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DemoUser, memoryAccounts } from "./accounts.js"
import { makeMemoryDatabase, type MemoryDatabase, MemoryStorage, type StoragePorts } from "./memory.js"

export interface AdapterStartOptions {
  /** where Gatehouse's endpoints are mounted (the config's `basePath`); absent: the root */
  readonly prefix?: string | undefined
}

export interface AdapterApp {
  /** the issuer, which is the app's origin: `http://localhost:<port>` */
  readonly url: string
  close(): Promise<void>
}

/** The one demo user every app under test knows. */
export const ADAPTER_SUITE_USER: DemoUser = {
  id: "alice",
  username: "alice",
  password: "wonderland",
  claims: { name: "Alice Liddell", email: "alice@example.com", email_verified: true }
}

export const adapterSuiteAccounts = (): Layer.Layer<Accounts> => memoryAccounts([ADAPTER_SUITE_USER])

let keysTemplate: MemoryDatabase["keys"] | undefined

/**
 * In-memory storage for an app under test; every call is a new, empty database holding the
 * same signing keys (generated once per test file: RSA key generation is slow).
 */
export const adapterSuiteStorage = (): Layer.Layer<StoragePorts> => {
  const db = makeMemoryDatabase()
  if (keysTemplate !== undefined) for (const [k, v] of keysTemplate) db.keys.set(k, v)
  else keysTemplate = db.keys
  return MemoryStorage.layer(db)
}

/** Name of the host session's cookie. */
export const HOST_SESSION_COOKIE = "host.sid"

/** Text the host's own 404 response contains, so the suite can tell it from Gatehouse's. */
export const HOST_NOT_FOUND_MARKER = "host-not-found"

/** The prefix the suite's second run mounts Gatehouse's endpoints under. */
export const ADAPTER_SUITE_PREFIX = "/oauth"

/** The redirect URI the suite registers its clients with. */
export const ADAPTER_SUITE_REDIRECT_URI = "https://client.example.com/callback"
const REDIRECT_URI = ADAPTER_SUITE_REDIRECT_URI
const TIMEOUT = 60_000

interface StoredCookie {
  readonly name: string
  readonly value: string
  readonly path: string
}

/** A browser's cookie handling, as much as these flows need: RFC 6265 §5.1.4 path match, Max-Age=0 deletes. */
class CookieJar {
  private readonly cookies = new Map<string, StoredCookie>()
  header(url: URL): string | undefined {
    const matches = (path: string) =>
      url.pathname === path || url.pathname.startsWith(path.endsWith("/") ? path : `${path}/`)
    const pairs = [...this.cookies.values()]
      .filter((c) => matches(c.path))
      // RFC 6265 §5.4: longer paths first
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
    return pairs.length > 0 ? pairs.join("; ") : undefined
  }
  store(response: Response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";").map((s) => s.trim())
      const eq = pair!.indexOf("=")
      if (eq <= 0) continue
      const name = pair!.slice(0, eq)
      const attr = (key: string) =>
        attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1)
      const path = attr("path") ?? "/"
      const key = `${name} ${path}`
      if (attr("max-age") === "0") this.cookies.delete(key)
      else this.cookies.set(key, { name, value: pair!.slice(eq + 1), path })
    }
  }
  has(name: string) {
    return [...this.cookies.values()].some((c) => c.name === name)
  }
}

/** Cookie names of a response's Set-Cookie lines, in order. */
const cookieNames = (response: Response) => response.headers.getSetCookie().map((line) => line.slice(0, line.indexOf("=")))

const decodeHtml = (s: string) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|amp|quot|lt|gt|apos);/gi, (_, e: string) => {
    const lower = e.toLowerCase()
    if (lower.startsWith("#x")) return String.fromCodePoint(parseInt(lower.slice(2), 16))
    if (lower.startsWith("#")) return String.fromCodePoint(Number(lower.slice(1)))
    return ({ amp: "&", quot: "\"", lt: "<", gt: ">", apos: "'" } as Record<string, string>)[lower]!
  })

/** The page's (first) POST form: its action and its hidden csrf field (any attribute order). */
const readForm = (html: string) => {
  const form = /<form\b[^>]*>/i.exec(html)?.[0]
  const action = form === undefined ? undefined : /\baction="([^"]*)"/i.exec(form)?.[1]
  const csrfInput = /<input\b[^>]*\bname="csrf"[^>]*>/i.exec(html)?.[0]
  const csrf = csrfInput === undefined ? undefined : /\bvalue="([^"]*)"/i.exec(csrfInput)?.[1]
  return { action: action === undefined ? undefined : decodeHtml(action), csrf: csrf === undefined ? undefined : decodeHtml(csrf) }
}

/**
 * A browser as far as the default pages need one, over real HTTP: follows nothing by
 * itself (every 303 is looked at), keeps cookies by path, sends `Origin` on POSTs.
 */
export class FormBrowser {
  readonly jar = new CookieJar()
  constructor(readonly origin: string) {}
  async go(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url, this.origin)
    const headers = new Headers(init.headers)
    const cookie = this.jar.header(target)
    if (cookie !== undefined) headers.set("cookie", cookie)
    if ((init.method ?? "GET").toUpperCase() === "POST" && !headers.has("origin")) headers.set("origin", this.origin)
    const response = await fetch(target, { ...init, headers, redirect: "manual" })
    this.jar.store(response)
    return response
  }
  /** Submit the page's form with its csrf field and `fields`. */
  async submit(pageUrl: string, html: string, fields: Record<string, string>): Promise<Response> {
    const { action, csrf } = readForm(html)
    if (action === undefined || csrf === undefined) throw new Error(`no form with a csrf field on ${pageUrl}:\n${html.slice(0, 2000)}`)
    return this.go(new URL(action, pageUrl), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, ...fields })
    })
  }
}

const base64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")

/** RFC 7636 §4.1, §4.2: a verifier and its S256 challenge. */
const pkce = async () => {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)))
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))))
  return { verifier, challenge }
}

export interface AuthorizeThroughPagesOptions {
  readonly authorizationEndpoint: string
  readonly clientId: string
  /** default "https://client.example.com/callback" */
  readonly redirectUri?: string | undefined
  /** default "openid profile email offline_access" */
  readonly scope?: string | undefined
  /** the button pressed on the consent page; default "allow" */
  readonly decision?: "allow" | "deny" | undefined
  /** default `ADAPTER_SUITE_USER` */
  readonly user?: { readonly username: string; readonly password: string } | undefined
}

/**
 * The browser's part of RFC 6749 §4.1.1 - §4.1.2 with PKCE (RFC 7636) through the default
 * login and consent pages: signs in, presses Allow (or Deny), and returns the redirect back
 * to the client, the PKCE verifier and state, and every response on the way.
 */
export const authorizeThroughPages = async (browser: FormBrowser, options: AuthorizeThroughPagesOptions) => {
  const redirectUri = options.redirectUri ?? REDIRECT_URI
  const user = options.user ?? ADAPTER_SUITE_USER
  const { verifier, challenge } = await pkce()
  const state = base64url(crypto.getRandomValues(new Uint8Array(12)))
  const query = new URLSearchParams({
    response_type: "code",
    client_id: options.clientId,
    redirect_uri: redirectUri,
    scope: options.scope ?? "openid profile email offline_access",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256"
  })
  const responses: Array<{ url: string; response: Response }> = []
  let url = `${options.authorizationEndpoint}?${query}`
  let response = await browser.go(url)
  responses.push({ url, response })
  for (let step = 0; step < 10; step++) {
    if (response.status === 303 || response.status === 302) {
      const location = new URL(response.headers.get("location")!, url).toString()
      if (location.startsWith(redirectUri)) return { callback: new URL(location), verifier, state, responses }
      url = location
      response = await browser.go(url)
      responses.push({ url, response })
      continue
    }
    const html = await response.text()
    if (response.status !== 200) throw new Error(`unexpected ${response.status} at ${url}: ${html.slice(0, 500)}`)
    response = html.includes(`name="password"`)
      ? await browser.submit(url, html, { username: user.username, password: user.password })
      : await browser.submit(url, html, { action: options.decision ?? "allow" })
    responses.push({ url, response })
  }
  throw new Error("the authorization request did not come back to the client")
}

/** RFC 6749 §2.3.1 client_secret_basic. */
export const basicAuthorization = (clientId: string, clientSecret: string) =>
  `Basic ${btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`)}`

interface Metadata {
  readonly issuer: string
  readonly authorization_endpoint: string
  readonly token_endpoint: string
  readonly userinfo_endpoint: string
  readonly jwks_uri: string
  readonly registration_endpoint: string
  readonly introspection_endpoint: string
  readonly revocation_endpoint: string
}

interface Client {
  readonly clientId: string
  readonly clientSecret: string
}

interface Tokens {
  readonly access_token: string
  readonly refresh_token: string
  readonly id_token: string
  readonly token_type: string
  readonly scope?: string
}

const basic = (c: Client) => basicAuthorization(c.clientId, c.clientSecret)

const json = async <A = Record<string, unknown>>(response: Response): Promise<A> => {
  const text = await response.text()
  try {
    return JSON.parse(text) as A
  } catch {
    throw new Error(`expected JSON, got ${response.status}: ${text.slice(0, 500)}`)
  }
}

/**
 * Register the adapter's conformance tests: one `describe` with Gatehouse at the app's
 * root and one with its endpoints under `ADAPTER_SUITE_PREFIX`.
 */
export const adapterConformance = (
  name: string,
  start: (options: AdapterStartOptions) => Promise<AdapterApp>
): void => {
  for (const prefix of [undefined, ADAPTER_SUITE_PREFIX]) {
    describe(`${name} adapter conformance: ${prefix === undefined ? "endpoints at the root" : `endpoints under ${prefix}`}`, () => {
      let app: AdapterApp
      let origin: string
      let metadata: Metadata
      const base = prefix ?? ""

      beforeAll(async () => {
        app = await start(prefix === undefined ? {} : { prefix })
        origin = app.url
        const response = await fetch(`${origin}/.well-known/openid-configuration`)
        metadata = await json<Metadata>(response)
      }, TIMEOUT)

      afterAll(async () => {
        await app?.close()
      }, TIMEOUT)

      const register = async (): Promise<Client> => {
        const response = await fetch(metadata.registration_endpoint, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            redirect_uris: [REDIRECT_URI],
            grant_types: ["authorization_code", "refresh_token"],
            client_name: `${name} conformance`
          })
        })
        const body = await json(response)
        expect(response.status, JSON.stringify(body)).toBe(201)
        return { clientId: body["client_id"] as string, clientSecret: body["client_secret"] as string }
      }

      const authorize = (browser: FormBrowser, client: Client, decision: "allow" | "deny" = "allow") =>
        authorizeThroughPages(browser, { authorizationEndpoint: metadata.authorization_endpoint, clientId: client.clientId, decision })

      const redeem = (client: Client, code: string, verifier: string) =>
        fetch(metadata.token_endpoint, {
          method: "POST",
          headers: { authorization: basic(client), "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: verifier })
        })

      const tokensFor = async (client: Client): Promise<Tokens> => {
        const { callback, verifier } = await authorize(new FormBrowser(origin), client)
        const response = await redeem(client, callback.searchParams.get("code")!, verifier)
        const body = await json<Tokens>(response)
        expect(response.status, JSON.stringify(body)).toBe(200)
        return body
      }

      const postForm = (url: string, client: Client, params: Record<string, string>) =>
        fetch(url, {
          method: "POST",
          headers: { authorization: basic(client), "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(params)
        })

      it("RFC 8414 §3 / OIDC Discovery §4: metadata at the origin's /.well-known/ paths, the issuer being the origin", async () => {
        for (const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]) {
          const response = await fetch(`${origin}${path}`)
          const body = await json<Metadata>(response)
          expect(response.status, path).toBe(200)
          expect(response.headers.get("content-type")).toMatch(/^application\/json/)
          // RFC 8414 §3.3: the issuer in the document is the one the client asked about
          expect(body.issuer).toBe(origin)
          for (const endpoint of ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "registration_endpoint", "introspection_endpoint", "revocation_endpoint"] as const) {
            expect(body[endpoint], endpoint).toMatch(new RegExp(`^${origin.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}${base}/[a-z]`))
          }
        }
        const jwks = await fetch(metadata.jwks_uri)
        expect(jwks.status).toBe(200)
        expect((await json<{ keys: Array<unknown> }>(jwks)).keys.length).toBeGreaterThan(0)
      }, TIMEOUT)

      if (prefix !== undefined) {
        it("the prefix holds the endpoints only: no discovery document under it, the root paths are not Gatehouse's", async () => {
          const underPrefix = await fetch(`${origin}${prefix}/.well-known/openid-configuration`)
          expect(underPrefix.status).toBe(404)
          expect(await underPrefix.text()).toContain(HOST_NOT_FOUND_MARKER)
          const rootToken = await fetch(`${origin}/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials" }) })
          expect(rootToken.status).toBe(404)
          expect(await rootToken.text()).toContain(HOST_NOT_FOUND_MARKER)
        }, TIMEOUT)
      }

      it("RFC 7591 §3: dynamic registration with a JSON body behind the host's JSON parser", async () => {
        const client = await register()
        expect(client.clientId).toBeTruthy()
        expect(client.clientSecret).toBeTruthy()
      }, TIMEOUT)

      it("RFC 6749 §4.1 + RFC 7636: authorization code with PKCE through the default login and consent pages", async () => {
        const client = await register()
        const browser = new FormBrowser(origin)
        const { callback, verifier, state, responses } = await authorize(browser, client)
        expect(callback.searchParams.get("state")).toBe(state)
        // RFC 9207 §2: the issuer identifies itself in the authorization response
        expect(callback.searchParams.get("iss")).toBe(origin)
        const code = callback.searchParams.get("code")!
        expect(code).toBeTruthy()
        // the pages were served at the origin's /interaction/, the endpoints under the prefix
        const pages = responses.filter((r) => new URL(r.url).pathname.startsWith("/interaction/"))
        expect(pages.length).toBeGreaterThanOrEqual(2)
        expect(responses.some((r) => new URL(r.url).pathname === `${base}/authorize/resume`)).toBe(true)
        const response = await redeem(client, code, verifier)
        const tokens = await json<Tokens>(response)
        expect(response.status, JSON.stringify(tokens)).toBe(200)
        expect(response.headers.get("cache-control")).toBe("no-store")
        expect(tokens.token_type).toMatch(/^bearer$/i)
        expect(typeof tokens.access_token).toBe("string")
        expect(typeof tokens.refresh_token).toBe("string")
        expect(typeof tokens.id_token).toBe("string")
        // RFC 6749 §4.1.2: the code is single-use
        const again = await redeem(client, code, verifier)
        expect(again.status).toBe(400)
        expect((await json(again))["error"]).toBe("invalid_grant")
      }, TIMEOUT)

      it("consent denied: the client receives access_denied (RFC 6749 §4.1.2.1)", async () => {
        const client = await register()
        const { callback, state } = await authorize(new FormBrowser(origin), client, "deny")
        expect(callback.searchParams.get("error")).toBe("access_denied")
        expect(callback.searchParams.get("state")).toBe(state)
        expect(callback.searchParams.get("code")).toBeNull()
      }, TIMEOUT)

      it("a login form without its csrf cookie is refused (403), and no code is issued", async () => {
        const client = await register()
        const browser = new FormBrowser(origin)
        const { challenge } = await pkce()
        const start = await browser.go(`${metadata.authorization_endpoint}?${new URLSearchParams({
          response_type: "code",
          client_id: client.clientId,
          redirect_uri: REDIRECT_URI,
          scope: "openid",
          state: "s",
          code_challenge: challenge,
          code_challenge_method: "S256"
        })}`)
        expect(start.status).toBe(303)
        const pageUrl = new URL(start.headers.get("location")!, origin).toString()
        const html = await (await browser.go(pageUrl)).text()
        const { action, csrf } = readForm(html)
        const forged = await fetch(new URL(action!, pageUrl), {
          method: "POST",
          redirect: "manual",
          headers: { "content-type": "application/x-www-form-urlencoded", origin },
          body: new URLSearchParams({ csrf: csrf!, username: "alice", password: "wonderland" })
        })
        expect(forged.status).toBe(403)
      }, TIMEOUT)

      it("OIDC Core §5.3: userinfo with the access token", async () => {
        const tokens = await tokensFor(await register())
        const response = await fetch(metadata.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } })
        const body = await json(response)
        expect(response.status, JSON.stringify(body)).toBe(200)
        expect(body["sub"]).toBe(ADAPTER_SUITE_USER.id)
        expect(body["email"]).toBe(ADAPTER_SUITE_USER.claims["email"])
        const bad = await fetch(metadata.userinfo_endpoint, { headers: { authorization: "Bearer not-a-token" } })
        expect(bad.status).toBe(401)
        expect(bad.headers.get("www-authenticate")).toMatch(/^Bearer .*error="invalid_token"/)
      }, TIMEOUT)

      it("GET /api/me (RFC 6750): 200 naming the caller for a valid token; 401 with a Bearer challenge otherwise", async () => {
        const tokens = await tokensFor(await register())
        const ok = await fetch(`${origin}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
        const me = await json(ok)
        expect(ok.status, JSON.stringify(me)).toBe(200)
        expect(me["sub"]).toBe(ADAPTER_SUITE_USER.id)
        // RFC 6750 §3.1: a bad token gets error="invalid_token"
        const bad = await fetch(`${origin}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token.slice(0, -4)}AAAA` } })
        expect(bad.status).toBe(401)
        expect(bad.headers.get("www-authenticate")).toMatch(/^Bearer\b/)
        expect(bad.headers.get("www-authenticate")).toContain(`error="invalid_token"`)
        const garbage = await fetch(`${origin}/api/me`, { headers: { authorization: "Bearer garbage" } })
        expect(garbage.status).toBe(401)
        expect(garbage.headers.get("www-authenticate")).toContain(`error="invalid_token"`)
        // RFC 6750 §3.1: no credentials, no error code
        const none = await fetch(`${origin}/api/me`)
        expect(none.status).toBe(401)
        expect(none.headers.get("www-authenticate")).toMatch(/^Bearer\b/)
        expect(none.headers.get("www-authenticate")).not.toContain("error=")
      }, TIMEOUT)

      it("RFC 6749 §6 + RFC 9700 §4.14.2: refresh rotation; replaying the old refresh token revokes the family", async () => {
        const client = await register()
        const tokens = await tokensFor(client)
        const refreshed = await postForm(metadata.token_endpoint, client, { grant_type: "refresh_token", refresh_token: tokens.refresh_token })
        const next = await json<Tokens>(refreshed)
        expect(refreshed.status, JSON.stringify(next)).toBe(200)
        expect(next.refresh_token).toBeTruthy()
        expect(next.refresh_token).not.toBe(tokens.refresh_token)
        expect(next.access_token).not.toBe(tokens.access_token)
        const replay = await postForm(metadata.token_endpoint, client, { grant_type: "refresh_token", refresh_token: tokens.refresh_token })
        expect(replay.status).toBe(400)
        expect((await json(replay))["error"]).toBe("invalid_grant")
        const afterReplay = await postForm(metadata.token_endpoint, client, { grant_type: "refresh_token", refresh_token: next.refresh_token })
        expect(afterReplay.status).toBe(400)
        expect((await json(afterReplay))["error"]).toBe("invalid_grant")
      }, TIMEOUT)

      it("RFC 7662 introspection and RFC 7009 revocation", async () => {
        const client = await register()
        const tokens = await tokensFor(client)
        const active = await postForm(metadata.introspection_endpoint, client, { token: tokens.access_token })
        const info = await json(active)
        expect(active.status, JSON.stringify(info)).toBe(200)
        expect(info["active"]).toBe(true)
        expect(info["sub"]).toBe(ADAPTER_SUITE_USER.id)
        expect(info["client_id"]).toBe(client.clientId)
        const refreshInfo = await json(await postForm(metadata.introspection_endpoint, client, { token: tokens.refresh_token }))
        expect(refreshInfo["active"]).toBe(true)
        // RFC 7009 §2.1: revoking the refresh token ends its grant, access tokens included
        const revoked = await postForm(metadata.revocation_endpoint, client, { token: tokens.refresh_token, token_type_hint: "refresh_token" })
        expect(revoked.status).toBe(200)
        for (const token of [tokens.refresh_token, tokens.access_token]) {
          const after = await json(await postForm(metadata.introspection_endpoint, client, { token }))
          expect(after["active"]).toBe(false)
        }
        const refresh = await postForm(metadata.token_endpoint, client, { grant_type: "refresh_token", refresh_token: tokens.refresh_token })
        expect(refresh.status).toBe(400)
      }, TIMEOUT)

      it("the host's body parsers, registered before Gatehouse, still parse the host's own routes", async () => {
        const form = await fetch(`${origin}/host/echo`, { method: "POST", body: new URLSearchParams({ a: "1", b: "two words" }) })
        expect(form.status).toBe(200)
        expect(await json(form)).toEqual({ body: { a: "1", b: "two words" } })
        const doc = { nested: { list: [1, 2, 3] }, text: "Café" }
        const jsonBody = await fetch(`${origin}/host/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(doc) })
        expect(jsonBody.status).toBe(200)
        expect(await json(jsonBody)).toEqual({ body: doc })
        // and Gatehouse reads its own bodies, duplicates included: RFC 6749 §3.2 "MUST NOT be included more than once"
        const client = await register()
        const duplicate = await fetch(metadata.token_endpoint, {
          method: "POST",
          headers: { authorization: basic(client), "content-type": "application/x-www-form-urlencoded" },
          body: "grant_type=refresh_token&refresh_token=a&refresh_token=b"
        })
        expect(duplicate.status).toBe(400)
        expect((await json(duplicate))["error"]).toBe("invalid_request")
      }, TIMEOUT)

      it("paths Gatehouse does not serve fall through to the host: its home page and its own 404", async () => {
        const home = await fetch(`${origin}/`)
        expect(home.status).toBe(200)
        expect(home.headers.get("content-type")).toMatch(/^text\/html/)
        for (const path of ["/nowhere", `${base}/nowhere`, "/interaction", "/.well-known/unknown-document", `${base}/authorize-not`]) {
          const response = await fetch(`${origin}${path}`)
          expect(response.status, path).toBe(404)
          expect(await response.text(), path).toContain(HOST_NOT_FOUND_MARKER)
        }
        // a Gatehouse path with a method it does not take is Gatehouse's answer, not the host's
        const wrongMethod = await fetch(metadata.token_endpoint)
        expect(wrongMethod.status).toBe(405)
        expect(wrongMethod.headers.get("allow")).toContain("POST")
      }, TIMEOUT)

      it("every Set-Cookie survives: Gatehouse's (several on one response) next to the host session's, which lives on", async () => {
        const client = await register()
        const browser = new FormBrowser(origin)
        const first = await browser.go("/host/session")
        expect(first.status).toBe(200)
        expect(await json(first)).toEqual({ visits: 1 })
        expect(browser.jar.has(HOST_SESSION_COOKIE)).toBe(true)
        const { responses } = await authorize(browser, client)
        // /authorize: Gatehouse's browser-binding cookie and the host's rolling session cookie
        const start = responses[0]!.response
        expect(cookieNames(start)).toEqual(expect.arrayContaining(["gatehouse.interaction", HOST_SESSION_COOKIE]))
        // the resume endpoint clears the binding cookie and opens the AS session: two cookies of Gatehouse's, plus the host's
        const resume = responses.find((r) => new URL(r.url).pathname === `${base}/authorize/resume`)!.response
        expect(cookieNames(resume)).toEqual(expect.arrayContaining(["gatehouse.interaction", "gatehouse.session", HOST_SESSION_COOKIE]))
        const cleared = resume.headers.getSetCookie().find((c) => c.startsWith("gatehouse.interaction="))!
        expect(cleared).toMatch(/Max-Age=0/i)
        // Gatehouse's cookies are scoped to where its endpoints are
        expect(resume.headers.getSetCookie().find((c) => c.startsWith("gatehouse.session="))).toMatch(new RegExp(`Path=${base || "/"}(;|$)`))
        // the host's session went through the whole flow untouched
        const again = await browser.go("/host/session")
        expect(await json(again)).toEqual({ visits: 2 })
      }, TIMEOUT)
    })
  }
}
