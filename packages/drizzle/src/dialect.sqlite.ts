/**
 * SQLite through better-sqlite3: one connection per layer, WAL, a busy timeout, and every
 * transaction `BEGIN IMMEDIATE` and synchronous, so no other statement (of this process or
 * another) can slip between its read and its write.
 */
import Database from "better-sqlite3"
import { drizzle } from "drizzle-orm/better-sqlite3"
import { Effect, Exit } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { type Db, type Dialect, storageError, type Tables } from "./dialect.js"
import type { Kek } from "./kek.js"
import { tables } from "./schema.sqlite.js"

export interface SqliteConnectOptions {
  /** file path, or `:memory:` */
  readonly path: string
  /** milliseconds a statement waits for another connection's write lock; default 5000 */
  readonly busyTimeoutMs?: number | undefined
  /**
   * `PRAGMA synchronous`; default `"normal"`. In WAL mode `normal` keeps every commit
   * across a crash of the process (SIGKILL included) but may lose the last commits on a
   * power loss or OS crash; `full` also survives those, at the cost of an fsync per commit.
   */
  readonly synchronous?: "normal" | "full" | undefined
}

/** the executor interface of a built better-sqlite3 drizzle query */
interface SyncQuery {
  all(): unknown
  run(): { readonly changes: number }
}

const ROLLBACK = Symbol("rollback")

/** Open the database file (creating its folder) and set the pragmas. */
export const openSqlite = (options: SqliteConnectOptions): Database.Database => {
  if (options.path !== ":memory:" && options.path !== "") {
    fs.mkdirSync(path.dirname(path.resolve(options.path)), { recursive: true })
  }
  const client = new Database(options.path)
  try {
    client.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`)
    client.pragma("journal_mode = WAL")
    client.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`)
    client.pragma("foreign_keys = ON")
  } catch (error) {
    client.close()
    throw error
  }
  return client
}

export const sqliteDialect = (client: Database.Database, kek: Kek): Dialect => {
  // the stores are typed against the Postgres builder: see dialect.ts
  const db = drizzle({ client }) as unknown as Db
  const exec = <A>(f: () => A) =>
    Effect.try({ try: f, catch: (cause) => storageError("sqlite", cause) })
  return {
    name: "sqlite",
    db,
    tables: tables as unknown as Tables,
    kek,
    rows: <A>(query: PromiseLike<A>) => exec(() => (query as unknown as SyncQuery).all() as A),
    run: (query) => exec(() => void (query as unknown as SyncQuery).run()),
    affected: (query) => exec(() => (query as unknown as SyncQuery).run().changes),
    transaction: (body) =>
      Effect.suspend(() => {
        let exit: Exit.Exit<any, any> | undefined
        try {
          client.transaction(() => {
            exit = Effect.runSyncExit(body(db))
            if (Exit.isFailure(exit)) throw ROLLBACK
          }).immediate()
        } catch (error) {
          if (error !== ROLLBACK) return Effect.fail(storageError("sqlite", error))
        }
        return exit!
      })
  }
}
