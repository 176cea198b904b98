/**
 * Issue 6: audit events (ports/Events.ts) for every outcome — issued, denied, revoked,
 * replay and reuse detected — for OAuth, OpenID Connect, the device flow and GNAP; the
 * structured-log sink; and the rule that no event ever carries a token, code or secret.
 */
import { createGatehouse, type GatehouseEvent, type UserCodeSubmission } from "@gatehouse/core"
import { MemoryStorage } from "@gatehouse/testkit"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { afterEach, describe, expect, it, vi } from "vitest"
import type { StaticClient } from "../src/config.js"
import { type AuditEvent, eventLevel, Events, toJsonLine } from "../src/ports/Events.js"
import { introspect, registered, registerRequest, revoke, userinfo, WEB_METADATA } from "./helpers/endpoint-helpers.js"
import { approvedGrant, clientNonce, interactThroughRedirect, makeGnap, redirectRequest } from "./helpers/gnap.js"
import { freshDatabase } from "./helpers/setup.js"
import {
  advance,
  authorize,
  basic,
  CLIENTS,
  clientAuth,
  exchangeCode,
  form,
  type FormInput,
  type Harness,
  ISSUER,
  makeHarness,
  obtainTokens,
  refresh,
  REDIRECT_URI,
  T0,
  tokenRequest,
  tokens
} from "./helpers/token-helpers.js"

const DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
const TV: StaticClient = { client_id: "tv", token_endpoint_auth_method: "none", redirect_uris: [], grant_types: [DEVICE, "refresh_token"] }
const harness = (options: NonNullable<Parameters<typeof makeHarness>[0]>["options"] = {}) =>
  makeHarness({ clients: [...Object.values(CLIENTS), TV], options })

/** An event without its stamp (timestamp, requestId, trace), for exact comparison. */
const strip = (event: GatehouseEvent): AuditEvent => {
  const { timestamp: _t, requestId: _r, traceId: _tr, spanId: _s, ...rest } = event
  return rest as AuditEvent
}

/** The events of `type`, unstamped. */
const ofType = <T extends AuditEvent["type"]>(h: { events: ReadonlyArray<GatehouseEvent> }, type: T) =>
  h.events.filter((e) => e.type === type).map(strip) as Array<Extract<AuditEvent, { type: T }>>

/** What happened after `mark` (events.length before the step). */
const since = (h: Harness, mark: number) => h.events.slice(mark)

// ---- device flow steps (RFC 8628 §3.1-§3.4), as in device.test.ts -----------------------

const startDevice = async (h: Harness, scope = "openid offline_access") => {
  const response = await h.gh.handler(new Request(`${ISSUER}/device_authorization`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form({ client_id: "tv", scope })
  }))
  if (response.status !== 200) throw new Error(`device authorization: ${response.status} ${await response.text()}`)
  return await response.json() as { device_code: string; user_code: string }
}

const poll = (h: Harness, deviceCode: string) => tokenRequest(h, { grant_type: DEVICE, device_code: deviceCode, client_id: "tv" })

/** The user's browser on the verification page: enter the code, sign in, allow or deny, come back. */
const userAnswers = async (h: Harness, userCode: string, deny = false, key = "browser:1") => {
  const cookies = new Map<string, string>()
  const entered = await h.gh.userCodes.submit(userCode, { attemptKeys: [key], request: new Request(`${ISSUER}/device`) })
  if (entered.outcome !== "accepted") throw new Error(`code not accepted: ${JSON.stringify(entered)}`)
  const [pair] = entered.setCookie!.split(";")
  cookies.set(pair!.slice(0, pair!.indexOf("=")), pair!.slice(pair!.indexOf("=") + 1))
  const { redirectTo } = deny
    ? await h.gh.interactions.deny(entered.interactionId)
    : await h.gh.interactions.complete(entered.interactionId, { accountId: "alice" })
  const cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ")
  return h.gh.handler(new Request(redirectTo, { headers: { cookie } }))
}

