/**
 * A real Gatehouse (MemoryStorage, TestClock) served over node:http on a free loopback port,
 * so the resource server fetches metadata, JWKS and introspection over real HTTP. Requests
 * are counted per path (how many JWKS fetches a rotation costs). One clock for both sides:
 * `setTime`/`advance` move the AS's TestClock and the `now` the resource server is given.
 */
import { createGatehouse, type GatehouseInstance, type KeyRecord } from "@gatehouse/core"
import { makeMemoryDatabase, MemoryStorage } from "@gatehouse/testkit"
import { TestClock } from "effect/testing"
import { once } from "node:events"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** 2026-03-01T00:00:00Z */
export const T0 = Date.UTC(2026, 2, 1)
export const API = "https://api.example.com"
export const REPORTS = "https://reports.example.com"
export const OPAQUE_API = "https://opaque.example.com"
export const REDIRECT_URI = "https://app.example.com/callback"

export const CLIENTS = {
  svc: { client_id: "svc", client_secret: "svc-secret-0123456789", grant_types: ["client_credentials"], redirect_uris: [], scope: "api:read api:write" },
  web: { client_id: "web", client_secret: "web-secret-0123456789", grant_types: ["authorization_code"], redirect_uris: [REDIRECT_URI] }
}

/** Signing keys of the first AS, seeded into the next ones (RSA generation is slow). */
let signingKeys: ReadonlyArray<KeyRecord> | undefined

const toRequest = async (req: IncomingMessage, origin: string): Promise<Request> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD"
  return new Request(new URL(req.url ?? "/", origin), { method: req.method, headers, body: hasBody ? Buffer.concat(chunks) : undefined })
}

const write = async (response: Response, res: ServerResponse) => {
  res.statusCode = response.status
  response.headers.forEach((value, name) => res.setHeader(name, value))
  res.end(Buffer.from(await response.arrayBuffer()))
}

export interface TestAs {
  readonly gh: GatehouseInstance
  readonly issuer: string
  readonly server: Server
  /** requests per pathname */
  readonly hits: Map<string, number>
  hitsOf(pathname: string): number
  /** the shared clock, ms */
  now(): number
  setTime(ms: number): Promise<void>
  advance(seconds: number): Promise<void>
  close(): Promise<void>
}

export interface StartAsOptions {
  readonly issuer?: (port: number) => string
  readonly extra?: Partial<Parameters<typeof createGatehouse>[0]>
}

/** Start an AS on a free port; its issuer is http://localhost:<port> unless told otherwise. */
export const startAs = async (o: StartAsOptions = {}): Promise<TestAs> => {
  let handler: (request: Request) => Promise<Response> = async () => new Response("starting", { status: 503 })
  const hits = new Map<string, number>()
  let origin = ""
  const server = createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://x").pathname
    hits.set(pathname, (hits.get(pathname) ?? 0) + 1)
    toRequest(req, origin).then(handler).then((response) => write(response, res)).catch((error: unknown) => {
      res.statusCode = 500
      res.end(String(error))
    })
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const port = (server.address() as AddressInfo).port
  origin = `http://127.0.0.1:${port}`
  const issuer = o.issuer?.(port) ?? `http://localhost:${port}`
  const db = makeMemoryDatabase()
  for (const key of signingKeys ?? []) db.keys.set(key.kid, key)
  const gh = createGatehouse({
    issuer,
    scopes: ["api:read", "api:write", "admin"],
    resources: [{ uri: API }, { uri: REPORTS }, { uri: OPAQUE_API, format: "opaque" }],
    clients: Object.values(CLIENTS),
    storage: MemoryStorage.layer(db),
    accounts: { claims: (id) => (id === "alice" ? { name: "Alice Liddell" } : undefined) },
    overrides: TestClock.layer(),
    ...o.extra
  })
  let now = T0
  await gh.run(TestClock.setTime(now))
  await gh.ready()
  signingKeys ??= [...db.keys.values()]
  handler = gh.handler
  return {
    gh,
    issuer,
    server,
    hits,
    hitsOf: (pathname) => hits.get(pathname) ?? 0,
    now: () => now,
    setTime: async (ms) => {
      now = ms
      await gh.run(TestClock.setTime(ms))
    },
    advance: async (seconds) => {
      now += seconds * 1000
      await gh.run(TestClock.setTime(now))
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await gh.dispose()
    }
  }
}

