/**
 * InteractionStore on drizzle. `transition` is one compare-and-set statement:
 * UPDATE ... WHERE id = ? AND state IN (from).
 */
import { type InteractionRecord, InteractionStore } from "@gatehouse/core"
import { and, eq, inArray } from "drizzle-orm"
import { Effect } from "effect"
import type { Dialect } from "../dialect.js"
import { orNull, orUndefined, sweepExpired } from "./codec.js"

export const makeInteractionStore = (d: Dialect): InteractionStore["Service"] => {
  const t = d.tables.interactions
  type Row = typeof t.$inferSelect

  const toRow = (record: InteractionRecord): Row => ({
    id: record.id,
    kind: record.kind,
    state: record.state,
    clientId: record.clientId,
    bindingDigest: record.bindingDigest,
    payload: record.payload,
    result: orNull(record.result),
    accountId: orNull(record.accountId),
    createdAt: record.createdAt,
    expiresAt: record.expiresAt
  })

  const fromRow = (row: Row): InteractionRecord => ({
    id: row.id,
    kind: row.kind,
    state: row.state,
    clientId: row.clientId,
    bindingDigest: row.bindingDigest,
    payload: row.payload,
    result: orUndefined(row.result),
    accountId: orUndefined(row.accountId),
    createdAt: row.createdAt,
    expiresAt: row.expiresAt
  })

  return InteractionStore.of({
    create: (record) => d.run(d.db.insert(t).values(toRow(record))),
    find: (id) =>
      d.rows(d.db.select().from(t).where(eq(t.id, id))).pipe(
        Effect.map(([row]) => row === undefined ? undefined : fromRow(row))
      ),
    // the row keeps its id whatever `next.id` says
    transition: (id, from, next) => {
      if (from.length === 0) return Effect.succeed(false)
      const { id: _ignored, ...rest } = toRow(next)
      return d.affected(d.db.update(t).set(rest).where(and(eq(t.id, id), inArray(t.state, [...from])))).pipe(
        Effect.map((n) => n > 0)
      )
    },
    sweep: (now) => sweepExpired(d, t, t.id, t.expiresAt, now)
  })
}
