/**
 * The Express adapter in a real Express 5 app on a real socket: what the Fetch handler
 * sees (URL, method, headers, body, re-serialized after the host's body parsers), what the
 * browser gets back (status, headers, every Set-Cookie), fall-through to the host's
 * routes, prefix mounting, client aborts, and a Gatehouse token request behind the host's
 * own `express.urlencoded()` / `express.json()`.
 */
import { createGatehouse } from "@gatehouse/core"
import { memoryAccounts, MemoryStorage } from "@gatehouse/testkit"
import express from "express"
import { once } from "node:events"
import { request as httpRequest, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { type FetchApp, fetchMiddleware, gatehouseDiscovery, gatehouseMiddleware } from "../src/index.js"

const servers: Array<Server> = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

const listen = async (app: express.Express) => {
  const server = app.listen(0, "127.0.0.1")
  servers.push(server)
  await once(server, "listening")
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
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
      return new Response(JSON.stringify(entry), { status: 201, statusText: "Made", headers })
    }
  }
  return { app, seen }
}

/** An Express 5 app with the host's own parsers registered before the middleware. */
const hostApp = (mount: (app: express.Express) => void, parsers = true) => {
  const app = express()
  if (parsers) {
    app.use(express.urlencoded({ extended: false }))
    app.use(express.json())
    app.use(express.text({ type: "text/plain" }))
    app.use(express.raw({ type: "application/octet-stream" }))
  }
  mount(app)
  app.get("/", (_req, res) => {
    res.send("host home")
  })
  app.post("/host-form", (req, res) => {
    res.json({ body: req.body })
  })
  return app
}

