/**
 * Failure limits on the credential-guessing surfaces (issue 6; RFC 6749
 * §10.10): client authentication at every endpoint that authenticates clients, and the login
 * check of the Promise API. All on a TestClock: windows open, lock and end without sleeping.
 */
import { createGatehouse, type GatehouseInstance, resolveConfig, type StaticClient, withRemoteAddress } from "@gatehouse/core"
import { makeMemoryDatabase, MemoryStorage } from "@gatehouse/testkit"
import { TestClock } from "effect/testing"
import { beforeAll, describe, expect, it } from "vitest"
import { GatehouseConfigError } from "../src/config.js"
import {
  advance,
  assertionParams,
  basic,
  type ClientKey,
  CLIENTS,
  form,
  generateClientKey,
  type Harness,
  ISSUER,
  jwtClient,
  makeHarness,
  now,
  oauthError,
  signAssertion,
  T0,
  tokenRequest,
  tokens
} from "./helpers/token-helpers.js"

const CC = { grant_type: "client_credentials" } as const
/** small numbers so a test spends a budget in a few requests */
const LIMIT = { max: 3, window: 60 }

const DEVICE: StaticClient = {
  client_id: "tv",
  client_secret: "tv-secret",
  token_endpoint_auth_method: "client_secret_basic",
  redirect_uris: [],
  grant_types: ["urn:ietf:params:oauth:grant-type:device_code"]
}

let key: ClientKey
beforeAll(async () => {
  key = await generateClientKey()
})

const harness = (rateLimit: Record<string, unknown> = { clientAuth: LIMIT }) =>
  makeHarness({ clients: [...Object.values(CLIENTS), DEVICE, jwtClient("jwt", key)], options: { rateLimit } as never })

const wrong = (h: Harness, clientId = "svc", headers: Record<string, string> = {}) =>
  tokenRequest(h, CC, { basic: [clientId, "not-the-secret"], headers })

const right = (h: Harness, headers: Record<string, string> = {}) => tokenRequest(h, CC, { basic: ["svc", "svc-secret"], headers })

/** Spend `n` failures of `clientId`, checking each is a plain 401 `invalid_client`. */
const spend = async (h: Harness, n: number, clientId = "svc", headers: Record<string, string> = {}) => {
  for (let i = 0; i < n; i++) {
    const e = await oauthError(await wrong(h, clientId, headers))
    expect([e.status, e.error]).toEqual([401, "invalid_client"])
  }
}

const expectLocked = async (response: Response, retryAfter: number) => {
  expect(response.status).toBe(429)
  expect(response.headers.get("retry-after")).toBe(String(retryAfter))
  expect(response.headers.get("cache-control")).toBe("no-store")
  expect(response.headers.get("content-type")).toMatch(/^application\/json/)
  expect(await response.json()).toEqual({
    error: "invalid_client",
    error_description: "too many failed client authentications; try again later"
  })
}

const post = (h: Harness, url: string, params: Record<string, string>, auth?: readonly [string, string]) =>
  h.gh.handler(new Request(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(auth ? { authorization: basic(auth[0], auth[1]) } : {}) },
    body: form(params)
  }))

