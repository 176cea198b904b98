/**
 * Failure limits hold across instances (issue 6): two Gatehouse instances over ONE database —
 * a SQLite file, and a Postgres schema — share the client-authentication and login budgets,
 * because the counters live in the `rate_limits` table (RFC 6749 §10.10).
 */
import { createGatehouse, type GatehouseInstance } from "@gatehouse/core"
import { DrizzleStorage } from "@gatehouse/drizzle"
import { memoryAccounts } from "@gatehouse/testkit"
import { TestClock } from "effect/testing"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { dropSchema, freshSchema, PG_URL } from "./pg.js"

const ISSUER = "https://as.example.com"
const T0 = Date.parse("2026-11-25T12:00:00Z")

const basic = (id: string, secret: string) => `Basic ${btoa(`${id}:${secret}`)}`

const clientCredentials = (gh: GatehouseInstance, secret: string) =>
  gh.handler(new Request(`${ISSUER}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic("svc", secret) },
    body: "grant_type=client_credentials"
  }))

type Storage = Parameters<typeof createGatehouse>[0]["storage"]

const instance = async (storage: Storage): Promise<GatehouseInstance> => {
  const gh = createGatehouse({
    issuer: ISSUER,
    storage,
    accounts: memoryAccounts([{ id: "alice", username: "alice", password: "wonderland", claims: { name: "Alice" } }]),
    clients: [{ client_id: "svc", client_secret: "svc-secret", token_endpoint_auth_method: "client_secret_basic", redirect_uris: [], grant_types: ["client_credentials"] }],
    rateLimit: { clientAuth: { max: 3, window: 60 }, login: { max: 3, window: 60 } },
    overrides: TestClock.layer()
  })
  await gh.ready()
  await gh.run(TestClock.setTime(T0))
  return gh
}

const sharedLimits = (name: string, storage: () => Storage, cleanup: () => Promise<void>) =>
  describe(`rate limits across two instances on ${name}`, () => {
    const instances: Array<GatehouseInstance> = []
    afterAll(async () => {
      await Promise.all(instances.map((gh) => gh.dispose()))
      await cleanup()
    })
    const pair = async () => {
      // one after the other: the first creates the tables and keys, the second finds them
      const a = await instance(storage())
      const b = await instance(storage())
      instances.push(a, b)
      return [a, b] as const
    }

    it("client authentication: failures on one instance lock the client on the other; the window's end unlocks both", async () => {
      const [a, b] = await pair()
      expect((await clientCredentials(b, "svc-secret")).status).toBe(200)
      for (let i = 0; i < 3; i++) expect((await clientCredentials(a, "wrong")).status).toBe(401)
      const locked = await clientCredentials(b, "svc-secret")
      expect(locked.status).toBe(429)
      expect(locked.headers.get("retry-after")).toBe("60")
      expect(await locked.json()).toEqual({ error: "invalid_client", error_description: "too many failed client authentications; try again later" })
      expect((await clientCredentials(a, "svc-secret")).status).toBe(429)
      await Promise.all([a, b].map((gh) => gh.run(TestClock.adjust("60 seconds"))))
      expect((await clientCredentials(b, "svc-secret")).status).toBe(200)
      expect((await clientCredentials(a, "svc-secret")).status).toBe(200)
    })

    it("login: wrong passwords on both instances add up to one budget", async () => {
      const [a, b] = await pair()
      const user = `alice-${randomBytes(4).toString("hex")}`
      expect(await a.accounts.check(user, "x")).toEqual({ outcome: "rejected", attemptsLeft: 2 })
      expect(await b.accounts.check(user, "y")).toEqual({ outcome: "rejected", attemptsLeft: 1 })
      expect(await a.accounts.check(user, "z")).toEqual({ outcome: "rejected", attemptsLeft: 0 })
      expect(await b.accounts.check(user, "w")).toEqual({ outcome: "too_many_attempts", retryAfter: 60 })
      // alice herself is untouched, on either instance
      expect(await b.accounts.check("alice", "wonderland")).toEqual({ outcome: "authenticated", accountId: "alice" })
    })

    it("20 concurrent guesses split over both instances: exactly max are checked", async () => {
      const [a, b] = await pair()
      const user = `bob-${randomBytes(4).toString("hex")}`
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).accounts.check(user, `guess-${i}`)))
      expect(results.filter((r) => r.outcome === "rejected")).toHaveLength(3)
      expect(results.filter((r) => r.outcome === "too_many_attempts")).toHaveLength(17)
    })
  })

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gatehouse-rate-limit-"))
const file = path.join(dir, "gatehouse.sqlite")
const sqliteKek = randomBytes(32).toString("base64url")
sharedLimits(
  "one SQLite file",
  () => DrizzleStorage.sqlite({ path: file, kek: sqliteKek, sweepIntervalMs: false }),
  async () => fs.rmSync(dir, { recursive: true, force: true })
)

const schema = freshSchema()
const pgKek = randomBytes(32).toString("base64url")
sharedLimits(
  "one Postgres schema",
  () => DrizzleStorage.postgres({ connectionString: PG_URL, schema, kek: pgKek, max: 3, sweepIntervalMs: false }),
  () => dropSchema(schema)
)
