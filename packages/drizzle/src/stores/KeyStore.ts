/**
 * KeyStore on drizzle. `private_jwk` is stored AES-256-GCM encrypted under the KEK (see
 * kek.ts) and decrypted on the way out. `initialize` and `rotate` run in a transaction that
 * holds the "keys" lock (Postgres advisory lock; SQLite BEGIN IMMEDIATE), so of several
 * processes starting at once the first creates the keys and the others load them, and
 * concurrent rotations apply one after the other, each whole.
 */
import { type KeyRecord, KeyStore, StorageError } from "@gatehouse/core"
import { and, asc, eq, inArray, lt } from "drizzle-orm"
import { Effect } from "effect"
import type { Db, Dialect } from "../dialect.js"
import { orNull, orUndefined } from "./codec.js"

export const makeKeyStore = (d: Dialect): KeyStore["Service"] => {
  const t = d.tables.keys
  type Row = typeof t.$inferSelect

  const toRow = (record: KeyRecord): Row => ({
    kid: record.kid,
    alg: record.alg,
    status: record.status,
    publicJwk: record.publicJwk,
    privateJwk: d.kek.encrypt(record.privateJwk, record.kid),
    createdAt: record.createdAt,
    retiredAt: orNull(record.retiredAt)
  })

  const fromRow = (row: Row): KeyRecord => ({
    kid: row.kid,
    alg: row.alg,
    status: row.status,
    publicJwk: row.publicJwk,
    privateJwk: d.kek.decrypt(row.privateJwk, row.kid),
    createdAt: row.createdAt,
    retiredAt: orUndefined(row.retiredAt)
  })

  const decryptAll = (rows: ReadonlyArray<Row>) =>
    Effect.try({
      try: () => rows.map(fromRow),
      catch: (cause) =>
        new StorageError({
          description: "stored signing keys cannot be decrypted",
          detail: cause instanceof Error ? cause.message : String(cause),
          cause
        })
    })

  // a stable order, so every process sharing the database publishes the same JWKS
  const all = (db: Db) => d.rows(db.select().from(t).orderBy(asc(t.createdAt), asc(t.kid)))

  // the transaction bodies, built once: `tx` and the call's values are arguments
  const initializeIn = Effect.fnUntraced(function*(
    tx: Db,
    rows: Array<Row>,
    algs: Array<string>
  ): Effect.fn.Return<Array<Row>, StorageError> {
    if (algs.length > 0) {
      const taken = yield* d.rows(tx.select({ kid: t.kid }).from(t).where(inArray(t.alg, algs)).limit(1))
      if (taken.length === 0) yield* d.run(tx.insert(t).values(rows))
    }
    return yield* all(tx)
  })

  const rotateIn = Effect.fnUntraced(function*(
    tx: Db,
    alg: string,
    row: Row,
    now: number
  ): Effect.fn.Return<Array<Row>, StorageError> {
    // this order keeps "one current, one next per alg" (unique indexes) true after each statement
    yield* d.run(
      tx.update(t).set({ status: "retired", retiredAt: now }).where(and(eq(t.alg, alg), eq(t.status, "current")))
    )
    yield* d.run(tx.update(t).set({ status: "current" }).where(and(eq(t.alg, alg), eq(t.status, "next"))))
    yield* d.run(tx.insert(t).values(row))
    return yield* all(tx)
  })

  return KeyStore.of({
    list: () => Effect.flatMap(all(d.db), decryptAll),
    // all or nothing: `initial` goes in only when no stored key has any of its algs
    initialize: (initial) =>
      Effect.suspend(() => {
        const rows = initial.map(toRow)
        const algs = [...new Set(initial.map((key) => key.alg))]
        return d.transaction((tx) => initializeIn(tx, rows, algs), { lock: "keys" })
      }).pipe(Effect.flatMap(decryptAll)),
    rotate: (alg, next, now) =>
      Effect.suspend(() => {
        const row = toRow(next)
        return d.transaction((tx) => rotateIn(tx, alg, row, now), { lock: "keys" })
      }).pipe(Effect.flatMap(decryptAll)),
    prune: (before) => d.affected(d.db.delete(t).where(and(eq(t.status, "retired"), lt(t.retiredAt, before))))
  })
}
