/**
 * Statements built once, executed many times: the hot lookups and writes (a token by its
 * digest, a new token, a code consumed) are built with `sql.placeholder`s and drizzle's
 * `prepare()` when the store is made, instead of building the SQL per call.
 *
 * SQLite: one compiled better-sqlite3 statement reused for every call (without it, every
 * call compiles its SQL again). Postgres: the SQL text is built once; statements stay
 * unnamed, so a transaction-mode pooler (PgBouncer) in front of the database keeps working.
 */
import { StorageError } from "@gatehouse/core"
import { getTableColumns, type Placeholder, sql } from "drizzle-orm"
import type { PgTable } from "drizzle-orm/pg-core"
import { Effect } from "effect"
import { type Dialect, storageError } from "../dialect.js"

/** What drizzle's `prepare()` returns for SQLite (synchronous) ... */
interface SqlitePrepared {
  all(values?: Record<string, unknown>): unknown
  run(values?: Record<string, unknown>): { readonly changes: number }
}
/** ... and for Postgres (a promise per execution). */
interface PgPrepared {
  execute(values?: Record<string, unknown>): Promise<unknown>
}

export interface Prepared<Row> {
  /** rows of a select, or of a write with `returning` */
  readonly rows: (values: Record<string, unknown>) => Effect.Effect<ReadonlyArray<Row>, StorageError>
  /** a write without `returning`: the number of rows it changed */
  readonly affected: (values: Record<string, unknown>) => Effect.Effect<number, StorageError>
}

/**
 * Prepare a built drizzle query (`d.db.select()...`, `.insert()`, `.update()...returning()`)
 * whose parameters are `sql.placeholder(name)`s; execute it with the values by name.
 */
export const prepare = <Row>(d: Dialect, query: { prepare(name?: string): unknown }): Prepared<Row> => {
  const fail = (cause: unknown) => cause instanceof StorageError ? cause : storageError(d.name, cause)
  if (d.name === "sqlite") {
    const statement = query.prepare() as SqlitePrepared
    return {
      rows: (values) => Effect.try({ try: () => statement.all(values) as ReadonlyArray<Row>, catch: fail }),
      affected: (values) => Effect.try({ try: () => statement.run(values).changes, catch: fail })
    }
  }
  // unnamed: see the header
  const statement = query.prepare(undefined) as PgPrepared
  return {
    rows: (values) => Effect.tryPromise({ try: () => statement.execute(values) as Promise<ReadonlyArray<Row>>, catch: fail }),
    affected: (values) =>
      Effect.tryPromise({
        try: () => statement.execute(values).then((result) => (result as { readonly rowCount?: number | null }).rowCount ?? 0),
        catch: fail
      })
  }
}

/** `{ column: sql.placeholder(column) }` for every column of `table`: an insert of a whole row by name. */
export const placeholders = <T extends PgTable>(table: T): { [K in keyof T["_"]["columns"]]: Placeholder<K & string> } =>
  Object.fromEntries(Object.keys(getTableColumns(table)).map((name) => [name, sql.placeholder(name)])) as never
