/**
 * RateLimiter on drizzle: every operation is one statement, prepared once. `hit` is an
 * upsert that increments the window's count (or restarts an ended window at 1) and returns
 * it — INSERT ... ON CONFLICT DO UPDATE ... RETURNING, so concurrent hits from any number of
 * processes each see their own count; `peek` a primary-key read; `forgive` a conditional
 * UPDATE.
 */
import { RateLimiter } from "@gatehouse/core"
import { and, eq, gt, sql } from "drizzle-orm"
import { Effect } from "effect"
import type { Dialect } from "../dialect.js"
import { sweepExpired } from "./codec.js"
import { prepare } from "./prepared.js"

export const makeRateLimiter = (d: Dialect): RateLimiter["Service"] => {
  const t = d.tables.rateLimits
  type Count = { readonly count: number; readonly resetsAt: number }
  const now = sql.placeholder("now")
  const fresh = sql.placeholder("fresh")

  const hit = prepare<Count>(
    d,
    d.db.insert(t).values({ key: sql.placeholder("key"), count: 1, resetsAt: fresh }).onConflictDoUpdate({
      target: t.key,
      // a window that ended restarts at 1; otherwise one more in the same window
      set: {
        count: sql`CASE WHEN ${t.resetsAt} <= ${now} THEN 1 ELSE ${t.count} + 1 END`,
        resetsAt: sql`CASE WHEN ${t.resetsAt} <= ${now} THEN ${fresh} ELSE ${t.resetsAt} END`
      }
    }).returning({ count: t.count, resetsAt: t.resetsAt })
  )
  const peek = prepare<Count>(
    d,
    d.db.select({ count: t.count, resetsAt: t.resetsAt }).from(t)
      .where(and(eq(t.key, sql.placeholder("key")), gt(t.resetsAt, now)))
  )
  const forgive = prepare<never>(
    d,
    d.db.update(t).set({ count: sql`${t.count} - 1` })
      .where(and(eq(t.key, sql.placeholder("key")), gt(t.count, 0), gt(t.resetsAt, now)))
  )

  // numbers as the driver returns them (pg: bigint columns in "number" mode, integer as number)
  const toCount = (row: Count): Count => ({ count: Number(row.count), resetsAt: Number(row.resetsAt) })

  return RateLimiter.of({
    hit: (key, at, windowMs) =>
      Effect.map(hit.rows({ key, now: at, fresh: at + windowMs }), ([row]) => toCount(row!)),
    peek: (key, at) => Effect.map(peek.rows({ key, now: at }), ([row]) => (row === undefined ? undefined : toCount(row))),
    forgive: (key, at) => Effect.asVoid(forgive.affected({ key, now: at })),
    sweep: (at) => sweepExpired(d, t, t.key, t.resetsAt, at)
  })
}
