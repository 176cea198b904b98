/**
 * Compile-time check that `schema.sqlite.ts` and `schema.pg.ts` declare the same tables
 * with the same inferred row types (select and insert). A column added to one dialect only,
 * or typed differently, fails `tsc`. The store code (stores/*.ts) relies on this: it is
 * written once against the row types and runs on either dialect.
 */
import type * as pg from "./schema.pg.js"
import type * as sqlite from "./schema.sqlite.js"

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false

type Tables = keyof typeof sqlite.tables

type Parity = {
  readonly [K in Tables]: [
    Equals<(typeof sqlite.tables)[K]["$inferSelect"], (typeof pg.tables)[K]["$inferSelect"]>,
    Equals<(typeof sqlite.tables)[K]["$inferInsert"], (typeof pg.tables)[K]["$inferInsert"]>
  ]
}

/** `true` when both dialects have the same table names and the same row types. */
export type SchemaParity =
  Equals<Tables, keyof typeof pg.tables> extends true
    ? Parity[Tables] extends [true, true] ? true : { readonly mismatch: { [K in Tables as Parity[K] extends [true, true] ? never : K]: Parity[K] } }
    : { readonly mismatch: "table names differ" }

/** Fails to compile (naming the tables that differ) unless the dialects agree. */
export const schemaParity: SchemaParity = true
