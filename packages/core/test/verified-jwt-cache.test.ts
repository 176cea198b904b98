/**
 * `Keys.verifyOwn` remembers the JWSs it verified (keyed by the token's SHA-256, until its
 * `exp`, bounded, dropped with the key set), so a resource server introspecting the same JWT
 * access token again is not charged a second ES256 verification. Only the signature check is
 * remembered: revocation and expiry still answer on every request (RFC 7662 §2.2,
 * RFC 7009 §2.1), which the second half checks through the real endpoints.
 */
import { MemoryStorage } from "@gatehouse/testkit"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { GatehouseConfig, resolveConfig } from "../src/config.js"
import { Crypto } from "../src/ports/Crypto.js"
import { Keys } from "../src/tokens/keys.js"
import { introspect, introspection, revoke, userinfo } from "./helpers/endpoint-helpers.js"
import { advance, CLIENTS, ISSUER, makeHarness, obtainTokens, T0 } from "./helpers/token-helpers.js"

const AT_JWT = ["at+jwt", "application/at+jwt"]

/** Keys over memory storage, with a Crypto that counts signature verifications. */
const keysWithCountedVerify = () => {
  const counter = { verify: 0 }
  const counted = Layer.effect(
    Crypto,
    Effect.map(Effect.service(Crypto), (crypto) =>
      Crypto.of({
        ...crypto,
        verify: (alg, key, input, signature) => Effect.suspend(() => {
          counter.verify++
          return crypto.verify(alg, key, input, signature)
        })
      }))
  ).pipe(Layer.provide(Crypto.layerDefault))
  const layer = Keys.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(
      Layer.succeed(GatehouseConfig, resolveConfig({ issuer: ISSUER })),
      MemoryStorage.layer(),
      counted
    )),
    Layer.provideMerge(TestClock.layer())
  )
  const run = <A, E>(effect: Effect.Effect<A, E, Keys | TestClock.TestClock>) => Effect.runPromise(Effect.provide(effect, layer))
  return { counter, run }
}

/** An `at+jwt` signed by the current ES256 key, expiring `ttl` seconds after the test clock's start. */
const signAt = (ttl: number, claims: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(T0)
    const keys = yield* Keys
    return yield* keys.sign({ iss: ISSUER, jti: "j1", exp: Math.floor(T0 / 1000) + ttl, ...claims }, { alg: "ES256", typ: "at+jwt" })
  })

