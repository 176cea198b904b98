/**
 * The shared adapter conformance suite (@gatehouse/testkit) against a Fastify 5 app built
 * the quickstart's way: the host's session (@fastify/session) and body parsers
 * (@fastify/formbody, Fastify's JSON parser) registered before Gatehouse, Gatehouse's
 * endpoints at the root or under "/oauth" (discovery at the root either way), the default
 * pages, a protected `GET /api/me`, the host's own not-found handler.
 */
import fastifyCookie from "@fastify/cookie"
import fastifyFormbody from "@fastify/formbody"
import fastifySession from "@fastify/session"
import { createGatehouse } from "@gatehouse/core"
import { createResourceServer, type VerifiedToken } from "@gatehouse/resource"
import { requireToken } from "@gatehouse/resource/fastify"
import {
  adapterConformance,
  adapterSuiteAccounts,
  adapterSuiteStorage,
  HOST_NOT_FOUND_MARKER,
  HOST_SESSION_COOKIE
} from "@gatehouse/testkit"
import { createInteractionPages } from "@gatehouse/ui"
import Fastify from "fastify"
import { once } from "node:events"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { gatehousePlugin } from "../src/index.js"

declare module "fastify" {
  interface Session {
    visits?: number
  }
  interface FastifyRequest {
    auth?: VerifiedToken | undefined
  }
}

adapterConformance("fastify", async ({ prefix }) => {
  // the issuer is the origin, known once listening: listen first, hand requests to Fastify once built
  let dispatch = (_req: IncomingMessage, res: ServerResponse) => {
    res.statusCode = 503
    res.end()
  }
  const server = createServer((req, res) => dispatch(req, res))
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const issuer = `http://localhost:${(server.address() as AddressInfo).port}`
  const gatehouse = createGatehouse({
    issuer,
    basePath: prefix,
    storage: adapterSuiteStorage(),
    accounts: adapterSuiteAccounts(),
    registration: { open: true }
  })
  await gatehouse.ready()
  // the resource server reaches the AS in-process: no request back through the socket
  const rs = createResourceServer({ issuer, audience: issuer, fetch: (input, init) => gatehouse.handler(new Request(input, init)) })

  const app = Fastify({
    serverFactory: (handler) => {
      dispatch = handler
      return server
    }
  })
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    cookieName: HOST_SESSION_COOKIE,
    secret: "a host session secret of at least 32 characters",
    saveUninitialized: false,
    rolling: true,
    cookie: { secure: false, httpOnly: true, path: "/" }
  })
  await app.register(fastifyFormbody)
  await app.register(gatehousePlugin, { gatehouse, prefix, pages: createInteractionPages(gatehouse) })
  app.get("/", async (_request, reply) => reply.type("text/html").send("<!doctype html><title>host</title><h1>The host app</h1>"))
  app.post("/host/echo", async (request) => ({ body: request.body }))
  app.get("/host/session", async (request) => {
    const visits = (request.session.visits ?? 0) + 1
    request.session.visits = visits
    return { visits }
  })
  app.get("/api/me", { preHandler: requireToken(rs) }, async (request) => ({ sub: request.auth!.sub }))
  app.setNotFoundHandler(async (_request, reply) => reply.code(404).type("text/plain").send(`${HOST_NOT_FOUND_MARKER}: no such page`))
  await app.ready()

  return {
    url: issuer,
    close: async () => {
      await app.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await gatehouse.dispose()
    }
  }
})