describe("token.issued (issue 6: every grant type)", () => {
  it("authorization_code, refresh_token and client_credentials: grant type, client, account, grant, scope, Clock timestamp", async () => {
    const h = await harness()
    const { auth, tokens: first } = await obtainTokens(h, CLIENTS.web, { scope: "openid api:read offline_access" })
    const codeGrant = ofType(h, "authorization.granted")[0]!
    expect(codeGrant).toEqual({ type: "authorization.granted", flow: "authorize", clientId: "web", accountId: "alice", grantId: codeGrant.grantId, scope: ["openid", "api:read", "offline_access"] })
    expect(codeGrant.grantId).toMatch(/^[A-Za-z0-9_-]{22}$/)
    await advance(h, "10 seconds")
    await tokens(await refresh(h, CLIENTS.web, first.refresh_token!))
    await tokens(await tokenRequest(h, { grant_type: "client_credentials", scope: "api:read" }, clientAuth(CLIENTS.svc)))
    expect(auth.code).toBeTypeOf("string")
    const issued = ofType(h, "token.issued")
    expect(issued).toEqual([
      { type: "token.issued", grantType: "authorization_code", clientId: "web", accountId: "alice", grantId: codeGrant.grantId, scope: ["openid", "api:read", "offline_access"] },
      { type: "token.issued", grantType: "refresh_token", clientId: "web", accountId: "alice", grantId: codeGrant.grantId, scope: ["openid", "api:read", "offline_access"] },
      { type: "token.issued", grantType: "client_credentials", clientId: "svc", grantId: issued[2]!.grantId, scope: ["api:read"] }
    ])
    // the Clock's time (TestClock), not the wall clock
    expect(h.events.filter((e) => e.type === "token.issued").map((e) => e.timestamp)).toEqual([T0, T0 + 10_000, T0 + 10_000])
  })

  it("RFC 8628 §3.4: device_code — authorization.granted (flow device) on approval, token.issued on the poll that gets the tokens", async () => {
    const h = await harness()
    const device = await startDevice(h)
    await userAnswers(h, device.user_code)
    await tokens(await poll(h, device.device_code))
    expect(ofType(h, "authorization.granted")).toEqual([
      { type: "authorization.granted", flow: "device", clientId: "tv", accountId: "alice", scope: ["openid", "offline_access"] }
    ])
    expect(ofType(h, "user_code.accepted")).toEqual([{ type: "user_code.accepted", clientId: "tv", kind: "device" }])
    expect(ofType(h, "token.issued")).toMatchObject([{ grantType: DEVICE, clientId: "tv", accountId: "alice", scope: ["openid", "offline_access"] }])
  })
})

describe("token.denied (issue 6: every token-endpoint error with its code and grant type)", () => {
  const cases: ReadonlyArray<{
    readonly name: string
    readonly params: FormInput
    readonly auth?: readonly [string, string]
    readonly expected: Omit<Extract<AuditEvent, { type: "token.denied" }>, "type">
  }> = [
    { name: "RFC 6749 §3.2 a parameter twice: invalid_request", params: { grant_type: ["client_credentials", "client_credentials"] }, auth: ["svc", "svc-secret"], expected: { error: "invalid_request" } },
    { name: "RFC 6749 §5.2 unsupported_grant_type (ROPC)", params: { grant_type: "password", username: "alice", password: "alice-password", client_id: "post" }, expected: { grantType: "password", clientId: "post", error: "unsupported_grant_type" } },
    { name: "RFC 6749 §5.2 invalid_client: the claimed client", params: { grant_type: "client_credentials", client_id: "post", client_secret: "wrong" }, expected: { grantType: "client_credentials", clientId: "post", error: "invalid_client" } },
    { name: "RFC 6749 §5.2 unauthorized_client", params: { grant_type: "authorization_code", code: "x" }, auth: ["svc", "svc-secret"], expected: { grantType: "authorization_code", clientId: "svc", error: "unauthorized_client" } },
    { name: "RFC 6749 §5.2 invalid_grant: unknown code", params: { grant_type: "authorization_code", code: "not-a-code", redirect_uri: REDIRECT_URI }, auth: ["web", "web-secret"], expected: { grantType: "authorization_code", clientId: "web", error: "invalid_grant" } },
    { name: "RFC 6749 §5.2 invalid_scope", params: { grant_type: "client_credentials", scope: "admin" }, auth: ["svc", "svc-secret"], expected: { grantType: "client_credentials", clientId: "svc", error: "invalid_scope" } },
    { name: "RFC 8707 §2 invalid_target", params: { grant_type: "client_credentials", resource: "https://elsewhere.example.com" }, auth: ["svc", "svc-secret"], expected: { grantType: "client_credentials", clientId: "svc", error: "invalid_target" } },
    { name: "RFC 6749 §3.2 grant_type missing: invalid_request", params: { client_id: "spa" }, expected: { clientId: "spa", error: "invalid_request" } }
  ]
  for (const c of cases) {
    it(c.name, async () => {
      const h = await harness()
      const response = await tokenRequest(h, c.params, c.auth ? { basic: c.auth } : {})
      expect(response.status).toBeGreaterThanOrEqual(400)
      expect(ofType(h, "token.denied")).toEqual([{ type: "token.denied", ...c.expected }])
      expect(h.events.some((e) => e.type === "token.issued")).toBe(false)
    })
  }

  it("RFC 8628 §3.5: authorization_pending and slow_down (level info), access_denied after the user denies, expired_token", async () => {
    const h = await harness()
    const device = await startDevice(h)
    await poll(h, device.device_code)
    await poll(h, device.device_code)
    const denied = await startDevice(h)
    await userAnswers(h, denied.user_code, true, "browser:2")
    await poll(h, denied.device_code)
    await advance(h, "11 minutes")
    await poll(h, device.device_code)
    const errors = ofType(h, "token.denied")
    expect(errors).toEqual([
      { type: "token.denied", grantType: DEVICE, clientId: "tv", error: "authorization_pending" },
      { type: "token.denied", grantType: DEVICE, clientId: "tv", error: "slow_down" },
      { type: "token.denied", grantType: DEVICE, clientId: "tv", error: "access_denied" },
      { type: "token.denied", grantType: DEVICE, clientId: "tv", error: "expired_token" }
    ])
    expect(errors.map(eventLevel)).toEqual(["info", "info", "warn", "warn"])
    expect(ofType(h, "authorization.denied")).toEqual([{ type: "authorization.denied", flow: "device", clientId: "tv", error: "access_denied" }])
  })
})

describe("replay and reuse (RFC 6749 §4.1.2, RFC 9700 §4.14.2)", () => {
  it("RFC 6749 §4.1.2: a replayed code -> token.denied, code.replayed, grant.revoked (code_replay), in that order", async () => {
    const h = await harness()
    const auth = await authorize(h, { clientId: "web", scope: "openid" })
    await tokens(await exchangeCode(h, auth, CLIENTS.web))
    const mark = h.events.length
    expect((await exchangeCode(h, auth, CLIENTS.web)).status).toBe(400)
    const grantId = ofType(h, "token.issued")[0]!.grantId
    expect(since(h, mark).map(strip)).toEqual([
      { type: "code.replayed", clientId: "web", accountId: "alice", grantId },
      { type: "grant.revoked", grantId, clientId: "web", reason: "code_replay" },
      { type: "token.denied", grantType: "authorization_code", clientId: "web", error: "invalid_grant" }
    ])
    expect(since(h, mark).map(eventLevel)).toEqual(["warn", "warn", "warn"])
  })

  it("RFC 9700 §4.14.2: a reused refresh token -> refresh_token.reused, grant.revoked (refresh_token_reuse), token.denied", async () => {
    const h = await harness()
    const { tokens: first } = await obtainTokens(h, CLIENTS.web, { scope: "api:read" })
    await tokens(await refresh(h, CLIENTS.web, first.refresh_token!))
    const mark = h.events.length
    expect((await refresh(h, CLIENTS.web, first.refresh_token!)).status).toBe(400)
    const grantId = ofType(h, "token.issued")[0]!.grantId
    expect(since(h, mark).map(strip)).toEqual([
      { type: "refresh_token.reused", clientId: "web", accountId: "alice", grantId },
      { type: "grant.revoked", grantId, clientId: "web", reason: "refresh_token_reuse" },
      { type: "token.denied", grantType: "refresh_token", clientId: "web", error: "invalid_grant" }
    ])
  })
})

