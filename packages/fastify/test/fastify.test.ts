/**
 * The Fastify plugins in a real Fastify 5 app on a real socket: what the Fetch handler sees
 * (URL, method, headers, the body as streamed), what the client gets back (status, headers,
 * every Set-Cookie, the host's own hooks), the host's parsers and Gatehouse's side by side,
 * not-found passthrough, prefix rules, origins, failures and client aborts.
 */
import fastifyFormbody from "@fastify/formbody"
import { createGatehouse } from "@gatehouse/core"
import { adapterSuiteAccounts, adapterSuiteStorage } from "@gatehouse/testkit"
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify"
import { request as httpRequest } from "node:http"
import type { AddressInfo } from "node:net"
import { createGunzip, gzipSync } from "node:zlib"
import { afterEach, describe, expect, it } from "vitest"
import { type FetchApp, fetchPlugin, gatehousePlugin } from "../src/index.js"

const apps: Array<FastifyInstance> = []
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close()
})

const ORIGIN = "https://as.example.com"

/** A Fastify app with the host's own parsers, routes and not-found handler; `mount` adds ours. */
const hostApp = async (mount: (app: FastifyInstance) => unknown, options: FastifyServerOptions = {}) => {
  const app = Fastify(options)
  apps.push(app)
  await app.register(fastifyFormbody)
  await mount(app)
  app.get("/", async () => "host home")
  app.post("/host-form", async (request) => ({ body: request.body }))
  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send("host 404"))
  await app.listen({ port: 0, host: "127.0.0.1" })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

interface Seen {
  method: string
  url: string
  headers: Record<string, string>
  body: string
}

/** A Fetch app that records what it was given and answers with it as JSON. */
const echo = (paths: (pathname: string) => boolean = (p) => p.startsWith("/echo")) => {
  const seen: Array<Seen> = []
  const app: FetchApp = {
    handles: paths,
    handler: async (request) => {
      const entry = { method: request.method, url: request.url, headers: Object.fromEntries(request.headers), body: await request.text() }
      seen.push(entry)
      const headers = new Headers({ "content-type": "application/json", "x-echo": "1" })
      headers.append("set-cookie", "a=1; Path=/; HttpOnly")
      headers.append("set-cookie", "b=2; Path=/echo; Secure")
      headers.append("set-cookie", "c=3, with comma; Path=/")
      return new Response(JSON.stringify(entry), { status: 201, headers })
    }
  }
  return { app, seen }
}

/** A request with exact headers (fetch forbids setting Host). */
const rawRequest = (url: string, headers: Record<string, string>) =>
  new Promise<number>((resolve, reject) => {
    const u = new URL(url)
    const req = httpRequest({ host: u.hostname, port: u.port, path: url.slice(u.origin.length), headers }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode!))
    })
    req.on("error", reject)
    req.end()
  })

