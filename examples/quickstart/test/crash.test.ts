/**
 * Nothing issued is lost when the process dies: SIGKILL the quickstart (SQLite, WAL) while
 * it issues tokens under load, restart it on the same file, and every token whose response
 * the client received is still valid; the database passes PRAGMA integrity_check.
 */
import Database from "better-sqlite3"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { authorize, freePort, HttpBrowser, introspect, type Proc, redeem, register, startProcess } from "./support.js"

const dir = mkdtempSync(join(tmpdir(), "gatehouse-crash-"))
const file = join(dir, "gatehouse.sqlite")
let proc: Proc | undefined

afterAll(async () => {
  await proc?.kill("SIGKILL")
})

const integrity = () => {
  const db = new Database(file)
  try {
    return db.pragma("integrity_check", { simple: true })
  } finally {
    db.close()
  }
}

describe("crash safety on SQLite", () => {
  it("SIGKILL under load loses no token whose response was received; integrity_check ok", async () => {
    const port = await freePort()
    const env = { PORT: String(port), ISSUER: `http://localhost:${port}`, DATABASE_URL: `file:${file}` }
    proc = await startProcess(env)
    const client = await register(proc.base)
    const jwksBefore = await (await fetch(`${proc.base}/jwks`)).json()
    const browser = new HttpBrowser(proc.base, env.ISSUER)
    await authorize(browser, client) // sign in + consent once; then each authorize is one request

    const received: Array<{ access_token: string; refresh_token: string }> = []
    let stop = false
    let inFlightAtKill = 0
    let inFlight = 0
    let enough!: () => void
    const enoughReceived = new Promise<void>((resolve) => (enough = resolve))
    const worker = async () => {
      while (!stop) {
        inFlight++
        try {
          const { code, verifier } = await authorize(browser, client)
          const res = await redeem(proc!.base, client, code, verifier)
          if (res.status === 200) received.push(await res.json() as { access_token: string; refresh_token: string })
          if (received.length >= 150) enough()
        } catch {
          // the connection dies with the process: that response was not received
        } finally {
          inFlight--
        }
      }
    }
    const workers = Array.from({ length: 8 }, worker)
    // kill once enough tokens were received, with requests still in flight
    await enoughReceived
    inFlightAtKill = inFlight
    await proc.kill("SIGKILL")
    stop = true
    await Promise.all(workers)
    expect(proc.child.signalCode).toBe("SIGKILL")
    expect(inFlightAtKill).toBeGreaterThan(0)
    expect(integrity()).toBe("ok")

    const count = received.length
    proc = await startProcess(env)
    // same signing keys after the restart
    expect(await (await fetch(`${proc.base}/jwks`)).json()).toEqual(jwksBefore)
    for (let i = 0; i < received.length; i += 16) {
      const batch = received.slice(i, i + 16)
      const results = await Promise.all(batch.flatMap((t) => [introspect(proc!.base, client, t.access_token), introspect(proc!.base, client, t.refresh_token)]))
      for (const r of results) expect(r.active).toBe(true)
    }
    expect(count).toBeGreaterThanOrEqual(150)
    await proc.kill("SIGTERM")
    expect(integrity()).toBe("ok")
  }, 120_000)
})
