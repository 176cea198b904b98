/**
 * AuthorizationCodeStore on drizzle. `consume` is one conditional UPDATE ... RETURNING:
 * the database lets exactly one statement move `consumed_at` from NULL (RFC 6749 §4.1.2).
 */
import { type AuthorizationCodeRecord, AuthorizationCodeStore } from "@gatehouse/core"
import { and, eq, isNull, sql } from "drizzle-orm"
import { Effect } from "effect"
import type { Dialect } from "../dialect.js"
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

export const makeAuthorizationCodeStore = (d: Dialect): AuthorizationCodeStore["Service"] => {
  const t = d.tables.authorizationCodes
  type Row = typeof t.$inferSelect

  const toRow = (record: AuthorizationCodeRecord): Row => ({
    codeDigest: record.codeDigest,
    grantId: record.grantId,
    clientId: record.clientId,
    accountId: record.accountId,
    redirectUri: record.redirectUri,
    scope: encodeList(record.scope),
    resource: encodeList(record.resource),
    codeChallenge: orNull(record.codeChallenge),
    codeChallengeMethod: orNull(record.codeChallengeMethod),
    nonce: orNull(record.nonce),
    authTime: record.authTime,
    acr: orNull(record.acr),
    amr: encodeOptionalList(record.amr),
    claims: orNull(record.claims),
    sessionId: orNull(record.sessionId),
    expiresAt: record.expiresAt,
    consumedAt: orNull(record.consumedAt)
  })

  const fromRow = (row: Row): AuthorizationCodeRecord => ({
    codeDigest: row.codeDigest,
    grantId: row.grantId,
    clientId: row.clientId,
    accountId: row.accountId,
    redirectUri: row.redirectUri,
    scope: decodeList(row.scope),
    resource: decodeList(row.resource),
    codeChallenge: orUndefined(row.codeChallenge),
    codeChallengeMethod: orUndefined(row.codeChallengeMethod),
    nonce: orUndefined(row.nonce),
    authTime: row.authTime,
    acr: orUndefined(row.acr),
    amr: decodeOptionalList(row.amr),
    claims: orUndefined(row.claims),
    sessionId: orUndefined(row.sessionId),
    expiresAt: row.expiresAt,
    consumedAt: orUndefined(row.consumedAt)
  })

  // the per-request statements, built once (see prepared.ts)
  const insert = prepare<never>(d, d.db.insert(t).values(placeholders(t)))
  const markConsumed = prepare<Row>(
    d,
    d.db.update(t).set({ consumedAt: sql`${sql.placeholder("now")}` })
      .where(and(eq(t.codeDigest, sql.placeholder("codeDigest")), isNull(t.consumedAt)))
      .returning()
  )
  const byDigest = prepare<Row>(d, d.db.select().from(t).where(eq(t.codeDigest, sql.placeholder("codeDigest"))))

  return AuthorizationCodeStore.of({
    save: (record) => Effect.asVoid(insert.affected(toRow(record))),
    consume: Effect.fnUntraced(function*(codeDigest: string, now: number) {
      const [won] = yield* markConsumed.rows({ codeDigest, now })
      if (won !== undefined) return { _tag: "Consumed", record: fromRow(won) } as const
      const [stored] = yield* byDigest.rows({ codeDigest })
      return stored === undefined
        ? { _tag: "NotFound" } as const
        : { _tag: "AlreadyConsumed", record: fromRow(stored) } as const
    }),
    sweep: (now) => sweepExpired(d, t, t.codeDigest, t.expiresAt, now)
  })
}
