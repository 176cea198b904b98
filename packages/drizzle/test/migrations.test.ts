/**
 * The migrations: they create exactly the tables, columns and indexes the drizzle schemas
 * declare; running them again applies nothing; on Postgres several migrators (and several
 * layers) starting at once apply each migration exactly once.
 */
import { DrizzleStorage, migrations, pgSchema, sqliteSchema } from "@gatehouse/drizzle"
import { ReplayCache } from "@gatehouse/core"
import Database from "better-sqlite3"
import { getTableConfig as pgTableConfig } from "drizzle-orm/pg-core"
import { getTableConfig as sqliteTableConfig } from "drizzle-orm/sqlite-core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { dropSchema, freshSchema, PG_URL, withClient } from "./pg.js"
import { failureOf, withStorage } from "./run.js"

interface Shape {
  readonly columns: Record<string, { readonly notNull: boolean }>
  readonly indexes: ReadonlyArray<string>
}

const sqliteExpected = (): Record<string, Shape> =>
  Object.fromEntries(Object.values(sqliteSchema.tables).map((table) => {
    const config = sqliteTableConfig(table)
    return [config.name, {
      columns: Object.fromEntries(config.columns.map((c) => [c.name, { notNull: c.notNull || c.primary }])),
      indexes: config.indexes.map((i) => i.config.name).sort()
    }]
  }))

const pgExpected = (): Record<string, Shape> =>
  Object.fromEntries(Object.values(pgSchema.tables).map((table) => {
    const config = pgTableConfig(table)
    return [config.name, {
      columns: Object.fromEntries(config.columns.map((c) => [c.name, { notNull: c.notNull || c.primary }])),
      indexes: config.indexes.map((i) => i.config.name ?? "").sort()
    }]
  }))

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

describe("SQLite migrations", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gatehouse-migrations-"))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it("create the schema of schema.sqlite.ts, once: a second run applies nothing", async () => {
    const file = path.join(dir, "db.sqlite")
    expect(await run(DrizzleStorage.migrate(`file:${file}`))).toEqual(migrations("sqlite").map((m) => m.id))
    expect(await run(DrizzleStorage.migrate(`file:${file}`))).toEqual([])
    expect(await run(DrizzleStorage.migrate(file))).toEqual([])

    const db = new Database(file, { readonly: true })
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>)
      .map((t) => t.name)
    const actual: Record<string, Shape> = {}
    for (const name of tables.filter((t) => t !== "gatehouse_migrations")) {
      const columns = db.prepare(`PRAGMA table_info(${name})`).all() as Array<{ name: string; notnull: number; pk: number }>
      const indexes = db.prepare(`PRAGMA index_list(${name})`).all() as Array<{ name: string; origin: string }>
      actual[name] = {
        columns: Object.fromEntries(columns.map((c) => [c.name, { notNull: c.notnull === 1 || c.pk > 0 }])),
        indexes: indexes.filter((i) => i.origin === "c").map((i) => i.name).sort()
      }
    }
    expect((db.prepare("SELECT count(*) AS n FROM gatehouse_migrations").get() as { n: number }).n)
      .toBe(migrations("sqlite").length)
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal")
    db.close()
    expect(actual).toEqual(sqliteExpected())
  })

  it("the layer applies them on start; with migrate: false it refuses a database that needs them", async () => {
    const fresh = path.join(dir, "fresh.sqlite")
    const error = await failureOf(
      DrizzleStorage.sqlite({ path: fresh, migrate: false, sweepIntervalMs: false }),
      Effect.void
    )
    expect(error.description).toContain("gatehouse-migrate")
    expect(await withStorage(
      DrizzleStorage.sqlite({ path: fresh, sweepIntervalMs: false }),
      ReplayCache.use((cache) => cache.use("jti", Date.now() + 60_000))
    )).toBe(true)
    expect(await withStorage(
      DrizzleStorage.sqlite({ path: fresh, migrate: false, sweepIntervalMs: false }),
      ReplayCache.use((cache) => cache.use("jti", Date.now() + 60_000))
    )).toBe(false)
  })
})

describe("Postgres migrations", () => {
  const schemas: Array<string> = []
  const schema = () => {
    const name = freshSchema()
    schemas.push(name)
    return name
  }
  afterAll(async () => {
    for (const name of schemas) await dropSchema(name)
  })

  it("create the schema of schema.pg.ts in the given schema, once", async () => {
    const target = schema()
    expect(await run(DrizzleStorage.migrate(PG_URL, { schema: target }))).toEqual(migrations("pg").map((m) => m.id))
    expect(await run(DrizzleStorage.migrate(PG_URL, { schema: target }))).toEqual([])

    const actual = await withClient(async (client) => {
      const columns = await client.query<{ table_name: string; column_name: string; is_nullable: string }>(
        "SELECT table_name, column_name, is_nullable FROM information_schema.columns WHERE table_schema = $1",
        [target]
      )
      const indexes = await client.query<{ tablename: string; indexname: string }>(
        "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = $1 AND indexname NOT LIKE '%_pkey' AND indexname <> 'consents_pk'",
        [target]
      )
      const shape: Record<string, { columns: Record<string, { notNull: boolean }>; indexes: Array<string> }> = {}
      for (const c of columns.rows) {
        if (c.table_name === "gatehouse_migrations") continue
        const t = (shape[c.table_name] ??= { columns: {}, indexes: [] })
        t.columns[c.column_name] = { notNull: c.is_nullable === "NO" }
      }
      for (const i of indexes.rows) shape[i.tablename]?.indexes.push(i.indexname)
      for (const t of Object.values(shape)) t.indexes.sort()
      return shape
    })
    expect(actual).toEqual(pgExpected())
  })

  it("four migrators starting at once apply each migration exactly once", async () => {
    const target = schema()
    const results = await Promise.all(
      Array.from({ length: 4 }, () => run(DrizzleStorage.migrate(PG_URL, { schema: target })))
    )
    // each migration applied by exactly one migrator (which one may differ per file)
    expect(results.flat().sort()).toEqual(migrations("pg").map((m) => m.id).sort())
    const rows = await withClient((client) => client.query(`SELECT id FROM "${target}".gatehouse_migrations`))
    expect(rows.rowCount).toBe(migrations("pg").length)
  })

  it("three layers starting at once on a new schema all come up on one set of tables", async () => {
    const target = schema()
    const kek = "test kek"
    const layer = () => DrizzleStorage.postgres({ connectionString: PG_URL, schema: target, kek, max: 2, sweepIntervalMs: false })
    const firsts = await Promise.all(Array.from({ length: 3 }, () =>
      withStorage(layer(), ReplayCache.use((cache) => cache.use("same-jti", Date.now() + 60_000)))
    ))
    expect(firsts.filter(Boolean)).toHaveLength(1)
  })

  it("with migrate: false a layer refuses a schema that needs them", async () => {
    const target = schema()
    await withClient((client) => client.query(`CREATE SCHEMA "${target}"`))
    const error = await failureOf(
      DrizzleStorage.postgres({ connectionString: PG_URL, schema: target, kek: "k", migrate: false, sweepIntervalMs: false }),
      Effect.void
    )
    expect(error.description).toContain("gatehouse-migrate")
  })

  it("an invalid schema name is refused before connecting", async () => {
    const error = await failureOf(
      DrizzleStorage.postgres({ connectionString: PG_URL, schema: "Robert'); DROP", kek: "k", sweepIntervalMs: false }),
      Effect.void
    )
    expect(error.detail).toContain(`"schema" must be a lower-case SQL identifier`)
  })
})

