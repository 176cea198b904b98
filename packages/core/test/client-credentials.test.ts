/** The client credentials grant (RFC 6749 §4.4). */
import * as jose from "jose"
import { describe, expect, it } from "vitest"
import type { StaticClient } from "../src/config.js"
import {
  accessTokenRecord,
  API,
  CLIENTS,
  ISSUER,
  makeHarness,
  oauthError,
  REPORTS,
  tokenRequest,
  tokens
} from "./helpers/token-helpers.js"

const svc = ["svc", "svc-secret"] as const
const CC = { grant_type: "client_credentials" } as const

/** A public client that (wrongly) registered client_credentials. */
const PUBLIC_CC: StaticClient = {
  client_id: "public-cc",
  token_endpoint_auth_method: "none",
  redirect_uris: [],
  grant_types: ["client_credentials"]
}

/** A confidential client with no registered scope restriction, opaque tokens. */
const OPAQUE: StaticClient = {
  client_id: "opaque",
  client_secret: "opaque-secret",
  token_endpoint_auth_method: "client_secret_basic",
  redirect_uris: [],
  grant_types: ["client_credentials"],
  access_token_format: "opaque"
}

const harness = () => makeHarness({ clients: [...Object.values(CLIENTS), PUBLIC_CC, OPAQUE] })

describe("client credentials grant", () => {
  it("RFC 6749 §4.4.3: a confidential client gets an access token for itself and no refresh token", async () => {
    const h = await harness()
    const body = await tokens(await tokenRequest(h, { ...CC, scope: "api:read" }, { basic: svc }))
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "api:read" })
    expect(body.refresh_token).toBeUndefined()
    expect(body.id_token).toBeUndefined()
    // RFC 9068 §2.2: no end-user, so sub is the client
    const at = jose.decodeJwt(body.access_token)
    expect(at).toMatchObject({ iss: ISSUER, sub: "svc", client_id: "svc", aud: ISSUER, scope: "api:read" })
    const record = await accessTokenRecord(h, body.access_token)
    expect(record?.accountId).toBeUndefined()
    expect(record?.clientId).toBe("svc")
  })

  it("RFC 6749 §4.4: a public client -> unauthorized_client", async () => {
    const h = await harness()
    const e = await oauthError(await tokenRequest(h, { ...CC, client_id: "public-cc" }))
    expect(e.status).toBe(400)
    expect(e.error).toBe("unauthorized_client")
    expect(e.description).toBe("the client_credentials grant is for confidential clients only")
  })

  it("RFC 6749 §3.3: a scope outside the client's registered scope -> invalid_scope", async () => {
    const h = await harness()
    const e = await oauthError(await tokenRequest(h, { ...CC, scope: "api:read admin" }, { basic: svc }))
    expect(e.error).toBe("invalid_scope")
    expect(e.description).toBe(`scope "admin" is not available to this client`)
  })

  it("RFC 6749 §3.3: a scope this server does not offer -> invalid_scope", async () => {
    const h = await harness()
    const e = await oauthError(await tokenRequest(h, { ...CC, scope: "launch:missiles" }, { basic: ["opaque", "opaque-secret"] }))
    expect(e.error).toBe("invalid_scope")
  })

  it("OIDC Core §5.4, §11: end-user scopes (openid, offline_access, profile, ...) -> invalid_scope", async () => {
    const h = await harness()
    for (const scope of ["openid", "offline_access", "profile", "email", "address", "phone"]) {
      const e = await oauthError(await tokenRequest(h, { ...CC, scope }, { basic: ["opaque", "opaque-secret"] }))
      expect(e.error, scope).toBe("invalid_scope")
      expect(e.description, scope).toContain("end-user")
    }
  })

  it("RFC 6749 §3.3: no scope requested -> a token without scope", async () => {
    const h = await harness()
    const body = await tokens(await tokenRequest(h, CC, { basic: svc }))
    expect(body.scope).toBeUndefined()
    expect(jose.decodeJwt(body.access_token).scope).toBeUndefined()
  })

  it("RFC 8707 §2: resource selects the audience", async () => {
    const h = await harness()
    const body = await tokens(await tokenRequest(h, { ...CC, resource: API }, { basic: svc }))
    expect(jose.decodeJwt(body.access_token).aud).toBe(API)
    const both = await tokens(await tokenRequest(h, { ...CC, resource: [API, REPORTS] }, { basic: svc }))
    expect((await accessTokenRecord(h, both.access_token))?.audience).toEqual([API, REPORTS])
  })

  it("RFC 8707 §2: an unknown or malformed resource -> invalid_target", async () => {
    const h = await harness()
    for (const resource of ["https://unknown.example.com", "not a uri", `${API}#fragment`]) {
      const e = await oauthError(await tokenRequest(h, { ...CC, resource }, { basic: svc }))
      expect(e.error, resource).toBe("invalid_target")
    }
  })

  it("RFC 7009 §2.1: every issuance is its own grant (revoking one touches no other)", async () => {
    const h = await harness()
    const a = await tokens(await tokenRequest(h, CC, { basic: svc }))
    const b = await tokens(await tokenRequest(h, CC, { basic: svc }))
    const ra = await accessTokenRecord(h, a.access_token)
    const rb = await accessTokenRecord(h, b.access_token)
    expect(ra?.grantId).toBeTypeOf("string")
    expect(ra?.grantId).not.toBe(rb?.grantId)
    expect(h.events.filter((e) => e.type === "token.issued")).toMatchObject([
      { type: "token.issued", grantType: "client_credentials", clientId: "svc", grantId: ra?.grantId, scope: [] },
      { type: "token.issued", grantType: "client_credentials", clientId: "svc", grantId: rb?.grantId, scope: [] }
    ])
  })

  it("RFC 6749 §4.4.2: the client must authenticate (wrong secret -> invalid_client)", async () => {
    const h = await harness()
    const e = await oauthError(await tokenRequest(h, CC, { basic: ["svc", "wrong"] }))
    expect(e.status).toBe(401)
    expect(e.error).toBe("invalid_client")
  })

  it("RFC 6749 §5.2: a client not registered for client_credentials -> unauthorized_client", async () => {
    const h = await harness()
    const e = await oauthError(await tokenRequest(h, CC, { basic: ["coder", "coder-secret"] }))
    expect(e.error).toBe("unauthorized_client")
  })

  it("RFC 6749 §4.4.3: an opaque access token is stored by digest and the response carries no refresh token", async () => {
    const h = await harness()
    const body = await tokens(await tokenRequest(h, { ...CC, scope: "admin" }, { basic: ["opaque", "opaque-secret"] }))
    expect(body.access_token.split(".")).toHaveLength(1)
    expect(body.refresh_token).toBeUndefined()
    const record = await accessTokenRecord(h, body.access_token)
    expect(record).toMatchObject({ format: "opaque", clientId: "opaque", scope: ["admin"] })
  })
})
