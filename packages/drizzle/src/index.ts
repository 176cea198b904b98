/**
 * @gatehouse/drizzle: every Gatehouse storage port on drizzle-orm, over SQLite
 * (better-sqlite3, the embedded default) or Postgres (pg).
 */
export {
  type CommonOptions,
  type DatabaseTarget,
  DrizzleStorage,
  type FromUrlOptions,
  parseDatabaseUrl,
  type PostgresOptions,
  type SqliteOptions
} from "./DrizzleStorage.js"
export type { KekInput } from "./kek.js"
export { type Migration, migrations } from "./migrate.js"
export * as pgSchema from "./schema.pg.js"
export * as sqliteSchema from "./schema.sqlite.js"
export type { StoragePorts } from "./stores/index.js"
export { sweepAll, sweeper, type SweepReport } from "./sweeper.js"
