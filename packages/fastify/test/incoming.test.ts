/**
 * The plugin's path without Fetch objects: a Gatehouse instance gets the Fastify request
 * through core's `IncomingRequest` (`handleIncoming`) when there is no body to stream (a GET,
 * no content, or a small declared body nobody transformed), and its text answers go out as
 * strings with their `Content-Length`. Transformed or chunked bodies keep the Fetch path;
 * request limits (RFC 6585 §5 header size) still apply.
 */
import { createGatehouse, type IncomingRequest } from "@gatehouse/core"
import { memoryAccounts, MemoryStorage } from "@gatehouse/testkit"
import Fastify, { type FastifyInstance } from "fastify"
import type { AddressInfo } from "node:net"
import { createGunzip, gzipSync } from "node:zlib"
import { afterEach, describe, expect, it } from "vitest"
import { gatehousePlugin } from "../src/index.js"

const ISSUER = "https://as.example.com"
const SECRET = "svc-secret-0123456789"
const FORM = { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${btoa(`svc:${SECRET}`)}` }

const apps: Array<FastifyInstance> = []
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close()
})

const start = async (options: { limits?: Record<string, number>; gzip?: boolean; clientCertificate?: "header" } = {}) => {
  const gh = createGatehouse({
    issuer: ISSUER,
    storage: MemoryStorage.layer(),
    accounts: memoryAccounts([]),
    scopes: ["api"],
    clients: [{ client_id: "svc", client_secret: SECRET, grant_types: ["client_credentials"], redirect_uris: [], scope: "api" }],
    ...(options.limits ? { limits: options.limits } : {})
  })
  const calls = { fetch: 0, incoming: 0, requests: [] as Array<unknown>, clientCerts: [] as Array<string | null> }
  const counted = {
    ...gh,
    handler: (request: Request) => (calls.fetch++, calls.clientCerts.push(request.headers.get("client-cert")), gh.handler(request)),
    handleIncoming: (request: IncomingRequest) => (
      calls.incoming++, calls.requests.push(request), calls.clientCerts.push(request.headers.get("client-cert")), gh.handleIncoming(request)
    )
  }
  const app = Fastify()
  apps.push(app)
  if (options.gzip) {
    // a host hook that decompresses request bodies: the stream Gatehouse reads is no longer the socket's
    app.addHook("preParsing", async (request, _reply, payload) =>
      request.headers["content-encoding"] === "gzip" ? payload.pipe(createGunzip()) : payload)
  }
  await app.register(gatehousePlugin, { gatehouse: counted, ...(options.clientCertificate ? { clientCertificate: options.clientCertificate } : {}) })
  await app.listen({ port: 0, host: "127.0.0.1" })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return { gh, calls, base }
}

describe("@gatehouse/fastify hands Gatehouse no Fetch Request when there is no body to stream", () => {
  it("a token request and discovery go through handleIncoming; text answers carry Content-Length", async () => {
    const { gh, calls, base } = await start()
    const ok = await fetch(`${base}/token`, { method: "POST", headers: FORM, body: "grant_type=client_credentials&scope=api" })
    expect(ok.status).toBe(200)
    expect(ok.headers.get("content-length")).not.toBeNull()
    expect(ok.headers.get("cache-control")).toBe("no-store")
    expect(await ok.json()).toMatchObject({ token_type: "Bearer", scope: "api" })
    const bad = await fetch(`${base}/token`, { method: "POST", headers: FORM, body: "grant_type=password" })
    expect([bad.status, (await bad.json() as { error: string }).error]).toEqual([400, "unsupported_grant_type"])
    const discovery = await fetch(`${base}/.well-known/openid-configuration`)
    expect(await discovery.json()).toMatchObject({ issuer: ISSUER })
    expect(calls).toMatchObject({ fetch: 0, incoming: 3 })
    expect(calls.requests.some((r) => r instanceof Request)).toBe(false)
    await gh.dispose()
  })

  it("a body a host preParsing hook transformed (gzip) is streamed through a Fetch Request", async () => {
    const { gh, calls, base } = await start({ gzip: true })
    const res = await fetch(`${base}/token`, {
      method: "POST",
      headers: { ...FORM, "content-encoding": "gzip" },
      body: gzipSync("grant_type=client_credentials&scope=api")
    })
    expect(res.status).toBe(200)
    expect(calls).toMatchObject({ fetch: 1, incoming: 0 })
    await gh.dispose()
  })

  it("RFC 6585 §5: an oversized header field is refused with 431 on this path too", async () => {
    const { gh, calls, base } = await start({ limits: { maxHeaderValueBytes: 1024 } })
    const res = await fetch(`${base}/token`, { method: "POST", headers: { ...FORM, "x-big": "a".repeat(2048) }, body: "grant_type=client_credentials" })
    expect(res.status).toBe(431)
    expect(calls.incoming).toBe(1)
    await gh.dispose()
  })
})

describe("@gatehouse/fastify and the RFC 9440 Client-Cert field (GNAP mtls, RFC 9635 §7.3.2)", () => {
  const FORGED = ":TUlJQ2ZvcmdlZA==:"
  const send = (base: string, gzip = false) =>
    fetch(`${base}/token`, {
      method: "POST",
      headers: { ...FORM, "client-cert": FORGED, ...(gzip ? { "content-encoding": "gzip" } : {}) },
      body: gzip ? gzipSync("grant_type=client_credentials&scope=api") : "grant_type=client_credentials&scope=api"
    })

  it("by default a Client-Cert a client sends never reaches Gatehouse, on the IncomingRequest and on the Fetch path", async () => {
    const { gh, calls, base } = await start({ gzip: true })
    expect((await send(base)).status).toBe(200)
    expect((await send(base, true)).status).toBe(200)
    expect(calls).toMatchObject({ fetch: 1, incoming: 1 })
    expect(calls.clientCerts).toEqual([null, null])
    await gh.dispose()
  })

  it("clientCertificate: \"header\" passes the proxy's Client-Cert on as it came", async () => {
    const { gh, calls, base } = await start({ gzip: true, clientCertificate: "header" })
    expect((await send(base)).status).toBe(200)
    expect((await send(base, true)).status).toBe(200)
    expect(calls.clientCerts).toEqual([FORGED, FORGED])
    await gh.dispose()
  })
})
