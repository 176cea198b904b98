/**
 * The public entry: every Gatehouse storage port on SQLite or Postgres, as one scoped Layer.
 *
 *   DrizzleStorage.sqlite({ path: "./.data/gatehouse.sqlite" })
 *   DrizzleStorage.postgres({ connectionString: process.env.DATABASE_URL })
 *   DrizzleStorage.fromUrl(process.env.DATABASE_URL ?? "file:./.data/gatehouse.sqlite")
 *
 * Building the layer opens the database (SQLite: the file and its folder are created;
 * Postgres: a pool), applies pending migrations (unless `migrate: false`), and, unless
 * `sweepIntervalMs: false`, starts a background fiber deleting expired rows. Closing the
 * layer's scope stops the sweeper and closes the database.
 */
import { StorageError } from "@gatehouse/core"
import type Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type pg from "pg"
import { openPg, pgDialect } from "./dialect.pg.js"
import { openSqlite, sqliteDialect } from "./dialect.sqlite.js"
import { configuredKek, fileKek, type Kek, type KekInput, makeKek } from "./kek.js"
import { migratePg, migrateSqlite, pendingPg, pendingSqlite } from "./migrate.js"
import { makeStorageContext, type StoragePorts } from "./stores/index.js"
import { sweepAll, sweeper, sweepForever } from "./sweeper.js"

/** Options both databases take. */
export interface CommonOptions {
  /**
   * Key-encryption key for private signing keys: 32 bytes, or a string (43-character
   * base64url of 32 bytes used as is; anything else through HKDF-SHA256). Default: the
   * `GATEHOUSE_KEK` environment variable; then, SQLite only, a generated `<db>.kek` file.
   * See kek.ts.
   */
  readonly kek?: KekInput | undefined
  /**
   * Apply pending migrations when the layer starts (default true). With `false` the layer
   * fails when a migration is pending: run `gatehouse-migrate <DATABASE_URL>` first.
   */
  readonly migrate?: boolean | undefined
  /** Milliseconds between sweeps of expired rows; `false` for none. Default 600000 (10 min). */
  readonly sweepIntervalMs?: number | false | undefined
}

export interface SqliteOptions extends CommonOptions {
  /** the database file (created, with its folder, if missing), or `:memory:` */
  readonly path?: string | undefined
  /** or a `file:` URL: `file:/abs/path`, `file:///abs/path`, `file:./relative/path` */
  readonly url?: string | undefined
  /** milliseconds a write waits for another connection's lock; default 5000 */
  readonly busyTimeoutMs?: number | undefined
  /**
   * `PRAGMA synchronous` (WAL mode). Default `"normal"`: every commit survives a crash of
   * the process (SIGKILL included); the last commits may be lost on power loss or an OS
   * crash. `"full"` survives those too, with an fsync per commit.
   */
  readonly synchronous?: "normal" | "full" | undefined
}

export interface PostgresOptions extends CommonOptions {
  /** `postgres://user:password@host:5432/db` */
  readonly connectionString: string
  /** pool size; default 10 */
  readonly max?: number | undefined
  /**
   * The schema holding the tables (it becomes the connections' `search_path`), created on
   * start when migrating. Default: the server's `search_path` (usually `public`).
   */
  readonly schema?: string | undefined
}

/** What `fromUrl` takes besides the URL: the options of both databases. */
export type FromUrlOptions =
  & CommonOptions
  & Pick<SqliteOptions, "busyTimeoutMs" | "synchronous">
  & Pick<PostgresOptions, "max" | "schema">

export type DatabaseTarget =
  | { readonly dialect: "sqlite"; readonly path: string }
  | { readonly dialect: "postgres"; readonly connectionString: string }

const SCHEME = /^([a-z][a-z0-9+.-]+):/i

/**
 * Which database a `DATABASE_URL` names: `postgres://` and `postgresql://` are Postgres;
 * `file:/abs`, `file:///abs`, `file:./rel`, `sqlite:<path>`, `:memory:` and a bare path are
 * SQLite. Anything else throws a TypeError naming the scheme.
 */
