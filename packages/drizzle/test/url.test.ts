/** DATABASE_URL: one variable chooses the store. */
import { ReplayCache } from "@gatehouse/core"
import { DrizzleStorage, parseDatabaseUrl } from "@gatehouse/drizzle"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { dropSchema, freshSchema, PG_URL } from "./pg.js"
import { failureOf, withStorage } from "./run.js"

describe("parseDatabaseUrl", () => {
  it.each([
    ["file:/var/lib/gatehouse/db.sqlite", { dialect: "sqlite", path: "/var/lib/gatehouse/db.sqlite" }],
    ["file:///var/lib/gatehouse/db.sqlite", { dialect: "sqlite", path: "/var/lib/gatehouse/db.sqlite" }],
    ["file:./.data/gatehouse.sqlite", { dialect: "sqlite", path: "./.data/gatehouse.sqlite" }],
    ["file:.data/gatehouse.sqlite?mode=rwc", { dialect: "sqlite", path: ".data/gatehouse.sqlite" }],
    ["file:/tmp/with%20space.sqlite", { dialect: "sqlite", path: "/tmp/with space.sqlite" }],
    ["sqlite:./db.sqlite", { dialect: "sqlite", path: "./db.sqlite" }],
    ["./.data/gatehouse.sqlite", { dialect: "sqlite", path: "./.data/gatehouse.sqlite" }],
    ["/abs/gatehouse.sqlite", { dialect: "sqlite", path: "/abs/gatehouse.sqlite" }],
    [":memory:", { dialect: "sqlite", path: ":memory:" }],
    ["postgres://u:p@db:5432/app", { dialect: "postgres", connectionString: "postgres://u:p@db:5432/app" }],
    ["postgresql://db/app?sslmode=require", { dialect: "postgres", connectionString: "postgresql://db/app?sslmode=require" }]
  ])("%s", (url, expected) => {
    expect(parseDatabaseUrl(url)).toEqual(expected)
  })

  it("refuses other schemes and an empty value, naming DATABASE_URL", () => {
    expect(() => parseDatabaseUrl("mysql://db/app")).toThrow(`"DATABASE_URL" has the unsupported scheme "mysql:"`)
    expect(() => parseDatabaseUrl("  ")).toThrow(`"DATABASE_URL" must not be empty`)
    expect(() => parseDatabaseUrl("file:")).toThrow(`"DATABASE_URL" names no file`)
  })
})

describe("DrizzleStorage.fromUrl", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gatehouse-url-"))
  const schema = freshSchema()
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true })
    await dropSchema(schema)
  })

  const useTwice = ReplayCache.use((cache) => cache.use("jti-1", Date.now() + 60_000))

  it("file: opens SQLite, creating the folder; the data outlives the layer", async () => {
    const file = path.join(dir, "nested", "folder", "gatehouse.sqlite")
    const layer = DrizzleStorage.fromUrl(`file:${file}`, { sweepIntervalMs: false })
    expect(await withStorage(layer, useTwice)).toBe(true)
    expect(fs.existsSync(file)).toBe(true)
    expect(await withStorage(layer, useTwice)).toBe(false)
  })

  it("postgres:// opens Postgres", async () => {
    const layer = DrizzleStorage.fromUrl(PG_URL, { schema, kek: "k", sweepIntervalMs: false })
    expect(await withStorage(layer, useTwice)).toBe(true)
    expect(await withStorage(layer, useTwice)).toBe(false)
  })

  it("an unsupported URL fails the layer with a StorageError", async () => {
    const error = await failureOf(DrizzleStorage.fromUrl("mysql://db/app"), useTwice)
    expect(error._tag).toBe("StorageError")
    expect(error.detail).toContain(`unsupported scheme "mysql:"`)
  })
})
