/**
 * Private signing keys are encrypted at rest (AES-256-GCM under the KEK): the raw row never
 * holds the private JWK, another connection with the same KEK reads it back, and a wrong
 * KEK or a ciphertext moved to another row fails with a StorageError that says why.
 */
import { type KeyRecord, KeyStore } from "@gatehouse/core"
import { DrizzleStorage } from "@gatehouse/drizzle"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest"
import { dropSchema, freshSchema, PG_URL, withClient } from "./pg.js"
import { failureOf, withStorage } from "./run.js"

const D = `private-d-${randomBytes(16).toString("hex")}`

const signingKey = (alg: string, status: KeyRecord["status"]): KeyRecord => {
  const kid = `kid-${randomBytes(8).toString("hex")}`
  return {
    kid,
    alg,
    status,
    publicJwk: JSON.stringify({ kty: "EC", crv: "P-256", kid, x: "x-value", y: "y-value" }),
    privateJwk: JSON.stringify({ kty: "EC", crv: "P-256", kid, x: "x-value", y: "y-value", d: `${D}-${kid}` }),
    createdAt: 1_700_000_000_000
  }
}

const list = KeyStore.use((keys) => keys.list())

let savedEnv: string | undefined
beforeEach(() => {
  savedEnv = process.env["GATEHOUSE_KEK"]
  delete process.env["GATEHOUSE_KEK"]
})
afterEach(() => {
  if (savedEnv === undefined) delete process.env["GATEHOUSE_KEK"]
  else process.env["GATEHOUSE_KEK"] = savedEnv
})

describe("SQLite", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gatehouse-keys-"))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it("without a kek, generates <db>.kek (mode 0600) once and stores only ciphertext", async () => {
    const file = path.join(dir, "generated.sqlite")
    const keys = [signingKey("ES256", "current"), signingKey("ES256", "next")]
    const layer = DrizzleStorage.sqlite({ path: file, sweepIntervalMs: false })
    await withStorage(layer, KeyStore.use((store) => store.initialize(keys)))

    const kekFile = `${file}.kek`
    expect(fs.statSync(kekFile).mode & 0o777).toBe(0o600)
    expect(fs.readFileSync(kekFile, "utf8").trim()).toMatch(/^[A-Za-z0-9_-]{43}$/)

    const raw = new Database(file, { readonly: true })
    const rows = raw.prepare("SELECT kid, public_jwk, private_jwk FROM keys").all() as Array<
      { kid: string; public_jwk: string; private_jwk: string }
    >
    raw.close()
    expect(rows).toHaveLength(2)
    for (const row of rows) {
      expect(row.private_jwk).not.toContain(D)
      expect(row.private_jwk).not.toContain(`"d"`)
      expect(row.private_jwk).toMatch(/^v1\.[\w-]+\.[\w-]+$/)
      expect(row.public_jwk).not.toContain(D)
    }

    // a second process (connection) reads the same .kek file and decrypts
    const kekBefore = fs.readFileSync(kekFile, "utf8")
    const loaded = await withStorage(DrizzleStorage.sqlite({ path: file, sweepIntervalMs: false }), list)
    expect(fs.readFileSync(kekFile, "utf8")).toBe(kekBefore)
    expect([...loaded].sort((a, b) => a.kid.localeCompare(b.kid)))
      .toEqual([...keys].sort((a, b) => a.kid.localeCompare(b.kid)))
  })

  it("with the kek option or GATEHOUSE_KEK, writes no .kek file; a wrong KEK fails naming GATEHOUSE_KEK", async () => {
    const file = path.join(dir, "configured.sqlite")
    const kek = randomBytes(32).toString("base64url")
    const key = signingKey("EdDSA", "current")
    await withStorage(DrizzleStorage.sqlite({ path: file, kek, sweepIntervalMs: false }), KeyStore.use((s) => s.initialize([key])))
    expect(fs.existsSync(`${file}.kek`)).toBe(false)

    process.env["GATEHOUSE_KEK"] = kek
    expect(await withStorage(DrizzleStorage.sqlite({ path: file, sweepIntervalMs: false }), list)).toEqual([key])

    const wrong = await failureOf(
      DrizzleStorage.sqlite({ path: file, kek: randomBytes(32).toString("base64url"), sweepIntervalMs: false }),
      list
    )
    expect(wrong._tag).toBe("StorageError")
    expect(wrong.description).toBe("stored signing keys cannot be decrypted")
    expect(wrong.detail).toContain("GATEHOUSE_KEK")
    expect(wrong.detail).toContain(key.kid)
  })

  it("a ciphertext moved to another row does not decrypt (the kid is authenticated data)", async () => {
    const file = path.join(dir, "moved.sqlite")
    const kek = "a passphrase, run through HKDF-SHA256"
    const first = signingKey("ES256", "current")
    const second = signingKey("RS256", "current")
    const layer = DrizzleStorage.sqlite({ path: file, kek, sweepIntervalMs: false })
    await withStorage(layer, KeyStore.use((s) => Effect.andThen(s.initialize([first]), s.initialize([second]))))
    const raw = new Database(file)
    raw.prepare("UPDATE keys SET private_jwk = (SELECT private_jwk FROM keys WHERE kid = ?) WHERE kid = ?")
      .run(first.kid, second.kid)
    raw.close()
    const moved = await failureOf(layer, list)
    expect(moved.detail).toContain(second.kid)
  })
})

describe("Postgres", () => {
  const schema = freshSchema()
  afterAll(() => dropSchema(schema))

  it("stores only ciphertext of the private JWK", async () => {
    const kek = randomBytes(32)
    const keys = [signingKey("ES256", "current"), signingKey("ES256", "next")]
    const layer = DrizzleStorage.postgres({ connectionString: PG_URL, schema, kek, sweepIntervalMs: false })
    await withStorage(layer, KeyStore.use((store) => store.initialize(keys)))
    const rows = await withClient((client) =>
      client.query<{ private_jwk: string }>(`SELECT private_jwk FROM "${schema}".keys`)
    )
    expect(rows.rows).toHaveLength(2)
    for (const row of rows.rows) {
      expect(row.private_jwk).not.toContain(D)
      expect(row.private_jwk).not.toContain(`"d"`)
      expect(row.private_jwk).toMatch(/^v1\./)
    }
    expect((await withStorage(layer, list)).length).toBe(2)
  })

  it("refuses to start without a KEK, naming GATEHOUSE_KEK", async () => {
    const error = await failureOf(
      DrizzleStorage.postgres({ connectionString: PG_URL, schema, sweepIntervalMs: false }),
      list
    )
    expect(error._tag).toBe("StorageError")
    expect(error.description).toContain("GATEHOUSE_KEK")
  })
})
