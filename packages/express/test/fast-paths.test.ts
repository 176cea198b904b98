/**
 * The translation's fast paths, through a real node:http server: a small body read before the
 * handler runs and handed over as bytes (the `Request` body API still behaves as Fetch says),
 * the request signal made only on demand, single-chunk and text answers written in one write
 * with their `Content-Length`, streamed answers still streamed.
 */
import { createGatehouse } from "@gatehouse/core"
import { memoryAccounts, MemoryStorage } from "@gatehouse/testkit"
import { once } from "node:events"
import { createServer, request as httpRequest, type Server } from "node:http"
import { afterEach, describe, expect, it } from "vitest"
import { type FetchApp, fetchMiddleware, gatehouseMiddleware, readSmallBody } from "../src/index.js"

const servers: Array<Server> = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    s.close()
  }
})

/** A node:http server running `middleware`, with a host fallback ("host") and a record of `next(error)`. */
const serve = async (middleware: ReturnType<typeof fetchMiddleware>) => {
  const hostErrors: Array<unknown> = []
  const server = createServer((req, res) =>
    middleware(req, res, (error?: unknown) => {
      if (error !== undefined) hostErrors.push(error)
      res.statusCode = error === undefined ? 200 : 500
      res.end("host")
    }))
  servers.push(server)
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const { port } = server.address() as { port: number }
  return { base: `http://127.0.0.1:${port}`, port, hostErrors }
}

/** Raw response: status, headers as Node parsed them, body text. */
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

const form = "grant_type=client_credentials&scope=a%20b"

describe("small request bodies are handed over as bytes (Fetch body semantics kept)", () => {
  it("text() once, then bodyUsed and a TypeError on a second read; Content-Length as sent", async () => {
    const seen: Array<unknown> = []
    const app: FetchApp = {
      handles: () => true,
      handler: async (request) => {
        seen.push(request.bodyUsed, request.headers.get("content-length"), request instanceof Request)
        seen.push(await request.text(), request.bodyUsed)
        seen.push(await request.text().then(() => "read twice", (e: unknown) => (e as Error).name))
        return new Response("ok")
      }
    }
    const { port } = await serve(fetchMiddleware(app, { origin: "https://as.example.com" }))
    const res = await raw(port, { method: "POST", path: "/t", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form })
    expect(res.status).toBe(200)
    expect(seen).toEqual([false, String(form.length), true, form, true, "TypeError"])
  })

  it("the body stream, formData(), json(), arrayBuffer() and clone() answer the same bytes", async () => {
    const results: Array<unknown> = []
    const app: FetchApp = {
      handles: () => true,
      handler: async (request) => {
        const copy = request.clone()
        const reader = request.body!.getReader()
        const chunks: Array<Uint8Array> = []
        for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value)
        results.push(new TextDecoder().decode(Buffer.concat(chunks)), request.bodyUsed)
        const data = await copy.clone().formData()
        results.push(data.get("grant_type"), data.get("scope"))
        results.push(new TextDecoder().decode(await copy.arrayBuffer()))
        return new Response("ok")
      }
    }
    const { port } = await serve(fetchMiddleware(app, { origin: "https://as.example.com" }))
    await raw(port, { method: "POST", path: "/t", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form })
    expect(results).toEqual([form, true, "client_credentials", "a b", form])

    const json: Array<unknown> = []
    const { port: p2 } = await serve(fetchMiddleware({ handles: () => true, handler: async (r) => (json.push(await r.json()), new Response("ok")) }, { origin: "https://as.example.com" }))
    await raw(p2, { method: "POST", path: "/j", headers: { "content-type": "application/json" }, body: `{"a":[1,"ü"]}` })
    expect(json).toEqual([{ a: [1, "ü"] }])
  })

  it("readSmallBody takes declared lengths up to 64 KiB only; chunked and larger bodies stream", async () => {
    const decisions: Array<string> = []
    const server = createServer((req, res) => {
      decisions.push(readSmallBody(req) === undefined ? "stream" : "bytes")
      req.resume()
      req.on("end", () => res.end())
    })
    servers.push(server)
    server.listen(0, "127.0.0.1")
    await once(server, "listening")
    const { port } = server.address() as { port: number }
    await raw(port, { method: "POST", path: "/", body: "x".repeat(64 * 1024) })
    await raw(port, { method: "POST", path: "/", body: "x".repeat(64 * 1024 + 1) })
    await raw(port, { method: "POST", path: "/", headers: { "transfer-encoding": "chunked" }, body: "abc" })
    await raw(port, { method: "GET", path: "/" })
    expect(decisions).toEqual(["bytes", "stream", "stream", "stream"])
  })

  it("a client that goes away before the end of a small body: no handler call, nothing thrown at the host", async () => {
    let called = 0
    const { port, base, hostErrors } = await serve(fetchMiddleware({ handles: (p) => p === "/t", handler: async () => (called++, new Response("ok")) }, { origin: "https://as.example.com" }))
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: "127.0.0.1", port, method: "POST", path: "/t", headers: { "content-length": "1000", "content-type": "application/x-www-form-urlencoded" } })
      req.on("error", () => resolve())
      req.on("close", () => resolve())
      req.write("grant_type=", () => req.destroy())
    })
    expect(await (await fetch(`${base}/other`)).text()).toBe("host")
    expect(called).toBe(0)
    expect(hostErrors).toEqual([])
  })
})