describe("fetchMiddleware: translation", () => {
  it("unknown paths fall through to the host's routes, with the body unread", async () => {
    const { app, seen } = echo()
    const base = await listen(hostApp((a) => a.use(fetchMiddleware(app, { origin: "https://as.example.com" }))))
    expect(await (await fetch(`${base}/`)).text()).toBe("host home")
    const form = await fetch(`${base}/host-form`, { method: "POST", body: new URLSearchParams({ x: "1" }) })
    expect(await form.json()).toEqual({ body: { x: "1" } })
    expect((await fetch(`${base}/nowhere`)).status).toBe(404)
    expect(seen).toHaveLength(0)
  })

  it("urlencoded bodies consumed by express.urlencoded() are re-serialized, duplicates kept", async () => {
    const { app, seen } = echo()
    const base = await listen(hostApp((a) => a.use(fetchMiddleware(app, { origin: "https://as.example.com" }))))
    const body = "grant_type=client_credentials&scope=a&scope=b&note=caf%C3%A9+%26+more"
    const response = await fetch(`${base}/echo?x=1`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body })
    expect(response.status).toBe(201)
    const got = seen[0]!
    expect(got.method).toBe("POST")
    expect(got.url).toBe("https://as.example.com/echo?x=1")
    expect([...new URLSearchParams(got.body)]).toEqual([...new URLSearchParams(body)])
    expect(got.headers["content-type"]).toBe("application/x-www-form-urlencoded")
    // the framing of the original bytes no longer applies
    expect(got.headers["content-length"]).toBeUndefined()
  })

  it("JSON, text and raw bodies consumed by the host's parsers are re-serialized", async () => {
    const { app, seen } = echo()
    const base = await listen(hostApp((a) => a.use(fetchMiddleware(app, { origin: "https://as.example.com" }))))
    const doc = { redirect_uris: ["https://client.example.com/cb"], client_name: "Café", nested: { a: [1, 2] } }
    await fetch(`${base}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(doc) })
    expect(JSON.parse(seen[0]!.body)).toEqual(doc)
    await fetch(`${base}/echo`, { method: "PUT", headers: { "content-type": "text/plain" }, body: "plain text ✓" })
    expect(seen[1]!.body).toBe("plain text ✓")
    await fetch(`${base}/echo`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: new Uint8Array([104, 105]) })
    expect(seen[2]!.body).toBe("hi")
  })

  it("without host parsers the body is streamed from the socket as is", async () => {
    const { app, seen } = echo()
    const base = await listen(hostApp((a) => a.use(fetchMiddleware(app, { origin: "https://as.example.com" })), false))
    const body = "a=1&a=2&b=%20"
    await fetch(`${base}/echo`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body })
    expect(seen[0]!.body).toBe(body)
    expect(seen[0]!.headers["content-length"]).toBe(String(body.length))
    // a type no host parser took is streamed too
    const { app: app2, seen: seen2 } = echo()
    const base2 = await listen(hostApp((a) => a.use(fetchMiddleware(app2, { origin: "https://as.example.com" }))))
    await fetch(`${base2}/echo`, { method: "POST", headers: { "content-type": "application/jwt" }, body: "eyJ.x.y" })
    expect(seen2[0]!.body).toBe("eyJ.x.y")
  })

  it("status, status text, headers and every Set-Cookie come back; cookies the host set first are kept", async () => {
    const { app } = echo()
    const base = await listen(hostApp((a) => {
      a.use((_req, res, next) => {
        res.append("set-cookie", "host=session; Path=/")
        res.setHeader("x-echo", "from host, replaced")
        next()
      })
      a.use(fetchMiddleware(app, { origin: "https://as.example.com" }))
    }))
    const response = await fetch(`${base}/echo`)
    expect(response.status).toBe(201)
    expect(response.statusText).toBe("Made")
    expect(response.headers.get("content-type")).toBe("application/json")
    expect(response.headers.get("x-echo")).toBe("1")
    expect(response.headers.getSetCookie()).toEqual([
      "host=session; Path=/",
      "a=1; Path=/; HttpOnly",
      "b=2; Path=/echo; Secure",
      "c=3, with comma; Path=/"
    ])
  })

  it("request headers and the method reach the handler; HEAD gets no body", async () => {
    const { app, seen } = echo()
    const base = await listen(hostApp((a) => a.use(fetchMiddleware(app, { origin: "https://as.example.com" }))))
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

  it("mounted under a prefix: the handler sees the full original URL; other prefixed paths fall through", async () => {
    const { app, seen } = echo((p) => p.startsWith("/oauth/echo"))
    const base = await listen(hostApp((a) => {
      a.use("/oauth", fetchMiddleware(app, { origin: "https://as.example.com" }))
      a.get("/oauth/other", (_req, res) => {
        res.send("host under prefix")
      })
    }))
    const response = await fetch(`${base}/oauth/echo/x?y=1`)
    expect(response.status).toBe(201)
    expect(seen[0]!.url).toBe("https://as.example.com/oauth/echo/x?y=1")
    expect(await (await fetch(`${base}/oauth/other`)).text()).toBe("host under prefix")
    // the same path outside the prefix never reaches the middleware
    expect((await fetch(`${base}/echo`)).status).toBe(404)
  })

  it("the origin is the configured one, whatever Host says; X-Forwarded-* only with trustProxy", async () => {
    const spoof = { host: "evil.example", "x-forwarded-proto": "https", "x-forwarded-host": "proxy.example.com" }
    const plain = echo()
    const base = await listen(hostApp((a) => a.use(fetchMiddleware(plain.app, { origin: "https://as.example.com" }))))
    await rawRequest(`${base}/echo/p`, spoof)
    expect(plain.seen[0]!.url).toBe("https://as.example.com/echo/p")
    const proxied = echo()
    const base2 = await listen(hostApp((a) => a.use(fetchMiddleware(proxied.app, { origin: "https://as.example.com", trustProxy: true }))))
    await rawRequest(`${base2}/echo/p`, spoof)
    expect(proxied.seen[0]!.url).toBe("https://proxy.example.com/echo/p")
    await rawRequest(`${base2}/echo/q`, { host: "internal:8080" })
    expect(proxied.seen[1]!.url).toBe("http://internal:8080/echo/q")
    // no origin configured: from the connection and Host
    const bare = echo()
    const base3 = await listen(hostApp((a) => a.use(fetchMiddleware(bare.app))))
    await rawRequest(`${base3}/echo/r`, { host: "app.local:3000" })
    expect(bare.seen[0]!.url).toBe("http://app.local:3000/echo/r")
    // a protocol-relative-looking path stays a path on our origin
    await rawRequest(`${base}//evil.example/echo`, {})
    expect(plain.seen).toHaveLength(1)
  })

  it("with the app's own `trust proxy` setting, X-Forwarded-* count only from a peer Express trusts", async () => {
    const spoof = { host: "evil.example", "x-forwarded-proto": "https", "x-forwarded-host": "proxy.example.com" }
    const trusted = echo()
    const base = await listen(hostApp((a) => {
      a.set("trust proxy", "loopback")
      a.use(fetchMiddleware(trusted.app, { origin: "https://as.example.com", trustProxy: true }))
    }))
    await rawRequest(`${base}/echo/p`, spoof)
    expect(trusted.seen[0]!.url).toBe("https://proxy.example.com/echo/p")
    const untrusted = echo()
    const base2 = await listen(hostApp((a) => {
      a.set("trust proxy", "10.0.0.1")
      a.use(fetchMiddleware(untrusted.app, { origin: "https://as.example.com", trustProxy: true }))
    }))
    await rawRequest(`${base2}/echo/p`, spoof)
    // not from the proxy Express trusts: the configured origin, not Host and not the forwarded one
    expect(untrusted.seen[0]!.url).toBe("https://as.example.com/echo/p")
    // the Express setting alone changes nothing: the adapter's trustProxy opts in
    const off = echo()
    const base3 = await listen(hostApp((a) => {
      a.set("trust proxy", true)
      a.use(fetchMiddleware(off.app, { origin: "https://as.example.com" }))
    }))
    await rawRequest(`${base3}/echo/p`, spoof)
    expect(off.seen[0]!.url).toBe("https://as.example.com/echo/p")
  })

  it("a handler failure goes to the host's error handler", async () => {
    const failing: FetchApp = { handles: () => true, handler: () => Promise.reject(new Error("boom")) }
    const app = express()
    app.use(fetchMiddleware(failing, { origin: "https://as.example.com" }))
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(502).send(`host caught ${error.message}`)
    })
    const base = await listen(app)
    const response = await fetch(`${base}/x`)
    expect(response.status).toBe(502)
    expect(await response.text()).toBe("host caught boom")
  })
})

