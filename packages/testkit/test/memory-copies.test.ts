/**
 * The memory store's copies: what it keeps can't be changed through the objects a caller
 * saved or got back, and a record's own "__proto__" key stays a plain property (as
 * `structuredClone` keeps it), on the way in and through every update.
 */
import { AuthorizationCodeStore, type AuthorizationCodeRecord, RefreshTokenStore, type RefreshTokenRecord } from "@gatehouse/core"
import { makeMemoryDatabase, MemoryStorage } from "@gatehouse/testkit"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"

const code = (codeDigest: string): AuthorizationCodeRecord => ({
  codeDigest,
  grantId: "grant-1",
  clientId: "client-1",
  accountId: "alice",
  redirectUri: "https://client.example/cb",
  scope: ["openid", "api"],
  resource: ["https://api.example/"],
  codeChallenge: "c".repeat(43),
  codeChallengeMethod: "S256",
  authTime: 1,
  amr: ["pwd"],
  expiresAt: 10_000
})

describe("memory storage copies", () => {
  it("RFC 6749 §4.1.2: a consumed code is a frozen copy with consumedAt; the saved and returned objects can't change what is stored", async () => {
    const db = makeMemoryDatabase()
    const saved = { ...code("d1"), scope: ["openid", "api"] }
    const result = await Effect.runPromise(Effect.gen(function*() {
      const store = yield* AuthorizationCodeStore
      yield* store.save(saved)
      return yield* store.consume("d1", 500)
    }).pipe(Effect.provide(MemoryStorage.layer(db))))
    ;(saved.scope as Array<string>).push("admin")
    expect(result._tag).toBe("Consumed")
    const stored = db.authorizationCodes.get("d1")!
    expect(stored).toEqual({ ...code("d1"), consumedAt: 500 })
    expect(Object.isFrozen(stored)).toBe(true)
    expect(Object.isFrozen(stored.scope)).toBe(true)
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype)
    if (result._tag === "Consumed") {
      expect(() => (result.record.scope as Array<string>).push("admin")).toThrow(TypeError)
    }
    expect(db.authorizationCodes.get("d1")!.scope).toEqual(["openid", "api"])
  })

  it("a record's own \"__proto__\" key stays a plain property when saved and when updated (rotation, revocation), never the copy's prototype", async () => {
    const db = makeMemoryDatabase()
    const fields = { grantId: "grant-1", clientId: "client-1", accountId: "alice", scope: ["api"], resource: [], authTime: 1, expiresAt: 10_000 }
    // JSON.parse makes "__proto__" an own data property (an object literal would set the prototype)
    const record = JSON.parse(JSON.stringify({ tokenDigest: "t1", issuedAt: 1, ...fields }).replace(/}$/, ',"__proto__":{"polluted":true}}')) as RefreshTokenRecord
    expect(Object.hasOwn(record, "__proto__")).toBe(true)
    const next: RefreshTokenRecord = { tokenDigest: "t2", issuedAt: 2, ...fields }
    await Effect.runPromise(Effect.gen(function*() {
      const store = yield* RefreshTokenStore
      yield* store.save(record)
      const rotated = yield* store.rotate("t1", 600, () => next)
      expect(rotated._tag).toBe("Rotated")
      yield* store.revokeByGrant("grant-1", 700)
    }).pipe(Effect.provide(MemoryStorage.layer(db))))
    const stored = db.refreshTokens.get("t1")!
    expect(stored.consumedAt).toBe(600)
    expect(stored.revokedAt).toBe(700)
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype)
    expect(Object.hasOwn(stored, "__proto__")).toBe(true)
    expect((stored as unknown as { polluted?: boolean }).polluted).toBeUndefined()
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
  })
})
