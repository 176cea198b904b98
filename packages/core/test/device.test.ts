/**
 * The device authorization grant (RFC 8628) through real Requests: the device
 * authorization endpoint (§3.1, §3.2), the user's side through the user-code engine and the
 * interaction hand-off (§3.3, §5.1, §5.4), polling the token endpoint (§3.4, §3.5), and the
 * user-code engine shared with GNAP (§6.1; RFC 9635 §3.3.3, §4.1.2). Time is a TestClock:
 * intervals and expiry without sleeping.
 */
import { createGatehouse, type GatehouseInstance, type UserCodeSubmission } from "@gatehouse/core"
import { MemoryStorage } from "@gatehouse/testkit"
import { TestClock } from "effect/testing"
import * as jose from "jose"
import { describe, expect, it } from "vitest"
import { GatehouseConfigError, resolveConfig, type StaticClient } from "../src/config.js"
import { InteractionStore } from "../src/ports/InteractionStore.js"
import * as UserCode from "../src/user-code/index.js"
import {
  accessTokenRecord,
  advance,
  API,
  basic,
  clientAuth,
  clientParams,
  CLIENTS,
  form,
  type FormInput,
  type Harness,
  ISSUER,
  makeHarness,
  now,
  oauthError,
  REPORTS,
  T0,
  tokenRequest,
  tokens
} from "./helpers/token-helpers.js"

const DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
const DEVICE_ENDPOINT = `${ISSUER}/device_authorization`
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/

/** A public device client (a TV app) that may refresh. */
const TV: StaticClient = {
  client_id: "tv",
  token_endpoint_auth_method: "none",
  redirect_uris: [],
  grant_types: [DEVICE, "refresh_token"],
  client_name: "Living Room TV"
}
/** A confidential device client. */
const CONSOLE: StaticClient = {
  client_id: "console",
  client_secret: "console-secret",
  token_endpoint_auth_method: "client_secret_basic",
  redirect_uris: [],
  grant_types: [DEVICE],
  scope: "openid profile api:read"
}
/** Another public device client (for "issued to another client"). */
const OTHER_TV: StaticClient = { client_id: "other-tv", token_endpoint_auth_method: "none", redirect_uris: [], grant_types: [DEVICE] }

const ALL_CLIENTS = [...Object.values(CLIENTS), TV, CONSOLE, OTHER_TV]
const harness = () => makeHarness({ clients: ALL_CLIENTS })

interface DeviceAuthorization {
  readonly device_code: string
  readonly user_code: string
  readonly verification_uri: string
  readonly verification_uri_complete: string
  readonly expires_in: number
  readonly interval: number
}

/** RFC 8628 §3.1 request as `client` (authenticating as it does at the token endpoint). */
const requestDevice = (h: Harness, client: StaticClient, params: FormInput = {}, init: { headers?: Record<string, string>; body?: string } = {}) =>
  h.gh.handler(new Request(DEVICE_ENDPOINT, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(clientAuth(client).basic ? { authorization: basic(...clientAuth(client).basic!) } : {}),
      ...init.headers
    },
    body: init.body ?? form({ ...clientParams(client), ...params })
  }))

const startDevice = async (h: Harness, client: StaticClient = TV, params: FormInput = { scope: "openid profile offline_access" }) => {
  const response = await requestDevice(h, client, params)
  if (response.status !== 200) throw new Error(`device authorization: ${response.status} ${await response.text()}`)
  return await response.json() as DeviceAuthorization
}

/** RFC 8628 §3.4 token request. */
const poll = (h: Harness, client: StaticClient, deviceCode: string | undefined, extra: FormInput = {}) =>
  tokenRequest(h, { grant_type: DEVICE, device_code: deviceCode, ...clientParams(client), ...extra }, clientAuth(client))

let browsers = 0

/** The user's browser on the verification page: its own attempt key and cookie jar. */
class UserBrowser {
  readonly cookies = new Map<string, string>()
  readonly key = `browser:${++browsers}`
  private cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ")
  }
  private store(setCookie: string) {
    const [pair, ...attrs] = setCookie.split(";")
    const eq = pair!.indexOf("=")
    if (attrs.some((a) => /max-age=0$/i.test(a.trim()))) this.cookies.delete(pair!.slice(0, eq).trim())
    else this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim())
  }
  /** What the verification page does with what the user typed. */
  async enter(h: Harness | GatehouseInstance, userCode: string): Promise<UserCodeSubmission> {
    const gh = "gh" in h ? h.gh : h
    const result = await gh.userCodes.submit(userCode, {
      attemptKeys: [this.key],
      request: new Request(`${ISSUER}/device`, { method: "POST", headers: { cookie: this.cookieHeader() } })
    })
    if (result.outcome === "accepted" && result.setCookie) this.store(result.setCookie)
    return result
  }
  async get(h: Harness, url: string) {
    const response = await h.gh.handler(new Request(url, { headers: { cookie: this.cookieHeader() }, redirect: "manual" }))
    for (const c of response.headers.getSetCookie()) this.store(c)
    return response
  }
}

const accepted = (result: UserCodeSubmission) => {
  if (result.outcome !== "accepted") throw new Error(`expected the code to be accepted, got ${JSON.stringify(result)}`)
  return result
}

/** The user's side: type the code, sign in as `accountId`, allow (or deny), come back to the AS. */
const userApproves = async (
  h: Harness,
  auth: DeviceAuthorization,
  o: { accountId?: string; grantedScopes?: ReadonlyArray<string>; deny?: boolean; browser?: UserBrowser } = {}
) => {
  const browser = o.browser ?? new UserBrowser()
  const entered = accepted(await browser.enter(h, auth.user_code))
  const id = entered.interactionId
  const { redirectTo } = o.deny
    ? await h.gh.interactions.deny(id)
    : await h.gh.interactions.complete(id, { accountId: o.accountId ?? "alice", grantedScopes: o.grantedScopes })
  const page = await browser.get(h, redirectTo)
  return { page, browser, interactionId: id, redirectTo }
}

const jwksOf = async (h: Harness) =>
  jose.createLocalJWKSet(await (await h.gh.handler(new Request(`${ISSUER}/jwks`))).json() as jose.JSONWebKeySet)

/** Well-formed user codes, none of them `except`. */
const wrongCodes = (n: number, except: string) =>
  Array.from({ length: n + 1 }, (_, i) => `BCDF-${"GHJKLMNPQRSTVWXZ"[i % 16]}${"GHJKLMNPQRSTVWXZ"[(i >> 4) % 16]}ZZ`)
    .filter((c) => c !== except).slice(0, n)

describe("RFC 8628 §3.1, §3.2: device authorization endpoint", () => {
  it("RFC 8628 §3.2: answers device_code, user_code, verification_uri, verification_uri_complete, expires_in and interval, not cacheable", async () => {
    const h = await harness()
    const response = await requestDevice(h, TV, { scope: "openid profile" })
    expect(response.status).toBe(200)
    expect(response.headers.get("cache-control")).toBe("no-store")
    expect(response.headers.get("content-type")).toContain("application/json")
    const body = await response.json() as DeviceAuthorization
    expect(Object.keys(body).sort()).toEqual(["device_code", "expires_in", "interval", "user_code", "verification_uri", "verification_uri_complete"])
    expect(body.device_code).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(body.user_code).toMatch(USER_CODE)
    expect(body.verification_uri).toBe(`${ISSUER}/device`)
    expect(body.verification_uri_complete).toBe(`${ISSUER}/device?user_code=${body.user_code}`)
    expect(body.expires_in).toBe(600)
    expect(body.interval).toBe(5)
  })

  it("RFC 8628 §3.2: expires_in, interval and verification_uri follow the configuration", async () => {
    const h = await makeHarness({
      clients: ALL_CLIENTS,
      options: { ttl: { deviceCode: 900 }, deviceFlow: { interval: 7 }, userCode: { verificationUrl: "https://as.example.com/activate?lang=en" } }
    })
    const body = await startDevice(h)
    expect([body.expires_in, body.interval, body.verification_uri]).toEqual([900, 7, "https://as.example.com/activate?lang=en"])
    expect(new URL(body.verification_uri_complete).searchParams.get("user_code")).toBe(body.user_code)
    expect(new URL(body.verification_uri_complete).searchParams.get("lang")).toBe("en")
  })

  it("RFC 8628 §3.2: a bad verification URL is refused at start-up, naming the field; under a basePath the endpoints move, the page does not", async () => {
    expect(() => resolveConfig({ issuer: ISSUER, userCode: { verificationUrl: "javascript:alert(1)" } })).toThrow(GatehouseConfigError)
    expect(() => resolveConfig({ issuer: ISSUER, userCode: { verificationUrl: "/device#x" } })).toThrow(/userCode\.verificationUrl/)
    const config = resolveConfig({ issuer: ISSUER, basePath: "/oauth" })
    expect(config.endpoints.deviceAuthorization).toBe(`${ISSUER}/oauth/device_authorization`)
    expect(config.endpoints.deviceResume).toBe(`${ISSUER}/oauth/device/resume`)
    expect(config.userCode.verificationUri).toBe(`${ISSUER}/device`)
    const h = await makeHarness({ clients: ALL_CLIENTS, options: { basePath: "/oauth" } })
    const response = await h.gh.handler(new Request(`${ISSUER}/oauth/device_authorization`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "client_id=tv"
    }))
    expect(response.status).toBe(200)
  })

  it("RFC 8628 §3.1: a confidential client authenticates as at the token endpoint; a wrong secret is invalid_client (401)", async () => {
    const h = await harness()
    expect((await requestDevice(h, CONSOLE, { scope: "api:read" })).status).toBe(200)
    const wrong = await requestDevice(h, CONSOLE, { scope: "api:read" }, { headers: { authorization: basic("console", "wrong") } })
    const e = await oauthError(wrong)
    expect([e.status, e.error]).toEqual([401, "invalid_client"])
    expect(e.headers.get("www-authenticate")).toContain("Basic")
    // a confidential client may not fall back to `none`
    const asPublic = await requestDevice(h, TV, {}, { body: form({ client_id: "console" }) })
    expect((await oauthError(asPublic)).error).toBe("invalid_client")
  })

  it("RFC 8628 §3.1: a public client identifies itself with client_id; no client at all is invalid_client", async () => {
    const h = await harness()
    expect((await requestDevice(h, TV)).status).toBe(200)
    const anonymous = await requestDevice(h, TV, {}, { body: form({ scope: "openid" }) })
    expect((await oauthError(anonymous)).error).toBe("invalid_client")
    const unknown = await requestDevice(h, TV, {}, { body: form({ client_id: "nobody" }) })
    expect((await oauthError(unknown)).error).toBe("invalid_client")
  })

  it("RFC 6749 §5.2: a client not allowed the device_code grant is unauthorized_client", async () => {
    const h = await harness()
    const e = await oauthError(await requestDevice(h, CLIENTS.spa, { scope: "openid" }))
    expect([e.status, e.error]).toEqual([400, "unauthorized_client"])
  })

  it("RFC 6749 §3.3: a scope the server or the client does not offer is invalid_scope", async () => {
    const h = await harness()
    expect((await oauthError(await requestDevice(h, TV, { scope: "openid launch-missiles" }))).error).toBe("invalid_scope")
    // console may only ask for openid profile api:read
    expect((await oauthError(await requestDevice(h, CONSOLE, { scope: "api:write" }))).error).toBe("invalid_scope")
  })

  it("RFC 8707 §2: a resource the server does not serve is invalid_target", async () => {
    const h = await harness()
    const e = await oauthError(await requestDevice(h, TV, { resource: "https://elsewhere.example.com" }))
    expect([e.status, e.error]).toEqual([400, "invalid_target"])
    expect((await oauthError(await requestDevice(h, TV, { resource: "not a uri" }))).error).toBe("invalid_target")
  })

  it("RFC 6749 §3.2: POST only, a form body, no parameter twice; bad input is a 4xx, never a 5xx", async () => {
    const h = await harness()
    const get = await h.gh.handler(new Request(DEVICE_ENDPOINT))
    expect(get.status).toBe(405)
    expect(get.headers.get("allow")).toBe("POST")
    const twice = await requestDevice(h, TV, {}, { body: "client_id=tv&scope=openid&scope=profile" })
    expect((await oauthError(twice)).error).toBe("invalid_request")
    const json = await requestDevice(h, TV, {}, { headers: { "content-type": "application/json" }, body: `{"client_id":"tv"}` })
    expect((await oauthError(json)).error).toBe("invalid_request")
    const huge = await requestDevice(h, TV, {}, { body: `client_id=tv&scope=${"a".repeat(70_000)}` })
    expect(huge.status).toBe(413)
    const garbage = await requestDevice(h, TV, {}, { body: "%%%&&&==\u0000" })
    expect(garbage.status).toBeLessThan(500)
  })

  it("RFC 8628 §4: the metadata names the device authorization endpoint and the device_code grant type", async () => {
    const h = await harness()
    const metadata = await (await h.gh.handler(new Request(`${ISSUER}/.well-known/oauth-authorization-server`))).json() as Record<string, unknown>
    expect(metadata["device_authorization_endpoint"]).toBe(DEVICE_ENDPOINT)
    expect(metadata["grant_types_supported"]).toContain(DEVICE)
  })

  it("RFC 8628 §5.2, §6.1: device codes (256 bits) and user codes are stored only as digests", async () => {
    const h = await harness()
    const body = await startDevice(h)
    const stored = JSON.stringify([...h.db.deviceCodes.entries(), ...h.db.userCodes.entries(), ...h.db.interactions.entries()])
    const canonical = body.user_code.replace("-", "")
    expect(stored).not.toContain(body.device_code)
    expect(stored).not.toContain(body.user_code)
    expect(stored).not.toContain(canonical)
    const record = h.db.deviceCodes.get(await h.gh.run(UserCode.digest(body.device_code)))
    expect(record).toMatchObject({ clientId: "tv", state: "pending", interval: 5, scope: ["openid", "profile", "offline_access"] })
    expect(h.db.userCodes.get(await h.gh.run(UserCode.digest(canonical)))).toMatchObject({ kind: "device", clientId: "tv" })
  })
})