export const parseDatabaseUrl = (url: string): DatabaseTarget => {
  const trimmed = url.trim()
  if (trimmed === "") throw new TypeError(`"DATABASE_URL" must not be empty`)
  if (trimmed === ":memory:") return { dialect: "sqlite", path: ":memory:" }
  const scheme = SCHEME.exec(trimmed)?.[1]?.toLowerCase()
  if (scheme === undefined) return { dialect: "sqlite", path: trimmed }
  if (scheme === "postgres" || scheme === "postgresql") return { dialect: "postgres", connectionString: trimmed }
  if (scheme === "file" || scheme === "sqlite") {
    const rest = trimmed.slice(scheme.length + 1).replace(/\?.*$/, "")
    if (rest.startsWith("//")) {
      if (scheme === "file") return { dialect: "sqlite", path: fileURLToPath(`file:${rest}`) }
      return { dialect: "sqlite", path: decodeURIComponent(rest.slice(2)) }
    }
    if (rest === "") throw new TypeError(`"DATABASE_URL" names no file: ${JSON.stringify(url)}`)
    return { dialect: "sqlite", path: decodeURIComponent(rest) }
  }
  throw new TypeError(
    `"DATABASE_URL" has the unsupported scheme "${scheme}:" (expected postgres://, postgresql://, file: or a path)`
  )
}

const failure = (description: string, cause?: unknown) =>
  new StorageError({
    description,
    detail: cause === undefined ? description : `${description}: ${cause instanceof Error ? cause.message : String(cause)}`,
    ...(cause === undefined ? {} : { cause })
  })

const DEFAULT_SWEEP_MS = 600_000

/** The storage context, plus the sweeper when asked for. Requires a Scope. */
const withSweeper = (ports: ReturnType<typeof makeStorageContext>, options: CommonOptions) =>
  Effect.gen(function*() {
    const interval = options.sweepIntervalMs ?? DEFAULT_SWEEP_MS
    if (interval !== false && interval > 0) {
      yield* Effect.forkScoped(Effect.provideContext(sweepForever(interval), ports))
    }
    return ports
  })

const sqlitePath = (options: SqliteOptions): string => {
  if (options.path !== undefined) return options.path
  if (options.url !== undefined) {
    const target = parseDatabaseUrl(options.url)
    if (target.dialect !== "sqlite") throw new TypeError(`"url" must be a file: URL for SQLite, got ${options.url}`)
    return target.path
  }
  throw new TypeError(`DrizzleStorage.sqlite needs "path" or "url"`)
}

const sqliteKek = (dbPath: string, option: KekInput | undefined): Kek =>
  configuredKek(option) ??
    (dbPath === ":memory:" || dbPath === "" ? makeKek(randomBytes(32)) : fileKek(path.resolve(dbPath)))

/**
 * Every storage port on SQLite (better-sqlite3): one connection, WAL, busy timeout,
 * migrations applied on start. Build one layer per process; several processes may share
 * the file.
 */
const sqlite = (options: SqliteOptions): Layer.Layer<StoragePorts, StorageError> =>
  Layer.effectContext(Effect.gen(function*() {
    const dbPath = yield* Effect.try({ try: () => sqlitePath(options), catch: (e) => failure("invalid SQLite options", e) })
    // open first: it creates the folder the <db>.kek file goes into
    const client = yield* Effect.acquireRelease(
      Effect.try({
        try: () => openSqlite({ path: dbPath, busyTimeoutMs: options.busyTimeoutMs, synchronous: options.synchronous }),
        catch: (e) => failure(`cannot open the SQLite database ${dbPath}`, e)
      }),
      (client) => Effect.sync(() => client.close())
    )
    const kek = yield* Effect.try({
      try: () => sqliteKek(dbPath, options.kek),
      catch: (e) => failure("cannot set up the key-encryption key (kek option, GATEHOUSE_KEK or <db>.kek file)", e)
    })
    yield* prepareSqlite(client, options.migrate ?? true)
    return yield* withSweeper(makeStorageContext(sqliteDialect(client, kek)), options)
  }))

const prepareSqlite = (client: Database.Database, migrate: boolean) =>
  migrate
    ? Effect.try({ try: () => void migrateSqlite(client), catch: (e) => failure("SQLite migration failed", e) })
    : Effect.try({ try: () => pendingSqlite(client), catch: (e) => failure("cannot read gatehouse_migrations", e) }).pipe(
      Effect.flatMap((pending) => pending.length === 0 ? Effect.void : Effect.fail(pendingFailure(pending)))
    )

const pendingFailure = (pending: ReadonlyArray<string>) =>
  failure(`migrations pending (${pending.join(", ")}) and "migrate" is false: run gatehouse-migrate <DATABASE_URL> first`)

const KEK_REQUIRED = "Postgres storage needs a key-encryption key for the private signing keys: set GATEHOUSE_KEK " +
  "(e.g. the output of `node -e \"console.log(crypto.randomBytes(32).toString('base64url'))\"`) or pass the kek option; " +
  "every process sharing the database needs the same one"

/**
 * Every storage port on Postgres (`pg` Pool). Needs a KEK (option or GATEHOUSE_KEK). Several
 * processes may share the database; migrations and key initialisation are serialised by
 * advisory locks.
 */
const postgres = (options: PostgresOptions): Layer.Layer<StoragePorts, StorageError> =>
  Layer.effectContext(Effect.gen(function*() {
    const kek = yield* Effect.try({ try: () => configuredKek(options.kek), catch: (e) => failure("invalid kek", e) })
    if (kek === undefined) return yield* Effect.fail(failure(KEK_REQUIRED))
    const pool = yield* Effect.acquireRelease(
      Effect.try({ try: () => openPg(options), catch: (e) => failure("invalid Postgres options", e) }),
      (pool) => Effect.promise(() => pool.end().catch(() => undefined))
    )
    yield* preparePg(pool, options)
    return yield* withSweeper(makeStorageContext(pgDialect(pool, kek)), options)
  }))

const preparePg = (pool: pg.Pool, options: PostgresOptions) =>
  (options.migrate ?? true)
    ? Effect.tryPromise({
      try: () => migratePg(pool, options.schema),
      catch: (e) => failure("Postgres migration failed", e)
    }).pipe(Effect.asVoid)
    : Effect.tryPromise({ try: () => pendingPg(pool), catch: (e) => failure("cannot read gatehouse_migrations", e) })
      .pipe(Effect.flatMap((pending) => pending.length === 0 ? Effect.void : Effect.fail(pendingFailure(pending))))

/** SQLite or Postgres, chosen by the URL's scheme (see `parseDatabaseUrl`). */
const fromUrl = (url: string, options: FromUrlOptions = {}): Layer.Layer<StoragePorts, StorageError> =>
  Layer.unwrap(Effect.try({
    try: () => {
      const target = parseDatabaseUrl(url)
      return target.dialect === "sqlite"
        ? sqlite({ ...options, path: target.path })
        : postgres({ ...options, connectionString: target.connectionString })
    },
    catch: (e) => failure("invalid DATABASE_URL", e)
  }))

/**
 * Apply the pending migrations to the database `url` names, then close it. For those who
 * run migrations as a deployment step (with `migrate: false` on the layers). Yields the
 * ids applied now (empty when up to date).
 */
const migrate = (
  url: string,
  options: { readonly schema?: string | undefined } = {}
): Effect.Effect<ReadonlyArray<string>, StorageError> =>
  Effect.scoped(Effect.gen(function*() {
    const target = yield* Effect.try({ try: () => parseDatabaseUrl(url), catch: (e) => failure("invalid DATABASE_URL", e) })
    if (target.dialect === "sqlite") {
      const client = yield* Effect.acquireRelease(
        Effect.try({ try: () => openSqlite({ path: target.path }), catch: (e) => failure(`cannot open ${target.path}`, e) }),
        (client) => Effect.sync(() => client.close())
      )
      return yield* Effect.try({ try: () => migrateSqlite(client), catch: (e) => failure("SQLite migration failed", e) })
    }
    const pool = yield* Effect.acquireRelease(
      Effect.try({
        try: () => openPg({ connectionString: target.connectionString, max: 1, schema: options.schema }),
        catch: (e) => failure("invalid Postgres options", e)
      }),
      (pool) => Effect.promise(() => pool.end().catch(() => undefined))
    )
    return yield* Effect.tryPromise({
      try: () => migratePg(pool, options.schema),
      catch: (e) => failure("Postgres migration failed", e)
    })
  }))

export const DrizzleStorage = {
  sqlite,
  postgres,
  fromUrl,
  migrate,
  sweeper,
  sweepAll
} as const