describe("client authentication failures (RFC 6749 §2.3, §10.10)", () => {
  it("after max failures within the window, even the right secret gets 429 invalid_client with Retry-After and no-store", async () => {
    const h = await harness()
    await spend(h, LIMIT.max)
    await advance(h, "20 seconds")
    // the right secret is refused: the credentials are not checked while locked
    await expectLocked(await right(h), 40)
    expect(h.events.some((e) => e.type === "token.issued")).toBe(false)
  })

  it("below the limit the right secret works; the window ends and the client authenticates again", async () => {
    const h = await harness()
    await spend(h, LIMIT.max - 1)
    await tokens(await right(h))
    await spend(h, 1)
    await expectLocked(await right(h), 60)
    await advance(h, "59 seconds")
    await expectLocked(await right(h), 1)
    await advance(h, "1 second")
    await tokens(await right(h))
  })

  it("a success does not reset the count: an attacker's guesses interleaved with the client's requests still reach the limit", async () => {
    const h = await harness()
    await spend(h, 1)
    await tokens(await right(h))
    await spend(h, 1)
    await tokens(await right(h))
    await spend(h, 1)
    await expectLocked(await right(h), 60)
  })

  it("unknown client ids are counted like known ones, with the same answers (no enumeration)", async () => {
    const h = await harness()
    const known = await Promise.all([1, 2, 3].map(async () => (await oauthError(await wrong(h, "svc"))).description))
    const unknown = await Promise.all([1, 2, 3].map(async () => (await oauthError(await wrong(h, "ghost"))).description))
    expect(unknown).toEqual(known)
    const lockedKnown = await wrong(h, "svc")
    const lockedUnknown = await wrong(h, "ghost")
    expect(lockedUnknown.headers.get("retry-after")).toBe(lockedKnown.headers.get("retry-after"))
    await expectLocked(lockedKnown, 60)
    await expectLocked(lockedUnknown, 60)
  })

  it("each client id has its own budget", async () => {
    const h = await harness()
    await spend(h, LIMIT.max, "svc")
    await expectLocked(await right(h), 60)
    await tokens(await tokenRequest(h, { ...CC, client_id: "post", client_secret: "post-secret" }))
  })

  it("client_secret_post and private_key_jwt failures count too; the right assertion is refused while locked", async () => {
    const h = await harness()
    for (let i = 0; i < LIMIT.max; i++) {
      const e = await oauthError(await tokenRequest(h, { ...CC, client_id: "post", client_secret: "nope" }))
      expect(e.status).toBe(401)
    }
    await expectLocked(await tokenRequest(h, { ...CC, client_id: "post", client_secret: "post-secret" }), 60)

    const other = await generateClientKey()
    for (let i = 0; i < LIMIT.max; i++) {
      // signed with a key the client did not register
      const forged = await signAssertion(other, "jwt", await now(h), {}, { kid: key.kid })
      expect((await oauthError(await tokenRequest(h, { ...CC, ...assertionParams(forged) }))).status).toBe(401)
    }
    const good = await signAssertion(key, "jwt", await now(h))
    await expectLocked(await tokenRequest(h, { ...CC, ...assertionParams(good) }), 60)
  })

  it("the limit holds at introspection, revocation and device authorization, which share the count (RFC 7662 §2.1, RFC 7009 §2.1, RFC 8628 §3.1)", async () => {
    const h = await harness()
    await spend(h, 2)
    // failures at other endpoints spend the same budget
    expect((await post(h, `${ISSUER}/introspect`, { token: "x" }, ["svc", "nope"])).status).toBe(401)
    await expectLocked(await post(h, `${ISSUER}/introspect`, { token: "x" }, ["svc", "svc-secret"]), 60)
    await expectLocked(await post(h, `${ISSUER}/revoke`, { token: "x" }, ["svc", "svc-secret"]), 60)

    for (let i = 0; i < LIMIT.max; i++) {
      expect((await post(h, `${ISSUER}/device_authorization`, {}, ["tv", "nope"])).status).toBe(401)
    }
    await expectLocked(await post(h, `${ISSUER}/device_authorization`, {}, ["tv", "tv-secret"]), 60)
  })

  it("public clients (`none`) are neither counted nor refused: nobody can lock out an app's users by its client_id", async () => {
    const h = await harness()
    // the spa's id with a made-up secret: counted (it presents credentials), locks those attempts
    for (let i = 0; i < LIMIT.max; i++) expect((await wrong(h, "spa")).status).toBe(401)
    expect((await wrong(h, "spa")).status).toBe(429)
    // the app itself sends no credentials: still served (here: the bogus code's invalid_grant)
    const e = await oauthError(await tokenRequest(h, { grant_type: "authorization_code", client_id: "spa", code: "bogus", redirect_uri: CLIENTS.spa.redirect_uris[0]!, code_verifier: "x".repeat(43) }))
    expect([e.status, e.error]).toEqual([400, "invalid_grant"])
    // unknown public ids: plain 401 however often
    for (let i = 0; i < LIMIT.max + 2; i++) {
      expect((await tokenRequest(h, { grant_type: "authorization_code", client_id: "nobody", code: "x" })).status).toBe(401)
    }
  })

  it("with rateLimit.clientAddress, failures also count per address, across client ids", async () => {
    const h = await harness({ clientAuth: LIMIT, clientAddress: (request: Request) => request.headers.get("x-test-address") ?? undefined })
    const from = (address: string) => ({ "x-test-address": address })
    await spend(h, 1, "a", from("192.0.2.1"))
    await spend(h, 1, "b", from("192.0.2.1"))
    await spend(h, 1, "c", from("192.0.2.1"))
    // the address spent its budget: any client from it is refused, before its credentials are read
    await expectLocked(await right(h, from("192.0.2.1")), 60)
    await expectLocked(await tokenRequest(h, CC, { headers: { ...from("192.0.2.1"), authorization: "Basic !!!" } }), 60)
    // another address is not
    await tokens(await right(h, from("198.51.100.7")))
  })

  it("malformed credentials count against the address only; a throwing clientAddress counts as none", async () => {
    const h = await harness({ clientAuth: LIMIT, clientAddress: (request: Request) => {
      const a = request.headers.get("x-test-address")
      if (a === "throw") throw new Error("boom")
      return a ?? undefined
    } })
    for (let i = 0; i < LIMIT.max; i++) {
      const e = await oauthError(await tokenRequest(h, CC, { headers: { "x-test-address": "203.0.113.9", authorization: "Basic !!!" } }))
      expect([e.status, e.error]).toEqual([401, "invalid_client"])
    }
    await expectLocked(await right(h, { "x-test-address": "203.0.113.9" }), 60)
    await tokens(await right(h, { "x-test-address": "throw" }))
  })

  it("storage holds digests only: no client id or address in the keys", async () => {
    const h = await harness({ clientAuth: LIMIT, clientAddress: () => "192.0.2.55" })
    await spend(h, 1, "svc")
    await spend(h, 1, "ghost-client")
    const keys = [...h.db.rateLimits.keys()]
    expect(keys).toHaveLength(3)
    for (const k of keys) {
      expect(k).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(k).not.toMatch(/svc|ghost|192/)
    }
  })

  it("defaults: 10 failures per 5 minutes", async () => {
    const h = await harness({})
    await spend(h, 10)
    await expectLocked(await right(h), 300)
    await advance(h, "5 minutes")
    await tokens(await right(h))
  })
})

