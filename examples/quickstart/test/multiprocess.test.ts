/**
 * Several quickstart processes with the same ISSUER and DATABASE_URL (Postgres) behave as
 * one server: shared clients, codes, tokens and signing keys; every single-use guarantee
 * holds across processes because it lives in the database.
 */
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { authorize, freePort, HttpBrowser, introspect, type Proc, redeem, register, type RegisteredClient, startProcess } from "./support.js"

const PG = process.env.GATEHOUSE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const database = `gh_mp_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
const admin = new pg.Client({ connectionString: PG })
let a: Proc
let b: Proc
let issuer: string
let client: RegisteredClient

beforeAll(async () => {
  await admin.connect()
  await admin.query(`CREATE DATABASE ${database}`)
  const url = new URL(PG)
  url.pathname = `/${database}`
  const portA = await freePort()
  const portB = await freePort()
  issuer = `http://localhost:${portA}`
  const env = { ISSUER: issuer, DATABASE_URL: url.toString(), GATEHOUSE_KEK: "multi-process-test-key-encryption-key" }
  // started together: the first to reach the database creates the keys, the other loads them
  ;[a, b] = await Promise.all([startProcess({ ...env, PORT: String(portA) }), startProcess({ ...env, PORT: String(portB) })])
  client = await register(a.base)
}, 120_000)

afterAll(async () => {
  await Promise.all([a?.kill(), b?.kill()])
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  await admin.end()
})

describe("two quickstart processes on one Postgres", () => {
  it("both publish the same JWKS (keys created once, loaded by the other)", async () => {
    const [ja, jb] = await Promise.all([a, b].map(async (p) => (await fetch(`${p.base}/jwks`)).json() as Promise<{ keys: Array<{ kid: string }> }>))
    expect(ja!.keys.length).toBeGreaterThan(0)
    expect(ja).toEqual(jb)
  })

  it("a client registered at one process is known to the other", async () => {
    const res = await fetch(`${b.base}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${client.clientId}:wrong`).toString("base64")}` },
      body: "grant_type=authorization_code&code=x"
    })
    expect(res.status).toBe(401)
    const ok = await redeem(b.base, client, "no-such-code", "x".repeat(43))
    expect(ok.status).toBe(400)
    expect((await ok.json() as { error: string }).error).toBe("invalid_grant")
  })

  it("a code issued by one process is redeemed at the other; its tokens introspect as active at the first", async () => {
    const browser = new HttpBrowser(a.base, issuer)
    const { code, verifier } = await authorize(browser, client)
    const res = await redeem(b.base, client, code, verifier)
    expect(res.status).toBe(200)
    const tokens = await res.json() as { access_token: string; refresh_token: string; id_token: string }
    expect(await introspect(a.base, client, tokens.access_token)).toMatchObject({ active: true, sub: "alice" })
    expect(await introspect(a.base, client, tokens.refresh_token)).toMatchObject({ active: true })
  })

  it("RFC 6749 §4.1.2: a double redemption split across the two processes yields exactly one success", async () => {
    const browser = new HttpBrowser(a.base, issuer)
    await authorize(browser, client) // sign in and consent once
    for (let round = 0; round < 3; round++) {
      const { code, verifier } = await authorize(browser, client)
      const attempts = Array.from({ length: 20 }, (_, i) => redeem(i % 2 === 0 ? a.base : b.base, client, code, verifier))
      const statuses = (await Promise.all(attempts)).map((r) => r.status)
      expect(statuses.filter((s) => s === 200)).toHaveLength(1)
      expect(statuses.filter((s) => s === 400)).toHaveLength(19)
    }
  })

  it("RFC 9700 §4.14.2: a refresh token rotated at one process is reused at the other -> the family dies", async () => {
    const browser = new HttpBrowser(a.base, issuer)
    const { code, verifier } = await authorize(browser, client)
    const first = await (await redeem(a.base, client, code, verifier)).json() as { refresh_token: string; access_token: string }
    const refresh = (base: string, token: string) =>
      fetch(`${base}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64")}` },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: token })
      })
    const rotated = await refresh(a.base, first.refresh_token)
    expect(rotated.status).toBe(200)
    const second = await rotated.json() as { refresh_token: string; access_token: string }
    const reuse = await refresh(b.base, first.refresh_token)
    expect(reuse.status).toBe(400)
    expect(await introspect(a.base, client, second.refresh_token)).toEqual({ active: false })
    expect(await introspect(b.base, client, second.access_token)).toEqual({ active: false })
  })
})
