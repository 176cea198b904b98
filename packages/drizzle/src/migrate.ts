/**
 * A tiny migrator: `migrations/<dialect>/NNNN_name.sql`, applied in name order, each once,
 * each in its own transaction together with its row in `gatehouse_migrations`.
 *
 * Concurrent starts are safe: on SQLite every file is applied inside `BEGIN IMMEDIATE`
 * (one writer at a time, the check for "already applied" inside it); on Postgres inside a
 * transaction holding `pg_advisory_xact_lock` keyed by the target schema.
 */
import type BetterSqlite3 from "better-sqlite3"
import * as fs from "node:fs"
import type * as pg from "pg"

export interface Migration {
  /** file name without `.sql`, e.g. `0001_init` */
  readonly id: string
  readonly sql: string
}

export type MigrationDialect = "sqlite" | "pg"

const folder = (dialect: MigrationDialect) => new URL(`../migrations/${dialect}/`, import.meta.url)

/** The migrations shipped with this package for `dialect`, in the order they apply. */
export const migrations = (dialect: MigrationDialect): ReadonlyArray<Migration> =>
  fs.readdirSync(folder(dialect))
    .filter((name) => /^\d{4}_[\w-]+\.sql$/.test(name))
    .sort()
    .map((name) => ({
      id: name.slice(0, -".sql".length),
      sql: fs.readFileSync(new URL(name, folder(dialect)), "utf8")
    }))

const TABLE_SQLITE = `CREATE TABLE IF NOT EXISTS gatehouse_migrations (
  id text PRIMARY KEY NOT NULL,
  applied_at integer NOT NULL
)`

/** Apply the pending SQLite migrations on `client`. Returns the ids applied now. */
export const migrateSqlite = (client: BetterSqlite3.Database): ReadonlyArray<string> => {
  client.exec(TABLE_SQLITE)
  const applied: Array<string> = []
  const seen = client.prepare<[string], unknown>("SELECT 1 FROM gatehouse_migrations WHERE id = ?")
  const record = client.prepare<[string, number]>("INSERT INTO gatehouse_migrations (id, applied_at) VALUES (?, ?)")
  for (const migration of migrations("sqlite")) {
    const ran = client.transaction(() => {
      if (seen.get(migration.id) !== undefined) return false
      client.exec(migration.sql)
      record.run(migration.id, Date.now())
      return true
    }).immediate()
    if (ran) applied.push(migration.id)
  }
  return applied
}

/** The ids of the SQLite migrations not applied yet. */
export const pendingSqlite = (client: BetterSqlite3.Database): ReadonlyArray<string> => {
  const table = client.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gatehouse_migrations'").get()
  const done = new Set(
    table === undefined
      ? []
      : client.prepare<[], { id: string }>("SELECT id FROM gatehouse_migrations").all().map((row) => row.id)
  )
  return migrations("sqlite").map((m) => m.id).filter((id) => !done.has(id))
}

/** advisory-lock namespace ("gate"), the first key of `pg_advisory_xact_lock(int, int)` */
export const PG_LOCK_NAMESPACE = 0x67617465

const TABLE_PG = `CREATE TABLE IF NOT EXISTS gatehouse_migrations (
  id text PRIMARY KEY,
  applied_at bigint NOT NULL
)`

const quoteIdent = (name: string) => `"${name.replaceAll(`"`, `""`)}"`

/**
 * Apply the pending Postgres migrations through `pool`, in `schema` (created if missing)
 * or, without it, in the connection's `current_schema()`. The connections of `pool` must
 * resolve unqualified names to that schema (see `dialect.pg.ts`, which sets `search_path`).
 * Returns the ids applied now.
 */
export const migratePg = async (pool: pg.Pool, schema: string | undefined): Promise<ReadonlyArray<string>> => {
  const client = await pool.connect()
  try {
    const target = schema ?? (await client.query<{ s: string | null }>("SELECT current_schema() AS s")).rows[0]?.s
    if (target == null) throw new Error("no schema to migrate: search_path names no existing schema")
    const applied: Array<string> = []
    for (const migration of migrations("pg")) {
      await client.query("BEGIN")
      try {
        await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [PG_LOCK_NAMESPACE, `${target}:migrations`])
        if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`)
        await client.query(TABLE_PG)
        const seen = await client.query("SELECT 1 FROM gatehouse_migrations WHERE id = $1", [migration.id])
        if (seen.rowCount === 0) {
          await client.query(migration.sql)
          await client.query("INSERT INTO gatehouse_migrations (id, applied_at) VALUES ($1, $2)", [migration.id, Date.now()])
          applied.push(migration.id)
        }
        await client.query("COMMIT")
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined)
        throw error
      }
    }
    return applied
  } finally {
    client.release()
  }
}

/** The ids of the Postgres migrations not applied yet in the connection's schema. */
export const pendingPg = async (pool: pg.Pool): Promise<ReadonlyArray<string>> => {
  const exists = await pool.query<{ t: string | null }>("SELECT to_regclass('gatehouse_migrations')::text AS t")
  const done = new Set(
    exists.rows[0]?.t == null
      ? []
      : (await pool.query<{ id: string }>("SELECT id FROM gatehouse_migrations")).rows.map((row) => row.id)
  )
  return migrations("pg").map((m) => m.id).filter((id) => !done.has(id))
}
