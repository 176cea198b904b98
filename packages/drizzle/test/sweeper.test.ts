/** Expired rows go away: `sweepAll` once, and the background sweeper on its schedule (TestClock). */
import { AuthorizationCodeStore, RateLimiter, ReplayCache, StorageError } from "@gatehouse/core"
import { MemoryStorage } from "@gatehouse/testkit"
import { DrizzleStorage } from "@gatehouse/drizzle"
import { Context, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"

const T0 = 1_800_000_000_000

/** let the fibers woken by a TestClock adjustment run to their next sleep */
const settle = Effect.repeat(Effect.yieldNow, { times: 20 })
const MINUTE = 60_000

const code = (codeDigest: string, expiresAt: number) => ({
  codeDigest,
  grantId: "grant",
  clientId: "client",
  accountId: "account",
  redirectUri: "https://app.example.com/cb",
  scope: ["openid"],
  resource: [],
  authTime: T0 / 1000,
  expiresAt
})

describe("sweeping", () => {
  it("sweepAll removes what expired before now in every port and reports counts", async () => {
    const report = await Effect.runPromise(Effect.gen(function*() {
      const replay = yield* ReplayCache
      const codes = yield* AuthorizationCodeStore
      for (let i = 0; i < 1_203; i++) yield* replay.use(`old-${i}`, T0 - 1)
      yield* replay.use("live", T0 + MINUTE)
      yield* codes.save(code("old-code", T0 - MINUTE))
      yield* codes.save(code("live-code", T0 + MINUTE))
      const limiter = yield* RateLimiter
      yield* limiter.hit("ended-window", T0 - 2 * MINUTE, MINUTE)
      yield* limiter.hit("live-window", T0 - MINUTE, 2 * MINUTE)
      const report = yield* DrizzleStorage.sweepAll(T0)
      expect(yield* replay.use("old-0", T0 + MINUTE)).toBe(true)
      expect(yield* replay.use("live", T0 + MINUTE)).toBe(false)
      expect((yield* codes.consume("old-code", T0))._tag).toBe("NotFound")
      expect((yield* codes.consume("live-code", T0))._tag).toBe("Consumed")
      expect(yield* limiter.peek("live-window", T0)).toEqual({ count: 1, resetsAt: T0 + MINUTE })
      return report
    }).pipe(Effect.provide(DrizzleStorage.sqlite({ path: ":memory:", sweepIntervalMs: false }))))
    expect(report).toEqual({
      authorizationCodes: 1,
      refreshTokens: 0,
      accessTokens: 0,
      grants: 0,
      interactions: 0,
      replay: 1_203,
      deviceCodes: 0,
      userCodes: 0,
      rateLimits: 1
    })
  })

  it("the layer's sweeper runs every sweepIntervalMs in the background", async () => {
    await Effect.runPromise(Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const services = yield* Layer.build(DrizzleStorage.sqlite({ path: ":memory:", sweepIntervalMs: 10 * MINUTE }))
      const replay = Context.get(services, ReplayCache)
      yield* replay.use("expires-soon", T0 + MINUTE)
      yield* replay.use("expires-later", T0 + 30 * MINUTE)

      // not yet: the first sweep is one interval after start
      yield* TestClock.adjust(9 * MINUTE)
      expect(yield* replay.use("expires-soon", T0 + MINUTE)).toBe(false)

      yield* TestClock.adjust(1 * MINUTE)
      yield* settle
      expect(yield* replay.use("expires-soon", T0 + 40 * MINUTE)).toBe(true)
      expect(yield* replay.use("expires-later", T0 + 30 * MINUTE)).toBe(false)

      // and again one interval later
      yield* TestClock.adjust(30 * MINUTE)
      yield* settle
      expect(yield* replay.use("expires-later", T0 + 50 * MINUTE)).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(TestClock.layer())))
  })

  it("DrizzleStorage.sweeper works over any StoragePorts layer, and a failing sweep is not fatal", async () => {
    let sweeps = 0
    // the in-memory ports, with a ReplayCache whose first sweep fails
    const flaky = Layer.effect(ReplayCache, Effect.gen(function*() {
      const real = yield* ReplayCache
      return ReplayCache.of({
        use: real.use,
        sweep: (now) => ++sweeps === 1 ? Effect.fail(new StorageError({ detail: "database down" })) : real.sweep(now)
      })
    }))
    const storage = Layer.provideMerge(flaky, MemoryStorage.layer())
    await Effect.runPromise(Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const services = yield* Layer.build(Layer.provideMerge(DrizzleStorage.sweeper(MINUTE), storage))
      const replay = Context.get(services, ReplayCache)
      yield* replay.use("k", T0 + 1)
      yield* TestClock.adjust(MINUTE)
      yield* settle
      expect(sweeps).toBe(1)
      expect(yield* replay.use("k", T0 + 2 * MINUTE)).toBe(false)
      yield* TestClock.adjust(MINUTE)
      yield* settle
      expect(sweeps).toBe(2)
      expect(yield* replay.use("k", T0 + 3 * MINUTE)).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(TestClock.layer())))
  })
})
