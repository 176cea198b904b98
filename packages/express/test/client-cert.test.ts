/**
 * GNAP mtls through Express (RFC 9635 §7.3.2, RFC 9440): the adapter's `clientCertificate`
 * option over a real HTTPS server that asks for client certificates — "socket" copies the
 * TLS peer certificate into `Client-Cert`, the default removes an incoming `Client-Cert`,
 * "header" passes a proxy's on — and a GNAP grant request proven by mtls end to end.
 * Certificates are made with the openssl CLI before the tests.
 */
import { createGatehouse } from "@gatehouse/core"
import { adapterSuiteAccounts, adapterSuiteStorage, GnapClient } from "@gatehouse/testkit"
import express from "express"
import { execFileSync } from "node:child_process"
import { once } from "node:events"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { request as httpsRequest, createServer, type Server } from "node:https"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ClientCertificateSource, fetchMiddleware, gatehouseMiddleware } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "express-mtls-"))
interface Pem {
  readonly key: Buffer
  readonly cert: Buffer
  readonly der: string
}
const makeCert = (name: string): Pem => {
  const key = join(dir, `${name}.key`)
  const cert = join(dir, `${name}.pem`)
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${name}`, "-addext", "subjectAltName=DNS:localhost"
  ], { stdio: "ignore" })
  const der = execFileSync("openssl", ["x509", "-in", cert, "-outform", "DER"]).toString("base64")
  return { key: readFileSync(key), cert: readFileSync(cert), der }
}

let serverPem: Pem
let clientA: Pem
let clientB: Pem
const servers: Array<Server> = []

beforeAll(() => {
  serverPem = makeCert("localhost")
  clientA = makeCert("client-a")
  clientB = makeCert("client-b")
})
afterAll(async () => {
  for (const s of servers) s.close()
  rmSync(dir, { recursive: true, force: true })
})

/** An HTTPS server that asks for (but does not CA-verify) a client certificate: GNAP keys are self-issued. */
const listen = async (app: express.Express) => {
  const server = createServer({ key: serverPem.key, cert: serverPem.cert, requestCert: true, rejectUnauthorized: false }, app)
  servers.push(server)
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return `https://localhost:${(server.address() as AddressInfo).port}`
}

/** A Fetch-shaped client over node:https, presenting `client` (if any) in the TLS handshake. */
const tlsFetch = (client: Pem | undefined) => async (request: Request): Promise<Response> => {
  const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer())
  const url = new URL(request.url)
  const headers: Record<string, string> = {}
  request.headers.forEach((v, k) => void (headers[k] = v))
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: "127.0.0.1",
      port: url.port,
      servername: "localhost",
      path: url.pathname + url.search,
      method: request.method,
      headers: { ...headers, host: url.host },
      ca: serverPem.cert,
      agent: false,
      ...(client ? { key: client.key, cert: client.cert } : {})
    }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => {
        const h = new Headers()
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v)
        const status = res.statusCode ?? 500
        resolve(new Response(status === 204 ? null : Buffer.concat(chunks), { status, headers: h }))
      })
    })
    req.on("error", reject)
    req.end(body)
  })
}

/** A handler that reports the Client-Cert field it was given. */
const echoApp = async (clientCertificate: ClientCertificateSource) => {
  const app = express()
  app.use(fetchMiddleware({
    handles: (p) => p === "/echo",
    handler: async (r) => Response.json({ clientCert: r.headers.get("client-cert") })
  }, { clientCertificate }))
  return listen(app)
}

const echo = async (origin: string, client: Pem | undefined, forged?: string) => {
  const r = await tlsFetch(client)(new Request(`${origin}/echo`, forged ? { headers: { "client-cert": forged } } : {}))
  return (await r.json() as { clientCert: string | null }).clientCert
}

describe("RFC 9440 Client-Cert from the Express adapter (RFC 9635 §7.3.2)", () => {
  it("clientCertificate \"socket\": the TLS peer certificate, as a byte sequence of its DER; a forged field is replaced or removed", async () => {
    const origin = await echoApp("socket")
    expect(await echo(origin, clientA)).toBe(`:${clientA.der}:`)
    expect(await echo(origin, clientB)).toBe(`:${clientB.der}:`)
    expect(await echo(origin, clientA, `:${clientB.der}:`)).toBe(`:${clientA.der}:`)
    expect(await echo(origin, undefined, `:${clientB.der}:`)).toBeNull()
  })

  it("default: an incoming Client-Cert is always removed (no client claims a certificate)", async () => {
    const origin = await echoApp(undefined)
    expect(await echo(origin, undefined, `:${clientB.der}:`)).toBeNull()
    expect(await echo(origin, clientA, `:${clientB.der}:`)).toBeNull()
  })

  it("clientCertificate \"header\": the field a TLS-terminating proxy set is passed on", async () => {
    const origin = await echoApp("header")
    expect(await echo(origin, undefined, `:${clientB.der}:`)).toBe(`:${clientB.der}:`)
  })

  it("#27 a GNAP grant request proven by mtls over real TLS: the presented certificate → accepted; another one → invalid_client", async () => {
    const app = express()
    const issuer = await listen(app)
    const gh = createGatehouse({
      issuer,
      storage: adapterSuiteStorage(),
      accounts: adapterSuiteAccounts(),
      gnap: { mtls: { trustClientCertHeader: true } }
    })
    app.use(gatehouseMiddleware(gh, { clientCertificate: "socket" }))
    const request = { access_token: { access: ["photos"] }, interact: { start: ["user_code"] } }
    const good = await GnapClient.create({ grantEndpoint: `${issuer}/gnap`, proof: "mtls", clientCert: clientA.der, fetch: tlsFetch(clientA) })
    const accepted = await good.request(request)
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200)
    // the key names certificate A, the connection presents B (and a forged field naming A is dropped)
    const impostor = await GnapClient.create({ grantEndpoint: `${issuer}/gnap`, proof: "mtls", clientCert: clientA.der, fetch: tlsFetch(clientB) })
    const refused = await impostor.request(request)
    expect(refused.error, `${refused.status} ${JSON.stringify(refused.body)}`).toBe("invalid_client")
    const noCert = await GnapClient.create({ grantEndpoint: `${issuer}/gnap`, proof: "mtls", clientCert: clientA.der, fetch: tlsFetch(undefined) })
    expect((await noCert.request(request)).error).toBe("invalid_client")
  })

  it("#27 without clientCertificate, a Client-Cert a client sends is removed before core sees it (even where core trusts the field)", async () => {
    const app = express()
    const issuer = await listen(app)
    const gh = createGatehouse({ issuer, storage: adapterSuiteStorage(), accounts: adapterSuiteAccounts(), gnap: { mtls: { trustClientCertHeader: true } } })
    app.use(gatehouseMiddleware(gh))
    // the testkit client sets Client-Cert itself, as a proxy would: here it is a forgery
    const forger = await GnapClient.create({ grantEndpoint: `${issuer}/gnap`, proof: "mtls", clientCert: clientA.der, fetch: tlsFetch(undefined) })
    const r = await forger.request({ access_token: { access: ["photos"] }, interact: { start: ["user_code"] } })
    expect(r.error, JSON.stringify(r.body)).toBe("invalid_client")
  })
})
