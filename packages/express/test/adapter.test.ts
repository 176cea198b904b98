/**
 * The shared adapter conformance suite (@gatehouse/testkit) against an Express 5 app built
 * the way the quickstart is: the host's session and body parsers app-wide before Gatehouse,
 * Gatehouse's endpoints at the root or under "/oauth" (discovery at the root either way),
 * the default pages, a protected `GET /api/me`, the host's own 404.
 */
import { createGatehouse } from "@gatehouse/core"
import { createResourceServer } from "@gatehouse/resource"
import { requireToken } from "@gatehouse/resource/express"
import {
  adapterConformance,
  adapterSuiteAccounts,
  adapterSuiteStorage,
  HOST_NOT_FOUND_MARKER,
  HOST_SESSION_COOKIE
} from "@gatehouse/testkit"
import { createInteractionPages } from "@gatehouse/ui"
import express from "express"
import session from "express-session"
import { once } from "node:events"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fetchMiddleware, gatehouseDiscovery, gatehouseMiddleware } from "../src/index.js"

declare module "express-session" {
  interface SessionData {
    visits: number
  }
}

adapterConformance("express", async ({ prefix }) => {
  let app: express.Express | undefined
  const server = createServer((req, res) => app!(req, res))
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

  app = express()
  app.use(session({ name: HOST_SESSION_COOKIE, secret: "host-session-secret", resave: false, saveUninitialized: false, rolling: true }))
  app.use(express.urlencoded({ extended: false }))
  app.use(express.json())
  if (prefix === undefined) {
    app.use(gatehouseMiddleware(gatehouse))
  } else {
    app.use(gatehouseDiscovery(gatehouse))
    app.use(prefix, gatehouseMiddleware(gatehouse))
  }
  app.use(fetchMiddleware(createInteractionPages(gatehouse), { origin: gatehouse.config.origin }))
  app.get("/", (_req, res) => {
    res.type("html").send("<!doctype html><title>host</title><h1>The host app</h1>")
  })
  app.post("/host/echo", (req, res) => {
    res.json({ body: req.body })
  })
  app.get("/host/session", (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1
    res.json({ visits: req.session.visits })
  })
  app.get("/api/me", requireToken(rs), (req, res) => {
    res.json({ sub: req.auth!.sub })
  })
  app.use((_req: express.Request, res: express.Response) => {
    res.status(404).type("text").send(`${HOST_NOT_FOUND_MARKER}: no such page`)
  })

  return {
    url: issuer,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await gatehouse.dispose()
    }
  }
})
