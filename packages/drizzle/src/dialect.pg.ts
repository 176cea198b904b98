/**
 * Postgres through a `pg` Pool. Single-use guarantees come from conditional
 * `UPDATE ... RETURNING` / `INSERT ... ON CONFLICT DO NOTHING RETURNING` (row locks under
 * READ COMMITTED re-check the condition after a concurrent commit); multi-statement steps
 * run in a transaction, serialised where needed by `pg_advisory_xact_lock`.
 */
import { sql } from "drizzle-orm"
import { drizzle } from "drizzle-orm/node-postgres"
import { Effect, Exit } from "effect"
import pg from "pg"
import { type Db, type Dialect, storageError } from "./dialect.js"
import type { Kek } from "./kek.js"
import { PG_LOCK_NAMESPACE } from "./migrate.js"
import { tables } from "./schema.pg.js"

export interface PgConnectOptions {
  readonly connectionString: string
  /** pool size; default 10 */
  readonly max?: number | undefined
  /**
   * The schema the tables live in (its own `search_path`); created by the migrator if
   * missing. Default: the server's `search_path` (usually `public`).
   */
  readonly schema?: string | undefined
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

export const openPg = (options: PgConnectOptions): pg.Pool => {
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new TypeError(`"schema" must be a lower-case SQL identifier ([a-z_][a-z0-9_]*), got "${options.schema}"`)
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    ...(options.schema !== undefined ? { options: `-c search_path=${options.schema}` } : {})
  })
  // an idle client losing its connection must not crash the host process; the pool
  // replaces it and the next query reports the failure
  pool.on("error", (error) => {
    Effect.runFork(Effect.logWarning("@gatehouse/drizzle: idle Postgres connection failed", error.message))
  })
  return pool
}

const ROLLBACK = Symbol("rollback")

export const pgDialect = (pool: pg.Pool, kek: Kek): Dialect => {
  const db: Db = drizzle({ client: pool })
  const rows = <A>(query: PromiseLike<A>) =>
    Effect.tryPromise({ try: async () => await query, catch: (cause) => storageError("postgres", cause) })
  return {
    name: "postgres",
    db,
    tables,
    kek,
    rows,
    run: (query) => Effect.asVoid(rows(query)),
    affected: (query) => Effect.map(rows(query as PromiseLike<{ readonly rowCount: number | null }>), (r) => r.rowCount ?? 0),
    transaction: (body, options) =>
      Effect.suspend(() => {
        let exit: Exit.Exit<any, any> | undefined
        return Effect.tryPromise({
          try: () =>
            db.transaction(async (tx) => {
              if (options?.lock !== undefined) {
                await tx.execute(
                  sql`SELECT pg_advisory_xact_lock(${PG_LOCK_NAMESPACE}, hashtext(current_schema() || ${`:${options.lock}`}))`
                )
              }
              exit = await Effect.runPromiseExit(body(tx as unknown as Db))
              if (Exit.isFailure(exit)) throw ROLLBACK
            }),
          catch: (cause) => cause === ROLLBACK ? ROLLBACK : storageError("postgres", cause)
        }).pipe(
          Effect.matchEffect({
            onFailure: (error) => error === ROLLBACK ? exit! : Effect.fail(error as ReturnType<typeof storageError>),
            onSuccess: () => exit!
          })
        )
      })
  }
}
