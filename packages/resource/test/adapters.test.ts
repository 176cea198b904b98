/**
 * The framework forms over real HTTP (Express, Fastify) or the route-handler shape (Next.js),
 * and the Effect API, against a real Gatehouse: the protected route runs with the verified
 * token, a refusal is the resource server's RFC 6750 response written through the framework.
 */
import { Effect } from "effect"
import express from "express"
import Fastify from "fastify"
import { createServer } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { requireToken as expressRequireToken, protectedResourceMetadata as expressMetadata } from "../src/express.js"
import { requireToken as fastifyRequireToken, protectedResourceMetadata as fastifyMetadata } from "../src/fastify.js"
import { createResourceServer, ResourceServer, type ResourceServerInstance, ResourceServerConfigError, type VerifiedToken } from "../src/index.js"
import { protectedResourceMetadata as nextMetadata, withToken } from "../src/next.js"
import { API, challengeParams, clientCredentialsToken, listen, startAs, type TestAs } from "./helpers.js"

let as: TestAs
let rs: ResourceServerInstance
let readToken: string
let writeToken: string

beforeAll(async () => {
  as = await startAs()
  rs = createResourceServer({ issuer: as.issuer, audience: API, clock: () => as.now() })
  readToken = await clientCredentialsToken(as, { scope: "api:read", resource: API })
  writeToken = await clientCredentialsToken(as, { scope: "api:read api:write", resource: API })
})
afterAll(async () => {
  await as?.close()
})

/** The same protected API through each framework: GET /api/me (any token), POST /api/notes (api:write). */
const behavesAsProtectedApi = (base: () => string) => {
  it("GET /api/me with a valid token: the route runs with the token", async () => {
    const response = await fetch(`${base()}/api/me`, { headers: { authorization: `Bearer ${readToken}` } })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ sub: "svc", scope: ["api:read"] })
  })

  it("no token: 401 with a bare Bearer challenge, the route never runs", async () => {
    const response = await fetch(`${base()}/api/me`)
    expect(response.status).toBe(401)
    expect(challengeParams(response)).toEqual({
      scheme: "Bearer",
      params: { realm: API, resource_metadata: "https://api.example.com/.well-known/oauth-protected-resource" }
    })
    expect(await response.text()).toBe("")
  })

  it("a bad token: 401 invalid_token with its JSON body", async () => {
    const response = await fetch(`${base()}/api/me`, { headers: { authorization: "Bearer not.a.token" } })
    expect(response.status).toBe(401)
    expect(challengeParams(response)?.params["error"]).toBe("invalid_token")
    expect(response.headers.get("content-type")).toContain("application/json")
    expect((await response.json() as { error: string }).error).toBe("invalid_token")
  })

  it("a route that needs api:write: 403 insufficient_scope for a read token, 201 for a write token", async () => {
    const denied = await fetch(`${base()}/api/notes`, { method: "POST", headers: { authorization: `Bearer ${readToken}` } })
    expect(denied.status).toBe(403)
    expect(challengeParams(denied)?.params).toMatchObject({ error: "insufficient_scope", scope: "api:write" })
    const allowed = await fetch(`${base()}/api/notes`, { method: "POST", headers: { authorization: `Bearer ${writeToken}` } })
    expect(allowed.status).toBe(201)
  })

  it("the RFC 9728 document at /.well-known/oauth-protected-resource", async () => {
    const response = await fetch(`${base()}/.well-known/oauth-protected-resource`)
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ resource: API, authorization_servers: [as.issuer] })
  })
}