describe("verified-JWT cache (Keys.verifyOwn)", () => {
  it("RFC 7515 §5.2: the second verification of the same token answers from the cache, with the same claims", async () => {
    const { counter, run } = keysWithCountedVerify()
    const [first, second] = await run(Effect.gen(function*() {
      const token = yield* signAt(3600)
      const keys = yield* Keys
      return [yield* keys.verifyOwn(token, AT_JWT), yield* keys.verifyOwn(token, AT_JWT)] as const
    }))
    expect(first).toMatchObject({ iss: ISSUER, jti: "j1" })
    expect(second).toEqual(first)
    expect(counter.verify).toBe(1)
    // shared between requests: nobody may change it
    expect(Object.isFrozen(second)).toBe(true)
  })

  it("RFC 7515 §5.2: a token differing in one signature character is verified on its own (and refused)", async () => {
    const { counter, run } = keysWithCountedVerify()
    const result = await run(Effect.gen(function*() {
      const token = yield* signAt(3600)
      const keys = yield* Keys
      yield* keys.verifyOwn(token, AT_JWT)
      const last = token.at(-2) === "A" ? "B" : "A"
      return yield* keys.verifyOwn(`${token.slice(0, -2)}${last}${token.at(-1)}`, AT_JWT)
    }))
    expect(result).toBeUndefined()
    expect(counter.verify).toBe(2)
  })

  it("RFC 9068 §4: a cached at+jwt is still refused to a caller that accepts another typ", async () => {
    const { run } = keysWithCountedVerify()
    const result = await run(Effect.gen(function*() {
      const token = yield* signAt(3600)
      const keys = yield* Keys
      yield* keys.verifyOwn(token, AT_JWT)
      return yield* keys.verifyOwn(token, ["JWT"])
    }))
    expect(result).toBeUndefined()
  })

  it("RFC 7519 §4.1.4: an entry lasts until the token's exp, then the token is verified again", async () => {
    const { counter, run } = keysWithCountedVerify()
    await run(Effect.gen(function*() {
      const token = yield* signAt(10)
      const keys = yield* Keys
      yield* keys.verifyOwn(token, AT_JWT)
      yield* TestClock.adjust("9 seconds")
      yield* keys.verifyOwn(token, AT_JWT)
      expect(counter.verify).toBe(1)
      yield* TestClock.adjust("2 seconds")
      yield* keys.verifyOwn(token, AT_JWT)
    }))
    expect(counter.verify).toBe(2)
  })

  it("key rotation drops the cache: the next verification checks the signature again", async () => {
    const { counter, run } = keysWithCountedVerify()
    const after = await run(Effect.gen(function*() {
      const token = yield* signAt(3600)
      const keys = yield* Keys
      yield* keys.verifyOwn(token, AT_JWT)
      yield* keys.rotate("ES256")
      // the signing key is now retired, still published: the token still verifies
      return yield* keys.verifyOwn(token, AT_JWT)
    }))
    expect(after).toMatchObject({ jti: "j1" })
    expect(counter.verify).toBe(2)
  })

  it("a token without exp is never cached", async () => {
    const { counter, run } = keysWithCountedVerify()
    await run(Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const keys = yield* Keys
      const token = yield* keys.sign({ iss: ISSUER, jti: "j2" }, { alg: "ES256", typ: "at+jwt" })
      yield* keys.verifyOwn(token, AT_JWT)
      yield* keys.verifyOwn(token, AT_JWT)
    }))
    expect(counter.verify).toBe(2)
  })
})

describe("verified-JWT cache: revocation and expiry still answer on every request", () => {
  it("RFC 7009 §2.1 / RFC 7662 §2.2: a revoked JWT access token is inactive at once, though its signature is cached", async () => {
    const h = await makeHarness()
    const { tokens } = await obtainTokens(h, CLIENTS.web, { scope: "openid profile" })
    const active = async () => (await introspection(await introspect(h, CLIENTS.web, tokens.access_token)))["active"]
    expect(await active()).toBe(true)
    expect(await active()).toBe(true) // from the cache
    expect((await revoke(h, CLIENTS.web, tokens.access_token)).status).toBe(200)
    expect(await active()).toBe(false)
    // RFC 6750 §3.1: userinfo refuses it too
    expect((await userinfo(h, tokens.access_token)).status).toBe(401)
  })

  it("RFC 7009 §2.1: revoking the grant (by its refresh token) deactivates a cached access token", async () => {
    const h = await makeHarness()
    const { tokens } = await obtainTokens(h, CLIENTS.web, { scope: "openid offline_access" })
    expect((await introspection(await introspect(h, CLIENTS.web, tokens.access_token)))["active"]).toBe(true)
    expect((await revoke(h, CLIENTS.web, tokens.refresh_token!)).status).toBe(200)
    expect(await introspection(await introspect(h, CLIENTS.web, tokens.access_token))).toEqual({ active: false })
  })

  it("RFC 7662 §2.2: a cached token past its exp is inactive", async () => {
    const h = await makeHarness()
    const { tokens } = await obtainTokens(h, CLIENTS.web, { scope: "openid" })
    expect((await introspection(await introspect(h, CLIENTS.web, tokens.access_token)))["active"]).toBe(true)
    await advance(h, "2 hours")
    expect(await introspection(await introspect(h, CLIENTS.web, tokens.access_token))).toEqual({ active: false })
  })
})
