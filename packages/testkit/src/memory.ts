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
  type DeviceCodeRecord,
  DeviceCodeStore,
  type GnapGrantRecord,
  GnapGrantStore,
  type GnapResourceSetRecord,
  GnapResourceStore,
  type GnapTokenRecord,
  type RotateGnapTokenResult,
  type UserCodeRecord,
  UserCodeStore,
  RateLimiter,
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
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { memoryRateLimiter, type RateLimitTable } from "./rate-limiter.js"

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
  | DeviceCodeStore
  | UserCodeStore
  | RateLimiter
  | GnapGrantStore
  | GnapResourceStore

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
  /** by `deviceCodeDigest` (RFC 8628) */
  readonly deviceCodes: Map<string, DeviceCodeRecord>
  /** by `userCodeDigest` */
  readonly userCodes: Map<string, UserCodeRecord>
  /** failure counters of the user-code engine, by key */
  readonly userCodeAttempts: Map<string, { readonly count: number; readonly resetsAt: number }>
  /** RateLimiter windows (client authentication, login), by key */
  readonly rateLimits: RateLimitTable
  /** GNAP grants (RFC 9635), by `id` */
  readonly gnapGrants: Map<string, GnapGrantRecord>
  /** GNAP access tokens, by `tokenDigest` */
  readonly gnapTokens: Map<string, GnapTokenRecord>
  /** GNAP resource sets (RFC 9767 §3.4), by `reference` */
  readonly gnapResourceSets: Map<string, GnapResourceSetRecord>
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
  keys: new Map(),
  deviceCodes: new Map(),
  userCodes: new Map(),
  userCodeAttempts: new Map(),
  rateLimits: new Map(),
  gnapGrants: new Map(),
  gnapTokens: new Map(),
  gnapResourceSets: new Map()
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

/**
 * Lists of short strings repeat across records (every token of a client carries the same
 * `scope` and `audience`, every code the same `amr`): frozen, they can be one shared array
 * instead of a copy (with copies of its strings) per record. Bounded: once full, lists are
 * copied as before.
 */
const INTERNED_LISTS_MAX = 4096
const internedLists = new Map<string, ReadonlyArray<string>>()
const EMPTY_LIST: ReadonlyArray<string> = Object.freeze([])
const internedList = (list: ReadonlyArray<unknown>): ReadonlyArray<string> | undefined => {
  if (list.length === 0) return EMPTY_LIST
  if (list.length > 16) return undefined
  for (const item of list) {
    if (typeof item !== "string" || item.length > 256 || item.includes("\u0000")) return undefined
  }
  // one item: the item itself (it has no NUL, every longer key has one)
  const key = list.length === 1 ? list[0] as string : list.join("\u0000")
  const found = internedLists.get(key)
  if (found !== undefined) return found
  if (internedLists.size >= INTERNED_LISTS_MAX) return undefined
  const shared = Object.freeze([...(list as ReadonlyArray<string>)])
  copies.add(shared)
  internedLists.set(key, shared)
  return shared
}

/**
 * A frozen deep copy of plain data (records are strings, numbers, booleans, arrays and
 * plain objects of those): a few times cheaper than `structuredClone` + freeze on the
 * records every request saves. Anything else (Date, Map, typed arrays) goes through
 * `structuredClone`.
 */
const frozenCopy = (value: unknown): unknown => {
  if (typeof value !== "object" || value === null) return value
  if (Array.isArray(value)) {
    // made here before (a stored record's list, spread into an updated record): immutable, shared
    if (Object.isFrozen(value) && copies.has(value)) return value
    const shared = internedList(value)
    if (shared !== undefined) return shared
    const out = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) out[i] = frozenCopy(value[i])
    copies.add(out)
    return Object.freeze(out)
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return deepFreeze(structuredClone(value))
  if (Object.hasOwn(value, "__proto__")) {
    // a "__proto__" own key must stay a plain property, as structuredClone keeps it
    // (`Object.assign` below would set the copy's prototype instead)
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value)) {
      if (key === "__proto__") Object.defineProperty(out, key, { value: frozenCopy((value as Record<string, unknown>)[key]), enumerable: true })
      else out[key] = frozenCopy((value as Record<string, unknown>)[key])
    }
    return Object.freeze(out)
  }
  // the top level copied in one go (V8's fast path for a fresh target), then the nested
  // lists and objects replaced by their own copies
  const out = Object.assign({}, value) as Record<string, unknown>
  for (const key in out) {
    const nested = out[key]
    if (typeof nested === "object" && nested !== null) out[key] = frozenCopy(nested)
  }
  return Object.freeze(out)
}

/** The frozen lists `frozenCopy` made or shares: deep-frozen, never copied again. */
const copies = new WeakSet<object>([EMPTY_LIST])

/** A private, immutable copy: what goes into a table. */
const snapshot = <A>(record: A): A => frozenCopy(record) as A

/**
 * `snapshot({ ...record, ...changes })`, without the spread: on Node 20's V8 an object made
 * by a spread and then given new properties takes a slow path (~2 µs for a token record,
 * against ~0.5 µs this way). A record with a "__proto__" own key keeps the spread (an
 * `Object.assign` target would take it as its prototype).
 */
const snapshotWith = <A extends object>(record: A, changes: Partial<A>): A =>
  snapshot(Object.hasOwn(record, "__proto__") ? { ...record, ...changes } : Object.assign({}, record, changes))

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
        const consumed = snapshotWith(stored, { consumedAt: now })
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
        db.refreshTokens.set(tokenDigest, snapshotWith(previous, { consumedAt: now }))
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
          if (token.revokedAt === undefined) db.refreshTokens.set(digest, snapshotWith(token, { revokedAt: now }))
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
        if (token.revokedAt === undefined) db.accessTokens.set(tokenDigest, snapshotWith(token, { revokedAt: now }))
        return true
      }),
    revokeByGrant: (grantId, now) =>
      Effect.sync(() => {
        let revoked = 0
        for (const [digest, token] of db.accessTokens) {
          if (token.grantId !== grantId || token.revokedAt !== undefined) continue
          db.accessTokens.set(digest, snapshotWith(token, { revokedAt: now }))
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
        db.interactions.set(id, snapshotWith(next, { id }))
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
          if (key.status === "current") db.keys.set(kid, snapshotWith(key, { status: "retired", retiredAt: now }))
          else if (key.status === "next") db.keys.set(kid, snapshotWith(key, { status: "current" }))
        }
        db.keys.set(next.kid, snapshot(next))
        return Effect.succeed(allKeys(db))
      }),
    prune: (before) =>
      Effect.sync(() =>
        sweepTable(db.keys, (key) => key.status === "retired" && key.retiredAt !== undefined && key.retiredAt < before)
      )
  })

// --- RFC 8628 device codes and the user-code engine -----------------------------------------

const deviceCodeStore = (db: MemoryDatabase) =>
  DeviceCodeStore.of({
    save: (record) =>
      Effect.suspend(() => {
        if (db.deviceCodes.has(record.deviceCodeDigest)) return Effect.fail(duplicate("deviceCodes", record.deviceCodeDigest))
        db.deviceCodes.set(record.deviceCodeDigest, snapshot(record))
        return Effect.void
      }),
    find: (deviceCodeDigest) => Effect.sync(() => db.deviceCodes.get(deviceCodeDigest)),
    // RFC 8628 §3.5: read, decide and write in one synchronous step
    poll: (deviceCodeDigest, now) =>
      Effect.sync(() => {
        const stored = db.deviceCodes.get(deviceCodeDigest)
        if (stored === undefined) return { _tag: "NotFound" } as const
        const slowDown = stored.lastPolledAt !== undefined && now - stored.lastPolledAt < stored.interval * 1000
        const record = snapshotWith(stored, { interval: slowDown ? stored.interval + 5 : stored.interval, lastPolledAt: now })
        db.deviceCodes.set(deviceCodeDigest, record)
        return { _tag: "Polled", record, slowDown } as const
      }),
    approve: (deviceCodeDigest, approval) =>
      Effect.sync(() => {
        const stored = db.deviceCodes.get(deviceCodeDigest)
        if (stored === undefined || stored.state !== "pending") return false
        db.deviceCodes.set(deviceCodeDigest, snapshotWith(stored, { state: "authorized" as const, ...approval }))
        return true
      }),
    deny: (deviceCodeDigest) =>
      Effect.sync(() => {
        const stored = db.deviceCodes.get(deviceCodeDigest)
        if (stored === undefined || stored.state !== "pending") return false
        db.deviceCodes.set(deviceCodeDigest, snapshotWith(stored, { state: "denied" as const }))
        return true
      }),
    consume: (deviceCodeDigest, now) =>
      Effect.sync(() => {
        const stored = db.deviceCodes.get(deviceCodeDigest)
        if (stored === undefined) return { _tag: "NotFound" } as const
        if (stored.state !== "authorized") return { _tag: "NotAuthorized", record: stored } as const
        const consumed = snapshotWith(stored, { state: "consumed" as const, consumedAt: now })
        db.deviceCodes.set(deviceCodeDigest, consumed)
        return { _tag: "Consumed", record: consumed } as const
      }),
    sweep: (now) => Effect.sync(() => sweepTable(db.deviceCodes, (code) => code.expiresAt < now))
  })

const userCodeStore = (db: MemoryDatabase) =>
  UserCodeStore.of({
    // one live code per digest; an expired one is replaced
    reserve: (record, now) =>
      Effect.sync(() => {
        const stored = db.userCodes.get(record.userCodeDigest)
        if (stored !== undefined && stored.expiresAt > now) return false
        db.userCodes.set(record.userCodeDigest, snapshot(record))
        return true
      }),
    find: (userCodeDigest) => Effect.sync(() => db.userCodes.get(userCodeDigest)),
    claim: (userCodeDigest, now) =>
      Effect.sync(() => {
        const stored = db.userCodes.get(userCodeDigest)
        if (stored === undefined) return { _tag: "NotFound" } as const
        if (stored.claimedAt !== undefined) return { _tag: "AlreadyClaimed", record: stored } as const
        if (stored.expiresAt <= now) return { _tag: "Expired", record: stored } as const
        const claimed = snapshotWith(stored, { claimedAt: now })
        db.userCodes.set(userCodeDigest, claimed)
        return { _tag: "Claimed", record: claimed } as const
      }),
    retire: (interactionId, now) =>
      Effect.sync(() => {
        let retired = 0
        for (const [digest, code] of db.userCodes) {
          if (code.interactionId !== interactionId || code.claimedAt !== undefined) continue
          db.userCodes.set(digest, snapshotWith(code, { claimedAt: now }))
          retired++
        }
        return retired
      }),
    countFailure: (key, now, windowMs) =>
      Effect.sync(() => {
        const stored = db.userCodeAttempts.get(key)
        const next = stored === undefined || stored.resetsAt <= now
          ? { count: 1, resetsAt: now + windowMs }
          : { count: stored.count + 1, resetsAt: stored.resetsAt }
        db.userCodeAttempts.set(key, snapshot(next))
        return next
      }),
    forgive: (key, now) =>
      Effect.sync(() => {
        const stored = db.userCodeAttempts.get(key)
        if (stored === undefined || stored.resetsAt <= now || stored.count === 0) return
        db.userCodeAttempts.set(key, snapshot({ count: stored.count - 1, resetsAt: stored.resetsAt }))
      }),
    sweep: (now) =>
      Effect.sync(() =>
        sweepTable(db.userCodes, (code) => code.expiresAt < now) +
        sweepTable(db.userCodeAttempts, (attempts) => attempts.resetsAt < now)
      )
  })

// --- GNAP grants and tokens (RFC 9635) -------------------------------------------------------

/** The latest-created grant matching `predicate` (ties: the last inserted). */
const latestGrant = (db: MemoryDatabase, predicate: (grant: GnapGrantRecord) => boolean): GnapGrantRecord | undefined => {
  let found: GnapGrantRecord | undefined
  for (const grant of db.gnapGrants.values()) {
    if (predicate(grant) && (found === undefined || grant.createdAt >= found.createdAt)) found = grant
  }
  return found
}

const tokenByManageId = (db: MemoryDatabase, manageId: string): GnapTokenRecord | undefined => {
  for (const token of db.gnapTokens.values()) if (token.manageId === manageId) return token
  return undefined
}

const gnapGrantStore = (db: MemoryDatabase) =>
  GnapGrantStore.of({
    create: (record) =>
      Effect.suspend(() => {
        if (db.gnapGrants.has(record.id)) return Effect.fail(duplicate("gnapGrants", record.id))
        db.gnapGrants.set(record.id, snapshot(record))
        return Effect.void
      }),
    find: (id) => Effect.sync(() => db.gnapGrants.get(id)),
    // compare-and-set on the version, read and write in one synchronous step
    update: (next, expectedVersion) =>
      Effect.sync(() => {
        const stored = db.gnapGrants.get(next.id)
        if (stored === undefined || stored.version !== expectedVersion) return false
        db.gnapGrants.set(next.id, snapshotWith(next, { version: expectedVersion + 1 }))
        return true
      }),
    findByInstance: (instanceId) => Effect.sync(() => latestGrant(db, (g) => g.clientInstanceId === instanceId)),
    findByKey: (thumbprint) => Effect.sync(() => latestGrant(db, (g) => g.clientKeyThumbprint === thumbprint)),
    sweep: (now) => Effect.sync(() => sweepTable(db.gnapGrants, (grant) => grant.expiresAt < now)),
    saveToken: (record) =>
      Effect.suspend(() => {
        if (db.gnapTokens.has(record.tokenDigest)) return Effect.fail(duplicate("gnapTokens", record.tokenDigest))
        if (tokenByManageId(db, record.manageId) !== undefined) return Effect.fail(duplicate("gnapTokens.manageId", record.manageId))
        db.gnapTokens.set(record.tokenDigest, snapshot(record))
        return Effect.void
      }),
    findToken: (tokenDigest) => Effect.sync(() => db.gnapTokens.get(tokenDigest)),
    findTokenByManageId: (manageId) => Effect.sync(() => tokenByManageId(db, manageId)),
    // RFC 9635 §6.1: revoke the old token and store its successor in one synchronous step
    rotateToken: (manageId, now, next) =>
      Effect.suspend((): Effect.Effect<RotateGnapTokenResult, StorageError> => {
        const previous = tokenByManageId(db, manageId)
        if (previous === undefined) return Effect.succeed({ _tag: "NotFound" } as const)
        if (previous.revokedAt !== undefined) return Effect.succeed({ _tag: "Inactive", previous } as const)
        const successor = snapshot(next(previous))
        if (db.gnapTokens.has(successor.tokenDigest)) return Effect.fail(duplicate("gnapTokens", successor.tokenDigest))
        if (tokenByManageId(db, successor.manageId) !== undefined) {
          return Effect.fail(duplicate("gnapTokens.manageId", successor.manageId))
        }
        db.gnapTokens.set(previous.tokenDigest, snapshotWith(previous, { revokedAt: now }))
        db.gnapTokens.set(successor.tokenDigest, successor)
        return Effect.succeed({ _tag: "Rotated", previous } as const)
      }),
    revokeToken: (manageId, now) =>
      Effect.sync(() => {
        const token = tokenByManageId(db, manageId)
        if (token === undefined) return false
        if (token.revokedAt === undefined) db.gnapTokens.set(token.tokenDigest, snapshotWith(token, { revokedAt: now }))
        return true
      }),
    revokeTokensByGrant: (grantId, now) =>
      Effect.sync(() => {
        let revoked = 0
        for (const [digest, token] of db.gnapTokens) {
          if (token.grantId !== grantId || token.revokedAt !== undefined) continue
          db.gnapTokens.set(digest, snapshotWith(token, { revokedAt: now }))
          revoked++
        }
        return revoked
      }),
    sweepTokens: (now) => Effect.sync(() => sweepTable(db.gnapTokens, (token) => token.expiresAt < now))
  })

// RFC 9767 §3.4: one reference per (RS, set), looked up and stored in one synchronous step
const gnapResourceStore = (db: MemoryDatabase) =>
  GnapResourceStore.of({
    register: (record) =>
      Effect.suspend(() => {
        for (const stored of db.gnapResourceSets.values()) {
          if (stored.resourceServer === record.resourceServer && stored.setDigest === record.setDigest) return Effect.succeed(stored)
        }
        if (db.gnapResourceSets.has(record.reference)) return Effect.fail(duplicate("gnapResourceSets", record.reference))
        const stored = snapshot(record)
        db.gnapResourceSets.set(record.reference, stored)
        return Effect.succeed(stored)
      }),
    find: (reference) => Effect.sync(() => db.gnapResourceSets.get(reference)),
    listByResourceServer: (resourceServer) =>
      Effect.sync(() =>
        [...db.gnapResourceSets.values()].filter((r) => r.resourceServer === resourceServer).sort((a, b) => a.createdAt - b.createdAt)
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
      Layer.succeed(KeyStore, keyStore(db)),
      Layer.succeed(DeviceCodeStore, deviceCodeStore(db)),
      Layer.succeed(UserCodeStore, userCodeStore(db)),
      Layer.succeed(RateLimiter, memoryRateLimiter(db.rateLimits)),
      Layer.succeed(GnapGrantStore, gnapGrantStore(db)),
      Layer.succeed(GnapResourceStore, gnapResourceStore(db))
    )
} as const
