/** ClientStore on drizzle: one row per client, metadata as JSON. */
import { type ClientMetadata, type ClientRecord, ClientStore } from "@gatehouse/core"
import { eq, sql } from "drizzle-orm"
import { Effect } from "effect"
import type { Dialect } from "../dialect.js"
import { orNull, orUndefined } from "./codec.js"
import { prepare } from "./prepared.js"

export const makeClientStore = (d: Dialect): ClientStore["Service"] => {
  const t = d.tables.clients
  type Row = typeof t.$inferSelect

  const toRow = (record: ClientRecord): Row => ({
    clientId: record.clientId,
    secretDigest: orNull(record.secretDigest),
    secretExpiresAt: record.secretExpiresAt,
    registrationAccessTokenDigest: orNull(record.registrationAccessTokenDigest),
    metadata: JSON.stringify(record.metadata),
    issuedAt: record.issuedAt
  })

  const fromRow = (row: Row): ClientRecord => ({
    clientId: row.clientId,
    secretDigest: orUndefined(row.secretDigest),
    secretExpiresAt: row.secretExpiresAt,
    registrationAccessTokenDigest: orUndefined(row.registrationAccessTokenDigest),
    metadata: JSON.parse(row.metadata) as ClientMetadata,
    issuedAt: row.issuedAt
  })

  // every token request of a registered client looks it up: built once (see prepared.ts)
  const byId = prepare<Row>(d, d.db.select().from(t).where(eq(t.clientId, sql.placeholder("clientId"))))

  return ClientStore.of({
    find: (clientId) =>
      byId.rows({ clientId }).pipe(
        Effect.map(([row]) => row === undefined ? undefined : fromRow(row))
      ),
    // a duplicate client_id violates the primary key: StorageError
    insert: (record) => d.run(d.db.insert(t).values(toRow(record))),
    update: (record) => {
      const { clientId, ...rest } = toRow(record)
      return d.affected(d.db.update(t).set(rest).where(eq(t.clientId, clientId))).pipe(Effect.map((n) => n > 0))
    },
    delete: (clientId) => d.affected(d.db.delete(t).where(eq(t.clientId, clientId))).pipe(Effect.map((n) => n > 0))
  })
}
