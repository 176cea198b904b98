/**
 * Token revocation (RFC 7009), through real Requests with tokens from the real token
 * endpoint; the effect is observed through introspection, refresh and userinfo.
 */
import { describe, expect, it } from "vitest"
import { introspect, introspection, postForm, REVOKE, revoke } from "./helpers/endpoint-helpers.js"
import {
  accessTokenRecord,
  CLIENTS,
  makeHarness,
  oauthError,
  obtainTokens,
  refresh,
  tokens
} from "./helpers/token-helpers.js"

const withTokens = async (scope = "openid profile offline_access", o: Parameters<typeof makeHarness>[0] = {}) => {
  const h = await makeHarness(o)
  const { tokens: t } = await obtainTokens(h, CLIENTS.web, { scope })
  return { h, t }
}

const active = async (h: Awaited<ReturnType<typeof makeHarness>>, token: string) =>
  (await introspection(await introspect(h, CLIENTS.web, token)))["active"]

const expectOk = async (response: Response) => {
  expect(response.status).toBe(200)
  expect(response.headers.get("cache-control")).toBe("no-store")
  expect(await response.text()).toBe("")
}

describe("revocation of refresh tokens (RFC 7009 §2.1)", () => {
  it("RFC 7009 §2.1: a refresh token -> 200; it and the grant's access token are revoked", async () => {
    const { h, t } = await withTokens()
    await expectOk(await revoke(h, CLIENTS.web, t.refresh_token!, { token_type_hint: "refresh_token" }))
    expect(await active(h, t.refresh_token!)).toBe(false)
    expect(await active(h, t.access_token)).toBe(false)
    const error = await oauthError(await refresh(h, CLIENTS.web, t.refresh_token!))
    expect(error.error).toBe("invalid_grant")
  })

  it("RFC 7009 §2.1: events token.revoked and grant.revoked (reason revocation)", async () => {
    const { h, t } = await withTokens()
    await revoke(h, CLIENTS.web, t.refresh_token!)
    expect(h.events).toContainEqual(expect.objectContaining({ type: "token.revoked", clientId: "web", tokenType: "refresh_token" }))
    expect(h.events.some((e) => e.type === "grant.revoked" && e.reason === "revocation")).toBe(true)
  })

  it("RFC 7009 §2.1: revoking a rotated refresh token ends the whole family, successor included", async () => {
    const { h, t } = await withTokens()
    const next = await tokens(await refresh(h, CLIENTS.web, t.refresh_token!))
    await expectOk(await revoke(h, CLIENTS.web, t.refresh_token!))
    expect(await active(h, next.refresh_token!)).toBe(false)
    expect(await active(h, next.access_token)).toBe(false)
  })

  it("RFC 7009 §2.1: another grant of the same client is untouched", async () => {
    const h = await makeHarness()
    const first = (await obtainTokens(h, CLIENTS.web, { scope: "openid offline_access" })).tokens
    const second = (await obtainTokens(h, CLIENTS.web, { scope: "openid offline_access" })).tokens
    await expectOk(await revoke(h, CLIENTS.web, first.refresh_token!))
    expect(await active(h, second.refresh_token!)).toBe(true)
    expect(await active(h, second.access_token)).toBe(true)
  })

  it("RFC 7009 §2.1: a hint of the wrong type still finds the refresh token", async () => {
    const { h, t } = await withTokens()
    await expectOk(await revoke(h, CLIENTS.web, t.refresh_token!, { token_type_hint: "access_token" }))
    expect(await active(h, t.refresh_token!)).toBe(false)
  })

  it("RFC 7009 §2.1: an unknown hint is ignored (not unsupported_token_type)", async () => {
    const { h, t } = await withTokens()
    await expectOk(await revoke(h, CLIENTS.web, t.refresh_token!, { token_type_hint: "id_token" }))
    expect(await active(h, t.refresh_token!)).toBe(false)
  })
})