describe("answers: one write with Content-Length when the body is one chunk", () => {
  it("a Gatehouse token answer (text, never a stream) and an error answer: Content-Length, no chunked framing", async () => {
    const gh = createGatehouse({
      issuer: "https://as.example.com",
      storage: MemoryStorage.layer(),
      accounts: memoryAccounts([]),
      scopes: ["api"],
      clients: [{ client_id: "svc", client_secret: "svc-secret-0123456789", grant_types: ["client_credentials"], redirect_uris: [], scope: "api" }]
    })
    const { port } = await serve(gatehouseMiddleware(gh))
    const headers = { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${btoa("svc:svc-secret-0123456789")}` }
    const ok = await raw(port, { method: "POST", path: "/token", headers, body: "grant_type=client_credentials&scope=api" })
    expect(ok.status).toBe(200)
    expect(ok.headers["transfer-encoding"]).toBeUndefined()
    expect(ok.headers["content-length"]).toBe(String(Buffer.byteLength(ok.body)))
    expect(ok.headers["cache-control"]).toBe("no-store")
    expect(JSON.parse(ok.body)).toMatchObject({ token_type: "Bearer", scope: "api" })
    const bad = await raw(port, { method: "POST", path: "/token", headers, body: "grant_type=password" })
    expect(bad.status).toBe(400)
    expect(bad.headers["content-length"]).toBe(String(Buffer.byteLength(bad.body)))
    expect(JSON.parse(bad.body)).toMatchObject({ error: "unsupported_grant_type" })
    const head = await raw(port, { method: "HEAD", path: "/.well-known/openid-configuration" })
    expect([head.status, head.body]).toEqual([405, ""])
    const discovery = await raw(port, { path: "/.well-known/openid-configuration" })
    expect(discovery.headers["content-length"]).toBe(String(Buffer.byteLength(discovery.body)))
    expect(JSON.parse(discovery.body)).toMatchObject({ issuer: "https://as.example.com" })
    await gh.dispose()
  })

  it("a plain Response with a string body: Content-Length; a multi-chunk stream: chunked, every chunk", async () => {
    const app: FetchApp = {
      handles: () => true,
      handler: async (request) => {
        if (new URL(request.url).pathname === "/one") return new Response("héllo", { headers: { "content-type": "text/plain" } })
        const parts = ["a", "bb", "ccc"]
        return new Response(new ReadableStream<Uint8Array>({
          async pull(controller) {
            const next = parts.shift()
            if (next === undefined) controller.close()
            else {
              await new Promise((r) => setTimeout(r, 5))
              controller.enqueue(new TextEncoder().encode(next))
            }
          }
        }))
      }
    }
    const { port } = await serve(fetchMiddleware(app, { origin: "https://as.example.com" }))
    const one = await raw(port, { path: "/one" })
    expect([one.body, one.headers["content-length"], one.headers["transfer-encoding"]]).toEqual(["héllo", String(Buffer.byteLength("héllo")), undefined])
    const many = await raw(port, { path: "/many" })
    expect([many.body, many.headers["transfer-encoding"]]).toEqual(["abbccc", "chunked"])
  })
})
