/**
 * GnapResourceStore on drizzle (RFC 9767 §3.4 resource sets).
 *
 * `register` is INSERT ... ON CONFLICT (resource_server, set_digest) DO NOTHING, then a read
 * of the row that holds the pair: of N concurrent first registrations one insert wins (on
 * Postgres the others wait for its commit on the unique index, then do nothing), and every
 * caller reads the winner's reference.
 */
import { type GnapResourceSetRecord, GnapResourceStore, StorageError } from "@gatehouse/core"
import { and, asc, eq } from "drizzle-orm"
import { Effect } from "effect"
import type { Dialect } from "../dialect.js"

export const makeGnapResourceStore = (d: Dialect): GnapResourceStore["Service"] => {
  const t = d.tables.gnapResourceSets
  type Row = typeof t.$inferSelect

  const toRow = (r: GnapResourceSetRecord): Row => ({
    reference: r.reference,
    resourceServer: r.resourceServer,
    setDigest: r.setDigest,
    access: r.access,
    introspectionRequired: r.introspectionRequired ? 1 : 0,
    createdAt: r.createdAt
  })

  const fromRow = (row: Row): GnapResourceSetRecord => ({
    reference: row.reference,
    resourceServer: row.resourceServer,
    setDigest: row.setDigest,
    access: row.access,
    introspectionRequired: row.introspectionRequired === 1,
    createdAt: row.createdAt
  })

  return GnapResourceStore.of({
    register: Effect.fnUntraced(function*(record: GnapResourceSetRecord): Effect.fn.Return<GnapResourceSetRecord, StorageError> {
      yield* d.run(d.db.insert(t).values(toRow(record)).onConflictDoNothing({ target: [t.resourceServer, t.setDigest] }))
      const [row] = yield* d.rows(
        d.db.select().from(t).where(and(eq(t.resourceServer, record.resourceServer), eq(t.setDigest, record.setDigest)))
      )
      // the pair's row exists now: ours, or the one of whoever registered the set first
      if (row === undefined) return yield* new StorageError({ detail: "gnap_resource_sets: the registration is not readable after its insert" })
      return fromRow(row)
    }),
    find: (reference) => Effect.map(d.rows(d.db.select().from(t).where(eq(t.reference, reference))), ([row]) => (row === undefined ? undefined : fromRow(row))),
    listByResourceServer: (resourceServer) =>
      Effect.map(
        d.rows(d.db.select().from(t).where(eq(t.resourceServer, resourceServer)).orderBy(asc(t.createdAt))),
        (rows) => rows.map(fromRow)
      )
  })
}