/** GET with exact headers (fetch forbids setting Host). */
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

describe("fetchMiddleware: client aborts never crash the host", () => {
  it("the client goes away while the response streams: the body is cancelled, the request signal aborts, the server keeps serving", async () => {
    let cancelled!: () => void
    const bodyCancelled = new Promise<void>((resolve) => (cancelled = resolve))
    let signalAborted!: () => void
    const aborted = new Promise<void>((resolve) => (signalAborted = resolve))
    const app: FetchApp = {
      handles: (p) => p === "/slow",
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
    const base = await listen(hostApp((a) => a.use(fetchMiddleware(app, { origin: "https://as.example.com" }))))
    const u = new URL(`${base}/slow`)
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: u.hostname, port: u.port, path: "/slow" }, (res) => {
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

  it("the client goes away while sending the body: the handler's read fails, nothing is thrown at the host", async () => {
    let readFailed!: (error: unknown) => void
    const failure = new Promise<unknown>((resolve) => (readFailed = resolve))
    const app: FetchApp = {
      handles: (p) => p === "/upload",
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
    const base = await listen(hostApp((a) => a.use(fetchMiddleware(app, { origin: "https://as.example.com" })), false))
    const u = new URL(`${base}/upload`)
    const req = httpRequest({
      host: u.hostname,
      port: u.port,
      path: "/upload",
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "content-length": "100000" }
    })
    req.on("error", () => {})
    req.write("grant_type=authorization_code&code=", () => req.destroy())
    expect(await failure).toBeDefined()
    expect(await (await fetch(`${base}/`)).text()).toBe("host home")
  })
})

describe("gatehouseMiddleware: Gatehouse in an Express 5 app", () => {
  const REDIRECT = "https://client.example.com/cb"
  const makeGatehouse = (basePath?: string) =>
    createGatehouse({
      issuer: "https://as.example.com",
      basePath,
      storage: MemoryStorage.layer(),
      accounts: memoryAccounts([{ id: "alice", username: "alice", password: "wonderland", claims: { name: "Alice" } }]),
      clients: [
        {
          client_id: "web",
          client_secret: "web-secret-0123456789",
          redirect_uris: [REDIRECT],
          grant_types: ["authorization_code", "refresh_token", "client_credentials"],
          scope: "openid profile"
        }
      ]
    })

  it("token requests work behind the host's express.urlencoded() and express.json()", async () => {
    const gh = makeGatehouse()
    const base = await listen(hostApp((a) => a.use(gatehouseMiddleware(gh))))
    // the authorization code flow, the user step done through the Promise API
    const verifier = "a-verifier-that-is-long-enough-0123456789abcdef"
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)))
    const challenge = btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
    const start = await fetch(`${base}/authorize`, {
      method: "POST",
      redirect: "manual",
      body: new URLSearchParams({
        response_type: "code",
        client_id: "web",
        redirect_uri: REDIRECT,
        scope: "openid",
        state: "s",
        code_challenge: challenge,
        code_challenge_method: "S256"
      })
    })
    expect(start.status).toBe(303)
    const id = /\/interaction\/([^/?]+)/.exec(start.headers.get("location")!)![1]!
    const binding = start.headers.getSetCookie().map((c) => c.split(";")[0]!).join("; ")
    const { redirectTo } = await gh.interactions.complete(decodeURIComponent(id), { accountId: "alice" })
    const back = await fetch(new URL(new URL(redirectTo).pathname + new URL(redirectTo).search, base), {
      redirect: "manual",
      headers: { cookie: binding }
    })
    expect(back.status).toBe(303)
    const code = new URL(back.headers.get("location")!).searchParams.get("code")!
    expect(code).toBeTruthy()
    const token = await fetch(`${base}/token`, {
      method: "POST",
      headers: { authorization: `Basic ${btoa("web:web-secret-0123456789")}` },
      body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier })
    })
    const tokens = await token.json() as Record<string, unknown>
    expect(token.status, JSON.stringify(tokens)).toBe(200)
    expect(tokens["token_type"]).toMatch(/^bearer$/i)
    expect(typeof tokens["access_token"]).toBe("string")
    expect(typeof tokens["id_token"]).toBe("string")
    // a duplicate parameter is still seen as one (RFC 6749 §3.2) after the host parser turned it into an array
    const duplicate = await fetch(`${base}/token`, {
      method: "POST",
      headers: { authorization: `Basic ${btoa("web:web-secret-0123456789")}`, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials&scope=openid&scope=profile"
    })
    expect(duplicate.status).toBe(400)
    expect((await duplicate.json() as { error: string }).error).toBe("invalid_request")
  })

  it("JSON bodies parsed by express.json() reach the registration endpoint", async () => {
    const gh = createGatehouse({
      issuer: "https://as.example.com",
      storage: MemoryStorage.layer(),
      accounts: memoryAccounts([]),
      registration: { open: true }
    })
    const base = await listen(hostApp((a) => a.use(gatehouseMiddleware(gh))))
    const response = await fetch(`${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: "Registered" })
    })
    const body = await response.json() as Record<string, unknown>
    expect(response.status, JSON.stringify(body)).toBe(201)
    expect(body["client_name"]).toBe("Registered")
    expect(typeof body["client_id"]).toBe("string")
  })

  it("host routes and Gatehouse share the app; discovery and JWKS are served at their paths", async () => {
    const gh = makeGatehouse()
    const base = await listen(hostApp((a) => a.use(gatehouseMiddleware(gh))))
    expect(await (await fetch(`${base}/`)).text()).toBe("host home")
    const jwks = await fetch(`${base}/jwks`)
    expect(jwks.status).toBe(200)
    expect(((await jwks.json()) as { keys: Array<unknown> }).keys.length).toBeGreaterThan(0)
    // a Gatehouse path with a wrong method is Gatehouse's answer, not the host's 404
    expect((await fetch(`${base}/token`)).status).toBe(405)
  })

  it("mounted at the config's basePath: app.use('/oauth', gatehouseMiddleware(gh))", async () => {
    const gh = makeGatehouse("/oauth")
    const base = await listen(hostApp((a) => a.use("/oauth", gatehouseMiddleware(gh))))
    const start = await fetch(`${base}/oauth/authorize?client_id=web&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s`, {
      redirect: "manual"
    })
    // PKCE missing: redirected back to the client with the error (the endpoint ran under the prefix)
    expect(start.status).toBe(303)
    expect(new URL(start.headers.get("location")!).searchParams.get("error")).toBe("invalid_request")
    expect((await fetch(`${base}/oauth/jwks`)).status).toBe(200)
    expect((await fetch(`${base}/oauth/unknown`)).status).toBe(404)
    expect(await (await fetch(`${base}/`)).text()).toBe("host home")
  })

  it("gatehouseDiscovery at the root + gatehouseMiddleware under basePath: discovery at the origin's /.well-known/ (RFC 8414 §3)", async () => {
    const gh = makeGatehouse("/oauth")
    const base = await listen(hostApp((a) => {
      a.use(gatehouseDiscovery(gh))
      a.use("/oauth", gatehouseMiddleware(gh))
    }))
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
      const response = await fetch(`${base}${path}`)
      expect(response.status, path).toBe(200)
      const metadata = await response.json() as Record<string, string>
      expect(metadata["issuer"]).toBe("https://as.example.com")
      expect(metadata["token_endpoint"]).toBe("https://as.example.com/oauth/token")
    }
    expect((await fetch(`${base}/oauth/jwks`)).status).toBe(200)
    // the discovery middleware serves nothing but discovery
    expect((await fetch(`${base}/oauth/.well-known/openid-configuration`)).status).toBe(404)
    const rootJwks = express()
    rootJwks.use(gatehouseDiscovery(gh))
    const base2 = await listen(rootJwks)
    expect((await fetch(`${base2}/oauth/jwks`)).status).toBe(404)
    expect((await fetch(`${base2}/.well-known/openid-configuration`)).status).toBe(200)
  })

  it("mounted at the root, it serves a basePath config whole: endpoints under /oauth, discovery at the root", async () => {
    const gh = makeGatehouse("/oauth")
    const base = await listen(hostApp((a) => a.use(gatehouseMiddleware(gh))))
    expect((await fetch(`${base}/.well-known/openid-configuration`)).status).toBe(200)
    expect((await fetch(`${base}/oauth/jwks`)).status).toBe(200)
    expect((await fetch(`${base}/jwks`)).status).toBe(404)
  })
})
