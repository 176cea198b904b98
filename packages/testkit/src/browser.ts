/**
 * `@gatehouse/testkit/browser`: end-to-end tests of an app that embeds Gatehouse, in a real
 * headless Chromium (Debian's `/usr/bin/chromium`, driven by playwright-core).
 *
 * - `launchChromium()` starts the browser;
 * - `startRelyingParty({ issuer })` is the client: a tiny web app on its own loopback port
 *   that registers itself (RFC 7591), sends the browser to the authorization endpoint
 *   (code + PKCE S256 + state + nonce), and on its redirect URI checks `state` and `iss`
 *   (RFC 9207), exchanges the code server-side and calls the protected API with the access
 *   token, showing all of it on its page;
 * - `runBrowserFlow(...)` drives the AS's pages as a person would (typing into `username` and
 *   `password`, clicking "Sign in", then "Allow" or "Deny"), screenshotting every page;
 * - `browserFlowSuite(...)` is the vitest suite every example runs with these.
 *
 * Kept out of the main entry so that playwright-core is only needed by the tests that use it.
 */
import { EventEmitter, once } from "node:events"
import { existsSync, mkdirSync } from "node:fs"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

export type { Browser, BrowserContext, Page } from "playwright-core"

/** Where Chromium is: `CHROMIUM_PATH`, else Debian's package (`apt-get install chromium`). */
export const chromiumPath = (): string => process.env["CHROMIUM_PATH"] || "/usr/bin/chromium"

/** The flags the project runs Chromium with (no sandbox: CI runs as root). */
export const CHROMIUM_ARGS: ReadonlyArray<string> = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/**
 * Whether the browser tests can run here. Without Chromium they are skipped on a developer's
 * machine, but in CI (`CI=true`) a missing browser fails the run instead of passing it silently.
 */
export const chromiumAvailable = (): boolean => {
  if (existsSync(chromiumPath())) return true
  if (process.env["CI"]) throw new Error(`Chromium not found at ${chromiumPath()}: install Debian's "chromium" package (or set CHROMIUM_PATH)`)
  console.warn(`[@gatehouse/testkit/browser] Chromium not found at ${chromiumPath()}: browser tests skipped (apt-get install chromium)`)
  return false
}

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: chromiumPath(), headless: true, args: [...CHROMIUM_ARGS] })

// ---- the relying party -------------------------------------------------------------------

/** What the client's redirect URI received, and what it made of it. */
export type CallbackResult =
  | {
    readonly kind: "tokens"
    /** RFC 9207 `iss` of the authorization response */
    readonly iss: string | null
    readonly tokens: {
      readonly access_token: string
      readonly token_type: string
      readonly expires_in?: number
      readonly id_token?: string
      readonly refresh_token?: string
      readonly scope?: string
    }
    /** the protected API's answer to the access token, as the client got it */
    readonly api: { readonly status: number; readonly body: unknown }
  }
  | {
    readonly kind: "error"
    readonly iss: string | null
    /** RFC 6749 §4.1.2.1 `error`, e.g. `access_denied` */
    readonly error: string
    readonly errorDescription: string | null
  }

export interface RelyingParty {
  /** the client's origin (its home page) */
  readonly url: string
  readonly redirectUri: string
  readonly clientId: string
  /** every callback, in order */
  readonly results: ReadonlyArray<CallbackResult>
  /** resolves with the next callback the client handles */
  nextCallback(): Promise<CallbackResult>
  close(): Promise<void>
}

export interface RelyingPartyOptions {
  /** the authorization server's issuer; discovery at `<issuer>/.well-known/openid-configuration` */
  readonly issuer: string
  /** the protected API the client calls with its access token; default `<issuer>/api/me` */
  readonly apiUrl?: string | undefined
  /** default "openid profile email" */
  readonly scope?: string | undefined
  readonly clientName?: string | undefined
}

interface Pending {
  readonly verifier: string
  readonly nonce: string
}

const random = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")
const s256 = async (verifier: string) =>
  Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))).toString("base64url")
const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!)

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
  `<title>${escapeHtml(title)}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}` +
  `pre{background:#f2f4f7;padding:1rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}a.button{display:inline-block;padding:.6rem 1.2rem;background:#1f4fd1;color:#fff;border-radius:6px;text-decoration:none}</style></head>` +
  `<body><main><p>Example client (relying party)</p>${body}</main></body></html>`

const send = (res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", ...headers })
  res.end(html)
}

const json = async (response: Response): Promise<Record<string, unknown>> => {
  const text = await response.text()
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new Error(`${response.url}: HTTP ${response.status}, not JSON: ${text.slice(0, 300)}`)
  }
}

/**
 * Start the client on a free loopback port and register it at the AS (open dynamic
 * registration, RFC 7591) with its callback as the redirect URI.
 */