describe("RFC 8628 §6.1: user codes", () => {
  it("RFC 8628 §6.1: 8 characters of the base-20 consonant alphabet, every letter used, each drawn evenly", async () => {
    const h = await harness()
    const counts = new Map<string, number>()
    const draws = 500
    for (let i = 0; i < draws; i++) {
      const code = await h.gh.run(UserCode.generate)
      expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{8}$/)
      for (const c of code) counts.set(c, (counts.get(c) ?? 0) + 1)
    }
    expect([...counts.keys()].sort().join("")).toBe(UserCode.ALPHABET)
    // 4000 letters over 20: 200 expected each; a modulo bias would push some far above 230
    for (const n of counts.values()) expect(n).toBeGreaterThan(140)
    for (const n of counts.values()) expect(n).toBeLessThan(260)
  })

  it("RFC 8628 §6.1 / RFC 9635 §4.1.2: entry ignores case, dashes, spaces and full-width forms; anything else is not a code", () => {
    for (const typed of ["WDJB-MJHT", "wdjb-mjht", " wdjb mjht ", "WdJbMjHt", "WDJB–MJHT", "ＷＤＪＢ－ＭＪＨＴ", "wdjb.mjht"]) {
      expect(UserCode.normalize(typed)).toBe("WDJBMJHT")
    }
    for (const typed of ["WDJB-MJH", "WDJB-MJHTT", "ABCD-EFGH", "WDJB-MJH1", "", "WDJB-MJHT!", "x".repeat(100)]) {
      expect(UserCode.normalize(typed)).toBeUndefined()
    }
    expect(UserCode.format("WDJBMJHT")).toBe("WDJB-MJHT")
  })
})

describe("RFC 8628 §3.3: the user's side", () => {
  it("RFC 8628 §3.3, §3.4: code entered, user signs in and allows -> the polling device gets an access token, a refresh token and an ID token", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    const { page, browser } = await userApproves(h, auth)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain("Device connected")
    // a new AS session for this browser, as after /authorize
    expect(browser.cookies.has("gatehouse.session")).toBe(true)
    const body = await tokens(await poll(h, TV, auth.device_code))
    expect(body.token_type).toBe("Bearer")
    expect(body.scope).toBe("openid profile offline_access")
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const jwks = await jwksOf(h)
    const at = await jose.jwtVerify(body.access_token, jwks, { issuer: ISSUER, typ: "at+jwt", currentDate: new Date(T0) })
    expect(at.payload).toMatchObject({ sub: "alice", client_id: "tv", scope: "openid profile offline_access" })
    const id = await jose.jwtVerify(body.id_token!, jwks, { issuer: ISSUER, audience: "tv", currentDate: new Date(T0) })
    expect(id.payload).toMatchObject({ sub: "alice", auth_time: T0 / 1000 })
    expect(h.events).toContainEqual(expect.objectContaining({ type: "token.issued", grantType: DEVICE, clientId: "tv", accountId: "alice" }))
    // the refresh token works like any other
    const refreshed = await tokens(await tokenRequest(h, { grant_type: "refresh_token", refresh_token: body.refresh_token!, client_id: "tv" }))
    expect(refreshed.access_token).toBeTruthy()
  })

  it("RFC 8628 §3.3: the user may grant fewer scopes than asked; the tokens carry what was granted", async () => {
    const h = await harness()
    const auth = await startDevice(h, CONSOLE, { scope: "openid profile api:read" })
    await userApproves(h, auth, { grantedScopes: ["api:read"] })
    const body = await tokens(await poll(h, CONSOLE, auth.device_code))
    expect(body.scope).toBe("api:read")
    expect(body.id_token).toBeUndefined()
    expect(body.refresh_token).toBeUndefined()
  })

  it("RFC 8707 §2: resources of the device request become the audience; the token request may narrow them (§2.2), not widen them", async () => {
    const h = await harness()
    const auth = await startDevice(h, TV, { scope: "profile", resource: [API, REPORTS] })
    await userApproves(h, auth)
    const widened = await poll(h, TV, auth.device_code, { resource: "https://as.example.com" })
    expect((await oauthError(widened)).error).toBe("invalid_target")
    // the refusal above consumed nothing: narrowing works
    const auth2 = await startDevice(h, TV, { scope: "profile", resource: [API, REPORTS] })
    await userApproves(h, auth2)
    const body = await tokens(await poll(h, TV, auth2.device_code, { resource: API }))
    expect((await accessTokenRecord(h, body.access_token))?.audience).toEqual([API])
  })

  it("RFC 8628 §5.4: the consent step is always shown for a device, even after an earlier consent; the pages learn it is a device", async () => {
    const h = await harness()
    await userApproves(h, await startDevice(h, TV, { scope: "profile" }))
    const auth = await startDevice(h, TV, { scope: "profile" })
    const entered = accepted(await new UserBrowser().enter(h, auth.user_code))
    const details = await h.gh.interactions.details(entered.interactionId)
    expect(details).toMatchObject({ kind: "device", clientId: "tv", clientName: "Living Room TV", scope: ["profile"], prompt: ["login", "consent"] })
    const { consentRequired } = await h.gh.interactions.authenticate(entered.interactionId, { accountId: "alice" })
    expect(consentRequired).toBe(true)
  })

  it("RFC 9635 §4 / RFC 8628 §3.3: a code opens its interaction once; another browser is refused, the same browser gets back in", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    const first = new UserBrowser()
    const entered = accepted(await first.enter(h, auth.user_code))
    expect(entered.redirectTo).toBe(`${ISSUER}/interaction/${entered.interactionId}`)
    expect(entered.setCookie).toMatch(/^gatehouse\.usercode=[A-Za-z0-9_-]{43}; Path=\/; SameSite=Lax; HttpOnly; Secure; Max-Age=600$/)
    expect(await new UserBrowser().enter(h, auth.user_code)).toEqual({ outcome: "rejected", reason: "used", attemptsLeft: 4 })
    const again = accepted(await first.enter(h, auth.user_code.toLowerCase()))
    expect(again.interactionId).toBe(entered.interactionId)
    expect(again.setCookie).toBeUndefined()
  })

  it("RFC 8628 §3.3: the resume step only answers the browser that entered the code, once; without it the device stays pending", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    const browser = new UserBrowser()
    const entered = accepted(await browser.enter(h, auth.user_code))
    const { redirectTo } = await h.gh.interactions.complete(entered.interactionId, { accountId: "alice" })
    expect(redirectTo).toBe(`${ISSUER}/device/resume?interaction=${encodeURIComponent(entered.interactionId)}`)
    const stranger = await h.gh.handler(new Request(redirectTo))
    expect(stranger.status).toBe(400)
    expect(await stranger.text()).toContain("another browser")
    expect((await oauthError(await poll(h, TV, auth.device_code))).error).toBe("authorization_pending")
    const page = await browser.get(h, redirectTo)
    expect(page.status).toBe(200)
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'")
    const replay = await browser.get(h, redirectTo)
    expect(replay.status).toBe(400)
    // an interaction that is not a device's, or none at all, is refused here too
    expect((await h.gh.handler(new Request(`${ISSUER}/device/resume?interaction=nope`))).status).toBe(400)
    expect((await h.gh.handler(new Request(`${ISSUER}/device/resume`))).status).toBe(400)
  })

  it("RFC 8628 §3.3: unknown and expired codes are refused; malformed input is not counted as a guess", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    const browser = new UserBrowser()
    expect(await browser.enter(h, "hello")).toEqual({ outcome: "rejected", reason: "malformed" })
    const [wrong] = wrongCodes(1, auth.user_code)
    expect(await browser.enter(h, wrong!)).toEqual({ outcome: "rejected", reason: "unknown", attemptsLeft: 4 })
    await advance(h, "600 seconds")
    expect(await browser.enter(h, auth.user_code)).toEqual({ outcome: "rejected", reason: "expired", attemptsLeft: 3 })
  })

  it("RFC 8628 §3.5: the user denies -> the page says so and the device gets access_denied", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    const { page } = await userApproves(h, auth, { deny: true })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain("denied")
    const e = await oauthError(await poll(h, TV, auth.device_code))
    expect([e.status, e.error]).toEqual([400, "access_denied"])
    expect(h.events).toContainEqual(expect.objectContaining({ type: "authorization.denied", flow: "device", clientId: "tv", error: "access_denied" }))
  })
})

describe("RFC 8628 §5.1: brute-forcing user codes", () => {
  it("RFC 8628 §5.1: after 5 wrong codes a browser is refused (too many attempts) even with the right code, until the window ends; others are not", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    const attacker = new UserBrowser()
    const left: Array<number | undefined> = []
    for (const code of wrongCodes(5, auth.user_code)) {
      const result = await attacker.enter(h, code)
      expect(result.outcome).toBe("rejected")
      if (result.outcome === "rejected") left.push(result.attemptsLeft)
    }
    expect(left).toEqual([4, 3, 2, 1, 0])
    expect(await attacker.enter(h, auth.user_code)).toEqual({ outcome: "too_many_attempts", retryAfter: 900 })
    await advance(h, "5 minutes")
    expect(await attacker.enter(h, auth.user_code)).toEqual({ outcome: "too_many_attempts", retryAfter: 600 })
    // the user's own browser is not affected
    accepted(await new UserBrowser().enter(h, auth.user_code))
    // 15 minutes after its first failure the attacker's window is over
    await advance(h, "10 minutes")
    const fresh = await startDevice(h)
    accepted(await attacker.enter(h, fresh.user_code))
  })

  it("RFC 8628 §5.1: every key counts: an address over its limit is refused whatever browser it uses", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    const submit = (browser: string, code: string) =>
      h.gh.userCodes.submit(code, { attemptKeys: [`browser:${browser}`, "ip:203.0.113.9"] })
    for (const [i, code] of wrongCodes(5, auth.user_code).entries()) expect((await submit(`b${i}`, code)).outcome).toBe("rejected")
    expect((await submit("brand-new", auth.user_code)).outcome).toBe("too_many_attempts")
  })

  it("RFC 8628 §5.1: 20 concurrent guesses from one browser get no more than 5 tries", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    const attacker = new UserBrowser()
    const results = await Promise.all(wrongCodes(20, auth.user_code).map((code) => attacker.enter(h, code)))
    expect(results.filter((r) => r.outcome === "rejected")).toHaveLength(5)
    expect(results.filter((r) => r.outcome === "too_many_attempts")).toHaveLength(15)
  })

  it("RFC 8628 §5.1: the counter lives in storage: two server processes on one database share it", async () => {
    const h = await harness()
    const second = createGatehouse({
      issuer: ISSUER,
      scopes: ["api:read", "api:write", "admin"],
      resources: [{ uri: API }, { uri: REPORTS }],
      clients: ALL_CLIENTS,
      storage: MemoryStorage.layer(h.db),
      accounts: { claims: (id) => h.accounts.get(id) },
      overrides: TestClock.layer()
    })
    await second.run(TestClock.setTime(T0))
    const auth = await startDevice(h)
    const attacker = new UserBrowser()
    const wrong = wrongCodes(6, auth.user_code)
    for (const [i, code] of wrong.slice(0, 5).entries()) {
      expect((await attacker.enter(i % 2 === 0 ? h.gh : second, code)).outcome).toBe("rejected")
    }
    expect((await attacker.enter(second, auth.user_code)).outcome).toBe("too_many_attempts")
    expect((await attacker.enter(h.gh, auth.user_code)).outcome).toBe("too_many_attempts")
    await second.dispose()
  })
})

