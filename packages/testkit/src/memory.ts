/**
 * In-memory implementations of every storage port, over one `MemoryDatabase`.
 *
 * Atomicity: JavaScript runs one synchronous block at a time, so each compare-and-set
 * below (read, decide, write) sits inside one `Effect.sync` / `Effect.suspend` body with
 * no `yield*` between the read and the write. That makes `consume`, `rotate`,
 * `transition`, `use`, `initialize` and `rotate` (keys) atomic for every layer built over
 * the same database in this process — the in-process twin of a conditional
 * UPDATE ... RETURNING.
 *
 * Records are deep-copied and frozen on the way in, so neither the object a caller saved
 * nor one a caller got back can change what is stored.
 */
import {
  AccessTokenStore,
  type AccessTokenRecord,
  AuthorizationCodeStore,
  type AuthorizationCodeRecord,
  ClientStore,
  type ClientRecord,
  type ConsentRecord,
  GrantStore,
  InteractionStore,
  type InteractionRecord,
  KeyStore,
  type KeyRecord,
  RefreshTokenStore,
  type RefreshTokenRecord,
  ReplayCache,
  type RotateResult,
  type SessionRecord,
  StorageError
} from "@gatehouse/core"
import { Effect, Layer } from "effect"

/** Every storage port: what an adapter's layer provides and the conformance suite checks. */
export type StoragePorts =
  | ClientStore
  | AuthorizationCodeStore
  | RefreshTokenStore
  | AccessTokenStore
  | GrantStore
  | InteractionStore
  | ReplayCache
  | KeyStore

/**
 * The tables. Layers built from one database share them, like several connections to one
 * database server. Tests may read them; writing to them directly bypasses every guarantee
 * the ports make.
 */
export interface MemoryDatabase {
  /** by `clientId` */
  readonly clients: Map<string, ClientRecord>
  /** by `codeDigest` */
  readonly authorizationCodes: Map<string, AuthorizationCodeRecord>
  /** by `tokenDigest` */
  readonly refreshTokens: Map<string, RefreshTokenRecord>
  /** by `tokenDigest` */
  readonly accessTokens: Map<string, AccessTokenRecord>
  /** by `consentKey(accountId, clientId)` */
  readonly consents: Map<string, ConsentRecord>
  /** by `sessionDigest` */
  readonly sessions: Map<string, SessionRecord>
  /** by `id` */
  readonly interactions: Map<string, InteractionRecord>
  /** replay key -> `expiresAt` (ms since epoch) */
  readonly replay: Map<string, number>
  /** by `kid`, in insertion order */
  readonly keys: Map<string, KeyRecord>
}

export const makeMemoryDatabase = (): MemoryDatabase => ({
  clients: new Map(),
  authorizationCodes: new Map(),
  refreshTokens: new Map(),
  accessTokens: new Map(),
  consents: new Map(),
  sessions: new Map(),
  interactions: new Map(),
  replay: new Map(),
  keys: new Map()
})

/** The key of the `consents` table: one consent per (account, client). */
export const consentKey = (accountId: string, clientId: string): string => JSON.stringify([accountId, clientId])

const deepFreeze = <A>(value: A): A => {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}

/** A private, immutable copy: what goes into a table. */
const snapshot = <A>(record: A): A => deepFreeze(structuredClone(record))

const duplicate = (table: string, key: string) =>
  new StorageError({ description: "duplicate key", detail: `memory: ${table} already holds ${JSON.stringify(key)}` })

/** Delete every row `isExpired` selects; returns how many. */
const sweepTable = <A>(table: Map<string, A>, isExpired: (row: A) => boolean): number => {
  let removed = 0
  for (const [key, row] of table) {
    if (isExpired(row)) {
      table.delete(key)
      removed++
    }
  }
  return removed
}

const clientStore = (db: MemoryDatabase) =>
  ClientStore.of({
    find: (clientId) => Effect.sync(() => db.clients.get(clientId)),
    insert: (record) =>
      Effect.suspend(() => {
        if (db.clients.has(record.clientId)) return Effect.fail(duplicate("clients", record.clientId))
        db.clients.set(record.clientId, snapshot(record))
        return Effect.void
      }),
    update: (record) =>
      Effect.sync(() => {
        if (!db.clients.has(record.clientId)) return false
        db.clients.set(record.clientId, snapshot(record))
        return true
      }),
    delete: (clientId) => Effect.sync(() => db.clients.delete(clientId))
  })

