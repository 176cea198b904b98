/**
 * What the stores need from a database, and nothing more: a query-builder root, a way to
 * execute a built query, and a transaction. `dialect.sqlite.ts` and `dialect.pg.ts` are the
 * only places where SQLite and Postgres differ.
 *
 * The stores (stores/*.ts) are written once, typed against the Postgres builder and tables.
 * The SQLite dialect hands them its own builder and tables under those types: drizzle's
 * select / insert / update / delete / returning / onConflict API used by the stores has the
 * same shape in both dialects, and `schema.parity.ts` proves the row types are identical.
 * Executing a query is the dialect's job (`all()` on better-sqlite3, `await` on pg), so a
 * SQLite transaction stays synchronous from BEGIN IMMEDIATE to COMMIT.
 */
import { StorageError } from "@gatehouse/core"
import type { NodePgDatabase } from "drizzle-orm/node-postgres"
import type { Effect } from "effect"
import type { Kek } from "./kek.js"
import type { tables } from "./schema.pg.js"

/** The builder root the stores use (for SQLite: a better-sqlite3 database under this type). */
export type Db = NodePgDatabase

export type Tables = typeof tables

/** A built drizzle query: awaiting it (pg) or calling `all()` / `run()` (SQLite) executes it. */
export type Query<A> = PromiseLike<A>

export interface Dialect {
  readonly name: "sqlite" | "postgres"
  readonly db: Db
  readonly tables: Tables
  /** encrypts `keys.private_jwk` */
  readonly kek: Kek
  /** Execute a query that yields rows (select, or a write with `returning`). */
  readonly rows: <A>(query: Query<A>) => Effect.Effect<A, StorageError>
  /** Execute a query for its effect. */
  readonly run: (query: Query<unknown>) => Effect.Effect<void, StorageError>
  /** Execute an update / delete without `returning`; yields the number of rows it changed. */
  readonly affected: (query: Query<unknown>) => Effect.Effect<number, StorageError>
  /**
   * Run `body` in one transaction, committed when it succeeds and rolled back when it fails.
   * With `lock`, the transaction first takes an exclusive lock of that name, held to its end
   * across every process sharing the database (Postgres: `pg_advisory_xact_lock`; SQLite:
   * every transaction is `BEGIN IMMEDIATE`, which already excludes every other writer).
   * `body` must use only `rows` / `run` on the `tx` it is given.
   */
  readonly transaction: <A>(
    body: (tx: Db) => Effect.Effect<A, StorageError>,
    options?: { readonly lock?: string }
  ) => Effect.Effect<A, StorageError>
}

/** Every driver failure becomes a StorageError; the driver's message goes to `detail`. */
export const storageError = (dialect: Dialect["name"], cause: unknown): StorageError =>
  cause instanceof StorageError ? cause : new StorageError({
    detail: `${dialect}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })
