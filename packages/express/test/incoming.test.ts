/**
 * The middleware's path without Fetch objects: a Gatehouse instance gets the Node request
 * through core's `IncomingRequest` (`handleIncoming`) whenever there is no body to stream,
 * and its text answers are written with one `writeHead` and one `end`. The header fields it
 * sees are the ones `toFetchRequest` would have put in a `Headers`; request limits
 * (RFC 6585 §5 header size, the body limit) still apply; streamed or host-parsed bodies keep
 * the Fetch path.
 */
import { createGatehouse, type IncomingRequest } from "@gatehouse/core"
import { memoryAccounts, MemoryStorage } from "@gatehouse/testkit"
import { once } from "node:events"
import { createServer, request as httpRequest, type Server } from "node:http"
import { afterEach, describe, expect, it } from "vitest"
import { gatehouseMiddleware, type NodeMiddleware, type NodeRequest, toIncomingRequest } from "../src/index.js"

const ISSUER = "https://as.example.com"
const SECRET = "svc-secret-0123456789"
const BASIC = `Basic ${btoa(`svc:${SECRET}`)}`
const FORM = { "content-type": "application/x-www-form-urlencoded", authorization: BASIC }

const servers: Array<Server> = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    s.close()
  }
})

const serve = async (middleware: NodeMiddleware, before?: (res: import("node:http").ServerResponse) => void) => {
  const server = createServer((req, res) => {
    before?.(res)
    middleware(req, res, () => {
      res.statusCode = 404
      res.end("host")
    })
  })
  servers.push(server)
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return (server.address() as { port: number }).port
}

const raw = (port: number, o: { method?: string; path: string; headers?: Record<string, string>; body?: string }) =>
  new Promise<{ status: number; headers: Record<string, string | Array<string> | undefined>; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method: o.method ?? "GET", path: o.path, headers: o.headers }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }))
    })
    req.on("error", reject)
    req.end(o.body)
  })

/** A Gatehouse whose two entry points count their calls. */
const counted = (options: { limits?: Record<string, number> } = {}) => {
  const gh = createGatehouse({
    issuer: ISSUER,
    storage: MemoryStorage.layer(),
    accounts: memoryAccounts([]),
    scopes: ["api"],
    clients: [{ client_id: "svc", client_secret: SECRET, grant_types: ["client_credentials"], redirect_uris: [], scope: "api" }],
    ...options
  })
  const calls = { fetch: 0, incoming: 0, requests: [] as Array<unknown> }
  const app = {
    ...gh,
    handler: (request: Request) => (calls.fetch++, gh.handler(request)),
    handleIncoming: (request: IncomingRequest) => (calls.incoming++, calls.requests.push(request), gh.handleIncoming(request))
  }
  return { gh, app, calls }
}

describe("toIncomingRequest: the Node request as core reads it", () => {
  const node = (method: string, headers: Record<string, string | Array<string>>) => ({ method, url: "/token", headers }) as unknown as NodeRequest
  const url = new URL(`${ISSUER}/token?x=1`)

  it("RFC 9110 §5.3 / §7.6.1: case-insensitive lookup, repeated fields joined, connection-specific fields hidden (as in Headers)", () => {
    const request = toIncomingRequest(
      node("POST", { "content-type": "application/x-www-form-urlencoded", "x-many": ["a", "b"], connection: "keep-alive", "keep-alive": "timeout=5", "content-length": "3" }),
      url,
      new TextEncoder().encode("a=b")
    )!
    expect(request.headers.get("Content-Type")).toBe("application/x-www-form-urlencoded")
    expect(request.headers.get("x-many")).toBe("a, b")
    expect(request.headers.get("connection")).toBeNull()
    expect(request.headers.get("keep-alive")).toBeNull()
    expect(request.headers.get("absent")).toBeNull()
    expect(new Map(request.headers)).toEqual(new Map([["content-type", "application/x-www-form-urlencoded"], ["x-many", "a, b"], ["content-length", "3"]]))
    expect([request.method, request.url, new TextDecoder().decode(request.bodyBytes)]).toEqual(["POST", url.href, "a=b"])
  })

  it("a GET or a request without content has an empty body; a body to stream or one a host parser consumed -> undefined (Fetch path)", async () => {
    const get = toIncomingRequest(node("get", { host: "x" }), url)!
    expect([get.method, get.bodyBytes?.byteLength, get.body]).toEqual(["GET", 0, null])
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(new Uint8Array(0))
    expect(toIncomingRequest(node("POST", {}), url)?.bodyBytes?.byteLength).toBe(0)
    expect(toIncomingRequest(node("POST", { "transfer-encoding": "chunked" }), url)).toBeUndefined()
    expect(toIncomingRequest(node("POST", { "content-length": "100000" }), url)).toBeUndefined()
    const consumed = { ...node("POST", {}), readableEnded: true, body: { a: "b" } } as unknown as NodeRequest
    expect(toIncomingRequest(consumed, url)).toBeUndefined()
  })
})

describe("the middleware hands Gatehouse no Fetch Request when there is no body to stream", () => {
  it("a token request (small form body) and discovery (GET) go through handleIncoming; the answers are the same", async () => {
    const { gh, app, calls } = counted()
    const port = await serve(gatehouseMiddleware(app))
    const ok = await raw(port, { method: "POST", path: "/token", headers: FORM, body: "grant_type=client_credentials&scope=api" })
    expect(ok.status).toBe(200)
    expect(JSON.parse(ok.body)).toMatchObject({ token_type: "Bearer", scope: "api" })
    const discovery = await raw(port, { path: "/.well-known/openid-configuration" })
    expect(JSON.parse(discovery.body)).toMatchObject({ issuer: ISSUER })
    expect(calls).toMatchObject({ fetch: 0, incoming: 2 })
    expect(calls.requests.some((r) => r instanceof Request)).toBe(false)
    await gh.dispose()
  })

  it("a chunked body is streamed through a Fetch Request (the body limit still applies: 413)", async () => {
    const { gh, app, calls } = counted()
    const port = await serve(gatehouseMiddleware(app))
    const ok = await raw(port, { method: "POST", path: "/token", headers: { ...FORM, "transfer-encoding": "chunked" }, body: "grant_type=client_credentials" })
    expect(ok.status).toBe(200)
    const big = await raw(port, { method: "POST", path: "/token", headers: { ...FORM, "transfer-encoding": "chunked" }, body: `grant_type=client_credentials&x=${"a".repeat(70 * 1024)}` })
    expect(big.status).toBe(413)
    expect(calls).toMatchObject({ fetch: 2, incoming: 0 })
    await gh.dispose()
  })

  it("RFC 6585 §5: an oversized header field is refused with 431 on this path too", async () => {
    const { gh, app, calls } = counted({ limits: { maxHeaderValueBytes: 1024 } })
    const port = await serve(gatehouseMiddleware(app))
    const res = await raw(port, { method: "POST", path: "/token", headers: { ...FORM, "x-big": "a".repeat(2048) }, body: "grant_type=client_credentials" })
    expect(res.status).toBe(431)
    expect(JSON.parse(res.body)).toMatchObject({ error: "invalid_request" })
    expect(calls.incoming).toBe(1)
    await gh.dispose()
  })

  it("RFC 6749 §5.2: a body over the configured limit is refused (413), though the adapter read it", async () => {
    const { gh, app } = counted({ limits: { maxBodyBytes: 64 } })
    const port = await serve(gatehouseMiddleware(app))
    const res = await raw(port, { method: "POST", path: "/token", headers: FORM, body: `grant_type=client_credentials&x=${"a".repeat(100)}` })
    expect(res.status).toBe(413)
    await gh.dispose()
  })

  it("a text answer: one writeHead with Content-Length; headers and Set-Cookies the host set before are kept", async () => {
    const { gh, app } = counted()
    const port = await serve(gatehouseMiddleware(app), (res) => {
      res.setHeader("x-host", "kept")
      res.setHeader("set-cookie", ["host=1"])
    })
    const bad = await raw(port, { method: "POST", path: "/token", headers: FORM, body: "grant_type=password" })
    expect(bad.status).toBe(400)
    expect(bad.headers["content-length"]).toBe(String(Buffer.byteLength(bad.body)))
    expect(bad.headers["transfer-encoding"]).toBeUndefined()
    expect(bad.headers["x-host"]).toBe("kept")
    expect(bad.headers["set-cookie"]).toEqual(["host=1"])
    expect(bad.headers["cache-control"]).toBe("no-store")
    expect(JSON.parse(bad.body)).toMatchObject({ error: "unsupported_grant_type" })
    await gh.dispose()
  })
})

describe("the client's address reaches core (RFC 6749 §10.10 per-address budgets by default)", () => {
  const make = (clientAddress?: () => undefined) =>
    createGatehouse({
      issuer: ISSUER,
      storage: MemoryStorage.layer(),
      accounts: memoryAccounts([]),
      scopes: ["api"],
      clients: [{ client_id: "svc", client_secret: SECRET, grant_types: ["client_credentials"], redirect_uris: [], scope: "api" }],
      rateLimit: { clientAuth: { max: 3, window: 300 }, ...(clientAddress ? { clientAddress } : {}) }
    })
  const guess = (port: number, clientId: string) =>
    raw(port, {
      method: "POST",
      path: "/token",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${btoa(`${clientId}:wrong-secret`)}` },
      body: "grant_type=client_credentials&scope=api"
    })

  it("failures under other client ids from this socket's address lock the address, on the IncomingRequest and the Fetch (chunked) path", async () => {
    const gh = make()
    const port = await serve(gatehouseMiddleware(gh))
    for (const id of ["ghost-1", "ghost-2", "ghost-3"]) expect((await guess(port, id)).status).toBe(401)
    // the right secret of another client, from the same address: refused unchecked
    const locked = await raw(port, { method: "POST", path: "/token", headers: FORM, body: "grant_type=client_credentials&scope=api" })
    expect([locked.status, JSON.parse(locked.body).error]).toEqual([429, "invalid_client"])
    expect(locked.headers["retry-after"]).toBeDefined()
    // a chunked body takes the Fetch path: the address is on that Request too
    const chunked = await raw(port, {
      method: "POST",
      path: "/token",
      headers: { ...FORM, "transfer-encoding": "chunked" },
      body: "grant_type=client_credentials&scope=api"
    })
    expect(chunked.status).toBe(429)
    await gh.dispose()
  })

  it("a host that says it knows no address (rateLimit.clientAddress) keeps per-client budgets only", async () => {
    const gh = make(() => undefined)
    const port = await serve(gatehouseMiddleware(gh))
    for (const id of ["ghost-1", "ghost-2", "ghost-3"]) expect((await guess(port, id)).status).toBe(401)
    expect((await raw(port, { method: "POST", path: "/token", headers: FORM, body: "grant_type=client_credentials&scope=api" })).status).toBe(200)
    await gh.dispose()
  })
})