describe("fetchPlugin: translation", () => {
  it("paths under the prefix the app does not handle, and every other path, are the host's", async () => {
    const { app, seen } = echo((p) => p.startsWith("/echo/yes"))
    const base = await hostApp((a) => a.register(fetchPlugin, { app, prefix: "/echo", origin: ORIGIN }))
    expect(await (await fetch(`${base}/`)).text()).toBe("host home")
    const no = await fetch(`${base}/echo/no`, { method: "POST", body: new URLSearchParams({ x: "1" }) })
    expect(no.status).toBe(404)
    expect(await no.text()).toBe("host 404")
    expect((await fetch(`${base}/elsewhere`)).status).toBe(404)
    expect(seen).toHaveLength(0)
    expect((await fetch(`${base}/echo/yes`)).status).toBe(201)
    expect(seen).toHaveLength(1)
  })

  it("the body reaches the handler as sent, unparsed, though the host parses the same type (before and after registration)", async () => {
    const { app, seen } = echo()
    const base = await hostApp(async (a) => {
      await a.register(fetchPlugin, { app, prefix: "/echo", origin: ORIGIN })
      // a host parser registered after Gatehouse's context: still not Gatehouse's
      a.addContentTypeParser("application/jwt", { parseAs: "string" }, (_request, body, done) => done(null, { jwt: body }))
      a.post("/host-jwt", async (request) => ({ body: request.body }))
    })
    const body = "grant_type=client_credentials&scope=a&scope=b&note=caf%C3%A9+%26+more"
    const response = await fetch(`${base}/echo?x=1`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body })
    expect(response.status).toBe(201)
    expect(seen[0]!.body).toBe(body)
    expect(seen[0]!.url).toBe(`${ORIGIN}/echo?x=1`)
    expect(seen[0]!.headers["content-length"]).toBe(String(body.length))
    const doc = JSON.stringify({ redirect_uris: ["https://client.example.com/cb"], client_name: "Café" })
    await fetch(`${base}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: doc })
    expect(seen[1]!.body).toBe(doc)
    await fetch(`${base}/echo`, { method: "PUT", headers: { "content-type": "application/jwt" }, body: "eyJ.x.y" })
    expect(seen[2]!.body).toBe("eyJ.x.y")
    // a body without a content type
    await fetch(`${base}/echo`, { method: "DELETE", headers: { "content-length": "3" }, body: new Uint8Array([97, 98, 99]) })
    expect(seen[3]!.body).toBe("abc")
    // the host's own parsers still do their work on the host's routes
    const form = await fetch(`${base}/host-form`, { method: "POST", body: new URLSearchParams({ x: "1" }) })
    expect(await form.json()).toEqual({ body: { x: "1" } })
    const jwt = await fetch(`${base}/host-jwt`, { method: "POST", headers: { "content-type": "application/jwt" }, body: "eyJ.a.b" })
    expect(await jwt.json()).toEqual({ body: { jwt: "eyJ.a.b" } })
  })

  it("a body a host preParsing hook transformed (here: gunzipped) arrives transformed, without the stale framing headers", async () => {
    const { app, seen } = echo()
    const base = await hostApp(async (a) => {
      a.addHook("preParsing", async (request, _reply, payload) => {
        if (request.headers["content-encoding"] !== "gzip") return payload
        return payload.pipe(createGunzip())
      })
      await a.register(fetchPlugin, { app, prefix: "/echo", origin: ORIGIN })
    })
    const body = "grant_type=client_credentials&scope=a"
    await fetch(`${base}/echo`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "content-encoding": "gzip" },
      body: gzipSync(body)
    })
    expect(seen[0]!.body).toBe(body)
    expect(seen[0]!.headers["content-encoding"]).toBeUndefined()
    expect(seen[0]!.headers["content-length"]).toBeUndefined()
  })

  it("status, headers and every Set-Cookie come back, next to cookies and headers the host's hooks add", async () => {
    const { app } = echo()
    const base = await hostApp(async (a) => {
      a.addHook("onRequest", async (_request, reply) => {
        reply.header("set-cookie", "host=early; Path=/")
      })
      a.addHook("onSend", async (_request, reply) => {
        reply.header("set-cookie", "host=late; Path=/host")
        reply.header("x-frame-options", "DENY")
      })
      await a.register(fetchPlugin, { app, prefix: "/echo", origin: ORIGIN })
    })
    const response = await fetch(`${base}/echo`)
    expect(response.status).toBe(201)
    expect(response.headers.get("content-type")).toBe("application/json")
    expect(response.headers.get("x-echo")).toBe("1")
    expect(response.headers.get("x-frame-options")).toBe("DENY")
    expect(response.headers.getSetCookie()).toEqual([
      "host=early; Path=/",
      "a=1; Path=/; HttpOnly",
      "b=2; Path=/echo; Secure",
      "c=3, with comma; Path=/",
      "host=late; Path=/host"
    ])
  })

  it("request headers and the method reach the handler, hop-by-hop ones do not; HEAD gets no body", async () => {
    const { app, seen } = echo()
    const base = await hostApp((a) => a.register(fetchPlugin, { app, prefix: "/echo", origin: ORIGIN }))
    await fetch(`${base}/echo`, { method: "DELETE", headers: { authorization: "Bearer abc", dpop: "x.y.z", cookie: "a=1; b=2" } })
    expect(seen[0]!.method).toBe("DELETE")
    expect(seen[0]!.headers["authorization"]).toBe("Bearer abc")
    expect(seen[0]!.headers["dpop"]).toBe("x.y.z")
    expect(seen[0]!.headers["cookie"]).toBe("a=1; b=2")
    expect(seen[0]!.headers["connection"]).toBeUndefined()
    const head = await fetch(`${base}/echo`, { method: "HEAD" })
    expect(head.status).toBe(201)
    expect(await head.text()).toBe("")
  })

  it("the origin is the configured one whatever Host or X-Forwarded-* say; originFrom 'request' follows Fastify's trustProxy", async () => {
    const spoof = { host: "evil.example", "x-forwarded-proto": "https", "x-forwarded-host": "proxy.example.com" }
    const fixed = echo()
    const base = await hostApp((a) => a.register(fetchPlugin, { app: fixed.app, prefix: "/echo", origin: ORIGIN }), { trustProxy: true })
    await rawRequest(`${base}/echo/p`, spoof)
    expect(fixed.seen[0]!.url).toBe(`${ORIGIN}/echo/p`)
    // a protocol-relative-looking path stays a path on our origin
    await rawRequest(`${base}/echo//evil.example/x`, {})
    expect(fixed.seen[1]!.url).toBe(`${ORIGIN}/echo//evil.example/x`)

    const trusted = echo()
    const base2 = await hostApp(
      (a) => a.register(fetchPlugin, { app: trusted.app, prefix: "/echo", origin: ORIGIN, originFrom: "request" }),
      { trustProxy: "127.0.0.1" }
    )
    await rawRequest(`${base2}/echo/p`, spoof)
    expect(trusted.seen[0]!.url).toBe("https://proxy.example.com/echo/p")

    const untrusted = echo()
    const base3 = await hostApp((a) => a.register(fetchPlugin, { app: untrusted.app, prefix: "/echo", origin: ORIGIN, originFrom: "request" }))
    await rawRequest(`${base3}/echo/p`, spoof)
    expect(untrusted.seen[0]!.url).toBe("http://evil.example/echo/p")
  })

  it("a handler failure goes to the host's error handler", async () => {
    const failing: FetchApp = { handles: () => true, handler: () => Promise.reject(new Error("boom")) }
    const base = await hostApp(async (a) => {
      a.setErrorHandler(async (error: Error, _request, reply) => reply.code(502).send(`host caught ${error.message}`))
      await a.register(fetchPlugin, { app: failing, prefix: "/x", origin: ORIGIN })
    })
    const response = await fetch(`${base}/x/y`)
    expect(response.status).toBe(502)
    expect(await response.text()).toBe("host caught boom")
  })

  it("the client goes away while the response streams: the body is cancelled, the request signal aborts, the server keeps serving", async () => {
    let cancelled!: () => void
    const bodyCancelled = new Promise<void>((resolve) => (cancelled = resolve))
    let signalAborted!: () => void
    const aborted = new Promise<void>((resolve) => (signalAborted = resolve))
    const app: FetchApp = {
      handles: (p) => p === "/slow/x",
      handler: async (request) => {
        request.signal.addEventListener("abort", () => signalAborted())
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode("first chunk"))
          },
          cancel() {
            cancelled()
          }
        })
        return new Response(body, { status: 200 })
      }
    }
    const base = await hostApp((a) => a.register(fetchPlugin, { app, prefix: "/slow", origin: ORIGIN }))
    const u = new URL(`${base}/slow/x`)
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: u.hostname, port: u.port, path: "/slow/x" }, (res) => {
        res.once("data", () => {
          req.destroy()
          resolve()
        })
      })
      req.on("error", () => {})
      req.end()
    })
    await Promise.all([bodyCancelled, aborted])
    expect(await (await fetch(`${base}/`)).text()).toBe("host home")
  })

  it("the client goes away while sending the body: the handler's read fails, the server keeps serving", async () => {
    let readFailed!: (error: unknown) => void
    const failure = new Promise<unknown>((resolve) => (readFailed = resolve))
    const app: FetchApp = {
      handles: (p) => p === "/upload/x",
      handler: async (request) => {
        try {
          await request.text()
          return new Response("complete?")
        } catch (error) {
          readFailed(error)
          return new Response("incomplete", { status: 400 })
        }
      }
    }
    const base = await hostApp((a) => a.register(fetchPlugin, { app, prefix: "/upload", origin: ORIGIN }))
    const u = new URL(`${base}/upload/x`)
    const req = httpRequest({
      host: u.hostname,
      port: u.port,
      path: "/upload/x",
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "content-length": "100000" }
    })
    req.on("error", () => {})
    req.write("grant_type=authorization_code&code=", () => req.destroy())
    expect(await failure).toBeDefined()
    expect(await (await fetch(`${base}/`)).text()).toBe("host home")
  })
})