describe("authorization.granted / authorization.denied (RFC 6749 §4.1.2, OIDC Core §3.1.2.6)", () => {
  const authorizeUrl = (params: Record<string, string>) => `${ISSUER}/authorize?${new URLSearchParams(params)}`
  const base = { response_type: "code", client_id: "web", redirect_uri: REDIRECT_URI, code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256" }

  it("OIDC Core §3.1.2.6: prompt=none without a session -> authorization.denied login_required (redirected)", async () => {
    const h = await harness()
    const response = await h.gh.handler(new Request(authorizeUrl({ ...base, scope: "openid", prompt: "none" })))
    expect(new URL(response.headers.get("location")!).searchParams.get("error")).toBe("login_required")
    expect(ofType(h, "authorization.denied")).toEqual([{ type: "authorization.denied", flow: "authorize", clientId: "web", error: "login_required" }])
  })

  it("RFC 6749 §4.1.2.1: the user denies -> authorization.denied access_denied", async () => {
    const h = await harness()
    const start = await h.gh.handler(new Request(authorizeUrl({ ...base, scope: "openid" })))
    const id = decodeURIComponent(new URL(start.headers.get("location")!).pathname.split("/").pop()!)
    const cookie = start.headers.getSetCookie().map((c) => c.split(";")[0]!).join("; ")
    const { redirectTo } = await h.gh.interactions.deny(id)
    await h.gh.handler(new Request(redirectTo, { headers: { cookie } }))
    expect(ofType(h, "authorization.denied")).toEqual([{ type: "authorization.denied", flow: "authorize", clientId: "web", error: "access_denied" }])
  })

  it("RFC 6749 §4.1.2.1: an unknown client or redirect URI -> an error page and authorization.denied with redirected: false", async () => {
    const h = await harness()
    for (const params of [{ ...base, client_id: "nobody" }, { ...base, redirect_uri: "https://evil.example.com/" }]) {
      const page = await h.gh.handler(new Request(authorizeUrl(params)))
      expect(page.status).toBeGreaterThanOrEqual(400)
      expect(page.headers.get("location")).toBeNull()
    }
    expect(ofType(h, "authorization.denied")).toEqual([
      { type: "authorization.denied", flow: "authorize", clientId: "nobody", error: "invalid_client", redirected: false },
      { type: "authorization.denied", flow: "authorize", clientId: "web", error: "invalid_request", redirected: false }
    ])
  })

  it("a resume step that cannot go on (no binding cookie) -> request.denied authorize.resume", async () => {
    const h = await harness()
    const start = await h.gh.handler(new Request(authorizeUrl({ ...base, scope: "openid" })))
    const id = decodeURIComponent(new URL(start.headers.get("location")!).pathname.split("/").pop()!)
    const { redirectTo } = await h.gh.interactions.complete(id, { accountId: "alice" })
    expect((await h.gh.handler(new Request(redirectTo))).status).toBe(400)
    expect(ofType(h, "request.denied")).toEqual([{ type: "request.denied", endpoint: "authorize.resume", error: "invalid_request" }])
    expect(ofType(h, "authorization.granted")).toEqual([])
  })
})

describe("revocation, introspection, registration, userinfo", () => {
  it("RFC 7009 §2.1: a refresh token -> grant.revoked (revocation) and token.revoked, with client and grant", async () => {
    const h = await harness()
    const { tokens: t } = await obtainTokens(h, CLIENTS.web, { scope: "api:read" })
    const grantId = ofType(h, "token.issued")[0]!.grantId
    const mark = h.events.length
    await revoke(h, CLIENTS.web, t.refresh_token!)
    expect(since(h, mark).map(strip)).toEqual([
      { type: "grant.revoked", grantId, clientId: "web", reason: "revocation" },
      { type: "token.revoked", clientId: "web", tokenType: "refresh_token", grantId }
    ])
    expect(since(h, mark).map(eventLevel)).toEqual(["info", "info"])
  })

  it("RFC 7662: token.introspected says whether the token was active for the caller, never the token", async () => {
    const h = await harness()
    const { tokens: t } = await obtainTokens(h, CLIENTS.web, { scope: "api:read" })
    await introspect(h, CLIENTS.web, t.access_token)
    await introspect(h, CLIENTS.other, t.access_token)
    await introspect(h, CLIENTS.web, "unknown-token")
    expect(ofType(h, "token.introspected")).toEqual([
      { type: "token.introspected", clientId: "web", active: true },
      { type: "token.introspected", clientId: "other", active: false },
      { type: "token.introspected", clientId: "web", active: false }
    ])
  })

  it("RFC 7591 / RFC 7592: client.registered, client.updated, client.deleted", async () => {
    const h = await harness({ registration: { open: true } })
    const info = await registered(h, WEB_METADATA)
    const put = await registerRequest(h, { ...WEB_METADATA, client_id: info.client_id, client_name: "Renamed" }, {
      url: info.registration_client_uri,
      method: "PUT",
      token: info.registration_access_token
    })
    const renewed = await put.json() as { registration_access_token: string }
    await registerRequest(h, undefined, { url: info.registration_client_uri, method: "DELETE", token: renewed.registration_access_token })
    expect(h.events.filter((e) => e.type.startsWith("client.")).map((e) => [e.type, (e as { clientId: string }).clientId])).toEqual([
      ["client.registered", info.client_id],
      ["client.updated", info.client_id],
      ["client.deleted", info.client_id]
    ])
  })

  it("RFC 6750 §3.1 / RFC 7591 §3.2.2: refusals elsewhere are request.denied with the endpoint and the error code", async () => {
    const h = await harness({ registration: { open: true } })
    await userinfo(h, "not-a-token")
    await registerRequest(h, { redirect_uris: "nope" })
    await revoke(h, CLIENTS.web, undefined)
    expect(ofType(h, "request.denied")).toEqual([
      { type: "request.denied", endpoint: "userinfo", error: "invalid_token" },
      { type: "request.denied", endpoint: "register", error: "invalid_redirect_uri" },
      { type: "request.denied", endpoint: "revoke", error: "invalid_request" }
    ])
  })

  it("client_auth.failed alongside the endpoint's own refusal", async () => {
    const h = await harness()
    await tokenRequest(h, { grant_type: "client_credentials" }, { basic: ["svc", "wrong"] })
    expect(h.events.map((e) => e.type)).toEqual(["client_auth.failed", "token.denied"])
  })
})

describe("user codes (RFC 8628 §5.1, RFC 9635 §4.1.2)", () => {
  it("rejected (malformed, unknown) and too_many_attempts, with what is left of the budget; the code itself is never in the event", async () => {
    const h = await harness()
    const submit = (code: string): Promise<UserCodeSubmission> => h.gh.userCodes.submit(code, { attemptKeys: ["browser:x"] })
    await submit("hello")
    for (let i = 0; i < 6; i++) await submit("BCDF-GHJK")
    const events = h.events.filter((e) => e.type.startsWith("user_code."))
    expect(events.map(strip)).toEqual([
      { type: "user_code.rejected", reason: "malformed" },
      { type: "user_code.rejected", reason: "unknown", attemptsLeft: 4 },
      { type: "user_code.rejected", reason: "unknown", attemptsLeft: 3 },
      { type: "user_code.rejected", reason: "unknown", attemptsLeft: 2 },
      { type: "user_code.rejected", reason: "unknown", attemptsLeft: 1 },
      { type: "user_code.rejected", reason: "unknown", attemptsLeft: 0 },
      { type: "user_code.too_many_attempts", retryAfter: expect.any(Number) }
    ])
    expect(JSON.stringify(events)).not.toContain("BCDF")
    expect(events.map(eventLevel).every((l) => l === "warn")).toBe(true)
  })
})

describe("GNAP (RFC 9635)", () => {
  it("§3.2 authorization.granted (flow gnap) and token.issued; §6.1 rotation token.issued (rotation); §6.2 token.revoked; §5.4 grant.revoked", async () => {
    const events: Array<GatehouseEvent> = []
    const h = await makeGnap({ onEvent: (e) => void events.push(e) })
    const { approved } = await approvedGrant(h)
    const token = approved.accessToken()
    const rotated = await h.client.rotateToken(token)
    expect(rotated.status).toBe(200)
    expect((await h.client.revokeToken(rotated.accessToken())).status).toBe(204)
    await h.advance(approved.continue!.wait ?? 5)
    expect((await h.client.revokeGrant(approved.continue!)).status).toBe(204)
    const plain = events.map(strip)
    const granted = plain.find((e) => e.type === "authorization.granted") as Extract<AuditEvent, { type: "authorization.granted" }>
    expect(granted).toMatchObject({ flow: "gnap", accountId: "alice" })
    const { clientId, grantId } = granted
    expect(plain.filter((e) => e.type !== "authorization.granted")).toEqual([
      { type: "token.issued", grantType: "gnap", clientId, accountId: "alice", grantId, scope: expect.any(Array) },
      { type: "token.issued", grantType: "gnap", rotation: true, clientId, accountId: "alice", grantId, scope: expect.any(Array) },
      { type: "token.revoked", clientId, tokenType: "access_token", grantId },
      { type: "grant.revoked", grantId, clientId, reason: "revocation" }
    ])
  })

  it("§3.6 / §5.1: the RO denies -> authorization.denied user_denied; an interact_ref used twice -> grant.revoked (finalized) and request.denied too_many_attempts", async () => {
    const events: Array<GatehouseEvent> = []
    const h = await makeGnap({ onEvent: (e) => void events.push(e) })
    const first = await h.client.request(redirectRequest(clientNonce()))
    await interactThroughRedirect(h, first.interact!["redirect"], { deny: true })
    expect(events.filter((e) => e.type === "authorization.denied").map(strip)).toEqual([
      { type: "authorization.denied", flow: "gnap", clientId: expect.any(String), error: "user_denied" }
    ])
    const { approved, interactRef } = await approvedGrant(h)
    const mark = events.length
    await h.advance(5)
    expect((await h.client.continue(approved.continue!, { interact_ref: interactRef })).error).toBe("too_many_attempts")
    const grantId = (events.find((e) => e.type === "token.issued") as Extract<GatehouseEvent, { type: "token.issued" }>).grantId
    expect(events.slice(mark).map(strip)).toEqual([
      { type: "grant.revoked", grantId, clientId: expect.any(String), reason: "finalized" },
      { type: "request.denied", endpoint: "gnap.continue", error: "too_many_attempts" }
    ])
  })

  it("§3.6: a refused grant request or continuation is request.denied with the GNAP error code", async () => {
    const events: Array<GatehouseEvent> = []
    const h = await makeGnap({ onEvent: (e) => void events.push(e) })
    await h.gh.handler(new Request(`${ISSUER}/gnap`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }))
    await h.gh.handler(new Request(`${ISSUER}/gnap/continue/nope`, { method: "POST", headers: { authorization: "GNAP abc" } }))
    expect(events.map(strip)).toEqual([
      { type: "request.denied", endpoint: "gnap.grant", error: expect.any(String) },
      { type: "request.denied", endpoint: "gnap.continue", error: "invalid_continuation" }
    ])
  })
})