const authorizationCodeStore = (db: MemoryDatabase) =>
  AuthorizationCodeStore.of({
    save: (record) =>
      Effect.suspend(() => {
        if (db.authorizationCodes.has(record.codeDigest)) {
          return Effect.fail(duplicate("authorizationCodes", record.codeDigest))
        }
        db.authorizationCodes.set(record.codeDigest, snapshot(record))
        return Effect.void
      }),
    // RFC 6749 §4.1.2: single use. Read and mark in one synchronous step.
    consume: (codeDigest, now) =>
      Effect.sync(() => {
        const stored = db.authorizationCodes.get(codeDigest)
        if (stored === undefined) return { _tag: "NotFound" } as const
        if (stored.consumedAt !== undefined) return { _tag: "AlreadyConsumed", record: stored } as const
        const consumed = snapshot({ ...stored, consumedAt: now })
        db.authorizationCodes.set(codeDigest, consumed)
        return { _tag: "Consumed", record: consumed } as const
      }),
    sweep: (now) => Effect.sync(() => sweepTable(db.authorizationCodes, (code) => code.expiresAt < now))
  })

/** Unconsumed, unrevoked and unexpired at `now`. */
const isActiveRefreshToken = (token: RefreshTokenRecord, now: number): boolean =>
  token.consumedAt === undefined && token.revokedAt === undefined && token.expiresAt > now

const refreshTokenStore = (db: MemoryDatabase) =>
  RefreshTokenStore.of({
    save: (record) =>
      Effect.suspend(() => {
        if (db.refreshTokens.has(record.tokenDigest)) {
          return Effect.fail(duplicate("refreshTokens", record.tokenDigest))
        }
        db.refreshTokens.set(record.tokenDigest, snapshot(record))
        return Effect.void
      }),
    find: (tokenDigest) => Effect.sync(() => db.refreshTokens.get(tokenDigest)),
    // RFC 9700 §4.14.2: rotation with reuse detection. Everything from the read to the
    // last write happens in this one synchronous body; `next` is computed before any
    // write, so a throwing `next` (a defect) leaves the store untouched.
    rotate: (tokenDigest, now, next) =>
      Effect.suspend((): Effect.Effect<RotateResult, StorageError> => {
        const previous = db.refreshTokens.get(tokenDigest)
        if (previous === undefined) return Effect.succeed({ _tag: "NotFound" } as const)
        if (previous.consumedAt !== undefined) return Effect.succeed({ _tag: "Reused", previous } as const)
        if (!isActiveRefreshToken(previous, now)) return Effect.succeed({ _tag: "Inactive", previous } as const)
        const successor = snapshot(next(previous))
        if (db.refreshTokens.has(successor.tokenDigest)) {
          return Effect.fail(duplicate("refreshTokens", successor.tokenDigest))
        }
        db.refreshTokens.set(tokenDigest, snapshot({ ...previous, consumedAt: now }))
        db.refreshTokens.set(successor.tokenDigest, successor)
        return Effect.succeed({ _tag: "Rotated", previous } as const)
      }),
    revokeByGrant: (grantId, now) =>
      Effect.sync(() => {
        let active = 0
        for (const [digest, token] of db.refreshTokens) {
          if (token.grantId !== grantId) continue
          if (isActiveRefreshToken(token, now)) active++
          // the family was revoked when it was first revoked: keep that time
          if (token.revokedAt === undefined) db.refreshTokens.set(digest, snapshot({ ...token, revokedAt: now }))
        }
        return active
      }),
    sweep: (now) => Effect.sync(() => sweepTable(db.refreshTokens, (token) => token.expiresAt < now))
  })

const accessTokenStore = (db: MemoryDatabase) =>
  AccessTokenStore.of({
    save: (record) =>
      Effect.suspend(() => {
        if (db.accessTokens.has(record.tokenDigest)) return Effect.fail(duplicate("accessTokens", record.tokenDigest))
        db.accessTokens.set(record.tokenDigest, snapshot(record))
        return Effect.void
      }),
    find: (tokenDigest) => Effect.sync(() => db.accessTokens.get(tokenDigest)),
    revoke: (tokenDigest, now) =>
      Effect.sync(() => {
        const token = db.accessTokens.get(tokenDigest)
        if (token === undefined) return false
        if (token.revokedAt === undefined) db.accessTokens.set(tokenDigest, snapshot({ ...token, revokedAt: now }))
        return true
      }),
    revokeByGrant: (grantId, now) =>
      Effect.sync(() => {
        let revoked = 0
        for (const [digest, token] of db.accessTokens) {
          if (token.grantId !== grantId || token.revokedAt !== undefined) continue
          db.accessTokens.set(digest, snapshot({ ...token, revokedAt: now }))
          revoked++
        }
        return revoked
      }),
    sweep: (now) => Effect.sync(() => sweepTable(db.accessTokens, (token) => token.expiresAt < now))
  })