describe("gatehousePlugin: Gatehouse in a Fastify 5 app", () => {
  const makeGatehouse = (basePath?: string) =>
    createGatehouse({
      issuer: ORIGIN,
      basePath,
      storage: adapterSuiteStorage(),
      accounts: adapterSuiteAccounts(),
      registration: { open: true },
      clients: [{ client_id: "svc", client_secret: "svc-secret-0123456789", redirect_uris: ["https://client.example.com/cb"], grant_types: ["client_credentials"] }]
    })

  it("every path Gatehouse serves is a route in its own context; a host wildcard at the root does not clash", async () => {
    const gh = makeGatehouse()
    const base = await hostApp(async (a) => {
      await a.register(gatehousePlugin, { gatehouse: gh })
      // what @fastify/static registers at the root
      a.get("/*", async (_request, reply) => reply.code(404).send("host wildcard"))
    })
    // each of Gatehouse's paths is Gatehouse's, not the host's wildcard (whatever Gatehouse answers a bare GET)
    for (const path of [...gh.paths.exact, ...gh.paths.prefixes.map((prefix) => `${prefix}x`)]) {
      const response = await fetch(`${base}${path}`)
      expect(await response.text(), path).not.toBe("host wildcard")
      expect(response.status, path).not.toBe(404)
    }
    const jwks = await fetch(`${base}/jwks`)
    expect(jwks.status).toBe(200)
    // a Gatehouse path with a wrong method is Gatehouse's answer (RFC 9110 §15.5.6 with Allow)
    const wrong = await fetch(`${base}/token`)
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get("allow")).toBe("POST")
    expect(await (await fetch(`${base}/somewhere`)).text()).toBe("host wildcard")
    // the RFC 7592 client configuration prefix
    const config = await fetch(`${base}/register/unknown-client`, { headers: { authorization: "Bearer nope" } })
    expect(config.status).toBe(401)
  })

  it("token requests parse Gatehouse's way behind @fastify/formbody: a repeated parameter is refused (RFC 6749 §3.2)", async () => {
    const gh = makeGatehouse()
    const base = await hostApp((a) => a.register(gatehousePlugin, { gatehouse: gh }))
    const authorization = `Basic ${btoa("svc:svc-secret-0123456789")}`
    const ok = await fetch(`${base}/token`, { method: "POST", headers: { authorization }, body: new URLSearchParams({ grant_type: "client_credentials" }) })
    const body = await ok.json() as Record<string, unknown>
    expect(ok.status, JSON.stringify(body)).toBe(200)
    expect(typeof body["access_token"]).toBe("string")
    const duplicate = await fetch(`${base}/token`, {
      method: "POST",
      headers: { authorization, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials&scope=openid&scope=profile"
    })
    expect(duplicate.status).toBe(400)
    expect((await duplicate.json() as { error: string }).error).toBe("invalid_request")
    // a body over Gatehouse's limit is refused while streaming (RFC 9110 §15.5.14)
    const large = await fetch(`${base}/token`, {
      method: "POST",
      headers: { authorization, "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=client_credentials&pad=${"x".repeat(gh.config.maxBodyBytes)}`
    })
    expect(large.status).toBe(413)
    // a malformed content type never reaches a 5xx
    const malformed = await fetch(`${base}/token`, { method: "POST", headers: { authorization, "content-type": "not a type" }, body: "x" })
    expect(malformed.status).toBeGreaterThanOrEqual(400)
    expect(malformed.status).toBeLessThan(500)
  })

  it("basePath '/oauth': endpoints under the prefix, discovery at the root, the same paths elsewhere are the host's", async () => {
    const gh = makeGatehouse("/oauth")
    const base = await hostApp((a) => a.register(gatehousePlugin, { gatehouse: gh, prefix: "/oauth" }))
    const metadata = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json() as Record<string, string>
    expect(metadata["issuer"]).toBe(ORIGIN)
    expect(metadata["token_endpoint"]).toBe(`${ORIGIN}/oauth/token`)
    expect((await fetch(`${base}/.well-known/openid-configuration`)).status).toBe(200)
    expect((await fetch(`${base}/oauth/jwks`)).status).toBe(200)
    expect(await (await fetch(`${base}/jwks`)).text()).toBe("host 404")
    expect(await (await fetch(`${base}/oauth/.well-known/openid-configuration`)).text()).toBe("host 404")
    expect(await (await fetch(`${base}/oauth/unknown`)).text()).toBe("host 404")
    // without the prefix option, basePath alone decides
    const base2 = await hostApp((a) => a.register(gatehousePlugin, { gatehouse: makeGatehouse("/oauth") }))
    expect((await fetch(`${base2}/oauth/jwks`)).status).toBe(200)
  })

  it("refuses a prefix other than basePath, a parent prefix, and anything but a Gatehouse instance, naming the problem", async () => {
    const prefixMismatch = Fastify()
    apps.push(prefixMismatch)
    await expect(prefixMismatch.register(gatehousePlugin, { gatehouse: makeGatehouse("/oauth"), prefix: "/auth" })).rejects.toThrow(
      /"prefix" must be the Gatehouse config's basePath \("\/oauth"\), got "\/auth"/
    )
    const nested = Fastify()
    apps.push(nested)
    await expect(
      nested.register(async (child) => {
        await child.register(gatehousePlugin, { gatehouse: makeGatehouse() })
      }, { prefix: "/api" })
    ).rejects.toThrow(/register @gatehouse\/fastify at the app's root, not under "\/api"/)
    const notGatehouse = Fastify()
    apps.push(notGatehouse)
    await expect(notGatehouse.register(gatehousePlugin, { gatehouse: {} as never })).rejects.toThrow(/"gatehouse" must be a Gatehouse instance/)
  })
})
