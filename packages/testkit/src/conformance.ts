/**
 * The storage conformance suite: every guarantee written in the storage ports' JSDoc, as
 * vitest tests, including the races. Every adapter runs it unchanged:
 *
 *   storageConformance("postgres", { connect: () => PgStorage.layer(url), teardown })
 *
 * `connect()` is called several times and must return a NEW connection (pool) to the SAME
 * database each time: the races run over five of them, standing in for five processes.
 * The tests do not need a clean database: every id and digest is random, and sweeps run
 * on a clock set years in the past so they only ever touch the records of their own test.
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
  type SessionRecord
} from "@gatehouse/core"
import { Effect, type Layer, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { StoragePorts } from "./memory.js"

export interface StorageConformanceOptions {
  /** A new connection (pool) to the same database on every call. */
  readonly connect: () => Layer.Layer<StoragePorts, unknown>
  /** Runs after every connection has been closed. */
  readonly teardown?: () => Promise<void>
}

/** How many connections the races are spread over, and how many callers race. */
const CONNECTIONS = 5
const CALLERS = 50

const MINUTE = 60_000
const HOUR = 60 * MINUTE

const uid = (prefix: string): string => `${prefix}-${globalThis.crypto.randomUUID()}`

/**
 * A clock reading for sweep and prune tests: years before any record the other tests
 * write (they live around `Date.now()`), and different on every call, so a sweep at it
 * removes only what its own test made.
 */
const longAgo = (): number => Date.now() - 20 * 365 * 24 * HOUR + Math.floor(Math.random() * 1_000_000) * 1_000

const count = <A>(values: ReadonlyArray<A>, predicate: (value: A) => boolean): number =>
  values.filter(predicate).length

// --- fixtures -----------------------------------------------------------------------------

const client = (overrides: Partial<ClientRecord> = {}): ClientRecord => ({
  clientId: uid("client"),
  secretDigest: uid("secret-digest"),
  secretExpiresAt: 0,
  registrationAccessTokenDigest: uid("rat-digest"),
  metadata: {
    redirect_uris: ["https://app.example.com/callback", "https://app.example.com/other"],
    token_endpoint_auth_method: "client_secret_basic",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    client_name: "Conformance client",
    scope: "openid profile"
  },
  issuedAt: Math.floor(Date.now() / 1000),
  ...overrides
})

const authorizationCode = (now: number, overrides: Partial<AuthorizationCodeRecord> = {}): AuthorizationCodeRecord => ({
  codeDigest: uid("code-digest"),
  grantId: uid("grant"),
  clientId: uid("client"),
  accountId: uid("account"),
  redirectUri: "https://app.example.com/callback",
  scope: ["openid", "profile"],
  resource: ["https://api.example.com"],
  codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  codeChallengeMethod: "S256",
  nonce: uid("nonce"),
  authTime: Math.floor(now / 1000),
  acr: "urn:example:loa:1",
  amr: ["pwd"],
  claims: JSON.stringify({ userinfo: { email: null } }),
  sessionId: uid("session"),
  expiresAt: now + MINUTE,
  ...overrides
})