describe("the stamp: timestamp and request id", () => {
  it("X-Request-Id is carried into every event of the request; a malformed one is ignored", async () => {
    const h = await harness()
    await tokenRequest(h, { grant_type: "client_credentials" }, { basic: ["svc", "svc-secret"], headers: { "x-request-id": "req-42" } })
    await tokenRequest(h, { grant_type: "client_credentials" }, { basic: ["svc", "svc-secret"], headers: { "x-request-id": "bad id\"" } })
    expect(h.events.map((e) => e.requestId)).toEqual(["req-42", undefined])
    expect("requestId" in h.events[1]!).toBe(false)
  })
})

describe("the structured-log sink", () => {
  afterEach(() => vi.restoreAllMocks())

  it("toJsonLine: ts (ISO 8601 from the Clock), level, event, then the fields", () => {
    const line = toJsonLine({ type: "refresh_token.reused", clientId: "web", grantId: "g1", timestamp: T0, requestId: "r1" })
    expect(line).not.toContain("\n")
    expect(JSON.parse(line)).toEqual({ ts: "2025-01-01T00:00:00.000Z", level: "warn", event: "refresh_token.reused", clientId: "web", grantId: "g1", requestId: "r1" })
    expect(Object.keys(JSON.parse(line)).slice(0, 3)).toEqual(["ts", "level", "event"])
  })

  it("levels: info for issued/granted/revoked, warn for denied/replay/reuse/auth failures, error for our own failures", () => {
    const at = (e: AuditEvent) => eventLevel(e)
    expect(at({ type: "token.issued", grantType: "client_credentials", clientId: "c", grantId: "g", scope: [] })).toBe("info")
    expect(at({ type: "authorization.granted", flow: "authorize", clientId: "c", accountId: "a", scope: [] })).toBe("info")
    expect(at({ type: "token.revoked", clientId: "c", tokenType: "access_token" })).toBe("info")
    expect(at({ type: "grant.revoked", grantId: "g", reason: "revocation" })).toBe("info")
    expect(at({ type: "grant.revoked", grantId: "g", reason: "code_replay" })).toBe("warn")
    expect(at({ type: "token.denied", error: "invalid_grant" })).toBe("warn")
    expect(at({ type: "authorization.denied", flow: "gnap", error: "user_denied" })).toBe("warn")
    expect(at({ type: "code.replayed", clientId: "c", grantId: "g" })).toBe("warn")
    expect(at({ type: "client_auth.failed", method: "none" })).toBe("warn")
    expect(at({ type: "token.denied", error: "temporarily_unavailable" })).toBe("error")
    expect(at({ type: "request.denied", endpoint: "token", error: "server_error" })).toBe("error")
  })

  it("Events.layerJsonLines(write): one line per event through the writer; onEvent: \"json\" writes to console.log", async () => {
    const lines: Array<string> = []
    const h = await makeHarness()
    await h.gh.run(Effect.provide(Effect.flatMap(Events, (events) => events.emit({ type: "client.registered", clientId: "x" })), Events.layerJsonLines((l) => lines.push(l))))
    expect(lines.map((l) => JSON.parse(l))).toEqual([{ ts: "2025-01-01T00:00:00.000Z", level: "info", event: "client.registered", clientId: "x" }])

    const log = vi.spyOn(console, "log").mockImplementation(() => {})
    const gh = createGatehouse({
      issuer: ISSUER,
      storage: MemoryStorage.layer(freshDatabase()),
      accounts: { claims: () => undefined },
      clients: [CLIENTS.svc],
      scopes: ["api:read"],
      onEvent: "json",
      overrides: TestClock.layer()
    })
    await gh.run(TestClock.setTime(T0))
    const response = await gh.handler(new Request(`${ISSUER}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic("svc", "svc-secret") },
      body: "grant_type=client_credentials&scope=api%3Aread"
    }))
    expect(response.status).toBe(200)
    const logged = log.mock.calls.map((args) => JSON.parse(String(args[0])) as Record<string, unknown>)
    expect(logged).toEqual([{ ts: "2025-01-01T00:00:00.000Z", level: "info", event: "token.issued", grantType: "client_credentials", clientId: "svc", grantId: expect.any(String), scope: ["api:read"] }])
    await gh.dispose()
  })

  it("a sink that throws does not break the protocol", async () => {
    const gh = createGatehouse({
      issuer: ISSUER,
      storage: MemoryStorage.layer(freshDatabase()),
      accounts: { claims: () => undefined },
      clients: [CLIENTS.svc],
      onEvent: () => {
        throw new Error("sink down")
      }
    })
    const response = await gh.handler(new Request(`${ISSUER}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic("svc", "svc-secret") },
      body: "grant_type=client_credentials"
    }))
    expect(response.status).toBe(200)
    await gh.dispose()
  })
})