describe("login check: accounts.check / accounts.authenticate (RFC 6749 §10.10; config rateLimit.login)", () => {
  const USERS: Record<string, string> = { alice: "wonderland", bob: "builder" }

  const makeLogin = async (login = { max: 3, window: 900 }): Promise<GatehouseInstance> => {
    const gh = createGatehouse({
      issuer: ISSUER,
      storage: MemoryStorage.layer(makeMemoryDatabase()),
      accounts: { claims: (id) => ({ sub: id }), authenticate: (u, p) => (USERS[u] === p ? u : undefined) },
      rateLimit: { login },
      overrides: TestClock.layer()
    })
    await gh.run(TestClock.setTime(T0))
    return gh
  }

  it("wrong passwords count down attemptsLeft; past the limit the right password is not checked: too_many_attempts with retryAfter", async () => {
    let checked = 0
    const gh = createGatehouse({
      issuer: ISSUER,
      storage: MemoryStorage.layer(makeMemoryDatabase()),
      accounts: { claims: (id) => ({ sub: id }), authenticate: (u, p) => (checked++, USERS[u] === p ? u : undefined) },
      rateLimit: { login: { max: 3, window: 900 } },
      overrides: TestClock.layer()
    })
    await gh.run(TestClock.setTime(T0))
    expect(await gh.accounts.check("alice", "a")).toEqual({ outcome: "rejected", attemptsLeft: 2 })
    expect(await gh.accounts.check("alice", "b")).toEqual({ outcome: "rejected", attemptsLeft: 1 })
    expect(await gh.accounts.check("alice", "c")).toEqual({ outcome: "rejected", attemptsLeft: 0 })
    expect(checked).toBe(3)
    await gh.run(TestClock.adjust("100 seconds"))
    expect(await gh.accounts.check("alice", "wonderland")).toEqual({ outcome: "too_many_attempts", retryAfter: 800 })
    expect(await gh.accounts.authenticate("alice", "wonderland")).toBeUndefined()
    expect(checked).toBe(3)
    // other users are not affected
    expect(await gh.accounts.check("bob", "builder")).toEqual({ outcome: "authenticated", accountId: "bob" })
    // the window ends
    await gh.run(TestClock.adjust("800 seconds"))
    expect(await gh.accounts.check("alice", "wonderland")).toEqual({ outcome: "authenticated", accountId: "alice" })
    await gh.dispose()
  })

  it("a success takes back only its own attempt: earlier failures stay counted", async () => {
    const gh = await makeLogin()
    expect(await gh.accounts.check("alice", "x")).toEqual({ outcome: "rejected", attemptsLeft: 2 })
    expect(await gh.accounts.authenticate("alice", "wonderland")).toBe("alice")
    expect(await gh.accounts.check("alice", "wonderland")).toEqual({ outcome: "authenticated", accountId: "alice" })
    expect(await gh.accounts.check("alice", "y")).toEqual({ outcome: "rejected", attemptsLeft: 1 })
    await gh.dispose()
  })

  it("refused attempts are taken back: a burst of them does not keep the user out once it is over", async () => {
    const gh = await makeLogin()
    await gh.accounts.check("alice", "x")
    await gh.accounts.check("alice", "y")
    // one slot left: of 10 concurrent right passwords some may be refused while others are in flight
    const burst = await Promise.all(Array.from({ length: 10 }, () => gh.accounts.check("alice", "wonderland")))
    expect(burst.filter((r) => r.outcome === "authenticated").length).toBeGreaterThanOrEqual(1)
    expect(burst.filter((r) => r.outcome === "rejected")).toHaveLength(0)
    // only the two failures remain counted
    expect(await gh.accounts.check("alice", "z")).toEqual({ outcome: "rejected", attemptsLeft: 0 })
    expect((await gh.accounts.check("alice", "wonderland")).outcome).toBe("too_many_attempts")
    await gh.dispose()
  })

  it("the username is counted case-, space- and width-folded", async () => {
    const gh = await makeLogin()
    await gh.accounts.check("Alice", "x")
    await gh.accounts.check(" alice ", "x")
    await gh.accounts.check("ＡＬＩＣＥ", "x")
    expect((await gh.accounts.check("alice", "wonderland")).outcome).toBe("too_many_attempts")
    await gh.dispose()
  })

  it("with an address, failures also count per address, across usernames", async () => {
    const gh = await makeLogin()
    for (const user of ["u1", "u2", "u3"]) {
      expect((await gh.accounts.check(user, "x", { address: "192.0.2.1" })).outcome).toBe("rejected")
    }
    expect((await gh.accounts.check("bob", "builder", { address: "192.0.2.1" })).outcome).toBe("too_many_attempts")
    expect(await gh.accounts.check("bob", "builder", { address: "192.0.2.2" })).toEqual({ outcome: "authenticated", accountId: "bob" })
    await gh.dispose()
  })

  it("20 concurrent guesses: exactly max are checked, the rest refused (counted before checking)", async () => {
    const gh = await makeLogin()
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => gh.accounts.check("alice", `guess-${i}`)))
    expect(results.filter((r) => r.outcome === "rejected")).toHaveLength(3)
    expect(results.filter((r) => r.outcome === "too_many_attempts")).toHaveLength(17)
    await gh.dispose()
  })
})

