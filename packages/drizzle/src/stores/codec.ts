/**
 * Column codecs shared by the stores: lists and objects as JSON text, absent optional
 * fields as SQL NULL, and the batched sweep of expired rows.
 */
import type { StorageError } from "@gatehouse/core"
import { inArray, lt } from "drizzle-orm"
import type { PgColumn, PgTable } from "drizzle-orm/pg-core"
import { Effect } from "effect"
import type { Dialect } from "../dialect.js"

/** a list column: JSON text */
export const encodeList = (values: ReadonlyArray<string>): string => JSON.stringify(values)
export const decodeList = (text: string): ReadonlyArray<string> => JSON.parse(text) as ReadonlyArray<string>

export const encodeOptionalList = (values: ReadonlyArray<string> | undefined): string | null =>
  values === undefined ? null : JSON.stringify(values)
export const decodeOptionalList = (text: string | null): ReadonlyArray<string> | undefined =>
  text === null ? undefined : decodeList(text)

/** SQL NULL for an absent optional field */
export const orNull = <A>(value: A | undefined): A | null => value ?? null
/** an absent optional field for SQL NULL */
export const orUndefined = <A>(value: A | null): A | undefined => value ?? undefined

/** rows deleted per statement, so a large sweep never holds the write lock for long */
const SWEEP_BATCH = 500

/**
 * Delete the rows whose `expiresAt` is before `now`, in batches of SWEEP_BATCH, yielding to
 * other fibers between batches. Returns how many were deleted.
 */
export const sweepExpired = (
  d: Dialect,
  table: PgTable,
  key: PgColumn,
  expiresAt: PgColumn,
  now: number
): Effect.Effect<number, StorageError> => {
  const batch = d.affected(
    d.db.delete(table).where(
      inArray(key, d.db.select({ key }).from(table).where(lt(expiresAt, now)).limit(SWEEP_BATCH))
    )
  )
  const loop = (total: number): Effect.Effect<number, StorageError> =>
    Effect.flatMap(batch, (deleted) =>
      deleted < SWEEP_BATCH ? Effect.succeed(total + deleted) : Effect.andThen(Effect.yieldNow, loop(total + deleted)))
  return loop(0)
}