describe("@gatehouse/resource/express", () => {
  let url = ""
  const server = createServer()
  beforeAll(async () => {
    const app = express()
    app.get(rs.metadataPath, expressMetadata(rs))
    app.get("/api/me", expressRequireToken(rs), (req, res) => {
      res.json({ sub: req.auth!.sub, scope: req.auth!.scope })
    })
    app.post("/api/notes", expressRequireToken(rs, { scopes: ["api:write"] }), (_req, res) => {
      res.status(201).json({ ok: true })
    })
    server.on("request", app)
    url = await listen(server)
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  behavesAsProtectedApi(() => url)
})

describe("@gatehouse/resource/fastify", () => {
  let url = ""
  const app = Fastify()
  beforeAll(async () => {
    app.get(rs.metadataPath, fastifyMetadata(rs))
    app.get("/api/me", { preHandler: fastifyRequireToken(rs) }, async (request) => {
      const auth = (request as typeof request & { auth: VerifiedToken }).auth
      return { sub: auth.sub, scope: auth.scope }
    })
    app.post("/api/notes", { preHandler: fastifyRequireToken(rs, { scopes: ["api:write"] }) }, async (_request, reply) => {
      return reply.code(201).send({ ok: true })
    })
    url = await app.listen({ port: 0, host: "127.0.0.1" })
  })
  afterAll(async () => {
    await app.close()
  })
  behavesAsProtectedApi(() => url)
})

describe("@gatehouse/resource/next", () => {
  // the route handlers exactly as an app/ directory would export them, served by a plain Fetch server
  const routes: Record<string, Record<string, (request: Request, context: { params: Promise<Record<string, string>> }) => Response | Promise<Response>>> = {
    "/api/me": { GET: withToken(rs0(), (_request, token) => Response.json({ sub: token.sub, scope: token.scope })) },
    "/api/notes": { POST: withToken(rs0(), () => Response.json({ ok: true }, { status: 201 }), { scopes: ["api:write"] }) },
    "/.well-known/oauth-protected-resource": { GET: nextMetadata(rs0()) }
  }
  let url = ""
  const server = createServer((req, res) => {
    const route = routes[new URL(req.url!, "http://x").pathname]?.[req.method!]
    const headers = new Headers()
    if (req.headers.authorization) headers.set("authorization", req.headers.authorization)
    const request = new Request(new URL(req.url!, url), { method: req.method, headers })
    Promise.resolve(route ? route(request, { params: Promise.resolve({}) }) : new Response(null, { status: 404 })).then(async (response) => {
      res.statusCode = response.status
      response.headers.forEach((v, k) => res.setHeader(k, v))
      res.end(await response.text())
    })
  })
  beforeAll(async () => {
    url = await listen(server)
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  behavesAsProtectedApi(() => url)

  it("passes the route context through", async () => {
    const handler = withToken<Request, { params: Promise<{ id: string }> }>(rs, async (_request, token, context) =>
      Response.json({ id: (await context.params).id, sub: token.sub }))
    const response = await handler(new Request(`${API}/x`, { headers: { authorization: `Bearer ${readToken}` } }), { params: Promise.resolve({ id: "42" }) })
    expect(await response.json()).toEqual({ id: "42", sub: "svc" })
  })
})

/** `rs` is created in beforeAll; the Next routes above are built at collection time. */
function rs0(): ResourceServerInstance {
  return {
    verify: (request, options) => rs.verify(request, options),
    metadataResponse: () => rs.metadataResponse(),
    get metadataPath() {
      return rs.metadataPath
    },
    get metadataUrl() {
      return rs.metadataUrl
    },
    get service() {
      return rs.service
    }
  }
}

describe("the Effect API", () => {
  it("ResourceServer.layer: authenticate yields the token, undefined without one, and fails with the tagged error", async () => {
    const program = Effect.gen(function*() {
      const server = yield* ResourceServer
      const token = yield* server.authenticate(new Request(`${API}/me`, { headers: { authorization: `Bearer ${readToken}` } }), { scopes: ["api:read"] })
      const none = yield* server.authenticate(new Request(`${API}/me`))
      const refused = yield* Effect.flip(server.verifyToken(readToken, { scopes: ["api:write"] }))
      return { token, none, refused, response: server.challenge(refused) }
    })
    const out = await Effect.runPromise(program.pipe(Effect.provide(ResourceServer.layer({ issuer: as.issuer, audience: API, clock: () => as.now() }))))
    expect(out.token?.sub).toBe("svc")
    expect(out.none).toBeUndefined()
    expect(out.refused._tag).toBe("InsufficientScope")
    expect(out.response.status).toBe(403)
  })

  it("bad options fail the layer with ResourceServerConfigError", async () => {
    const exit = await Effect.runPromiseExit(Effect.provide(Effect.gen(function*() {
      return yield* ResourceServer
    }), ResourceServer.layer({ issuer: "nope", audience: API })))
    expect(exit._tag).toBe("Failure")
    expect(String(exit)).toContain("issuer: must be an absolute URL")
    expect(() => createResourceServer({ issuer: "nope", audience: API })).toThrow(ResourceServerConfigError)
  })
})