const refreshToken = (now: number, overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord => ({
  tokenDigest: uid("rt-digest"),
  grantId: uid("grant"),
  clientId: uid("client"),
  accountId: uid("account"),
  scope: ["openid", "offline_access"],
  resource: ["https://api.example.com"],
  authTime: Math.floor(now / 1000),
  acr: "urn:example:loa:1",
  amr: ["pwd", "otp"],
  sessionId: uid("session"),
  issuedAt: now,
  expiresAt: now + HOUR,
  ...overrides
})

/** What a refresh_token grant stores in place of the presented token. */
const successor = (tokenDigest: string, now: number) => (previous: RefreshTokenRecord): RefreshTokenRecord => ({
  ...previous,
  tokenDigest,
  issuedAt: now,
  consumedAt: undefined,
  revokedAt: undefined
})

const accessToken = (now: number, overrides: Partial<AccessTokenRecord> = {}): AccessTokenRecord => ({
  tokenDigest: uid("at-digest"),
  format: "opaque",
  grantId: uid("grant"),
  clientId: uid("client"),
  accountId: uid("account"),
  scope: ["openid", "profile"],
  audience: ["https://api.example.com"],
  issuedAt: now,
  expiresAt: now + HOUR,
  extra: JSON.stringify({ auth_time: Math.floor(now / 1000) }),
  ...overrides
})

const session = (now: number, overrides: Partial<SessionRecord> = {}): SessionRecord => ({
  sessionDigest: uid("session-digest"),
  accountId: uid("account"),
  authTime: Math.floor(now / 1000),
  acr: "urn:example:loa:1",
  amr: ["pwd"],
  expiresAt: now + HOUR,
  ...overrides
})

const interaction = (now: number, overrides: Partial<InteractionRecord> = {}): InteractionRecord => ({
  id: uid("interaction"),
  kind: "authorize",
  state: "pending",
  clientId: uid("client"),
  bindingDigest: uid("binding-digest"),
  payload: JSON.stringify({ response_type: "code", scope: "openid", state: uid("state") }),
  createdAt: now,
  expiresAt: now + 10 * MINUTE,
  ...overrides
})

/** An alg name no other test uses, so keys of one test never meet those of another. */
const testAlg = (): string => uid("TEST-ALG")

const key = (alg: string, status: KeyRecord["status"], now: number, overrides: Partial<KeyRecord> = {}): KeyRecord => {
  const kid = uid("kid")
  return {
    kid,
    alg,
    status,
    publicJwk: JSON.stringify({ kty: "EC", crv: "P-256", kid, x: uid("x"), y: uid("y") }),
    privateJwk: JSON.stringify({ kty: "EC", crv: "P-256", kid, x: uid("x"), y: uid("y"), d: uid("d") }),
    createdAt: now,
    ...overrides
  }
}

const ofAlg = (keys: ReadonlyArray<KeyRecord>, alg: string): Array<KeyRecord> =>
  keys.filter((k) => k.alg === alg).sort((a, b) => a.kid.localeCompare(b.kid))

const sortedKids = (keys: ReadonlyArray<KeyRecord>): Array<string> => keys.map((k) => k.kid).sort()

// --- the suite ----------------------------------------------------------------------------

export const storageConformance = (name: string, options: StorageConformanceOptions): void => {
  describe(name, () => {
    let main: ManagedRuntime.ManagedRuntime<StoragePorts, unknown> | undefined
    const pool: Array<ManagedRuntime.ManagedRuntime<StoragePorts, unknown>> = []

    beforeAll(async () => {
      main = ManagedRuntime.make(options.connect())
      for (let i = 0; i < CONNECTIONS; i++) pool.push(ManagedRuntime.make(options.connect()))
      // open every connection now, so the races measure the stores, not the connecting
      await Promise.all([main, ...pool].map((runtime) => runtime.runPromise(Effect.void)))
    })

    afterAll(async () => {
      const runtimes = main === undefined ? pool : [main, ...pool]
      try {
        await Promise.all(runtimes.map((runtime) => runtime.dispose()))
      } finally {
        await options.teardown?.()
      }
    })

    /** Run on the main connection. */
    const run = <A, E>(effect: Effect.Effect<A, E, StoragePorts>): Promise<A> => {
      if (main === undefined) throw new Error("storageConformance: connect() did not run")
      return main.runPromise(effect)
    }

    /**
     * Start `callers` effects spread round-robin over the pool's connections, held at a
     * gate until all of them have started, then released at once.
     */
    const race = async <A, E>(
      callers: number,
      effect: (caller: number) => Effect.Effect<A, E, StoragePorts>
    ): Promise<Array<A>> => {
      let open: () => void = () => {}
      const gate = new Promise<void>((resolve) => {
        open = resolve
      })
      const runs = Array.from({ length: callers }, (_, caller) =>
        pool[caller % pool.length]!.runPromise(Effect.andThen(Effect.promise(() => gate), effect(caller))))
      open()
      return Promise.all(runs)
    }

    /** The failure's tag, or "succeeded". A defect is not a failure and rejects. */
    const failureTag = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E, StoragePorts>) =>
      run(effect.pipe(Effect.match({ onFailure: (error) => error._tag, onSuccess: () => "succeeded" })))

    describe("ClientStore", () => {
      it("ClientStore.insert/find: a registered client is found by id with its record intact (RFC 7591 §3.2.1)", async () => {
        const record = client()
        const publicClient = client({ secretDigest: undefined, registrationAccessTokenDigest: undefined })
        await run(ClientStore.use((store) => Effect.andThen(store.insert(record), store.insert(publicClient))))
        expect(await run(ClientStore.use((store) => store.find(record.clientId)))).toEqual(record)
        expect(await run(ClientStore.use((store) => store.find(publicClient.clientId)))).toEqual(publicClient)
        expect(await run(ClientStore.use((store) => store.find(uid("client"))))).toBeUndefined()
      })

      it("ClientStore.insert: a duplicate client_id fails with StorageError and keeps the first record", async () => {
        const record = client()
        await run(ClientStore.use((store) => store.insert(record)))
        const tag = await failureTag(ClientStore.use((store) =>
          store.insert({ ...record, metadata: { ...record.metadata, client_name: "impostor" } })
        ))
        expect(tag).toBe("StorageError")
        expect(await run(ClientStore.use((store) => store.find(record.clientId)))).toEqual(record)
      })

      it("ClientStore.update: replaces the whole record; an unknown client returns false (RFC 7592 §2.2)", async () => {
        const record = client()
        await run(ClientStore.use((store) => store.insert(record)))
        const updated: ClientRecord = {
          ...record,
          secretDigest: uid("rotated-secret"),
          metadata: {
            redirect_uris: ["https://new.example.com/cb"],
            token_endpoint_auth_method: "client_secret_post",
            grant_types: ["authorization_code"],
            response_types: ["code"]
          }
        }
        expect(await run(ClientStore.use((store) => store.update(updated)))).toBe(true)
        expect(await run(ClientStore.use((store) => store.find(record.clientId)))).toEqual(updated)
        const unknown = client()
        expect(await run(ClientStore.use((store) => store.update(unknown)))).toBe(false)
        expect(await run(ClientStore.use((store) => store.find(unknown.clientId)))).toBeUndefined()
      })

      it("ClientStore.delete: removes the client; an unknown client returns false (RFC 7592 §2.3)", async () => {
        const record = client()
        await run(ClientStore.use((store) => store.insert(record)))
        expect(await run(ClientStore.use((store) => store.delete(record.clientId)))).toBe(true)
        expect(await run(ClientStore.use((store) => store.find(record.clientId)))).toBeUndefined()
        expect(await run(ClientStore.use((store) => store.delete(record.clientId)))).toBe(false)
        expect(await run(ClientStore.use((store) => store.delete(uid("client"))))).toBe(false)
      })

      it("ClientStore: stored state cannot be changed through the object saved or an object read back", async () => {
        const record = client()
        const original = structuredClone(record)
        await run(ClientStore.use((store) => store.insert(record)))
        const mutable = record as unknown as { metadata: { redirect_uris: Array<string>; client_name: string } }
        mutable.metadata.redirect_uris.push("https://evil.example.com/cb")
        mutable.metadata.client_name = "changed after insert"
        const read = await run(ClientStore.use((store) => store.find(record.clientId)))
        try {
          const readMutable = read as unknown as { metadata: { redirect_uris: Array<string> }; secretDigest: string }
          readMutable.metadata.redirect_uris.push("https://evil.example.com/cb2")
          readMutable.secretDigest = "changed after find"
        } catch {
          // a frozen record refuses the write: that is fine too
        }
        expect(await run(ClientStore.use((store) => store.find(record.clientId)))).toEqual(original)
      })
    })

    describe("AuthorizationCodeStore", () => {
      it("AuthorizationCodeStore.consume: the first call gets Consumed with the record, now marked used (RFC 6749 §4.1.2)", async () => {
        const now = Date.now()
        const record = authorizationCode(now)
        await run(AuthorizationCodeStore.use((store) => store.save(record)))
        const result = await run(AuthorizationCodeStore.use((store) => store.consume(record.codeDigest, now)))
        expect(result).toEqual({ _tag: "Consumed", record: { ...record, consumedAt: now } })
      })

      it("AuthorizationCodeStore.consume: a replayed code gets AlreadyConsumed with the record, so what was issued from it can be revoked (RFC 6749 §4.1.2)", async () => {
        const now = Date.now()
        const record = authorizationCode(now)
        await run(AuthorizationCodeStore.use((store) => store.save(record)))
        await run(AuthorizationCodeStore.use((store) => store.consume(record.codeDigest, now)))
        const replay = await run(AuthorizationCodeStore.use((store) => store.consume(record.codeDigest, now + 1_000)))
        expect(replay).toEqual({ _tag: "AlreadyConsumed", record: { ...record, consumedAt: now } })
        const again = await run(AuthorizationCodeStore.use((store) => store.consume(record.codeDigest, now + 2_000)))
        expect(again).toEqual({ _tag: "AlreadyConsumed", record: { ...record, consumedAt: now } })
      })

      it("AuthorizationCodeStore.consume: an unknown code gets NotFound", async () => {
        const result = await run(AuthorizationCodeStore.use((store) => store.consume(uid("code-digest"), Date.now())))
        expect(result).toEqual({ _tag: "NotFound" })
      })

      it("AuthorizationCodeStore.consume: expiry is the caller's check, an expired code is still Consumed once", async () => {
        const now = Date.now()
        const record = authorizationCode(now, { expiresAt: now - MINUTE })
        await run(AuthorizationCodeStore.use((store) => store.save(record)))
        const result = await run(AuthorizationCodeStore.use((store) => store.consume(record.codeDigest, now)))
        expect(result._tag).toBe("Consumed")
        const replay = await run(AuthorizationCodeStore.use((store) => store.consume(record.codeDigest, now)))
        expect(replay._tag).toBe("AlreadyConsumed")
      })

      it("AuthorizationCodeStore.sweep: removes codes that expired before now, used or not, and keeps the rest", async () => {
        const now = longAgo()
        const expired = authorizationCode(now, { expiresAt: now - MINUTE })
        const expiredUsed = authorizationCode(now, { expiresAt: now - MINUTE })
        const live = authorizationCode(now, { expiresAt: now + MINUTE })
        const removed = await run(AuthorizationCodeStore.use((store) =>
          Effect.gen(function*() {
            yield* store.save(expired)
            yield* store.save(expiredUsed)
            yield* store.save(live)
            yield* store.consume(expiredUsed.codeDigest, now - 2 * MINUTE)
            return yield* store.sweep(now)
          })
        ))
        expect(removed).toBeGreaterThanOrEqual(2)
        const after = await run(AuthorizationCodeStore.use((store) =>
          Effect.all([
            store.consume(expired.codeDigest, now),
            store.consume(expiredUsed.codeDigest, now),
            store.consume(live.codeDigest, now)
          ])
        ))
        expect(after.map((result) => result._tag)).toEqual(["NotFound", "NotFound", "Consumed"])
      })

      it(`AuthorizationCodeStore.consume: exactly one of ${CALLERS} concurrent callers over ${CONNECTIONS} connections wins (RFC 6749 §4.1.2)`, async () => {
        const now = Date.now()
        const record = authorizationCode(now)
        await run(AuthorizationCodeStore.use((store) => store.save(record)))
        const results = await race(
          CALLERS,
          (caller) => AuthorizationCodeStore.use((store) => store.consume(record.codeDigest, now + caller))
        )
        const winners = results.filter((result) => result._tag === "Consumed")
        expect(winners).toHaveLength(1)
        expect(count(results, (result) => result._tag === "AlreadyConsumed")).toBe(CALLERS - 1)
        const consumedAt = winners[0]!.record.consumedAt
        for (const result of results) {
          expect(result).toEqual({ _tag: result._tag, record: { ...record, consumedAt } })
        }
      })
    })

    describe("RefreshTokenStore", () => {
      it("RefreshTokenStore.save/find: a token is found by digest with its record intact", async () => {
        const now = Date.now()
        const record = refreshToken(now)
        const minimal = refreshToken(now, { acr: undefined, amr: undefined, sessionId: undefined })
        await run(RefreshTokenStore.use((store) => Effect.andThen(store.save(record), store.save(minimal))))
        expect(await run(RefreshTokenStore.use((store) => store.find(record.tokenDigest)))).toEqual(record)
        expect(await run(RefreshTokenStore.use((store) => store.find(minimal.tokenDigest)))).toEqual(minimal)
        expect(await run(RefreshTokenStore.use((store) => store.find(uid("rt-digest"))))).toBeUndefined()
      })

      it("RefreshTokenStore.rotate: an active token is consumed and next(previous) stored in one step (RFC 9700 §4.14.2)", async () => {
        const now = Date.now()
        const record = refreshToken(now - MINUTE, { expiresAt: now + HOUR })
        const nextDigest = uid("rt-digest")
        await run(RefreshTokenStore.use((store) => store.save(record)))
        const seen: Array<RefreshTokenRecord> = []
        const result = await run(RefreshTokenStore.use((store) =>
          store.rotate(record.tokenDigest, now, (previous) => {
            seen.push(previous)
            return successor(nextDigest, now)(previous)
          })
        ))
        expect(result._tag).toBe("Rotated")
        if (result._tag !== "Rotated") return
        expect(result.previous.tokenDigest).toBe(record.tokenDigest)
        expect(result.previous.grantId).toBe(record.grantId)
        // next() is given the token as it was while active, so a spread of it is active too
        expect(seen.length).toBeGreaterThanOrEqual(1)
        for (const previous of seen) expect(previous).toEqual(record)
        expect(await run(RefreshTokenStore.use((store) => store.find(record.tokenDigest)))).toEqual({
          ...record,
          consumedAt: now
        })
        expect(await run(RefreshTokenStore.use((store) => store.find(nextDigest)))).toEqual(
          successor(nextDigest, now)(record)
        )
      })

      it("RefreshTokenStore.rotate: a token presented again after rotation gets Reused and nothing more is stored (RFC 9700 §4.14.2)", async () => {
        const now = Date.now()
        const record = refreshToken(now)
        const first = uid("rt-digest")
        const second = uid("rt-digest")
        await run(RefreshTokenStore.use((store) => store.save(record)))
        await run(RefreshTokenStore.use((store) => store.rotate(record.tokenDigest, now, successor(first, now))))
        const replay = await run(RefreshTokenStore.use((store) =>
          store.rotate(record.tokenDigest, now + 1_000, successor(second, now + 1_000))
        ))
        expect(replay._tag).toBe("Reused")
        if (replay._tag !== "Reused") return
        expect(replay.previous).toEqual({ ...record, consumedAt: now })
        expect(await run(RefreshTokenStore.use((store) => store.find(second)))).toBeUndefined()
        // the token rotated to is untouched by the replay (revoking the family is the caller's step)
        const next = await run(RefreshTokenStore.use((store) => store.find(first)))
        expect(next?.consumedAt).toBeUndefined()
        expect(next?.revokedAt).toBeUndefined()
      })

      it("RefreshTokenStore.rotate: an unknown token gets NotFound and nothing is stored", async () => {
        const nextDigest = uid("rt-digest")
        const now = Date.now()
        const result = await run(RefreshTokenStore.use((store) =>
          store.rotate(uid("rt-digest"), now, successor(nextDigest, now))
        ))
        expect(result).toEqual({ _tag: "NotFound" })
        expect(await run(RefreshTokenStore.use((store) => store.find(nextDigest)))).toBeUndefined()
      })

      it("RefreshTokenStore.rotate: an expired token (expiresAt <= now) is Inactive, and is neither consumed nor rotated", async () => {
        const now = Date.now()
        const atExpiry = refreshToken(now - HOUR, { expiresAt: now })
        const pastExpiry = refreshToken(now - HOUR, { expiresAt: now - MINUTE })
        await run(RefreshTokenStore.use((store) => Effect.andThen(store.save(atExpiry), store.save(pastExpiry))))
        for (const record of [atExpiry, pastExpiry]) {
          const nextDigest = uid("rt-digest")
          const result = await run(RefreshTokenStore.use((store) =>
            store.rotate(record.tokenDigest, now, successor(nextDigest, now))
          ))
          expect(result).toEqual({ _tag: "Inactive", previous: record })
          expect(await run(RefreshTokenStore.use((store) => store.find(record.tokenDigest)))).toEqual(record)
          expect(await run(RefreshTokenStore.use((store) => store.find(nextDigest)))).toBeUndefined()
        }
      })

      it("RefreshTokenStore.rotate: a token of a revoked family is Inactive and is not rotated (RFC 9700 §4.14.2)", async () => {
        const now = Date.now()
        const record = refreshToken(now)
        const nextDigest = uid("rt-digest")
        await run(RefreshTokenStore.use((store) => store.save(record)))
        expect(await run(RefreshTokenStore.use((store) => store.revokeByGrant(record.grantId, now)))).toBe(1)
        const result = await run(RefreshTokenStore.use((store) =>
          store.rotate(record.tokenDigest, now + 1_000, successor(nextDigest, now + 1_000))
        ))
        expect(result).toEqual({ _tag: "Inactive", previous: { ...record, revokedAt: now } })
        const stored = await run(RefreshTokenStore.use((store) => store.find(record.tokenDigest)))
        expect(stored?.consumedAt).toBeUndefined()
        expect(await run(RefreshTokenStore.use((store) => store.find(nextDigest)))).toBeUndefined()
      })

      it("RefreshTokenStore.revokeByGrant: marks every token of the family revoked, counts only the active ones, leaves other families alone", async () => {
        const now = Date.now()
        const grantId = uid("grant")
        const rotated = refreshToken(now - HOUR, { grantId, expiresAt: now + HOUR })
        const activeDigest = uid("rt-digest")
        const expired = refreshToken(now - 2 * HOUR, { grantId, expiresAt: now - MINUTE })
        const otherFamily = refreshToken(now)
        await run(RefreshTokenStore.use((store) =>
          Effect.gen(function*() {
            yield* store.save(rotated)
            yield* store.save(expired)
            yield* store.save(otherFamily)
            yield* store.rotate(rotated.tokenDigest, now - MINUTE, successor(activeDigest, now - MINUTE))
          })
        ))
        // only the token rotated to is active: the rotated one is consumed, the other expired
        expect(await run(RefreshTokenStore.use((store) => store.revokeByGrant(grantId, now)))).toBe(1)
        for (const digest of [rotated.tokenDigest, activeDigest, expired.tokenDigest]) {
          const stored = await run(RefreshTokenStore.use((store) => store.find(digest)))
          expect(stored?.revokedAt).toBe(now)
        }
        expect(await run(RefreshTokenStore.use((store) => store.find(otherFamily.tokenDigest)))).toEqual(otherFamily)
        // none left active; the family keeps the time it was revoked
        expect(await run(RefreshTokenStore.use((store) => store.revokeByGrant(grantId, now + MINUTE)))).toBe(0)
        const stored = await run(RefreshTokenStore.use((store) => store.find(activeDigest)))
        expect(stored?.revokedAt).toBe(now)
        // the other family still rotates
        const result = await run(RefreshTokenStore.use((store) =>
          store.rotate(otherFamily.tokenDigest, now, successor(uid("rt-digest"), now))
        ))
        expect(result._tag).toBe("Rotated")
        expect(await run(RefreshTokenStore.use((store) => store.revokeByGrant(uid("grant"), now)))).toBe(0)
      })

      it("RefreshTokenStore.sweep: removes tokens that expired before now and keeps the rest", async () => {
        const now = longAgo()
        const expired = refreshToken(now - HOUR, { expiresAt: now - MINUTE })
        const live = refreshToken(now - HOUR, { expiresAt: now + MINUTE })
        await run(RefreshTokenStore.use((store) => Effect.andThen(store.save(expired), store.save(live))))
        expect(await run(RefreshTokenStore.use((store) => store.sweep(now)))).toBeGreaterThanOrEqual(1)
        expect(await run(RefreshTokenStore.use((store) => store.find(expired.tokenDigest)))).toBeUndefined()
        expect(await run(RefreshTokenStore.use((store) => store.find(live.tokenDigest)))).toEqual(live)
      })

      it(`RefreshTokenStore.rotate: exactly one of ${CALLERS} concurrent rotations over ${CONNECTIONS} connections wins, and exactly one successor is stored (RFC 9700 §4.14.2)`, async () => {
        const now = Date.now()
        const record = refreshToken(now)
        await run(RefreshTokenStore.use((store) => store.save(record)))
        const nextDigests = Array.from({ length: CALLERS }, () => uid("rt-digest"))
        const results = await race(
          CALLERS,
          (caller) =>
            RefreshTokenStore.use((store) =>
              store.rotate(record.tokenDigest, now, successor(nextDigests[caller]!, now))
            )
        )
        expect(count(results, (result) => result._tag === "Rotated")).toBe(1)
        expect(count(results, (result) => result._tag === "Reused")).toBe(CALLERS - 1)
        const winner = results.findIndex((result) => result._tag === "Rotated")
        const stored = await run(RefreshTokenStore.use((store) => Effect.forEach(nextDigests, (d) => store.find(d))))
        expect(stored.map((found, caller) => found === undefined ? -1 : caller).filter((c) => c >= 0)).toEqual([
          winner
        ])
        expect((await run(RefreshTokenStore.use((store) => store.find(record.tokenDigest))))?.consumedAt).toBe(now)
      })
    })

    describe("AccessTokenStore", () => {
      it("AccessTokenStore.save/find: a token record is found by digest with its record intact (RFC 7662 §2.2)", async () => {
        const now = Date.now()
        const opaque = accessToken(now)
        const jwt = accessToken(now, { format: "jwt", accountId: undefined, extra: undefined, audience: [] })
        await run(AccessTokenStore.use((store) => Effect.andThen(store.save(opaque), store.save(jwt))))
        expect(await run(AccessTokenStore.use((store) => store.find(opaque.tokenDigest)))).toEqual(opaque)
        expect(await run(AccessTokenStore.use((store) => store.find(jwt.tokenDigest)))).toEqual(jwt)
        expect(await run(AccessTokenStore.use((store) => store.find(uid("at-digest"))))).toBeUndefined()
      })

      it("AccessTokenStore.revoke: marks the token revoked at now; an unknown token returns false (RFC 7009 §2.2)", async () => {
        const now = Date.now()
        const record = accessToken(now)
        const sibling = accessToken(now, { grantId: record.grantId })
        await run(AccessTokenStore.use((store) => Effect.andThen(store.save(record), store.save(sibling))))
        expect(await run(AccessTokenStore.use((store) => store.revoke(record.tokenDigest, now)))).toBe(true)
        expect(await run(AccessTokenStore.use((store) => store.find(record.tokenDigest)))).toEqual({
          ...record,
          revokedAt: now
        })
        expect(await run(AccessTokenStore.use((store) => store.find(sibling.tokenDigest)))).toEqual(sibling)
        expect(await run(AccessTokenStore.use((store) => store.revoke(record.tokenDigest, now + 1_000)))).toBe(true)
        expect(await run(AccessTokenStore.use((store) => store.revoke(uid("at-digest"), now)))).toBe(false)
      })

      it("AccessTokenStore.revokeByGrant: revokes every token of that grant and no other (RFC 6749 §4.1.2, RFC 7009 §2.1)", async () => {
        const now = Date.now()
        const grantId = uid("grant")
        const first = accessToken(now, { grantId })
        const second = accessToken(now, { grantId, format: "jwt" })
        const other = accessToken(now)
        await run(AccessTokenStore.use((store) =>
          Effect.forEach([first, second, other], (record) => store.save(record), { discard: true })
        ))
        expect(await run(AccessTokenStore.use((store) => store.revokeByGrant(grantId, now)))).toBe(2)
        for (const record of [first, second]) {
          expect(await run(AccessTokenStore.use((store) => store.find(record.tokenDigest)))).toEqual({
            ...record,
            revokedAt: now
          })
        }
        expect(await run(AccessTokenStore.use((store) => store.find(other.tokenDigest)))).toEqual(other)
        expect(await run(AccessTokenStore.use((store) => store.revokeByGrant(uid("grant"), now)))).toBe(0)
      })

      it("AccessTokenStore.sweep: removes tokens that expired before now and keeps the rest", async () => {
        const now = longAgo()
        const expired = accessToken(now - HOUR, { expiresAt: now - MINUTE })
        const live = accessToken(now - HOUR, { expiresAt: now + MINUTE })
        await run(AccessTokenStore.use((store) => Effect.andThen(store.save(expired), store.save(live))))
        expect(await run(AccessTokenStore.use((store) => store.sweep(now)))).toBeGreaterThanOrEqual(1)
        expect(await run(AccessTokenStore.use((store) => store.find(expired.tokenDigest)))).toBeUndefined()
        expect(await run(AccessTokenStore.use((store) => store.find(live.tokenDigest)))).toEqual(live)
      })
    })

    describe("GrantStore", () => {
      it("GrantStore.findConsent: consent is remembered per (account, client)", async () => {
        const now = Date.now()
        const consent: ConsentRecord = {
          accountId: uid("account"),
          clientId: uid("client"),
          scope: ["openid", "profile"],
          updatedAt: now
        }
        await run(GrantStore.use((store) => store.saveConsent(consent)))
        expect(await run(GrantStore.use((store) => store.findConsent(consent.accountId, consent.clientId)))).toEqual(
          consent
        )
        expect(await run(GrantStore.use((store) => store.findConsent(consent.accountId, uid("client"))))).toBeUndefined()
        expect(await run(GrantStore.use((store) => store.findConsent(uid("account"), consent.clientId)))).toBeUndefined()
      })

      it("GrantStore.saveConsent: an upsert whose scope set replaces the previous one", async () => {
        const now = Date.now()
        const accountId = uid("account")
        const clientId = uid("client")
        const otherClient = uid("client")
        await run(GrantStore.use((store) =>
          Effect.gen(function*() {
            yield* store.saveConsent({ accountId, clientId, scope: ["openid", "profile", "email"], updatedAt: now })
            yield* store.saveConsent({ accountId, clientId: otherClient, scope: ["openid"], updatedAt: now })
            yield* store.saveConsent({ accountId, clientId, scope: ["openid"], updatedAt: now + 1_000 })
          })
        ))
        expect(await run(GrantStore.use((store) => store.findConsent(accountId, clientId)))).toEqual({
          accountId,
          clientId,
          scope: ["openid"],
          updatedAt: now + 1_000
        })
        expect(await run(GrantStore.use((store) => store.findConsent(accountId, otherClient)))).toEqual({
          accountId,
          clientId: otherClient,
          scope: ["openid"],
          updatedAt: now
        })
      })

      it("GrantStore.revokeConsent: removes that consent only; returns false when there was none", async () => {
        const now = Date.now()
        const accountId = uid("account")
        const clientId = uid("client")
        const otherClient = uid("client")
        await run(GrantStore.use((store) =>
          Effect.andThen(
            store.saveConsent({ accountId, clientId, scope: ["openid"], updatedAt: now }),
            store.saveConsent({ accountId, clientId: otherClient, scope: ["openid"], updatedAt: now })
          )
        ))
        expect(await run(GrantStore.use((store) => store.revokeConsent(accountId, clientId)))).toBe(true)
        expect(await run(GrantStore.use((store) => store.findConsent(accountId, clientId)))).toBeUndefined()
        expect(await run(GrantStore.use((store) => store.findConsent(accountId, otherClient)))).toBeDefined()
        expect(await run(GrantStore.use((store) => store.revokeConsent(accountId, clientId)))).toBe(false)
      })

      it("GrantStore sessions: saveSession/findSession by digest, deleteSession returns whether it existed (OIDC Core §3.1.2.1 max_age, prompt=none)", async () => {
        const now = Date.now()
        const record = session(now)
        const minimal = session(now, { acr: undefined, amr: undefined })
        await run(GrantStore.use((store) => Effect.andThen(store.saveSession(record), store.saveSession(minimal))))
        expect(await run(GrantStore.use((store) => store.findSession(record.sessionDigest)))).toEqual(record)
        expect(await run(GrantStore.use((store) => store.findSession(minimal.sessionDigest)))).toEqual(minimal)
        expect(await run(GrantStore.use((store) => store.findSession(uid("session-digest"))))).toBeUndefined()
        expect(await run(GrantStore.use((store) => store.deleteSession(record.sessionDigest)))).toBe(true)
        expect(await run(GrantStore.use((store) => store.findSession(record.sessionDigest)))).toBeUndefined()
        expect(await run(GrantStore.use((store) => store.deleteSession(record.sessionDigest)))).toBe(false)
        expect(await run(GrantStore.use((store) => store.findSession(minimal.sessionDigest)))).toEqual(minimal)
      })

      it("GrantStore.sweep: removes sessions that expired before now and keeps live sessions and consents", async () => {
        const now = longAgo()
        const expired = session(now - HOUR, { expiresAt: now - MINUTE })
        const live = session(now - HOUR, { expiresAt: now + MINUTE })
        const consent: ConsentRecord = {
          accountId: expired.accountId,
          clientId: uid("client"),
          scope: ["openid"],
          updatedAt: now - 2 * HOUR
        }
        await run(GrantStore.use((store) =>
          Effect.gen(function*() {
            yield* store.saveSession(expired)
            yield* store.saveSession(live)
            yield* store.saveConsent(consent)
          })
        ))
        expect(await run(GrantStore.use((store) => store.sweep(now)))).toBeGreaterThanOrEqual(1)
        expect(await run(GrantStore.use((store) => store.findSession(expired.sessionDigest)))).toBeUndefined()
        expect(await run(GrantStore.use((store) => store.findSession(live.sessionDigest)))).toEqual(live)
        expect(await run(GrantStore.use((store) => store.findConsent(consent.accountId, consent.clientId)))).toEqual(
          consent
        )
      })
    })

    describe("InteractionStore", () => {
      it("InteractionStore.create/find: an interaction is found by id with its record intact", async () => {
        const now = Date.now()
        const record = interaction(now)
        await run(InteractionStore.use((store) => store.create(record)))
        expect(await run(InteractionStore.use((store) => store.find(record.id)))).toEqual(record)
        expect(await run(InteractionStore.use((store) => store.find(uid("interaction"))))).toBeUndefined()
      })

      it("InteractionStore.transition: stores next only from a listed state, and a replayed transition returns false", async () => {
        const now = Date.now()
        const record = interaction(now)
        await run(InteractionStore.use((store) => store.create(record)))
        const accountId = uid("account")
        const authenticated: InteractionRecord = { ...record, state: "authenticated", accountId }
        const completed: InteractionRecord = {
          ...authenticated,
          state: "completed",
          result: JSON.stringify({ accountId, grantedScopes: ["openid"] })
        }
        // not from a state it is not in
        expect(await run(InteractionStore.use((store) => store.transition(record.id, ["authenticated"], completed))))
          .toBe(false)
        expect(await run(InteractionStore.use((store) => store.find(record.id)))).toEqual(record)
        // from one of the listed states
        expect(await run(InteractionStore.use((store) => store.transition(record.id, ["pending"], authenticated))))
          .toBe(true)
        expect(await run(InteractionStore.use((store) => store.find(record.id)))).toEqual(authenticated)
        expect(
          await run(InteractionStore.use((store) => store.transition(record.id, ["pending", "authenticated"], completed)))
        ).toBe(true)
        expect(await run(InteractionStore.use((store) => store.find(record.id)))).toEqual(completed)
        // a replay of an earlier step: the state moved on
        const denied: InteractionRecord = { ...record, state: "denied" }
        expect(await run(InteractionStore.use((store) => store.transition(record.id, ["pending", "authenticated"], denied))))
          .toBe(false)
        expect(await run(InteractionStore.use((store) => store.transition(record.id, [], denied)))).toBe(false)
        expect(await run(InteractionStore.use((store) => store.find(record.id)))).toEqual(completed)
      })

      it("InteractionStore.transition: an unknown interaction returns false and is not created", async () => {
        const record = interaction(Date.now())
        expect(
          await run(InteractionStore.use((store) => store.transition(record.id, ["pending"], { ...record, state: "completed" })))
        ).toBe(false)
        expect(await run(InteractionStore.use((store) => store.find(record.id)))).toBeUndefined()
      })

      it("InteractionStore.sweep: removes interactions that expired before now and keeps the rest", async () => {
        const now = longAgo()
        const expired = interaction(now - HOUR, { expiresAt: now - MINUTE })
        const live = interaction(now - HOUR, { expiresAt: now + MINUTE })
        await run(InteractionStore.use((store) => Effect.andThen(store.create(expired), store.create(live))))
        expect(await run(InteractionStore.use((store) => store.sweep(now)))).toBeGreaterThanOrEqual(1)
        expect(await run(InteractionStore.use((store) => store.find(expired.id)))).toBeUndefined()
        expect(await run(InteractionStore.use((store) => store.find(live.id)))).toEqual(live)
      })

      it(`InteractionStore.transition: exactly one of ${CALLERS} concurrent pending -> completed transitions over ${CONNECTIONS} connections wins`, async () => {
        const now = Date.now()
        const record = interaction(now)
        await run(InteractionStore.use((store) => store.create(record)))
        const nexts = Array.from({ length: CALLERS }, (_, caller): InteractionRecord => ({
          ...record,
          state: "completed",
          accountId: `account-${caller}`,
          result: JSON.stringify({ caller })
        }))
        const results = await race(
          CALLERS,
          (caller) => InteractionStore.use((store) => store.transition(record.id, ["pending"], nexts[caller]!))
        )
        expect(count(results, (won) => won)).toBe(1)
        const winner = results.indexOf(true)
        expect(await run(InteractionStore.use((store) => store.find(record.id)))).toEqual(nexts[winner])
      })
    })

    describe("ReplayCache", () => {
      it("ReplayCache.use: the first use of a key returns true, every later use false (RFC 7523 §3, RFC 9449 §11.1)", async () => {
        const expiresAt = Date.now() + MINUTE
        const key = uid("jti")
        expect(await run(ReplayCache.use((cache) => cache.use(key, expiresAt)))).toBe(true)
        expect(await run(ReplayCache.use((cache) => cache.use(key, expiresAt)))).toBe(false)
        expect(await run(ReplayCache.use((cache) => cache.use(key, expiresAt + MINUTE)))).toBe(false)
        expect(await run(ReplayCache.use((cache) => cache.use(uid("jti"), expiresAt)))).toBe(true)
      })

      it("ReplayCache.sweep: a key stays used until it expires; once swept after expiry it may be used again", async () => {
        const expiresAt = longAgo()
        const key = uid("jti")
        expect(await run(ReplayCache.use((cache) => cache.use(key, expiresAt)))).toBe(true)
        await run(ReplayCache.use((cache) => cache.sweep(expiresAt - MINUTE)))
        expect(await run(ReplayCache.use((cache) => cache.use(key, expiresAt)))).toBe(false)
        expect(await run(ReplayCache.use((cache) => cache.sweep(expiresAt + MINUTE)))).toBeGreaterThanOrEqual(1)
        expect(await run(ReplayCache.use((cache) => cache.use(key, expiresAt + 2 * MINUTE)))).toBe(true)
        expect(await run(ReplayCache.use((cache) => cache.use(key, expiresAt + 2 * MINUTE)))).toBe(false)
      })

      it(`ReplayCache.use: exactly one of ${CALLERS} concurrent uses of a key over ${CONNECTIONS} connections is the first (RFC 9449 §11.1)`, async () => {
        const expiresAt = Date.now() + MINUTE
        const key = uid("jti")
        const results = await race(CALLERS, () => ReplayCache.use((cache) => cache.use(key, expiresAt)))
        expect(count(results, (first) => first)).toBe(1)
      })
    })

    // --- RFC 8628 device codes ------------------------------------------------------------

    const deviceCode = (now: number, overrides: Partial<DeviceCodeRecord> = {}): DeviceCodeRecord => ({
      deviceCodeDigest: uid("device-code-digest"),
      userCodeDigest: uid("user-code-digest"),
      grantId: uid("grant"),
      clientId: uid("client"),
      scope: ["openid", "profile"],
      resource: ["https://api.example.com"],
      state: "pending",
      interval: 5,
      createdAt: now,
      expiresAt: now + 10 * MINUTE,
      ...overrides
    })

    const approval = (now: number) => ({
      accountId: uid("account"),
      scope: ["openid"],
      authTime: Math.floor(now / 1000),
      acr: "urn:example:loa:1",
      amr: ["pwd"]
    })

    describe("DeviceCodeStore", () => {
      it("DeviceCodeStore.save/find: a device code is found by digest with its record intact; a duplicate digest fails", async () => {
        const now = Date.now()
        const record = deviceCode(now)
        const minimal = deviceCode(now, { scope: [], resource: [] })
        await run(DeviceCodeStore.use((store) => Effect.andThen(store.save(record), store.save(minimal))))
        expect(await run(DeviceCodeStore.use((store) => store.find(record.deviceCodeDigest)))).toEqual(record)
        expect(await run(DeviceCodeStore.use((store) => store.find(minimal.deviceCodeDigest)))).toEqual(minimal)
        expect(await run(DeviceCodeStore.use((store) => store.find(uid("device-code-digest"))))).toBeUndefined()
        expect(await failureTag(DeviceCodeStore.use((store) => store.save({ ...record, clientId: "impostor" })))).toBe("StorageError")
        expect(await run(DeviceCodeStore.use((store) => store.find(record.deviceCodeDigest)))).toEqual(record)
      })

      it("DeviceCodeStore.poll: a poll within `interval` of the last is too fast, raising the interval by 5 s for good (RFC 8628 §3.5)", async () => {
        const now = Date.now()
        const record = deviceCode(now)
        await run(DeviceCodeStore.use((store) => store.save(record)))
        const poll = (at: number) => run(DeviceCodeStore.use((store) => store.poll(record.deviceCodeDigest, at)))
        expect(await poll(now)).toEqual({ _tag: "Polled", slowDown: false, record: { ...record, lastPolledAt: now } })
        // 1 s later: too fast; interval 5 -> 10
        expect(await poll(now + 1_000)).toEqual({ _tag: "Polled", slowDown: true, record: { ...record, interval: 10, lastPolledAt: now + 1_000 } })
        // 9 s after that: still inside the raised interval
        expect(await poll(now + 10_000)).toMatchObject({ slowDown: true, record: { interval: 15, lastPolledAt: now + 10_000 } })
        // a full interval later: fine, and the interval stays raised
        expect(await poll(now + 25_000)).toMatchObject({ slowDown: false, record: { interval: 15, lastPolledAt: now + 25_000 } })
        expect(await run(DeviceCodeStore.use((store) => store.find(record.deviceCodeDigest)))).toEqual({ ...record, interval: 15, lastPolledAt: now + 25_000 })
        expect(await run(DeviceCodeStore.use((store) => store.poll(uid("device-code-digest"), now)))).toEqual({ _tag: "NotFound" })
      })

      it("DeviceCodeStore.approve/deny: only a pending code is decided, once; approval stores the account and the granted scope", async () => {
        const now = Date.now()
        const approved = deviceCode(now)
        const denied = deviceCode(now)
        await run(DeviceCodeStore.use((store) => Effect.andThen(store.save(approved), store.save(denied))))
        const decision = approval(now)
        expect(await run(DeviceCodeStore.use((store) => store.approve(approved.deviceCodeDigest, decision)))).toBe(true)
        expect(await run(DeviceCodeStore.use((store) => store.find(approved.deviceCodeDigest)))).toEqual({ ...approved, ...decision, state: "authorized" })
        expect(await run(DeviceCodeStore.use((store) => store.approve(approved.deviceCodeDigest, approval(now))))).toBe(false)
        expect(await run(DeviceCodeStore.use((store) => store.deny(approved.deviceCodeDigest)))).toBe(false)
        expect(await run(DeviceCodeStore.use((store) => store.find(approved.deviceCodeDigest)))).toEqual({ ...approved, ...decision, state: "authorized" })

        expect(await run(DeviceCodeStore.use((store) => store.deny(denied.deviceCodeDigest)))).toBe(true)
        expect(await run(DeviceCodeStore.use((store) => store.deny(denied.deviceCodeDigest)))).toBe(false)
        expect(await run(DeviceCodeStore.use((store) => store.approve(denied.deviceCodeDigest, decision)))).toBe(false)
        expect(await run(DeviceCodeStore.use((store) => store.find(denied.deviceCodeDigest)))).toEqual({ ...denied, state: "denied" })

        expect(await run(DeviceCodeStore.use((store) => store.approve(uid("device-code-digest"), decision)))).toBe(false)
        expect(await run(DeviceCodeStore.use((store) => store.deny(uid("device-code-digest"))))).toBe(false)
      })

      it("DeviceCodeStore.consume: only an authorized code is consumed, once; pending, denied and consumed ones come back as NotAuthorized", async () => {
        const now = Date.now()
        const record = deviceCode(now)
        const denied = deviceCode(now)
        await run(DeviceCodeStore.use((store) => Effect.andThen(store.save(record), store.save(denied))))
        expect(await run(DeviceCodeStore.use((store) => store.consume(record.deviceCodeDigest, now)))).toEqual({ _tag: "NotAuthorized", record })
        const decision = approval(now)
        await run(DeviceCodeStore.use((store) => store.approve(record.deviceCodeDigest, decision)))
        const consumed = { ...record, ...decision, state: "consumed", consumedAt: now + 1 }
        expect(await run(DeviceCodeStore.use((store) => store.consume(record.deviceCodeDigest, now + 1)))).toEqual({ _tag: "Consumed", record: consumed })
        expect(await run(DeviceCodeStore.use((store) => store.consume(record.deviceCodeDigest, now + 2)))).toEqual({ _tag: "NotAuthorized", record: consumed })
        await run(DeviceCodeStore.use((store) => store.deny(denied.deviceCodeDigest)))
        expect(await run(DeviceCodeStore.use((store) => store.consume(denied.deviceCodeDigest, now)))).toEqual({ _tag: "NotAuthorized", record: { ...denied, state: "denied" } })
        expect(await run(DeviceCodeStore.use((store) => store.consume(uid("device-code-digest"), now)))).toEqual({ _tag: "NotFound" })
      })

      it("DeviceCodeStore.sweep: removes codes that expired before now, in any state, and keeps the rest", async () => {
        const now = longAgo()
        const expired = deviceCode(now - HOUR, { expiresAt: now - MINUTE })
        const expiredDenied = deviceCode(now - HOUR, { expiresAt: now - MINUTE, state: "denied" })
        const live = deviceCode(now - HOUR, { expiresAt: now + MINUTE })
        await run(DeviceCodeStore.use((store) =>
          Effect.all([store.save(expired), store.save(expiredDenied), store.save(live)], { discard: true })
        ))
        expect(await run(DeviceCodeStore.use((store) => store.sweep(now)))).toBeGreaterThanOrEqual(2)
        expect(await run(DeviceCodeStore.use((store) => store.find(expired.deviceCodeDigest)))).toBeUndefined()
        expect(await run(DeviceCodeStore.use((store) => store.find(expiredDenied.deviceCodeDigest)))).toBeUndefined()
        expect(await run(DeviceCodeStore.use((store) => store.find(live.deviceCodeDigest)))).toEqual(live)
      })

      it(`DeviceCodeStore.consume: exactly one of ${CALLERS} concurrent consumes of an authorized code over ${CONNECTIONS} connections wins`, async () => {
        const now = Date.now()
        const record = deviceCode(now)
        await run(DeviceCodeStore.use((store) => Effect.andThen(store.save(record), store.approve(record.deviceCodeDigest, approval(now)))))
        const results = await race(CALLERS, () => DeviceCodeStore.use((store) => store.consume(record.deviceCodeDigest, now)))
        expect(count(results, (r) => r._tag === "Consumed")).toBe(1)
        expect(count(results, (r) => r._tag === "NotAuthorized" && r.record.state === "consumed")).toBe(CALLERS - 1)
      })

      it(`DeviceCodeStore.poll: ${CALLERS} concurrent polls at one instant over ${CONNECTIONS} connections are ordered: one in time, the rest too fast (RFC 8628 §3.5)`, async () => {
        const now = Date.now()
        const record = deviceCode(now)
        await run(DeviceCodeStore.use((store) => store.save(record)))
        const results = await race(CALLERS, () => DeviceCodeStore.use((store) => store.poll(record.deviceCodeDigest, now)))
        expect(count(results, (r) => r._tag === "Polled" && !r.slowDown)).toBe(1)
        expect((await run(DeviceCodeStore.use((store) => store.find(record.deviceCodeDigest))))?.interval).toBe(5 + 5 * (CALLERS - 1))
      })
    })

    // --- the user-code engine (RFC 8628 §6.1, RFC 9635 §3.3.3) ------------------------------

    const userCode = (now: number, overrides: Partial<UserCodeRecord> = {}): UserCodeRecord => ({
      userCodeDigest: uid("user-code-digest"),
      interactionId: uid("interaction"),
      kind: "device",
      clientId: uid("client"),
      createdAt: now,
      expiresAt: now + 10 * MINUTE,
      ...overrides
    })

    describe("UserCodeStore", () => {
      it("UserCodeStore.reserve/find: one live code per digest; an expired code gives its digest away", async () => {
        const now = Date.now()
        const record = userCode(now)
        expect(await run(UserCodeStore.use((store) => store.reserve(record, now)))).toBe(true)
        expect(await run(UserCodeStore.use((store) => store.find(record.userCodeDigest)))).toEqual(record)
        expect(await run(UserCodeStore.use((store) => store.find(uid("user-code-digest"))))).toBeUndefined()
        // a collision with a live code: refused, nothing changed
        const other = userCode(now, { userCodeDigest: record.userCodeDigest })
        expect(await run(UserCodeStore.use((store) => store.reserve(other, now + MINUTE)))).toBe(false)
        expect(await run(UserCodeStore.use((store) => store.find(record.userCodeDigest)))).toEqual(record)
        // once it expired, the digest may be drawn again
        const later = userCode(record.expiresAt, { userCodeDigest: record.userCodeDigest, kind: "gnap" })
        expect(await run(UserCodeStore.use((store) => store.reserve(later, record.expiresAt)))).toBe(true)
        expect(await run(UserCodeStore.use((store) => store.find(record.userCodeDigest)))).toEqual(later)
      })

      it("UserCodeStore.claim: the first entry of a live code claims it; later entries, expired and unknown codes do not (RFC 9635 §4)", async () => {
        const now = Date.now()
        const record = userCode(now)
        const expired = userCode(now - HOUR, { expiresAt: now })
        await run(UserCodeStore.use((store) => Effect.andThen(store.reserve(record, now), store.reserve(expired, now - HOUR))))
        const claimed = { ...record, claimedAt: now + 1 }
        expect(await run(UserCodeStore.use((store) => store.claim(record.userCodeDigest, now + 1)))).toEqual({ _tag: "Claimed", record: claimed })
        expect(await run(UserCodeStore.use((store) => store.claim(record.userCodeDigest, now + 2)))).toEqual({ _tag: "AlreadyClaimed", record: claimed })
        expect(await run(UserCodeStore.use((store) => store.claim(expired.userCodeDigest, now)))).toEqual({ _tag: "Expired", record: expired })
        expect(await run(UserCodeStore.use((store) => store.claim(uid("user-code-digest"), now)))).toEqual({ _tag: "NotFound" })
      })

      it("UserCodeStore.retire: the unclaimed codes of an interaction stop working; other interactions' codes are untouched (RFC 9635 §4.1)", async () => {
        const now = Date.now()
        const interactionId = uid("interaction")
        const first = userCode(now, { interactionId })
        const second = userCode(now, { interactionId })
        const other = userCode(now)
        await run(UserCodeStore.use((store) =>
          Effect.all([store.reserve(first, now), store.reserve(second, now), store.reserve(other, now)], { discard: true })
        ))
        await run(UserCodeStore.use((store) => store.claim(first.userCodeDigest, now)))
        expect(await run(UserCodeStore.use((store) => store.retire(interactionId, now + 5)))).toBe(1)
        expect(await run(UserCodeStore.use((store) => store.find(first.userCodeDigest)))).toEqual({ ...first, claimedAt: now })
        expect(await run(UserCodeStore.use((store) => store.claim(second.userCodeDigest, now + 6)))).toEqual({
          _tag: "AlreadyClaimed",
          record: { ...second, claimedAt: now + 5 }
        })
        expect((await run(UserCodeStore.use((store) => store.claim(other.userCodeDigest, now + 6))))._tag).toBe("Claimed")
      })

      it("UserCodeStore.countFailure/forgive: failures count up in a fixed window, restart after it, and forgiving never goes below 0 (RFC 8628 §5.1)", async () => {
        const now = Date.now()
        const key = uid("attempt-key")
        const fail = (at: number) => run(UserCodeStore.use((store) => store.countFailure(key, at, 15 * MINUTE)))
        const forgive = (at: number) => run(UserCodeStore.use((store) => store.forgive(key, at)))
        expect(await fail(now)).toEqual({ count: 1, resetsAt: now + 15 * MINUTE })
        expect(await fail(now + MINUTE)).toEqual({ count: 2, resetsAt: now + 15 * MINUTE })
        await forgive(now + MINUTE)
        expect(await fail(now + 2 * MINUTE)).toEqual({ count: 2, resetsAt: now + 15 * MINUTE })
        await forgive(now + 3 * MINUTE)
        await forgive(now + 3 * MINUTE)
        await forgive(now + 3 * MINUTE)
        expect(await fail(now + 4 * MINUTE)).toEqual({ count: 1, resetsAt: now + 15 * MINUTE })
        // the window ended: a new one opens at the next failure
        expect(await fail(now + 15 * MINUTE)).toEqual({ count: 1, resetsAt: now + 30 * MINUTE })
        // an unknown key is counted from 1; forgiving it is a no-op
        await run(UserCodeStore.use((store) => store.forgive(uid("attempt-key"), now)))
        expect(await run(UserCodeStore.use((store) => store.countFailure(uid("attempt-key"), now, MINUTE)))).toEqual({ count: 1, resetsAt: now + MINUTE })
      })

      it("UserCodeStore.sweep: removes codes and failure windows that ended before now, keeps the rest", async () => {
        const now = longAgo()
        const expired = userCode(now - HOUR, { expiresAt: now - MINUTE })
        const live = userCode(now - HOUR, { expiresAt: now + MINUTE })
        const oldKey = uid("attempt-key")
        const liveKey = uid("attempt-key")
        await run(UserCodeStore.use((store) =>
          Effect.all([
            store.reserve(expired, now - HOUR),
            store.reserve(live, now - HOUR),
            store.countFailure(oldKey, now - HOUR, MINUTE),
            store.countFailure(liveKey, now - MINUTE, 2 * MINUTE)
          ], { discard: true })
        ))
        expect(await run(UserCodeStore.use((store) => store.sweep(now)))).toBeGreaterThanOrEqual(2)
        expect(await run(UserCodeStore.use((store) => store.find(expired.userCodeDigest)))).toBeUndefined()
        expect(await run(UserCodeStore.use((store) => store.find(live.userCodeDigest)))).toEqual(live)
        // the live window still counts; the swept one starts again
        expect((await run(UserCodeStore.use((store) => store.countFailure(liveKey, now, MINUTE)))).count).toBe(2)
        expect((await run(UserCodeStore.use((store) => store.countFailure(oldKey, now, MINUTE)))).count).toBe(1)
      })

      it(`UserCodeStore.claim: exactly one of ${CALLERS} concurrent entries of a code over ${CONNECTIONS} connections claims it`, async () => {
        const now = Date.now()
        const record = userCode(now)
        await run(UserCodeStore.use((store) => store.reserve(record, now)))
        const results = await race(CALLERS, (caller) => UserCodeStore.use((store) => store.claim(record.userCodeDigest, now + caller)))
        expect(count(results, (r) => r._tag === "Claimed")).toBe(1)
        expect(count(results, (r) => r._tag === "AlreadyClaimed")).toBe(CALLERS - 1)
      })

      it(`UserCodeStore.countFailure: ${CALLERS} concurrent failures of one key over ${CONNECTIONS} connections get the counts 1..${CALLERS} (no guess slips past the limit)`, async () => {
        const now = Date.now()
        const key = uid("attempt-key")
        const results = await race(CALLERS, () => UserCodeStore.use((store) => store.countFailure(key, now, 15 * MINUTE)))
        expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(Array.from({ length: CALLERS }, (_, i) => i + 1))
      })

      it(`UserCodeStore.reserve: of 10 concurrent reservations of one digest over ${CONNECTIONS} connections, exactly one stores its record`, async () => {
        const now = Date.now()
        const digest = uid("user-code-digest")
        const records = Array.from({ length: 10 }, () => userCode(now, { userCodeDigest: digest }))
        const results = await race(records.length, (caller) => UserCodeStore.use((store) => store.reserve(records[caller]!, now)))
        expect(count(results, (stored) => stored)).toBe(1)
        expect(await run(UserCodeStore.use((store) => store.find(digest)))).toEqual(records[results.indexOf(true)])
      })
    })

    describe("RateLimiter", () => {
      it("RateLimiter.hit/peek: hits count up in a fixed window opened by the first, and restart at 1 after it (RFC 6749 §10.10)", async () => {
        const now = Date.now()
        const key = uid("rate-key")
        const hit = (at: number) => run(RateLimiter.use((limiter) => limiter.hit(key, at, 5 * MINUTE)))
        const peek = (at: number) => run(RateLimiter.use((limiter) => limiter.peek(key, at)))
        expect(await peek(now)).toBeUndefined()
        expect(await hit(now)).toEqual({ count: 1, resetsAt: now + 5 * MINUTE })
        expect(await hit(now + MINUTE)).toEqual({ count: 2, resetsAt: now + 5 * MINUTE })
        // peek reads without counting
        expect(await peek(now + MINUTE)).toEqual({ count: 2, resetsAt: now + 5 * MINUTE })
        expect(await peek(now + MINUTE)).toEqual({ count: 2, resetsAt: now + 5 * MINUTE })
        // the window ends at resetsAt: nothing to peek, the next hit opens a new window
        expect(await peek(now + 5 * MINUTE)).toBeUndefined()
        expect(await hit(now + 5 * MINUTE)).toEqual({ count: 1, resetsAt: now + 10 * MINUTE })
        // keys are independent
        expect(await run(RateLimiter.use((limiter) => limiter.peek(uid("rate-key"), now)))).toBeUndefined()
      })

      it("RateLimiter.forgive: takes back one hit of the current window, never below 0, nothing after the window", async () => {
        const now = Date.now()
        const key = uid("rate-key")
        const hit = (at: number) => run(RateLimiter.use((limiter) => limiter.hit(key, at, 5 * MINUTE)))
        const forgive = (at: number) => run(RateLimiter.use((limiter) => limiter.forgive(key, at)))
        await hit(now)
        await hit(now)
        await forgive(now + 1)
        expect(await run(RateLimiter.use((limiter) => limiter.peek(key, now + 1)))).toEqual({ count: 1, resetsAt: now + 5 * MINUTE })
        await forgive(now + 2)
        await forgive(now + 2)
        expect(await run(RateLimiter.use((limiter) => limiter.peek(key, now + 2)))).toEqual({ count: 0, resetsAt: now + 5 * MINUTE })
        expect(await hit(now + 3)).toEqual({ count: 1, resetsAt: now + 5 * MINUTE })
        // after the window: a no-op, and an unknown key too
        await forgive(now + 5 * MINUTE)
        await run(RateLimiter.use((limiter) => limiter.forgive(uid("rate-key"), now)))
        expect(await hit(now + 5 * MINUTE)).toEqual({ count: 1, resetsAt: now + 10 * MINUTE })
      })

      it("RateLimiter.sweep: removes the windows that ended before now, keeps the live ones", async () => {
        const now = longAgo()
        const ended = uid("rate-key")
        const live = uid("rate-key")
        await run(RateLimiter.use((limiter) =>
          Effect.all([limiter.hit(ended, now - HOUR, MINUTE), limiter.hit(live, now - MINUTE, 2 * MINUTE)], { discard: true })
        ))
        expect(await run(RateLimiter.use((limiter) => limiter.sweep(now)))).toBeGreaterThanOrEqual(1)
        expect(await run(RateLimiter.use((limiter) => limiter.peek(live, now)))).toEqual({ count: 1, resetsAt: now + MINUTE })
        expect(await run(RateLimiter.use((limiter) => limiter.hit(live, now, MINUTE)))).toEqual({ count: 2, resetsAt: now + MINUTE })
        expect(await run(RateLimiter.use((limiter) => limiter.hit(ended, now, MINUTE)))).toEqual({ count: 1, resetsAt: now + MINUTE })
      })

      it(`RateLimiter.hit: ${CALLERS} concurrent hits of one key over ${CONNECTIONS} connections get the counts 1..${CALLERS} (no guess slips past a limit)`, async () => {
        const now = Date.now()
        const key = uid("rate-key")
        const results = await race(CALLERS, () => RateLimiter.use((limiter) => limiter.hit(key, now, 5 * MINUTE)))
        expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(Array.from({ length: CALLERS }, (_, i) => i + 1))
        expect(new Set(results.map((r) => r.resetsAt))).toEqual(new Set([now + 5 * MINUTE]))
        expect(await run(RateLimiter.use((limiter) => limiter.peek(key, now)))).toEqual({ count: CALLERS, resetsAt: now + 5 * MINUTE })
      })

      it(`RateLimiter.hit/forgive: ${CALLERS} concurrent hits and ${CALLERS} forgives over ${CONNECTIONS} connections lose no update`, async () => {
        const now = Date.now()
        const key = uid("rate-key")
        // CALLERS hits first, so no forgive of the race can meet a count of 0
        await run(RateLimiter.use((limiter) => Effect.forEach(Array.from({ length: CALLERS }), () => limiter.hit(key, now, 5 * MINUTE))))
        await race(2 * CALLERS, (caller) =>
          RateLimiter.use((limiter) => caller % 2 === 0 ? Effect.asVoid(limiter.hit(key, now, 5 * MINUTE)) : limiter.forgive(key, now)))
        expect(await run(RateLimiter.use((limiter) => limiter.peek(key, now)))).toEqual({ count: CALLERS, resetsAt: now + 5 * MINUTE })
      })
    })

    describe("KeyStore", () => {
      it("KeyStore.initialize: with no key for its algs, inserts initial and returns every stored key", async () => {
        const now = Date.now()
        const alg = testAlg()
        const otherAlg = testAlg()
        const initial = [key(alg, "current", now), key(alg, "next", now)]
        const returned = await run(KeyStore.use((store) => store.initialize(initial)))
        expect(ofAlg(returned, alg)).toEqual(ofAlg(initial, alg))
        expect(ofAlg(await run(KeyStore.use((store) => store.list())), alg)).toEqual(ofAlg(initial, alg))
        // another alg is initialized on its own; every stored key comes back
        const other = [key(otherAlg, "current", now)]
        const both = await run(KeyStore.use((store) => store.initialize(other)))
        expect(ofAlg(both, otherAlg)).toEqual(other)
        expect(ofAlg(both, alg)).toEqual(ofAlg(initial, alg))
      })

      it("KeyStore.initialize: once keys exist for the algs, the first set wins and a later initial is not stored", async () => {
        const now = Date.now()
        const alg = testAlg()
        const first = [key(alg, "current", now), key(alg, "next", now)]
        const second = [key(alg, "current", now + 1), key(alg, "next", now + 1)]
        await run(KeyStore.use((store) => store.initialize(first)))
        const returned = await run(KeyStore.use((store) => store.initialize(second)))
        expect(ofAlg(returned, alg)).toEqual(ofAlg(first, alg))
        expect(ofAlg(await run(KeyStore.use((store) => store.list())), alg)).toEqual(ofAlg(first, alg))
      })

      it("KeyStore.initialize: if any alg of initial already has keys, no key of initial is stored", async () => {
        const now = Date.now()
        const taken = testAlg()
        const fresh = testAlg()
        const first = [key(taken, "current", now)]
        await run(KeyStore.use((store) => store.initialize(first)))
        const returned = await run(KeyStore.use((store) =>
          store.initialize([key(taken, "current", now), key(fresh, "current", now)])
        ))
        expect(ofAlg(returned, taken)).toEqual(first)
        expect(ofAlg(returned, fresh)).toEqual([])
        expect(ofAlg(await run(KeyStore.use((store) => store.list())), fresh)).toEqual([])
      })

      it(`KeyStore.initialize: of 10 processes starting at once over ${CONNECTIONS} connections, the first creates the keys and all load that one set`, async () => {
        const now = Date.now()
        const alg = testAlg()
        const sets = Array.from({ length: 10 }, () => [key(alg, "current", now), key(alg, "next", now)])
        const results = await race(sets.length, (caller) => KeyStore.use((store) => store.initialize(sets[caller]!)))
        const winner = sets.findIndex((set) => sortedKids(set).join() === sortedKids(ofAlg(results[0]!, alg)).join())
        expect(winner).toBeGreaterThanOrEqual(0)
        for (const result of results) expect(ofAlg(result, alg)).toEqual(ofAlg(sets[winner]!, alg))
        expect(ofAlg(await run(KeyStore.use((store) => store.list())), alg)).toEqual(ofAlg(sets[winner]!, alg))
      })

      it("KeyStore.rotate: current -> retired at now, next -> current, the new key inserted as next; other algs untouched", async () => {
        const start = Date.now()
        const alg = testAlg()
        const otherAlg = testAlg()
        const current = key(alg, "current", start)
        const next = key(alg, "next", start)
        const other = [key(otherAlg, "current", start), key(otherAlg, "next", start)]
        await run(KeyStore.use((store) => Effect.andThen(store.initialize([current, next]), store.initialize(other))))

        const t1 = start + HOUR
        const third = key(alg, "next", t1)
        const afterFirst = await run(KeyStore.use((store) => store.rotate(alg, third, t1)))
        const expectedFirst = ofAlg([
          { ...current, status: "retired", retiredAt: t1 },
          { ...next, status: "current" },
          third
        ], alg)
        expect(ofAlg(afterFirst, alg)).toEqual(expectedFirst)
        expect(ofAlg(await run(KeyStore.use((store) => store.list())), alg)).toEqual(expectedFirst)
        expect(ofAlg(await run(KeyStore.use((store) => store.list())), otherAlg)).toEqual(ofAlg(other, otherAlg))

        const t2 = t1 + HOUR
        const fourth = key(alg, "next", t2)
        const afterSecond = await run(KeyStore.use((store) => store.rotate(alg, fourth, t2)))
        expect(ofAlg(afterSecond, alg)).toEqual(ofAlg([
          { ...current, status: "retired", retiredAt: t1 },
          { ...next, status: "retired", retiredAt: t2 },
          { ...third, status: "current" },
          fourth
        ], alg))
        expect(ofAlg(await run(KeyStore.use((store) => store.list())), otherAlg)).toEqual(ofAlg(other, otherAlg))
      })

      it(`KeyStore.rotate: 10 concurrent rotations over ${CONNECTIONS} connections each happen whole, leaving one current and one next key`, async () => {
        const now = Date.now()
        const alg = testAlg()
        await run(KeyStore.use((store) => store.initialize([key(alg, "current", now), key(alg, "next", now)])))
        const nexts = Array.from({ length: 10 }, () => key(alg, "next", now))
        await race(nexts.length, (caller) => KeyStore.use((store) => store.rotate(alg, nexts[caller]!, now + caller + 1)))
        const keys = ofAlg(await run(KeyStore.use((store) => store.list())), alg)
        expect(keys).toHaveLength(2 + nexts.length)
        expect(count(keys, (k) => k.status === "current")).toBe(1)
        expect(count(keys, (k) => k.status === "next")).toBe(1)
        expect(count(keys, (k) => k.status === "retired" && k.retiredAt !== undefined)).toBe(nexts.length)
      })

      it("KeyStore.prune: drops keys retired before the cutoff only, never current or next keys", async () => {
        const start = longAgo()
        const alg = testAlg()
        const first = key(alg, "current", start)
        const second = key(alg, "next", start)
        const third = key(alg, "next", start)
        const fourth = key(alg, "next", start)
        const t1 = start + HOUR
        const t2 = t1 + HOUR
        await run(KeyStore.use((store) =>
          Effect.gen(function*() {
            yield* store.initialize([first, second])
            yield* store.rotate(alg, third, t1)
            yield* store.rotate(alg, fourth, t2)
          })
        ))
        expect(await run(KeyStore.use((store) => store.prune(t1 + 1)))).toBeGreaterThanOrEqual(1)
        expect(ofAlg(await run(KeyStore.use((store) => store.list())), alg)).toEqual(ofAlg([
          { ...second, status: "retired", retiredAt: t2 },
          { ...third, status: "current" },
          fourth
        ], alg))
        await run(KeyStore.use((store) => store.prune(t2 + 1)))
        expect(ofAlg(await run(KeyStore.use((store) => store.list())), alg)).toEqual(ofAlg([
          { ...third, status: "current" },
          fourth
        ], alg))
      })
    })

    // --- GNAP (RFC 9635) grants and tokens ------------------------------------------------
    describe("GnapGrantStore", () => {
      const gnapGrant = (now: number, overrides: Partial<GnapGrantRecord> = {}): GnapGrantRecord => ({
        id: uid("gnap-grant"),
        state: "pending",
        version: 1,
        continueTokenDigest: uid("continue-digest"),
        continueAfter: now + 5_000,
        interactRefDigest: uid("ref-digest"),
        clientKeyThumbprint: uid("thumbprint"),
        clientInstanceId: uid("instance"),
        request: JSON.stringify({ access: ["photos"] }),
        result: JSON.stringify({ outcome: "approved" }),
        accountId: uid("account"),
        createdAt: now,
        updatedAt: now,
        expiresAt: now + HOUR,
        ...overrides
      })
      const gnapToken = (now: number, overrides: Partial<GnapTokenRecord> = {}): GnapTokenRecord => ({
        tokenDigest: uid("gnap-token-digest"),
        grantId: uid("gnap-grant"),
        manageId: uid("manage"),
        manageTokenDigest: uid("manage-digest"),
        label: "photos",
        flags: ["bearer"],
        access: JSON.stringify(["photos", { type: "photo-api", actions: ["read"] }]),
        key: JSON.stringify({ proof: "httpsig", jwk: { kty: "OKP", crv: "Ed25519", x: "x", kid: "k", alg: "EdDSA" } }),
        clientKeyThumbprint: uid("thumbprint"),
        clientInstanceId: uid("instance"),
        accountId: uid("account"),
        issuedAt: now,
        expiresAt: now + HOUR,
        ...overrides
      })
      const G = GnapGrantStore

      it("GnapGrantStore.create/find: a grant is found by id with its record intact; optional fields may be absent; a duplicate id fails", async () => {
        const now = Date.now()
        const record = gnapGrant(now)
        const bare = gnapGrant(now, { interactRefDigest: undefined, clientInstanceId: undefined, result: undefined, accountId: undefined })
        await run(G.use((store) => Effect.andThen(store.create(record), store.create(bare))))
        expect(await run(G.use((store) => store.find(record.id)))).toEqual(record)
        expect(await run(G.use((store) => store.find(bare.id)))).toEqual(bare)
        expect(await run(G.use((store) => store.find(uid("gnap-grant"))))).toBeUndefined()
        expect(await failureTag(G.use((store) => store.create(record)))).toBe("StorageError")
      })

      it("GnapGrantStore.update: compare-and-set on the version — the stale version loses, the current one stores version + 1 (RFC 9635 §5)", async () => {
        const now = Date.now()
        const record = gnapGrant(now)
        await run(G.use((store) => store.create(record)))
        const next: GnapGrantRecord = { ...record, version: 2, state: "approved", continueTokenDigest: uid("rotated"), interactRefDigest: undefined, updatedAt: now + 1 }
        expect(await run(G.use((store) => store.update(next, 7)))).toBe(false)
        expect(await run(G.use((store) => store.find(record.id)))).toEqual(record)
        expect(await run(G.use((store) => store.update(next, 1)))).toBe(true)
        expect(await run(G.use((store) => store.find(record.id)))).toEqual(next)
        // replaying the same step (same expected version) loses
        expect(await run(G.use((store) => store.update({ ...next, state: "finalized" }, 1)))).toBe(false)
        expect(await run(G.use((store) => store.find(record.id)))).toEqual(next)
        // an unknown grant is not created
        const unknown = gnapGrant(now)
        expect(await run(G.use((store) => store.update({ ...unknown, version: 2 }, 1)))).toBe(false)
        expect(await run(G.use((store) => store.find(unknown.id)))).toBeUndefined()
      })

      it(`GnapGrantStore.update: exactly one of ${CALLERS} concurrent continuations of one version over ${CONNECTIONS} connections wins (one continuation token, used once)`, async () => {
        const now = Date.now()
        const record = gnapGrant(now)
        await run(G.use((store) => store.create(record)))
        const nexts = Array.from({ length: CALLERS }, (): GnapGrantRecord => ({ ...record, version: 2, continueTokenDigest: uid("rotated") }))
        const results = await race(CALLERS, (caller) => G.use((store) => store.update(nexts[caller]!, 1)))
        expect(count(results, (won) => won)).toBe(1)
        expect(await run(G.use((store) => store.find(record.id)))).toEqual(nexts[results.indexOf(true)])
      })

      it("GnapGrantStore.findByInstance/findByKey: the most recently created grant of an instance / key (RFC 9635 §2.3.1)", async () => {
        const now = Date.now()
        const instance = uid("instance")
        const thumbprint = uid("thumbprint")
        const older = gnapGrant(now - MINUTE, { clientInstanceId: instance, clientKeyThumbprint: thumbprint })
        const newer = gnapGrant(now, { clientInstanceId: instance, clientKeyThumbprint: thumbprint })
        await run(G.use((store) => Effect.andThen(store.create(newer), store.create(older))))
        expect(await run(G.use((store) => store.findByInstance(instance)))).toEqual(newer)
        expect(await run(G.use((store) => store.findByKey(thumbprint)))).toEqual(newer)
        expect(await run(G.use((store) => store.findByInstance(uid("instance"))))).toBeUndefined()
        expect(await run(G.use((store) => store.findByKey(uid("thumbprint"))))).toBeUndefined()
      })

      it("GnapGrantStore.sweep: removes grants that expired before now and keeps the rest", async () => {
        const now = longAgo()
        const expired = gnapGrant(now - HOUR, { expiresAt: now - MINUTE })
        const live = gnapGrant(now - HOUR, { expiresAt: now + MINUTE })
        await run(G.use((store) => Effect.andThen(store.create(expired), store.create(live))))
        expect(await run(G.use((store) => store.sweep(now)))).toBeGreaterThanOrEqual(1)
        expect(await run(G.use((store) => store.find(expired.id)))).toBeUndefined()
        expect(await run(G.use((store) => store.find(live.id)))).toEqual(live)
      })

      it("GnapGrantStore.saveToken/findToken/findTokenByManageId: a token is found by digest and by manage id; a duplicate manage id fails", async () => {
        const now = Date.now()
        const record = gnapToken(now)
        const bound = gnapToken(now, { label: undefined, flags: [], clientInstanceId: undefined, accountId: undefined })
        await run(G.use((store) => Effect.andThen(store.saveToken(record), store.saveToken(bound))))
        expect(await run(G.use((store) => store.findToken(record.tokenDigest)))).toEqual(record)
        expect(await run(G.use((store) => store.findTokenByManageId(record.manageId)))).toEqual(record)
        expect(await run(G.use((store) => store.findToken(bound.tokenDigest)))).toEqual(bound)
        expect(await run(G.use((store) => store.findToken(uid("gnap-token-digest"))))).toBeUndefined()
        expect(await failureTag(G.use((store) => store.saveToken(gnapToken(now, { manageId: record.manageId }))))).toBe("StorageError")
      })

      it("GnapGrantStore.rotateToken: the old token is revoked and its successor stored; a second rotation is Inactive; unknown is NotFound (RFC 9635 §6.1)", async () => {
        const now = Date.now()
        const record = gnapToken(now)
        await run(G.use((store) => store.saveToken(record)))
        const successor = gnapToken(now + 1, { grantId: record.grantId })
        const rotated = await run(G.use((store) => store.rotateToken(record.manageId, now + 1, () => successor)))
        expect(rotated).toEqual({ _tag: "Rotated", previous: record })
        expect(await run(G.use((store) => store.findToken(record.tokenDigest)))).toEqual({ ...record, revokedAt: now + 1 })
        expect(await run(G.use((store) => store.findTokenByManageId(successor.manageId)))).toEqual(successor)
        const again = await run(G.use((store) => store.rotateToken(record.manageId, now + 2, () => gnapToken(now + 2))))
        expect(again._tag).toBe("Inactive")
        expect(await run(G.use((store) => store.rotateToken(uid("manage"), now, () => gnapToken(now))))).toEqual({ _tag: "NotFound" })
      })

      it(`GnapGrantStore.rotateToken: exactly one of ${CALLERS} concurrent rotations over ${CONNECTIONS} connections rotates`, async () => {
        const now = Date.now()
        const record = gnapToken(now)
        await run(G.use((store) => store.saveToken(record)))
        const successors = Array.from({ length: CALLERS }, () => gnapToken(now + 1))
        const results = await race(CALLERS, (caller) => G.use((store) => store.rotateToken(record.manageId, now + 1, () => successors[caller]!)))
        expect(count(results, (r) => r._tag === "Rotated")).toBe(1)
        expect(count(results, (r) => r._tag === "Inactive")).toBe(CALLERS - 1)
        const winner = results.findIndex((r) => r._tag === "Rotated")
        for (const [i, s] of successors.entries()) {
          expect(await run(G.use((store) => store.findToken(s.tokenDigest)))).toEqual(i === winner ? s : undefined)
        }
      })

      it("GnapGrantStore.revokeToken/revokeTokensByGrant: revoke once (the first time stays), count only unrevoked tokens (RFC 9635 §5.4, §6.2)", async () => {
        const now = Date.now()
        const grantId = uid("gnap-grant")
        const a = gnapToken(now, { grantId })
        const b = gnapToken(now, { grantId })
        const c = gnapToken(now, { grantId })
        const other = gnapToken(now)
        await run(G.use((store) => Effect.forEach([a, b, c, other], (t) => store.saveToken(t))))
        expect(await run(G.use((store) => store.revokeToken(a.manageId, now + 1)))).toBe(true)
        expect(await run(G.use((store) => store.revokeToken(a.manageId, now + 2)))).toBe(true)
        expect(await run(G.use((store) => store.findToken(a.tokenDigest)))).toEqual({ ...a, revokedAt: now + 1 })
        expect(await run(G.use((store) => store.revokeToken(uid("manage"), now)))).toBe(false)
        expect(await run(G.use((store) => store.revokeTokensByGrant(grantId, now + 3)))).toBe(2)
        expect(await run(G.use((store) => store.findToken(b.tokenDigest)))).toEqual({ ...b, revokedAt: now + 3 })
        expect(await run(G.use((store) => store.findToken(a.tokenDigest)))).toEqual({ ...a, revokedAt: now + 1 })
        expect(await run(G.use((store) => store.findToken(other.tokenDigest)))).toEqual(other)
        expect(await run(G.use((store) => store.revokeTokensByGrant(grantId, now + 4)))).toBe(0)
      })

      it("GnapGrantStore.sweepTokens: removes tokens that expired before now and keeps the rest", async () => {
        const now = longAgo()
        const expired = gnapToken(now - HOUR, { expiresAt: now - MINUTE })
        const live = gnapToken(now - HOUR, { expiresAt: now + MINUTE })
        await run(G.use((store) => Effect.andThen(store.saveToken(expired), store.saveToken(live))))
        expect(await run(G.use((store) => store.sweepTokens(now)))).toBeGreaterThanOrEqual(1)
        expect(await run(G.use((store) => store.findToken(expired.tokenDigest)))).toBeUndefined()
        expect(await run(G.use((store) => store.findToken(live.tokenDigest)))).toEqual(live)
      })
    })
    // --- GNAP resource sets (RFC 9767 §3.4) ----------------------------------------------
    describe("GnapResourceStore", () => {
      const resourceSet = (now: number, overrides: Partial<GnapResourceSetRecord> = {}): GnapResourceSetRecord => ({
        reference: uid("rsr"),
        resourceServer: uid("rs"),
        setDigest: uid("set-digest"),
        access: JSON.stringify([{ type: "photo-api", actions: ["read", "write"] }, "dolphin-metadata"]),
        introspectionRequired: true,
        createdAt: now,
        ...overrides
      })
      const R = GnapResourceStore

      it("GnapResourceStore.register/find: a registration is found by its reference with its record intact; unknown references are undefined (RFC 9767 §3.4)", async () => {
        const now = Date.now()
        const record = resourceSet(now)
        const plain = resourceSet(now, { introspectionRequired: false })
        expect(await run(R.use((store) => store.register(record)))).toEqual(record)
        expect(await run(R.use((store) => store.register(plain)))).toEqual(plain)
        expect(await run(R.use((store) => store.find(record.reference)))).toEqual(record)
        expect(await run(R.use((store) => store.find(plain.reference)))).toEqual(plain)
        expect(await run(R.use((store) => store.find(uid("rsr"))))).toBeUndefined()
      })

      it("GnapResourceStore.register: the same RS registering the same set gets its first reference back; another RS or another set gets its own (RFC 9767 §3.4)", async () => {
        const now = Date.now()
        const first = resourceSet(now)
        await run(R.use((store) => store.register(first)))
        const again = resourceSet(now + 1, { resourceServer: first.resourceServer, setDigest: first.setDigest })
        expect(await run(R.use((store) => store.register(again)))).toEqual(first)
        expect(await run(R.use((store) => store.find(again.reference)))).toBeUndefined()
        const otherRs = resourceSet(now + 2, { setDigest: first.setDigest })
        expect(await run(R.use((store) => store.register(otherRs)))).toEqual(otherRs)
        const otherSet = resourceSet(now + 3, { resourceServer: first.resourceServer })
        expect(await run(R.use((store) => store.register(otherSet)))).toEqual(otherSet)
        expect(await run(R.use((store) => store.listByResourceServer(first.resourceServer)))).toEqual([first, otherSet])
        expect(await run(R.use((store) => store.listByResourceServer(uid("rs"))))).toEqual([])
      })

      it(`GnapResourceStore.register: ${CALLERS} concurrent first registrations of one set over ${CONNECTIONS} connections store exactly one reference, and every caller gets it`, async () => {
        const now = Date.now()
        const resourceServer = uid("rs")
        const setDigest = uid("set-digest")
        const attempts = Array.from({ length: CALLERS }, () => resourceSet(now, { resourceServer, setDigest }))
        const results = await race(CALLERS, (caller) => R.use((store) => store.register(attempts[caller]!)))
        const references = new Set(results.map((r) => r.reference))
        expect(references.size).toBe(1)
        const [winner] = [...references]
        expect(attempts.some((a) => a.reference === winner)).toBe(true)
        expect(await run(R.use((store) => store.listByResourceServer(resourceServer)))).toEqual([attempts.find((a) => a.reference === winner)])
      })
    })
  })
}
