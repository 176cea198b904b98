/** AccessTokenStore on drizzle: records of issued access tokens, by digest (RFC 7662, RFC 7009). */
import { type AccessTokenRecord, AccessTokenStore } from "@gatehouse/core"
import { and, eq, isNull, sql } from "drizzle-orm"
import { Effect } from "effect"
import type { Dialect } from "../dialect.js"
import { decodeList, encodeList, orNull, orUndefined, sweepExpired } from "./codec.js"
import { placeholders, prepare } from "./prepared.js"

export const makeAccessTokenStore = (d: Dialect): AccessTokenStore["Service"] => {
  const t = d.tables.accessTokens
  type Row = typeof t.$inferSelect

  const toRow = (record: AccessTokenRecord): Row => ({
    tokenDigest: record.tokenDigest,
    format: record.format,
    grantId: record.grantId,
    clientId: record.clientId,
    accountId: orNull(record.accountId),
    scope: encodeList(record.scope),
    audience: encodeList(record.audience),
    issuedAt: record.issuedAt,
    expiresAt: record.expiresAt,
    revokedAt: orNull(record.revokedAt),
    extra: orNull(record.extra)
  })

  const fromRow = (row: Row): AccessTokenRecord => ({
    tokenDigest: row.tokenDigest,
    format: row.format,
    grantId: row.grantId,
    clientId: row.clientId,
    accountId: orUndefined(row.accountId),
    scope: decodeList(row.scope),
    audience: decodeList(row.audience),
    issuedAt: row.issuedAt,
    expiresAt: row.expiresAt,
    revokedAt: orUndefined(row.revokedAt),
    extra: orUndefined(row.extra)
  })

  // the per-request statements, built once (see prepared.ts)
  const insert = prepare<never>(d, d.db.insert(t).values(placeholders(t)))
  const byDigest = prepare<Row>(d, d.db.select().from(t).where(eq(t.tokenDigest, sql.placeholder("tokenDigest"))))

  return AccessTokenStore.of({
    save: (record) => Effect.asVoid(insert.affected(toRow(record))),
    find: (tokenDigest) =>
      byDigest.rows({ tokenDigest }).pipe(
        Effect.map(([row]) => row === undefined ? undefined : fromRow(row))
      ),
    // RFC 7009 §2.2: revoking a revoked token succeeds; the first revocation time is kept
    revoke: (tokenDigest, now) =>
      d.affected(
        d.db.update(t).set({ revokedAt: sql`coalesce(${t.revokedAt}, ${now})` }).where(eq(t.tokenDigest, tokenDigest))
      ).pipe(Effect.map((n) => n > 0)),
    revokeByGrant: (grantId, now) =>
      d.affected(d.db.update(t).set({ revokedAt: now }).where(and(eq(t.grantId, grantId), isNull(t.revokedAt)))),
    sweep: (now) => sweepExpired(d, t, t.tokenDigest, t.expiresAt, now)
  })
}