export const startRelyingParty = async (o: RelyingPartyOptions): Promise<RelyingParty> => {
  const discovery = await json(await fetch(`${o.issuer}/.well-known/openid-configuration`))
  if (discovery["issuer"] !== o.issuer) throw new Error(`discovery names issuer ${String(discovery["issuer"])}, expected ${o.issuer}`)
  const endpoint = (name: string) => {
    const value = discovery[name]
    if (typeof value !== "string") throw new Error(`discovery has no ${name}`)
    return value
  }
  const pending = new Map<string, Pending>()
  const results: Array<CallbackResult> = []
  const events = new EventEmitter()
  let base = ""
  let client: { clientId: string; clientSecret: string } | undefined
  const scope = o.scope ?? "openid profile email"
  const apiUrl = o.apiUrl ?? `${o.issuer}/api/me`

  const finish = (res: ServerResponse, result: CallbackResult) => {
    results.push(result)
    events.emit("callback", result)
    if (result.kind === "error") {
      send(res, 200, page("Authorization failed", `<h1 data-testid="result">Authorization failed</h1>` +
        `<p>The authorization server answered <code data-testid="error">${escapeHtml(result.error)}</code>` +
        `${result.errorDescription ? `: ${escapeHtml(result.errorDescription)}` : ""}</p><p><a href="/">Back</a></p>`))
    } else {
      const shown = { ...result.tokens, access_token: `${result.tokens.access_token.slice(0, 24)}…`, id_token: result.tokens.id_token ? `${result.tokens.id_token.slice(0, 24)}…` : undefined }
      send(res, 200, page("Signed in", `<h1 data-testid="result">Signed in</h1>` +
        `<h2>GET ${escapeHtml(apiUrl)} → ${result.api.status}</h2><pre data-testid="api">${escapeHtml(JSON.stringify(result.api.body, null, 2))}</pre>` +
        `<h2>Token response</h2><pre>${escapeHtml(JSON.stringify(shown, null, 2))}</pre>`))
    }
  }

  const callback = async (url: URL, res: ServerResponse) => {
    const state = url.searchParams.get("state") ?? ""
    const flow = pending.get(state)
    // RFC 6749 §10.12: a response without our state is not ours
    if (flow === undefined) return send(res, 400, page("Bad callback", "<h1>Unknown state</h1>"))
    pending.delete(state)
    const iss = url.searchParams.get("iss")
    // RFC 9207 §2.4: the issuer in the response must be the one we sent the user to
    if (iss !== o.issuer) throw new Error(`authorization response iss ${iss}, expected ${o.issuer}`)
    const error = url.searchParams.get("error")
    if (error !== null) return finish(res, { kind: "error", iss, error, errorDescription: url.searchParams.get("error_description") })
    const code = url.searchParams.get("code")
    if (code === null) throw new Error("authorization response without code or error")
    // RFC 6749 §4.1.3 + RFC 7636 §4.5, client_secret_basic (§2.3.1)
    const form = (s: string) => new URLSearchParams([["", s]]).toString().slice(1)
    const tokenResponse = await fetch(endpoint("token_endpoint"), {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${form(client!.clientId)}:${form(client!.clientSecret)}`).toString("base64")}`
      },
      body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: `${base}/callback`, code_verifier: flow.verifier })
    })
    const tokens = await json(tokenResponse)
    if (tokenResponse.status !== 200 || typeof tokens["access_token"] !== "string") {
      throw new Error(`token endpoint: HTTP ${tokenResponse.status} ${JSON.stringify(tokens)}`)
    }
    if (typeof tokens["id_token"] === "string") {
      const claims = JSON.parse(Buffer.from(tokens["id_token"].split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>
      // OIDC Core §3.1.3.7: nonce, aud, iss
      if (claims["nonce"] !== flow.nonce || claims["aud"] !== client!.clientId || claims["iss"] !== o.issuer) {
        throw new Error(`ID token claims do not match the request: ${JSON.stringify(claims)}`)
      }
    }
    const api = await fetch(apiUrl, { headers: { authorization: `Bearer ${tokens["access_token"]}` } })
    const apiText = await api.text()
    let body: unknown = apiText
    try {
      body = JSON.parse(apiText)
    } catch {
      // not JSON: shown as text
    }
    finish(res, { kind: "tokens", iss, tokens: tokens as Extract<CallbackResult, { kind: "tokens" }>["tokens"], api: { status: api.status, body } })
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", base)
    if (url.pathname === "/") {
      return send(res, 200, page("Example client", `<h1>Example client</h1><p>Registered at ${escapeHtml(o.issuer)} as <code>${escapeHtml(client?.clientId ?? "")}</code>.</p>` +
        `<p><a class="button" href="/login">Sign in with Gatehouse</a></p>`))
    }
    if (url.pathname === "/login") {
      const state = random()
      const verifier = random()
      const nonce = random()
      pending.set(state, { verifier, nonce })
      const authorize = new URL(endpoint("authorization_endpoint"))
      authorize.search = new URLSearchParams({
        response_type: "code",
        client_id: client!.clientId,
        redirect_uri: `${base}/callback`,
        scope,
        state,
        nonce,
        code_challenge: await s256(verifier),
        code_challenge_method: "S256"
      }).toString()
      res.writeHead(303, { location: authorize.toString(), "cache-control": "no-store" })
      return res.end()
    }
    if (url.pathname === "/callback") return callback(url, res)
    return send(res, 404, page("Not found", "<h1>Not found</h1>"))
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      events.emit("failure", error)
      if (!res.headersSent) send(res, 500, page("Client error", `<h1 data-testid="result">Client error</h1><pre>${escapeHtml(String(error))}</pre>`))
    })
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const registration = await fetch(endpoint("registration_endpoint"), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: o.clientName ?? "Browser test client",
      redirect_uris: [`${base}/callback`],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic"
    })
  })
  const registered = await json(registration)
  if (registration.status !== 201 || typeof registered["client_id"] !== "string" || typeof registered["client_secret"] !== "string") {
    server.close()
    throw new Error(`registration failed: HTTP ${registration.status} ${JSON.stringify(registered)}`)
  }
  client = { clientId: registered["client_id"], clientSecret: registered["client_secret"] }

  return {
    url: base,
    redirectUri: `${base}/callback`,
    clientId: client.clientId,
    results,
    nextCallback: () =>
      new Promise<CallbackResult>((resolve, reject) => {
        const onCallback = (result: CallbackResult) => {
          events.off("failure", onFailure)
          resolve(result)
        }
        const onFailure = (error: unknown) => {
          events.off("callback", onCallback)
          reject(error instanceof Error ? error : new Error(String(error)))
        }
        events.once("callback", onCallback)
        events.once("failure", onFailure)
      }),
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

// ---- screenshots and the flow ------------------------------------------------------------

export interface Screenshots {
  readonly dir: string
  /** save a full-page PNG of `page` as `<dir>/<nn>-<name>.png`; returns its path */
  take(page: Page, name: string): Promise<string>
  readonly taken: ReadonlyArray<string>
}

/** Screenshots for one flow, numbered in order, under `dir` (created). */
export const screenshots = (dir: string, prefix = ""): Screenshots => {
  mkdirSync(dir, { recursive: true })
  const taken: Array<string> = []
  return {
    dir,
    taken,
    take: async (page, name) => {
      const path = join(dir, `${prefix}${String(taken.length + 1).padStart(2, "0")}-${name}.png`)
      await page.screenshot({ path, fullPage: true })
      taken.push(path)
      return path
    }
  }
}

export interface BrowserFlowOptions {
  readonly page: Page
  readonly rp: RelyingParty
  readonly shots: Screenshots
  /** the consent decision */
  readonly decision: "allow" | "deny"
  /** default alice / wonderland */
  readonly username?: string | undefined
  readonly password?: string | undefined
  /** how long to wait for each page, ms; default 20 s */
  readonly timeout?: number | undefined
}

/**
 * One authorization as a person does it: the client's home page, "Sign in with Gatehouse",
 * the AS's login page (type the username and password, click "Sign in"), its consent page
 * ("Allow" or "Deny"), back on the client's redirect URI. Every page is screenshotted.
 * Resolves with what the client received.
 */
export const runBrowserFlow = async (o: BrowserFlowOptions): Promise<CallbackResult> => {
  try {
    return await flowSteps(o)
  } catch (error) {
    // what the browser shows when a step fails: a screenshot and the page's text in the error
    const shot = await o.shots.take(o.page, "failure").catch(() => "(no screenshot)")
    const text = await o.page.locator("body").innerText({ timeout: 2000 }).catch(() => "(no text)")
    throw new Error(`browser flow failed at ${o.page.url()} (screenshot ${shot}):\n${text.slice(0, 2000)}\n${String(error)}`)
  }
}

const flowSteps = async (o: BrowserFlowOptions): Promise<CallbackResult> => {
  const { page, rp, shots } = o
  const timeout = o.timeout ?? 20_000
  page.setDefaultTimeout(timeout)
  await page.goto(rp.url)
  await shots.take(page, "client-home")
  await page.getByRole("link", { name: "Sign in with Gatehouse" }).click()
  const username = page.locator(`input[name="username"]`)
  await username.waitFor()
  await shots.take(page, "login")
  await username.fill(o.username ?? "alice")
  await page.locator(`input[name="password"]`).fill(o.password ?? "wonderland")
  await shots.take(page, "login-filled")
  await page.getByRole("button", { name: "Sign in" }).click()
  const decide = page.getByRole("button", { name: o.decision === "allow" ? "Allow" : "Deny" })
  await decide.waitFor()
  await shots.take(page, "consent")
  const received = rp.nextCallback()
  await decide.click()
  await page.waitForURL((url) => url.href.startsWith(rp.redirectUri))
  await page.getByTestId("result").waitFor()
  const result = await received
  await shots.take(page, result.kind === "tokens" ? "client-signed-in" : `client-${result.error}`)
  return result
}

// ---- the suite every example runs --------------------------------------------------------

/** An app under test: its issuer (the app's origin) and a way to stop it. */
export interface RunningApp {
  readonly url: string
  close(): Promise<void>
}

export interface BrowserSuiteOptions<App extends RunningApp> {
  /** names the describe block */
  readonly name: string
  /** where the screenshots go: `test-results/<example>/` */
  readonly artifacts: string
  /** start the app (a fresh database) */
  readonly start: () => Promise<App>
  /** the protected API route; default "/api/me" */
  readonly apiPath?: string | undefined
  /** more checks on the protected resource the client got with alice's access token */
  readonly resource?: ((body: Record<string, unknown>, context: { readonly app: App; readonly rp: RelyingParty }) => void | Promise<void>) | undefined
  /** for starting the app (a build may be needed); default 5 min */
  readonly startTimeout?: number | undefined
}

/**
 * The browser flows every example must pass: sign in as alice and allow — the client gets
 * tokens and the app's protected API answers with alice for the access token (and with RFC
 * 6750 challenges without one or with a bad one) — and sign in and deny — the client gets
 * `access_denied`. Each flow has its own client and browser profile; every page is
 * screenshotted to `artifacts`.
 */
export const browserFlowSuite = <App extends RunningApp>(o: BrowserSuiteOptions<App>): void => {
  const apiPath = o.apiPath ?? "/api/me"
  describe.skipIf(!chromiumAvailable())(`${o.name} in headless Chromium`, () => {
    let app: App | undefined
    let browser: Browser | undefined
    const clients: Array<RelyingParty> = []

    beforeAll(async () => {
      ;[app, browser] = await Promise.all([o.start(), launchChromium()])
    }, o.startTimeout ?? 5 * 60_000)
    afterAll(async () => {
      await browser?.close()
      await Promise.all(clients.map((c) => c.close()))
      await app?.close()
    })

    const flow = async (decision: "allow" | "deny") => {
      const rp = await startRelyingParty({ issuer: app!.url, apiUrl: `${app!.url}${apiPath}`, clientName: `${o.name} browser test (${decision})` })
      clients.push(rp)
      const context = await browser!.newContext()
      try {
        const page = await context.newPage()
        const result = await runBrowserFlow({ page, rp, decision, shots: screenshots(o.artifacts, `${decision}-`) })
        return { result, rp }
      } finally {
        await context.close()
      }
    }

    it(`sign in as alice, allow: the client gets tokens and GET ${apiPath} answers with alice`, { timeout: 120_000 }, async () => {
      const { result, rp } = await flow("allow")
      expect(result.kind).toBe("tokens")
      if (result.kind !== "tokens") return
      // RFC 9207: the response names the issuer
      expect(result.iss).toBe(app!.url)
      expect(result.tokens.token_type).toBe("Bearer")
      expect(result.tokens.id_token).toBeDefined()
      // the client's own call (server-side) with its access token
      expect(result.api.status).toBe(200)
      expect(result.api.body).toMatchObject({ sub: "alice" })
      await o.resource?.(result.api.body as Record<string, unknown>, { app: app!, rp })

      // and the test's: the resource with the token; RFC 6750 §3 challenges without one or with a bad one
      const api = `${app!.url}${apiPath}`
      const me = await fetch(api, { headers: { authorization: `Bearer ${result.tokens.access_token}` } })
      expect(me.status).toBe(200)
      expect(await me.json()).toMatchObject({ sub: "alice" })
      const none = await fetch(api)
      expect(none.status).toBe(401)
      const bare = none.headers.get("www-authenticate") ?? ""
      expect(bare).toMatch(/^Bearer /)
      expect(bare).not.toContain("error=")
      const forged = `${result.tokens.access_token.slice(0, -4)}${result.tokens.access_token.endsWith("AAAA") ? "BBBB" : "AAAA"}`
      const bad = await fetch(api, { headers: { authorization: `Bearer ${forged}` } })
      expect(bad.status).toBe(401)
      expect(bad.headers.get("www-authenticate")).toMatch(/^Bearer .*error="invalid_token"/)
    })

    it("sign in as alice, deny: the client receives access_denied (RFC 6749 §4.1.2.1)", { timeout: 120_000 }, async () => {
      const { result } = await flow("deny")
      expect(result).toMatchObject({ kind: "error", error: "access_denied", iss: app!.url })
    })
  })
}