describe("no secrets in events (issue 6)", () => {
  it("a full flow suite: no token, code, verifier, secret, password, user code, interaction id or GNAP token appears in any event or log line", async () => {
    const h = await harness({ registration: { open: true } })
    const secrets: Array<string> = ["web-secret", "svc-secret", "post-secret", "other-secret", "alice-password"]
    const keep = (...values: Array<string | undefined>) => {
      for (const v of values) if (v !== undefined) secrets.push(v)
    }
    // authorization code + PKCE + ID token, refresh (and reuse), replay, revocation, introspection
    const { auth, tokens: t } = await obtainTokens(h, CLIENTS.web, { scope: "openid api:read offline_access", nonce: "n-0123456789" })
    keep(auth.code, auth.verifier, t.access_token, t.refresh_token, t.id_token)
    await introspect(h, CLIENTS.web, t.access_token)
    await userinfo(h, t.access_token)
    await exchangeCode(h, auth, CLIENTS.web)
    await userinfo(h, t.access_token)
    const second = await obtainTokens(h, CLIENTS.post, { scope: "api:read" })
    keep(second.auth.code, second.auth.verifier, second.tokens.access_token, second.tokens.refresh_token)
    const rotated = await tokens(await refresh(h, CLIENTS.post, second.tokens.refresh_token!))
    keep(rotated.access_token, rotated.refresh_token)
    await refresh(h, CLIENTS.post, second.tokens.refresh_token!)
    await revoke(h, CLIENTS.web, t.refresh_token!)
    // wrong credentials of every kind
    await tokenRequest(h, { grant_type: "client_credentials", client_id: "post", client_secret: "guessed-secret-123" })
    await tokenRequest(h, { grant_type: "password", username: "alice", password: "alice-password" }, { basic: ["web", "web-secret"] })
    keep("guessed-secret-123")
    const cc = await tokens(await tokenRequest(h, { grant_type: "client_credentials", scope: "api:read" }, clientAuth(CLIENTS.svc)))
    keep(cc.access_token)
    // device flow
    const device = await startDevice(h)
    keep(device.device_code, device.user_code, device.user_code.replace("-", ""))
    await h.gh.userCodes.submit("ZZZZ-ZZZZ", { attemptKeys: ["browser:leak"] })
    await userAnswers(h, device.user_code)
    const dt = await tokens(await poll(h, device.device_code))
    keep(dt.access_token, dt.refresh_token, dt.id_token)
    // registration
    const info = await registered(h, WEB_METADATA)
    keep(info.client_secret, info.registration_access_token)
    const put = await registerRequest(h, { ...WEB_METADATA, client_id: info.client_id }, { url: info.registration_client_uri, method: "PUT", token: info.registration_access_token })
    keep(((await put.json()) as { registration_access_token: string }).registration_access_token)
    // the interaction ids the authorization requests used
    for (const record of h.db.interactions.values()) keep(record.id)

    // GNAP: grant, continuation, rotation, revocation
    const gnapEvents: Array<GatehouseEvent> = []
    const g = await makeGnap({ onEvent: (e) => void gnapEvents.push(e) })
    const { first, approved, interactRef } = await approvedGrant(g)
    const gt = approved.accessToken()
    keep(first.continue!.access_token.value, approved.continue!.access_token.value, interactRef, gt.value, gt.manage!.access_token.value)
    const gr = (await g.client.rotateToken(gt)).accessToken()
    keep(gr.value, gr.manage!.access_token.value)
    await g.client.revokeToken(gr)
    await g.advance(approved.continue!.wait ?? 5)
    expect((await g.client.revokeGrant(approved.continue!)).status).toBe(204)

    const all = [...h.events, ...gnapEvents]
    // the suite covers the vocabulary, so a leak in any kind of event would show
    expect([...new Set(all.map((e) => e.type))].sort()).toEqual([
      "authorization.granted", "client.registered", "client.updated", "client_auth.failed", "code.replayed", "grant.revoked",
      "refresh_token.reused", "request.denied", "token.denied", "token.introspected", "token.issued", "token.revoked", "user_code.accepted", "user_code.rejected"
    ])
    const serialized = JSON.stringify(all) + "\n" + all.map(toJsonLine).join("\n")
    expect(secrets.filter((s) => s.length >= 8).length).toBeGreaterThan(30)
    for (const secret of secrets) expect(serialized.includes(secret), `a secret (${secret.slice(0, 6)}...) leaked into an event`).toBe(false)
  })
})
