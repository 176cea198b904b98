/**
 * Running the quickstart as real processes (`node server.mjs` on the built packages) and
 * driving the browser part of the authorization code flow over HTTP, for the storage tests:
 * several processes on one database, and crash recovery.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"

const SERVER = fileURLToPath(new URL("../server.mjs", import.meta.url))

export const freePort = async (): Promise<number> => {
  const server = createServer()
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

export interface Proc {
  readonly child: ChildProcess
  /** where this process listens (may differ from the issuer's origin) */
  readonly base: string
  readonly output: () => string
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** Start `node server.mjs` and resolve once it says it is listening. */
export const startProcess = async (env: Record<string, string>): Promise<Proc> => {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  child.stdout!.on("data", (d) => (out += d))
  child.stderr!.on("data", (d) => (out += d))
  const port = await new Promise<number>((resolve, reject) => {
    const onData = () => {
      const m = /running at \S+ \(port (\d+)\)/.exec(out)
      if (m) resolve(Number(m[1]))
    }
    child.stdout!.on("data", onData)
    child.once("exit", (code, signal) => reject(new Error(`quickstart exited (${code ?? signal}) before listening:\n${out}`)))
  })
  const exited = once(child, "exit")
  return {
    child,
    base: `http://127.0.0.1:${port}`,
    output: () => out,
    kill: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal)
        await exited
      }
    }
  }
}

/** Follows nothing by itself; keeps cookies; rewrites the issuer's origin to the process it talks to. */
export class HttpBrowser {
  readonly cookies = new Map<string, string>()
  constructor(public base: string, readonly issuer: string) {}
  url(u: string) {
    return u.startsWith(this.issuer) ? this.base + u.slice(this.issuer.length) : new URL(u, this.base).toString()
  }
  async go(u: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers)
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "))
    const response = await fetch(this.url(u), { ...init, headers, redirect: "manual" })
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";").map((s) => s.trim())
      const eq = pair!.indexOf("=")
      if (attrs.some((a) => a.toLowerCase() === "max-age=0")) this.cookies.delete(pair!.slice(0, eq))
      else this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1))
    }
    return response
  }
  async submit(pageUrl: string, html: string, fields: Record<string, string>) {
    const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1]
    const csrf = /<input type="hidden" name="csrf" value="([^"]+)">/.exec(html)?.[1]
    if (!action || !csrf) throw new Error(`no form on ${pageUrl}`)
    return this.go(new URL(action.replace(/&amp;/g, "&"), this.url(pageUrl)).toString(), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: new URL(this.issuer).origin },
      body: new URLSearchParams({ csrf, ...fields })
    })
  }
}

const S256 = async (verifier: string) =>
  Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))).toString("base64url")

export interface RegisteredClient {
  readonly clientId: string
  readonly clientSecret: string
  readonly redirectUri: string
}

export const register = async (base: string): Promise<RegisteredClient> => {
  const redirectUri = "https://client.example.com/cb"
  const res = await fetch(`${base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [redirectUri], grant_types: ["authorization_code", "refresh_token"], client_name: "storage test" })
  })
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`)
  const body = await res.json() as { client_id: string; client_secret: string }
  return { clientId: body.client_id, clientSecret: body.client_secret, redirectUri }
}

export const basic = (c: RegisteredClient) => `Basic ${Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString("base64")}`

/**
 * One authorization request; signs in as alice and allows on the first call, then rides
 * the AS session and remembered consent. Returns the code and its verifier.
 */
export const authorize = async (browser: HttpBrowser, client: RegisteredClient) => {
  const verifier = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")
  const q = new URLSearchParams({
    response_type: "code",
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    scope: "openid offline_access",
    state: "s",
    code_challenge: await S256(verifier),
    code_challenge_method: "S256"
  })
  let res = await browser.go(`/authorize?${q}`)
  for (let step = 0; step < 6; step++) {
    const location = res.headers.get("location")
    if (!location) throw new Error(`unexpected ${res.status} ${await res.text()}`)
    if (location.startsWith(client.redirectUri)) {
      const code = new URL(location).searchParams.get("code")
      if (!code) throw new Error(`no code: ${location}`)
      return { code, verifier }
    }
    const page = await browser.go(location)
    if (page.status === 303) {
      res = page
      continue
    }
    const html = await page.text()
    res = html.includes(`name="password"`)
      ? await browser.submit(location, html, { username: "alice", password: "wonderland" })
      : await browser.submit(location, html, { action: "allow" })
  }
  throw new Error("authorization did not finish")
}

export const redeem = (base: string, client: RegisteredClient, code: string, verifier: string) =>
  fetch(`${base}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client) },
    body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: client.redirectUri })
  })

export const introspect = async (base: string, client: RegisteredClient, token: string) => {
  const res = await fetch(`${base}/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client) },
    body: new URLSearchParams({ token })
  })
  if (res.status !== 200) throw new Error(`introspection failed: ${res.status} ${await res.text()}`)
  return await res.json() as { active: boolean; sub?: string }
}