describe("RFC 8628 §3.4, §3.5: polling the token endpoint", () => {
  it("RFC 8628 §3.5: authorization_pending (400, no-store) while the user has not finished", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    const response = await poll(h, TV, auth.device_code)
    expect(response.headers.get("cache-control")).toBe("no-store")
    const e = await oauthError(response)
    expect([e.status, e.error]).toEqual([400, "authorization_pending"])
    // the user entered the code but has not finished
    accepted(await new UserBrowser().enter(h, auth.user_code))
    await advance(h, "5 seconds")
    expect((await oauthError(await poll(h, TV, auth.device_code))).error).toBe("authorization_pending")
  })

  it("RFC 8628 §3.5: polling faster than the interval is slow_down, and the interval grows by 5 s for this and all later requests", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    const errorAt = async () => (await oauthError(await poll(h, TV, auth.device_code))).error
    expect(await errorAt()).toBe("authorization_pending")
    await advance(h, "1 second")
    expect(await errorAt()).toBe("slow_down") // interval 5 -> 10
    await advance(h, "9 seconds")
    expect(await errorAt()).toBe("slow_down") // 9 s < 10 s; interval -> 15
    await advance(h, "15 seconds")
    expect(await errorAt()).toBe("authorization_pending")
    await advance(h, "14 seconds")
    expect(await errorAt()).toBe("slow_down") // the raised interval stays
    expect(h.db.deviceCodes.get(await h.gh.run(UserCode.digest(auth.device_code)))?.interval).toBe(20)
  })

  it("RFC 8628 §3.5: expired_token once expires_in has passed, approved or not", async () => {
    const h = await harness()
    const pending = await startDevice(h)
    const approved = await startDevice(h)
    await userApproves(h, approved)
    await advance(h, "599 seconds")
    expect((await oauthError(await poll(h, TV, pending.device_code))).error).toBe("authorization_pending")
    await advance(h, "1 second")
    const e = await oauthError(await poll(h, TV, pending.device_code))
    expect([e.status, e.error]).toEqual([400, "expired_token"])
    expect((await oauthError(await poll(h, TV, approved.device_code))).error).toBe("expired_token")
  })

  it("RFC 8628 §3.4: the device code is single use: the next poll after the tokens is invalid_grant", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    await userApproves(h, auth)
    await tokens(await poll(h, TV, auth.device_code))
    await advance(h, "5 seconds")
    const e = await oauthError(await poll(h, TV, auth.device_code))
    expect([e.status, e.error]).toEqual([400, "invalid_grant"])
  })

  it("RFC 8628 §3.4: 50 concurrent polls after approval get exactly one token response", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    await userApproves(h, auth)
    const responses = await Promise.all(Array.from({ length: 50 }, () => poll(h, TV, auth.device_code)))
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1)
    const errors = await Promise.all(responses.filter((r) => r.status !== 200).map(oauthError))
    expect(errors.every((e) => e.status === 400 && e.error === "invalid_grant")).toBe(true)
    expect(h.events.filter((e) => e.type === "token.issued")).toHaveLength(1)
  })

  it("RFC 8628 §3.4 / RFC 6749 §5.2: a device code issued to another client is invalid_grant, and its poll does not count against the device", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    await poll(h, TV, auth.device_code)
    await advance(h, "5 seconds")
    const e = await oauthError(await poll(h, OTHER_TV, auth.device_code))
    expect([e.status, e.error]).toEqual([400, "invalid_grant"])
    expect((await oauthError(await poll(h, TV, auth.device_code))).error).toBe("authorization_pending")
    await userApproves(h, auth)
    expect((await oauthError(await poll(h, OTHER_TV, auth.device_code))).error).toBe("invalid_grant")
    await tokens(await poll(h, TV, auth.device_code))
  })

  it("RFC 8628 §3.4: an unknown device code is invalid_grant; a missing one invalid_request; a client without the grant unauthorized_client", async () => {
    const h = await harness()
    expect((await oauthError(await poll(h, TV, "not-a-device-code"))).error).toBe("invalid_grant")
    expect((await oauthError(await poll(h, TV, undefined))).error).toBe("invalid_request")
    const auth = await startDevice(h)
    expect((await oauthError(await poll(h, CLIENTS.spa, auth.device_code))).error).toBe("unauthorized_client")
  })
})

