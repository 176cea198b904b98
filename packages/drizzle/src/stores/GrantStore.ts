/** GrantStore on drizzle: consents per (account, client) and AS browser sessions. */
import { type ConsentRecord, GrantStore, type SessionRecord, type StorageError } from "@gatehouse/core"
import { and, eq } from "drizzle-orm"
import { Effect } from "effect"
import type { Dialect } from "../dialect.js"
import { decodeList, decodeOptionalList, encodeList, encodeOptionalList, orNull, orUndefined, sweepExpired } from "./codec.js"

export const makeGrantStore = (d: Dialect): GrantStore["Service"] => {
  const consents = d.tables.consents
  const sessions = d.tables.sessions
  const gnapGrants = d.tables.gnapGrants

  const consentFromRow = (row: typeof consents.$inferSelect): ConsentRecord => ({
    accountId: row.accountId,
    clientId: row.clientId,
    scope: decodeList(row.scope),
    updatedAt: row.updatedAt
  })

  const sessionToRow = (record: SessionRecord): typeof sessions.$inferSelect => ({
    sessionDigest: record.sessionDigest,
    accountId: record.accountId,
    authTime: record.authTime,
    acr: orNull(record.acr),
    amr: encodeOptionalList(record.amr),
    expiresAt: record.expiresAt
  })

  const sessionFromRow = (row: typeof sessions.$inferSelect): SessionRecord => ({
    sessionDigest: row.sessionDigest,
    accountId: row.accountId,
    authTime: row.authTime,
    acr: orUndefined(row.acr),
    amr: decodeOptionalList(row.amr),
    expiresAt: row.expiresAt
  })

  const consentKey = (accountId: string, clientId: string) =>
    and(eq(consents.accountId, accountId), eq(consents.clientId, clientId))

  return GrantStore.of({
    findConsent: (accountId, clientId) =>
      d.rows(d.db.select().from(consents).where(consentKey(accountId, clientId))).pipe(
        Effect.map(([row]) => row === undefined ? undefined : consentFromRow(row))
      ),
    saveConsent: (record) => {
      const scope = encodeList(record.scope)
      return d.run(
        d.db.insert(consents)
          .values({ accountId: record.accountId, clientId: record.clientId, scope, updatedAt: record.updatedAt })
          .onConflictDoUpdate({
            target: [consents.accountId, consents.clientId],
            set: { scope, updatedAt: record.updatedAt }
          })
      )
    },
    revokeConsent: (accountId, clientId) =>
      d.affected(d.db.delete(consents).where(consentKey(accountId, clientId))).pipe(Effect.map((n) => n > 0)),
    saveSession: (record) => {
      const { sessionDigest, ...rest } = sessionToRow(record)
      return d.run(
        d.db.insert(sessions).values({ sessionDigest, ...rest }).onConflictDoUpdate({
          target: sessions.sessionDigest,
          set: rest
        })
      )
    },
    findSession: (sessionDigest) =>
      d.rows(d.db.select().from(sessions).where(eq(sessions.sessionDigest, sessionDigest))).pipe(
        Effect.map(([row]) => row === undefined ? undefined : sessionFromRow(row))
      ),
    deleteSession: (sessionDigest) =>
      d.affected(d.db.delete(sessions).where(eq(sessions.sessionDigest, sessionDigest))).pipe(
        Effect.map((n) => n > 0)
      ),
    // consents do not expire; GNAP grants (RFC 9635) do
    sweep: (now): Effect.Effect<number, StorageError> =>
      Effect.zipWith(
        sweepExpired(d, sessions, sessions.sessionDigest, sessions.expiresAt, now),
        sweepExpired(d, gnapGrants, gnapGrants.id, gnapGrants.expiresAt, now),
        (a, b) => a + b
      )
  })
}