describe("config rateLimit", () => {
  const problems = (input: unknown): ReadonlyArray<string> => {
    try {
      resolveConfig(input)
    } catch (e) {
      return (e as GatehouseConfigError).problems
    }
    return []
  }

  it("defaults: client authentication 10 per 300 s, login 10 per 900 s, the address an adapter gives (none on a plain Request)", () => {
    const { rateLimit } = resolveConfig({ issuer: "https://as.example.com" })
    expect(rateLimit).toEqual({ clientAuth: { max: 10, window: 300 }, login: { max: 10, window: 900 }, clientAddress: expect.any(Function) })
    expect(rateLimit.clientAddress!(new Request("https://as.example.com/token"))).toBeUndefined()
    const tagged = withRemoteAddress(new Request("https://as.example.com/token"), "192.0.2.7")
    expect(rateLimit.clientAddress!(tagged)).toBe("192.0.2.7")
    const custom = resolveConfig({ issuer: "https://as.example.com", rateLimit: { clientAuth: { max: 50 }, login: { window: 60 } } }).rateLimit
    expect([custom.clientAuth, custom.login]).toEqual([{ max: 50, window: 300 }, { max: 10, window: 60 }])
  })

  it("bad values are named by their path", () => {
    const found = problems({ issuer: "https://as.example.com", rateLimit: { clientAuth: { max: 0 }, login: { window: 1.5 }, clientAddress: "x-forwarded-for" } })
    expect(found).toHaveLength(3)
    expect(found.find((p) => p.startsWith("rateLimit.clientAuth.max:"))).toBeDefined()
    expect(found.find((p) => p.startsWith("rateLimit.login.window:"))).toBeDefined()
    expect(found.find((p) => p.startsWith("rateLimit.clientAddress:"))).toContain("a function")
  })
})
