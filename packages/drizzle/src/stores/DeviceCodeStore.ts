/**
 * DeviceCodeStore on drizzle (RFC 8628). `approve`, `deny` and `consume` are each one
 * conditional UPDATE on `state` (RETURNING, for `consume`): the database lets exactly one
 * statement move a row out of a state. `poll` reads and writes in one transaction holding
 * a per-code lock, so concurrent polls are ordered and each sees the one before it.
 */
import { type DeviceCodeRecord, DeviceCodeStore, type PollDeviceCodeResult, type StorageError } from "@gatehouse/core"
import { and, eq } from "drizzle-orm"
import { Effect } from "effect"
import type { Db, Dialect } from "../dialect.js"
import { decodeList, decodeOptionalList, encodeList, encodeOptionalList, orNull, orUndefined, sweepExpired } from "./codec.js"

export const makeDeviceCodeStore = (d: Dialect): DeviceCodeStore["Service"] => {
  const t = d.tables.deviceCodes
  type Row = typeof t.$inferSelect

  const toRow = (record: DeviceCodeRecord): Row => ({
    deviceCodeDigest: record.deviceCodeDigest,
    userCodeDigest: record.userCodeDigest,
    grantId: record.grantId,
    clientId: record.clientId,
    scope: encodeList(record.scope),
    resource: encodeList(record.resource),
    state: record.state,
    accountId: orNull(record.accountId),
    authTime: orNull(record.authTime),
    acr: orNull(record.acr),
    amr: encodeOptionalList(record.amr),
    pollInterval: record.interval,
    lastPolledAt: orNull(record.lastPolledAt),
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    consumedAt: orNull(record.consumedAt)
  })

  const fromRow = (row: Row): DeviceCodeRecord => ({
    deviceCodeDigest: row.deviceCodeDigest,
    userCodeDigest: row.userCodeDigest,
    grantId: row.grantId,
    clientId: row.clientId,
    scope: decodeList(row.scope),
    resource: decodeList(row.resource),
    state: row.state,
    accountId: orUndefined(row.accountId),
    authTime: orUndefined(row.authTime),
    acr: orUndefined(row.acr),
    amr: decodeOptionalList(row.amr),
    interval: row.pollInterval,
    lastPolledAt: orUndefined(row.lastPolledAt),
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    consumedAt: orUndefined(row.consumedAt)
  })

  const find = (deviceCodeDigest: string) =>
    d.rows(d.db.select().from(t).where(eq(t.deviceCodeDigest, deviceCodeDigest))).pipe(
      Effect.map(([row]) => row === undefined ? undefined : fromRow(row))
    )

  // the `poll` transaction body, built once: `tx` and the call's values are arguments
  const pollIn = Effect.fnUntraced(function*(
    tx: Db,
    deviceCodeDigest: string,
    now: number
  ): Effect.fn.Return<PollDeviceCodeResult, StorageError> {
    const [row] = yield* d.rows(tx.select().from(t).where(eq(t.deviceCodeDigest, deviceCodeDigest)))
    if (row === undefined) return { _tag: "NotFound" } as const
    const slowDown = row.lastPolledAt !== null && now - row.lastPolledAt < row.pollInterval * 1000
    const pollInterval = slowDown ? row.pollInterval + 5 : row.pollInterval
    yield* d.run(
      tx.update(t).set({ pollInterval, lastPolledAt: now }).where(eq(t.deviceCodeDigest, deviceCodeDigest))
    )
    return { _tag: "Polled", record: fromRow({ ...row, pollInterval, lastPolledAt: now }), slowDown } as const
  })

  return DeviceCodeStore.of({
    save: (record) => d.run(d.db.insert(t).values(toRow(record))),
    find,
    // RFC 8628 §3.5: read the last poll and write this one under a per-code lock
    poll: (deviceCodeDigest, now) =>
      d.transaction((tx) => pollIn(tx, deviceCodeDigest, now), { lock: `device_code:${deviceCodeDigest}` }),
    approve: (deviceCodeDigest, approval) =>
      d.affected(
        d.db.update(t).set({
          state: "authorized",
          accountId: approval.accountId,
          scope: encodeList(approval.scope),
          authTime: approval.authTime,
          acr: orNull(approval.acr),
          amr: encodeOptionalList(approval.amr)
        }).where(and(eq(t.deviceCodeDigest, deviceCodeDigest), eq(t.state, "pending")))
      ).pipe(Effect.map((n) => n > 0)),
    deny: (deviceCodeDigest) =>
      d.affected(
        d.db.update(t).set({ state: "denied" }).where(and(eq(t.deviceCodeDigest, deviceCodeDigest), eq(t.state, "pending")))
      ).pipe(Effect.map((n) => n > 0)),
    consume: Effect.fnUntraced(function*(deviceCodeDigest: string, now: number) {
      const [won] = yield* d.rows(
        d.db.update(t).set({ state: "consumed", consumedAt: now })
          .where(and(eq(t.deviceCodeDigest, deviceCodeDigest), eq(t.state, "authorized")))
          .returning()
      )
      if (won !== undefined) return { _tag: "Consumed", record: fromRow(won) } as const
      const stored = yield* find(deviceCodeDigest)
      return stored === undefined ? { _tag: "NotFound" } as const : { _tag: "NotAuthorized", record: stored } as const
    }),
    sweep: (now) => sweepExpired(d, t, t.deviceCodeDigest, t.expiresAt, now)
  })
}