describe("the user-code engine shared with GNAP (RFC 9635 §3.3.3, §4.1.2)", () => {
  it("RFC 9635 §4.1.2: one engine: a code issued for a GNAP interaction is entered on the same page and opens that interaction", async () => {
    const h = await harness()
    const at = await now(h)
    const id = "gnap-interaction-1"
    await h.gh.run(InteractionStore.use((store) =>
      store.create({
        id,
        kind: "gnap",
        state: "pending",
        clientId: "gnap-client",
        bindingDigest: "unbound",
        payload: JSON.stringify({ request: { clientId: "gnap-client", scope: [], prompt: [] }, prompt: ["login", "consent"] }),
        createdAt: at,
        expiresAt: at + 300_000
      })))
    const issued = await h.gh.run(UserCode.issue({ interactionId: id, kind: "gnap", clientId: "gnap-client", expiresAt: at + 300_000 }))
    expect(issued.userCode).toMatch(USER_CODE)
    const entered = accepted(await new UserBrowser().enter(h, issued.userCode.toLowerCase().replace("-", " ")))
    expect(entered).toMatchObject({ interactionId: id, kind: "gnap", redirectTo: `${ISSUER}/interaction/${id}` })
  })

  it("RFC 9635 §4.1: a retired code (another start mode of the grant completed) no longer opens anything", async () => {
    const h = await harness()
    const auth = await startDevice(h)
    const record = h.db.userCodes.get(await h.gh.run(UserCode.digest(auth.user_code.replace("-", ""))))!
    expect(await h.gh.run(UserCode.retire(record.interactionId))).toBe(1)
    expect((await new UserBrowser().enter(h, auth.user_code))).toMatchObject({ outcome: "rejected", reason: "used" })
  })
})