const grantStore = (db: MemoryDatabase) =>
  GrantStore.of({
    findConsent: (accountId, clientId) => Effect.sync(() => db.consents.get(consentKey(accountId, clientId))),
    saveConsent: (record) =>
      Effect.sync(() => {
        db.consents.set(consentKey(record.accountId, record.clientId), snapshot(record))
      }),
    revokeConsent: (accountId, clientId) => Effect.sync(() => db.consents.delete(consentKey(accountId, clientId))),
    // an upsert, like `saveConsent`: re-authentication may refresh a session in place
    saveSession: (record) =>
      Effect.sync(() => {
        db.sessions.set(record.sessionDigest, snapshot(record))
      }),
    findSession: (sessionDigest) => Effect.sync(() => db.sessions.get(sessionDigest)),
    deleteSession: (sessionDigest) => Effect.sync(() => db.sessions.delete(sessionDigest)),
    sweep: (now) => Effect.sync(() => sweepTable(db.sessions, (session) => session.expiresAt < now))
  })

const interactionStore = (db: MemoryDatabase) =>
  InteractionStore.of({
    create: (record) =>
      Effect.suspend(() => {
        if (db.interactions.has(record.id)) return Effect.fail(duplicate("interactions", record.id))
        db.interactions.set(record.id, snapshot(record))
        return Effect.void
      }),
    find: (id) => Effect.sync(() => db.interactions.get(id)),
    // compare-and-set on `state`; the row keeps its id, like UPDATE ... WHERE id = ?
    transition: (id, from, next) =>
      Effect.sync(() => {
        const stored = db.interactions.get(id)
        if (stored === undefined || !from.includes(stored.state)) return false
        db.interactions.set(id, snapshot({ ...next, id }))
        return true
      }),
    sweep: (now) => Effect.sync(() => sweepTable(db.interactions, (interaction) => interaction.expiresAt < now))
  })

const replayCache = (db: MemoryDatabase) =>
  ReplayCache.of({
    use: (key, expiresAt) =>
      Effect.sync(() => {
        if (db.replay.has(key)) return false
        db.replay.set(key, expiresAt)
        return true
      }),
    sweep: (now) => Effect.sync(() => sweepTable(db.replay, (expiresAt) => expiresAt < now))
  })

const allKeys = (db: MemoryDatabase): ReadonlyArray<KeyRecord> => Object.freeze([...db.keys.values()])

const keyStore = (db: MemoryDatabase) =>
  KeyStore.of({
    list: () => Effect.sync(() => allKeys(db)),
    // First process wins: `initial` goes in only when no stored key has any of its algs.
    initialize: (initial) =>
      Effect.suspend(() => {
        const algs = new Set(initial.map((key) => key.alg))
        const taken = [...db.keys.values()].some((key) => algs.has(key.alg))
        if (!taken) {
          const kids = new Set<string>()
          for (const key of initial) {
            if (db.keys.has(key.kid) || kids.has(key.kid)) return Effect.fail(duplicate("keys", key.kid))
            kids.add(key.kid)
          }
          for (const key of initial) db.keys.set(key.kid, snapshot(key))
        }
        return Effect.succeed(allKeys(db))
      }),
    rotate: (alg, next, now) =>
      Effect.suspend(() => {
        if (db.keys.has(next.kid)) return Effect.fail(duplicate("keys", next.kid))
        for (const [kid, key] of db.keys) {
          if (key.alg !== alg) continue
          if (key.status === "current") db.keys.set(kid, snapshot({ ...key, status: "retired", retiredAt: now }))
          else if (key.status === "next") db.keys.set(kid, snapshot({ ...key, status: "current" }))
        }
        db.keys.set(next.kid, snapshot(next))
        return Effect.succeed(allKeys(db))
      }),
    prune: (before) =>
      Effect.sync(() =>
        sweepTable(db.keys, (key) => key.status === "retired" && key.retiredAt !== undefined && key.retiredAt < before)
      )
  })

export const MemoryStorage = {
  /**
   * Every storage port over `db` (a fresh database when omitted). Build several layers
   * from one database to get several "connections" to the same data.
   */
  layer: (db: MemoryDatabase = makeMemoryDatabase()): Layer.Layer<StoragePorts> =>
    Layer.mergeAll(
      Layer.succeed(ClientStore, clientStore(db)),
      Layer.succeed(AuthorizationCodeStore, authorizationCodeStore(db)),
      Layer.succeed(RefreshTokenStore, refreshTokenStore(db)),
      Layer.succeed(AccessTokenStore, accessTokenStore(db)),
      Layer.succeed(GrantStore, grantStore(db)),
      Layer.succeed(InteractionStore, interactionStore(db)),
      Layer.succeed(ReplayCache, replayCache(db)),
      Layer.succeed(KeyStore, keyStore(db))
    )
} as const
