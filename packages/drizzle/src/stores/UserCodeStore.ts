/**
 * UserCodeStore on drizzle: every operation is one statement. `reserve` is an upsert that
 * only overwrites an expired row; `claim` a conditional UPDATE ... RETURNING; the failure
 * counter an upsert that increments (or restarts the window) and returns the count.
 */
import { type UserCodeRecord, UserCodeStore } from "@gatehouse/core"
import { and, eq, gt, isNull, sql } from "drizzle-orm"
import { Effect } from "effect"
import type { Dialect } from "../dialect.js"
import { orNull, orUndefined, sweepExpired } from "./codec.js"

export const makeUserCodeStore = (d: Dialect): UserCodeStore["Service"] => {
  const t = d.tables.userCodes
  const a = d.tables.userCodeAttempts
  type Row = typeof t.$inferSelect

  const toRow = (record: UserCodeRecord): Row => ({
    userCodeDigest: record.userCodeDigest,
    interactionId: record.interactionId,
    kind: record.kind,
    clientId: record.clientId,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    claimedAt: orNull(record.claimedAt)
  })

  const fromRow = (row: Row): UserCodeRecord => ({
    userCodeDigest: row.userCodeDigest,
    interactionId: row.interactionId,
    kind: row.kind,
    clientId: row.clientId,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    claimedAt: orUndefined(row.claimedAt)
  })

  const find = (userCodeDigest: string) =>
    d.rows(d.db.select().from(t).where(eq(t.userCodeDigest, userCodeDigest))).pipe(
      Effect.map(([row]) => row === undefined ? undefined : fromRow(row))
    )

  return UserCodeStore.of({
    reserve: (record, now) => {
      const { userCodeDigest, ...rest } = toRow(record)
      return d.rows(
        d.db.insert(t).values({ userCodeDigest, ...rest }).onConflictDoUpdate({
          target: t.userCodeDigest,
          set: rest,
          // only an expired code gives its digest away
          setWhere: sql`${t.expiresAt} <= ${now}`
        }).returning({ userCodeDigest: t.userCodeDigest })
      ).pipe(Effect.map((rows) => rows.length === 1))
    },
    find,
    claim: Effect.fnUntraced(function*(userCodeDigest: string, now: number) {
      const [won] = yield* d.rows(
        d.db.update(t).set({ claimedAt: now })
          .where(and(eq(t.userCodeDigest, userCodeDigest), isNull(t.claimedAt), gt(t.expiresAt, now)))
          .returning()
      )
      if (won !== undefined) return { _tag: "Claimed", record: fromRow(won) } as const
      const stored = yield* find(userCodeDigest)
      if (stored === undefined) return { _tag: "NotFound" } as const
      return stored.claimedAt !== undefined
        ? { _tag: "AlreadyClaimed", record: stored } as const
        : { _tag: "Expired", record: stored } as const
    }),
    retire: (interactionId, now) =>
      d.affected(d.db.update(t).set({ claimedAt: now }).where(and(eq(t.interactionId, interactionId), isNull(t.claimedAt)))),
    countFailure: (key, now, windowMs) =>
      d.rows(
        d.db.insert(a).values({ key, count: 1, resetsAt: now + windowMs }).onConflictDoUpdate({
          target: a.key,
          // a window that ended restarts at 1; otherwise one more in the same window
          set: {
            count: sql`CASE WHEN ${a.resetsAt} <= ${now} THEN 1 ELSE ${a.count} + 1 END`,
            resetsAt: sql`CASE WHEN ${a.resetsAt} <= ${now} THEN ${now + windowMs} ELSE ${a.resetsAt} END`
          }
        }).returning({ count: a.count, resetsAt: a.resetsAt })
      ).pipe(Effect.map(([row]) => ({ count: row!.count, resetsAt: row!.resetsAt }))),
    forgive: (key, now) =>
      d.run(
        d.db.update(a).set({ count: sql`${a.count} - 1` }).where(and(eq(a.key, key), gt(a.count, 0), gt(a.resetsAt, now)))
      ),
    sweep: (now) =>
      Effect.all([
        sweepExpired(d, t, t.userCodeDigest, t.expiresAt, now),
        sweepExpired(d, a, a.key, a.resetsAt, now)
      ]).pipe(Effect.map(([codes, attempts]) => codes + attempts))
  })
}
