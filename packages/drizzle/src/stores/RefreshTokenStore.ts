/**
 * RefreshTokenStore on drizzle: rotation with reuse detection (RFC 9700 §4.14.2).
 *
 * `rotate` is one transaction: a conditional UPDATE ... RETURNING consumes the presented
 * token only while it is unconsumed, unrevoked and unexpired, and the successor is inserted
 * in the same transaction; when the UPDATE matches nothing, a SELECT classifies the token
 * as Reused (consumed), Inactive (revoked or expired) or NotFound. Of N concurrent callers
 * exactly one UPDATE matches: on SQLite the transaction is BEGIN IMMEDIATE (one writer), on
 * Postgres the losers wait on the winner's row lock and re-check the condition after it
 * commits.
 */
import { type RefreshTokenRecord, RefreshTokenStore, type RotateResult, type StorageError } from "@gatehouse/core"
import { and, eq, gt, isNull, sql } from "drizzle-orm"
import { Effect } from "effect"
import type { Db, Dialect } from "../dialect.js"
import {
  decodeList,
  decodeOptionalList,
  encodeList,
  encodeOptionalList,
  orNull,
  orUndefined,
  sweepExpired
} from "./codec.js"
import { placeholders, prepare } from "./prepared.js"

export const makeRefreshTokenStore = (d: Dialect): RefreshTokenStore["Service"] => {
  const t = d.tables.refreshTokens
  type Row = typeof t.$inferSelect

  const toRow = (record: RefreshTokenRecord): Row => ({
    tokenDigest: record.tokenDigest,
    grantId: record.grantId,
    clientId: record.clientId,
    accountId: record.accountId,
    scope: encodeList(record.scope),
    resource: encodeList(record.resource),
    authTime: record.authTime,
    acr: orNull(record.acr),
    amr: encodeOptionalList(record.amr),
    sessionId: orNull(record.sessionId),
    issuedAt: record.issuedAt,
    expiresAt: record.expiresAt,
    consumedAt: orNull(record.consumedAt),
    revokedAt: orNull(record.revokedAt)
  })

  const fromRow = (row: Row): RefreshTokenRecord => ({
    tokenDigest: row.tokenDigest,
    grantId: row.grantId,
    clientId: row.clientId,
    accountId: row.accountId,
    scope: decodeList(row.scope),
    resource: decodeList(row.resource),
    authTime: row.authTime,
    acr: orUndefined(row.acr),
    amr: decodeOptionalList(row.amr),
    sessionId: orUndefined(row.sessionId),
    issuedAt: row.issuedAt,
    expiresAt: row.expiresAt,
    consumedAt: orUndefined(row.consumedAt),
    revokedAt: orUndefined(row.revokedAt)
  })

  // the transaction body, built once: `tx` and the call's values are arguments
  const rotateIn = Effect.fnUntraced(function*(
    tx: Db,
    tokenDigest: string,
    now: number,
    next: (previous: RefreshTokenRecord) => RefreshTokenRecord
  ): Effect.fn.Return<RotateResult, StorageError> {
    const [won] = yield* (sqliteStatements
      ? sqliteStatements.consume.rows({ tokenDigest, now })
      : d.rows(
        tx.update(t).set({ consumedAt: now })
          .where(and(
            eq(t.tokenDigest, tokenDigest),
            isNull(t.consumedAt),
            isNull(t.revokedAt),
            gt(t.expiresAt, now)
          ))
          .returning()
      ))
    if (won !== undefined) {
      // the token as it was while active: what `next` spreads and what the caller sees
      const previous = fromRow({ ...won, consumedAt: null })
      const successor = toRow(next(previous))
      yield* (sqliteStatements ? Effect.asVoid(insert.affected(successor)) : d.run(tx.insert(t).values(successor)))
      return { _tag: "Rotated", previous } as const
    }
    const [stored] = yield* (sqliteStatements
      ? byDigest.rows({ tokenDigest })
      : d.rows(tx.select().from(t).where(eq(t.tokenDigest, tokenDigest))))
    if (stored === undefined) return { _tag: "NotFound" } as const
    const previous = fromRow(stored)
    return previous.consumedAt !== undefined
      ? { _tag: "Reused", previous } as const
      : { _tag: "Inactive", previous } as const
  })

  const rotate = (
    tokenDigest: string,
    now: number,
    next: (previous: RefreshTokenRecord) => RefreshTokenRecord
  ): Effect.Effect<RotateResult, StorageError> => d.transaction((tx) => rotateIn(tx, tokenDigest, now, next))

  /**
   * Revoke every unrevoked token of the family; count those that were active. Repeated
   * until a pass changes nothing: on Postgres a rotation committing while the UPDATE waits
   * on its row inserts a successor the UPDATE's snapshot cannot see, and the next pass
   * revokes it (on SQLite the second pass always finds nothing).
   */
  const revokeByGrant = (grantId: string, now: number) => {
    const pass = d.rows(
      d.db.update(t).set({ revokedAt: now })
        .where(and(eq(t.grantId, grantId), isNull(t.revokedAt)))
        .returning({ consumedAt: t.consumedAt, expiresAt: t.expiresAt })
    )
    const loop = (active: number): Effect.Effect<number, StorageError> =>
      Effect.flatMap(pass, (revoked) =>
        revoked.length === 0
          ? Effect.succeed(active)
          : loop(active + revoked.filter((row) => row.consumedAt === null && row.expiresAt > now).length))
    return loop(0)
  }

  // the per-request statements, built once (see prepared.ts)
  const insert = prepare<never>(d, d.db.insert(t).values(placeholders(t)))
  const byDigest = prepare<Row>(d, d.db.select().from(t).where(eq(t.tokenDigest, sql.placeholder("tokenDigest"))))
  // SQLite runs a transaction's statements on the one connection the prepared ones belong to,
  // so `rotate` uses them too; a Postgres transaction has its own pooled client
  const sqliteStatements = d.name === "sqlite"
    ? {
      consume: prepare<Row>(
        d,
        d.db.update(t).set({ consumedAt: sql`${sql.placeholder("now")}` })
          .where(and(
            eq(t.tokenDigest, sql.placeholder("tokenDigest")),
            isNull(t.consumedAt),
            isNull(t.revokedAt),
            gt(t.expiresAt, sql.placeholder("now"))
          ))
          .returning()
      )
    }
    : undefined

  return RefreshTokenStore.of({
    save: (record) => Effect.asVoid(insert.affected(toRow(record))),
    find: (tokenDigest) =>
      byDigest.rows({ tokenDigest }).pipe(
        Effect.map(([row]) => row === undefined ? undefined : fromRow(row))
      ),
    rotate,
    revokeByGrant,
    sweep: (now) => sweepExpired(d, t, t.tokenDigest, t.expiresAt, now)
  })
}
