/**
 * GnapGrantStore on drizzle (RFC 9635 grants and their tokens).
 *
 * `update` is one compare-and-set statement: UPDATE ... WHERE id = ? AND version = ? —
 * of N concurrent writers that read one version exactly one matches (SQLite: one writer at
 * a time; Postgres: the losers wait on the winner's row lock and re-check the condition
 * after it commits, finding the new version). `rotateToken` is one transaction: a
 * conditional UPDATE ... RETURNING revokes the old token only while unrevoked, and the
 * successor is inserted in the same transaction.
 */
import {
  type GnapGrantRecord,
  GnapGrantStore,
  type GnapTokenRecord,
  type RotateGnapTokenResult,
  type StorageError
} from "@gatehouse/core"
import { and, desc, eq, isNull } from "drizzle-orm"
import { Effect } from "effect"
import type { Db, Dialect } from "../dialect.js"
import { decodeList, encodeList, orNull, orUndefined, sweepExpired } from "./codec.js"

export const makeGnapGrantStore = (d: Dialect): GnapGrantStore["Service"] => {
  const g = d.tables.gnapGrants
  const t = d.tables.gnapTokens
  type GrantRow = typeof g.$inferSelect
  type TokenRow = typeof t.$inferSelect

  const grantToRow = (r: GnapGrantRecord): GrantRow => ({
    id: r.id,
    state: r.state,
    version: r.version,
    continueTokenDigest: r.continueTokenDigest,
    continueAfter: r.continueAfter,
    interactRefDigest: orNull(r.interactRefDigest),
    clientKeyThumbprint: r.clientKeyThumbprint,
    clientInstanceId: orNull(r.clientInstanceId),
    request: r.request,
    result: orNull(r.result),
    accountId: orNull(r.accountId),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    expiresAt: r.expiresAt
  })

  const grantFromRow = (row: GrantRow): GnapGrantRecord => ({
    id: row.id,
    state: row.state,
    version: row.version,
    continueTokenDigest: row.continueTokenDigest,
    continueAfter: row.continueAfter,
    interactRefDigest: orUndefined(row.interactRefDigest),
    clientKeyThumbprint: row.clientKeyThumbprint,
    clientInstanceId: orUndefined(row.clientInstanceId),
    request: row.request,
    result: orUndefined(row.result),
    accountId: orUndefined(row.accountId),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    expiresAt: row.expiresAt
  })

  const tokenToRow = (r: GnapTokenRecord): TokenRow => ({
    tokenDigest: r.tokenDigest,
    grantId: r.grantId,
    manageId: r.manageId,
    manageTokenDigest: r.manageTokenDigest,
    label: orNull(r.label),
    flags: encodeList(r.flags),
    access: r.access,
    key: orNull(r.key),
    clientKeyThumbprint: r.clientKeyThumbprint,
    clientInstanceId: orNull(r.clientInstanceId),
    accountId: orNull(r.accountId),
    issuedAt: r.issuedAt,
    expiresAt: r.expiresAt,
    revokedAt: orNull(r.revokedAt)
  })

  const tokenFromRow = (row: TokenRow): GnapTokenRecord => ({
    tokenDigest: row.tokenDigest,
    grantId: row.grantId,
    manageId: row.manageId,
    manageTokenDigest: row.manageTokenDigest,
    label: orUndefined(row.label),
    flags: decodeList(row.flags),
    access: row.access,
    key: orUndefined(row.key),
    clientKeyThumbprint: row.clientKeyThumbprint,
    clientInstanceId: orUndefined(row.clientInstanceId),
    accountId: orUndefined(row.accountId),
    issuedAt: row.issuedAt,
    expiresAt: row.expiresAt,
    revokedAt: orUndefined(row.revokedAt)
  })

  const oneGrant = (rows: Effect.Effect<Array<GrantRow>, StorageError>) =>
    Effect.map(rows, ([row]) => (row === undefined ? undefined : grantFromRow(row)))
  const oneToken = (rows: Effect.Effect<Array<TokenRow>, StorageError>) =>
    Effect.map(rows, ([row]) => (row === undefined ? undefined : tokenFromRow(row)))

  // the transaction body, built once: `tx` and the call's values are arguments
  const rotateTokenIn = Effect.fnUntraced(function*(
    tx: Db,
    manageId: string,
    now: number,
    next: (previous: GnapTokenRecord) => GnapTokenRecord
  ): Effect.fn.Return<RotateGnapTokenResult, StorageError> {
    const [won] = yield* d.rows(
      tx.update(t).set({ revokedAt: now }).where(and(eq(t.manageId, manageId), isNull(t.revokedAt))).returning()
    )
    if (won !== undefined) {
      const previous = tokenFromRow({ ...won, revokedAt: null })
      yield* d.run(tx.insert(t).values(tokenToRow(next(previous))))
      return { _tag: "Rotated", previous } as const
    }
    const [stored] = yield* d.rows(tx.select().from(t).where(eq(t.manageId, manageId)))
    return stored === undefined ? { _tag: "NotFound" } as const : { _tag: "Inactive", previous: tokenFromRow(stored) } as const
  })

  const rotateToken = (
    manageId: string,
    now: number,
    next: (previous: GnapTokenRecord) => GnapTokenRecord
  ): Effect.Effect<RotateGnapTokenResult, StorageError> => d.transaction((tx) => rotateTokenIn(tx, manageId, now, next))

  return GnapGrantStore.of({
    create: (record) => d.run(d.db.insert(g).values(grantToRow({ ...record, version: 1 }))),
    find: (id) => oneGrant(d.rows(d.db.select().from(g).where(eq(g.id, id)))),
    update: (next, expectedVersion) => {
      const { id: _id, ...rest } = grantToRow({ ...next, version: expectedVersion + 1 })
      return d.affected(d.db.update(g).set(rest).where(and(eq(g.id, next.id), eq(g.version, expectedVersion)))).pipe(
        Effect.map((n) => n > 0)
      )
    },
    findByInstance: (instanceId) =>
      oneGrant(d.rows(d.db.select().from(g).where(eq(g.clientInstanceId, instanceId)).orderBy(desc(g.createdAt)).limit(1))),
    findByKey: (thumbprint) =>
      oneGrant(d.rows(d.db.select().from(g).where(eq(g.clientKeyThumbprint, thumbprint)).orderBy(desc(g.createdAt)).limit(1))),
    sweep: (now) => sweepExpired(d, g, g.id, g.expiresAt, now),
    saveToken: (record) => d.run(d.db.insert(t).values(tokenToRow(record))),
    findToken: (tokenDigest) => oneToken(d.rows(d.db.select().from(t).where(eq(t.tokenDigest, tokenDigest)))),
    findTokenByManageId: (manageId) => oneToken(d.rows(d.db.select().from(t).where(eq(t.manageId, manageId)))),
    rotateToken,
    revokeToken: Effect.fnUntraced(function*(manageId: string, now: number): Effect.fn.Return<boolean, StorageError> {
      const [row] = yield* d.rows(d.db.select({ revokedAt: t.revokedAt }).from(t).where(eq(t.manageId, manageId)))
      if (row === undefined) return false
      if (row.revokedAt === null) {
        yield* d.run(d.db.update(t).set({ revokedAt: now }).where(and(eq(t.manageId, manageId), isNull(t.revokedAt))))
      }
      return true
    }),
    revokeTokensByGrant: (grantId, now) =>
      d.affected(d.db.update(t).set({ revokedAt: now }).where(and(eq(t.grantId, grantId), isNull(t.revokedAt)))),
    sweepTokens: (now) => sweepExpired(d, t, t.tokenDigest, t.expiresAt, now)
  })
}