/** RFC 6749 §2.3.1 + Appendix B. */
export const basic = (clientId: string, secret: string) => {
  const form = (s: string) => new URLSearchParams([["", s]]).toString().slice(1)
  return `Basic ${btoa(`${form(clientId)}:${form(secret)}`)}`
}

/** A client_credentials token from the AS over HTTP (RFC 6749 §4.4, RFC 8707 `resource`). */
export const clientCredentialsToken = async (as: TestAs, o: { scope?: string; resource?: string } = {}) => {
  const body = new URLSearchParams({ grant_type: "client_credentials" })
  if (o.scope) body.set("scope", o.scope)
  if (o.resource) body.set("resource", o.resource)
  const response = await fetch(`${as.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(CLIENTS.svc.client_id, CLIENTS.svc.client_secret) },
    body
  })
  const json = await response.json() as { access_token: string; error?: string; error_description?: string }
  if (response.status !== 200) throw new Error(`token: ${response.status} ${json.error}: ${json.error_description}`)
  return json.access_token
}

const S256 = async (verifier: string) =>
  Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))).toString("base64url")

/**
 * A user's (alice's) tokens through the authorization code flow: /authorize over HTTP, the
 * interaction completed through the host API, resume with the browser's cookie, the code
 * exchanged at /token.
 */
export const userTokens = async (as: TestAs, o: { scope?: string; resource?: string } = {}) => {
  const verifier = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")
  const q = new URLSearchParams({
    response_type: "code",
    client_id: CLIENTS.web.client_id,
    redirect_uri: REDIRECT_URI,
    scope: o.scope ?? "openid api:read",
    state: "s",
    nonce: "n",
    code_challenge: await S256(verifier),
    code_challenge_method: "S256"
  })
  if (o.resource) q.set("resource", o.resource)
  const start = await fetch(`${as.issuer}/authorize?${q}`, { redirect: "manual" })
  const interaction = start.headers.get("location")
  if (start.status !== 303 || !interaction) throw new Error(`authorize: ${start.status} ${await start.text()}`)
  const cookie = start.headers.getSetCookie().map((c) => c.split(";")[0]!).join("; ")
  const id = decodeURIComponent(new URL(interaction).pathname.split("/").pop()!)
  const { redirectTo } = await as.gh.interactions.complete(id, { accountId: "alice" })
  const resume = await fetch(redirectTo, { headers: { cookie }, redirect: "manual" })
  const code = new URL(resume.headers.get("location") ?? "http://x/").searchParams.get("code")
  if (!code) throw new Error(`resume: ${resume.status} ${resume.headers.get("location")}`)
  const body = new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: REDIRECT_URI })
  if (o.resource) body.set("resource", o.resource)
  const response = await fetch(`${as.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(CLIENTS.web.client_id, CLIENTS.web.client_secret) },
    body
  })
  const json = await response.json() as { access_token: string; id_token?: string; error?: string }
  if (response.status !== 200) throw new Error(`token: ${response.status} ${json.error}`)
  return json
}

/** A request to the protected resource carrying `authorization` (if given). */
export const apiRequest = (authorization?: string, url = `${API}/me`) =>
  new Request(url, authorization === undefined ? {} : { headers: { authorization } })

/** The WWW-Authenticate challenge's auth-params (RFC 9110 §11.2), unquoted. */
export const challengeParams = (response: Response) => {
  const header = response.headers.get("www-authenticate")
  if (header === null) return undefined
  const scheme = /^(\S+)/.exec(header)![1]!
  const params: Record<string, string> = {}
  for (const m of header.slice(scheme.length).matchAll(/\s*([a-z_]+)="([^"]*)"\s*,?/gi)) params[m[1]!] = m[2]!
  return { scheme, params }
}

/** Wait until `server` listens on a free port; its URL. */
export const listen = async (server: Server): Promise<string> => {
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