describe("revocation of access tokens (RFC 7009 §2.1)", () => {
  it("RFC 7009 §2.1: a JWT access token -> revoked alone; the refresh token still works", async () => {
    const { h, t } = await withTokens()
    await expectOk(await revoke(h, CLIENTS.web, t.access_token, { token_type_hint: "access_token" }))
    expect(await active(h, t.access_token)).toBe(false)
    expect((await accessTokenRecord(h, t.access_token))?.revokedAt).toBeDefined()
    expect(await active(h, t.refresh_token!)).toBe(true)
    expect((await refresh(h, CLIENTS.web, t.refresh_token!)).status).toBe(200)
    expect(h.events).toContainEqual(expect.objectContaining({ type: "token.revoked", clientId: "web", tokenType: "access_token" }))
  })

  it("RFC 7009 §2.1: an opaque access token -> revoked", async () => {
    const { h, t } = await withTokens("openid", { options: { accessToken: { format: "opaque" } } })
    await expectOk(await revoke(h, CLIENTS.web, t.access_token))
    expect(await active(h, t.access_token)).toBe(false)
  })

  it("RFC 7009 §2.1: a public client revokes its own token with its client_id", async () => {
    const h = await makeHarness()
    const { tokens: t } = await obtainTokens(h, CLIENTS.spa, { scope: "openid offline_access" })
    await expectOk(await revoke(h, CLIENTS.spa, t.refresh_token!))
    expect((await oauthError(await refresh(h, CLIENTS.spa, t.refresh_token!))).error).toBe("invalid_grant")
  })

  it("RFC 7009 §2.2: revoking twice -> 200 both times, one event", async () => {
    const { h, t } = await withTokens()
    await expectOk(await revoke(h, CLIENTS.web, t.access_token))
    await expectOk(await revoke(h, CLIENTS.web, t.access_token))
    expect(h.events.filter((e) => e.type === "token.revoked")).toHaveLength(1)
  })
})

describe("revocation: tokens that are not the caller's to revoke", () => {
  it("RFC 7009 §2.2: an unknown token -> 200, nothing happens", async () => {
    const { h } = await withTokens()
    await expectOk(await revoke(h, CLIENTS.web, "bm8tc3VjaC10b2tlbg"))
    expect(h.events.filter((e) => e.type === "token.revoked")).toHaveLength(0)
  })

  it("RFC 7009 §2.1: another client's refresh token -> 200 and it stays active (nothing revealed)", async () => {
    const { h, t } = await withTokens()
    await expectOk(await revoke(h, CLIENTS.other, t.refresh_token!))
    expect(await active(h, t.refresh_token!)).toBe(true)
    expect(await active(h, t.access_token)).toBe(true)
  })

  it("RFC 7009 §2.1: another client's access token -> 200 and it stays active", async () => {
    const { h, t } = await withTokens()
    await expectOk(await revoke(h, CLIENTS.other, t.access_token))
    expect(await active(h, t.access_token)).toBe(true)
    expect(h.events.filter((e) => e.type === "token.revoked")).toHaveLength(0)
  })
})

describe("revocation: bad requests", () => {
  it("RFC 7009 §2.1: no client authentication -> 401 invalid_client, token untouched", async () => {
    const { h, t } = await withTokens()
    const response = await postForm(h, REVOKE, { token: t.refresh_token })
    expect(response.status).toBe(401)
    expect((await oauthError(response)).error).toBe("invalid_client")
    expect(await active(h, t.refresh_token!)).toBe(true)
  })

  it("RFC 6749 §5.2: a wrong secret over Basic -> 401 invalid_client with a Basic challenge", async () => {
    const { h, t } = await withTokens()
    const response = await postForm(h, REVOKE, { token: t.refresh_token }, { basic: ["web", "nope"] })
    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toMatch(/^Basic /)
    expect(await active(h, t.refresh_token!)).toBe(true)
  })

  it("RFC 7009 §2.1: token is REQUIRED -> 400 invalid_request", async () => {
    const { h } = await withTokens()
    const response = await revoke(h, CLIENTS.web, undefined)
    expect(response.status).toBe(400)
    expect((await oauthError(response)).error).toBe("invalid_request")
  })

  it("RFC 6749 §3.2: token twice -> 400 invalid_request, nothing revoked", async () => {
    const { h, t } = await withTokens()
    const response = await revoke(h, CLIENTS.web, undefined, { token: [t.refresh_token!, t.access_token] })
    expect(response.status).toBe(400)
    expect((await oauthError(response)).error).toBe("invalid_request")
    expect(await active(h, t.refresh_token!)).toBe(true)
  })

  it("RFC 7009 §2.1: a JSON body -> 400 invalid_request", async () => {
    const { h, t } = await withTokens()
    const response = await h.gh.handler(new Request(REVOKE, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Basic ${btoa("web:web-secret")}` },
      body: JSON.stringify({ token: t.refresh_token })
    }))
    expect(response.status).toBe(400)
    expect((await oauthError(response)).error).toBe("invalid_request")
  })

  it("RFC 7009 §2.1: POST only -> GET gets 405", async () => {
    const { h } = await withTokens()
    const response = await h.gh.handler(new Request(REVOKE))
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("POST")
  })
})
