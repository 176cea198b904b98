/**
 * RFC 9635 §3.2 issued tokens, §6 token management and §7.2 token presentation; RFC 9767
 * §3.1 RS discovery and §3.3 introspection; RFC 9635 §9 discovery. Checklist items 52, 58,
 * 59, 63–75, through real Requests on a TestClock.
 */
import { type ClientKeyPair, generateClientKey, type GnapClient, GnapClient as Client, type GnapResponse } from "@gatehouse/testkit"
import { beforeAll, describe, expect, it } from "vitest"
import { approvedGrant, clientNonce, GRANT, type GnapHarness, ISSUER, makeGnap, redirectRequest } from "./helpers/gnap.js"

const INTROSPECT = `${ISSUER}/gnap/introspect`

const expectError = (r: GnapResponse, code: string) => {
  expect(r.error, JSON.stringify(r.body)).toBe(code)
  expect(r.body["access_token"]).toBeUndefined()
}

let h: GnapHarness
let rsKey: ClientKeyPair
let rs: GnapClient
beforeAll(async () => {
  rsKey = await generateClientKey("ES256", "rs-key")
  h = await makeGnap({ gnap: { resourceServers: [{ key: rsKey.publicJwk as unknown as Record<string, unknown>, name: "photo-rs" }] } })
  rs = await Client.create({ grantEndpoint: GRANT, fetch: h.gh.handler, now: h.now, key: rsKey })
})

/** RFC 9767 §3.3: the RS asks about a token. */
const introspect = async (token: string, extra: Record<string, unknown> = {}, by = rs) => {
  const r = await by.send({ url: INTROSPECT, body: { access_token: token, resource_server: "photo-rs", ...extra } })
  return { status: r.status, headers: r.headers, body: await r.json() as Record<string, any> }
}

describe("F. issued tokens (RFC 9635 §3.2)", () => {
  it("#58 (§3.2.1) token68 values; the manage URI holds no token; the management token differs; continuation and management tokens carry no bearer/key/manage", async () => {
    const { approved } = await approvedGrant(h)
    const token = approved.accessToken()
    expect(token.value).toMatch(/^[A-Za-z0-9\-._~+/]+=*$/)
    expect(token.manage!.uri).not.toContain(token.value)
    expect(token.manage!.access_token.value).not.toBe(token.value)
    expect(Object.keys(token.manage!.access_token)).toEqual(["value"])
    expect(Object.keys(approved.continue!.access_token)).toEqual(["value"])
    expect(token.key).toBeUndefined()
  })

  it("#59 (§2.1.1, §3.2.1) without `bearer` the token is bound to the client key (introspection shows the key); with `bearer` the response and introspection have no key", async () => {
    const bound = (await approvedGrant(h)).approved.accessToken()
    expect(bound.flags).toBeUndefined()
    const boundView = await introspect(bound.value)
    expect(boundView.body["active"]).toBe(true)
    expect(boundView.body["key"]).toEqual({ proof: "httpsig", jwk: h.client.key.publicJwk })
    const bearer = (await approvedGrant(h, redirectRequest("n-bearer", { access_token: { access: ["photos"], flags: ["bearer"] } }))).approved.accessToken()
    expect(bearer.flags).toEqual(["bearer"])
    expect(bearer.key).toBeUndefined()
    const bearerView = await introspect(bearer.value)
    expect(bearerView.body["active"]).toBe(true)
    expect(bearerView.body["key"]).toBeUndefined()
    expect(bearerView.body["flags"]).toEqual(["bearer"])
  })

  it("§7.2: the client presents a bound token as Authorization: GNAP with a signature covering it, a bearer token as Authorization: Bearer (RFC 6750 §2.1)", async () => {
    const seen: Array<Request> = []
    const client = await h.newClient({ fetch: async (request) => (seen.push(request), new Response("ok")) })
    await client.fetchResource("https://rs.example.com/photos", { value: "bound-token", access: [] })
    await client.fetchResource("https://rs.example.com/photos", { value: "bearer-token", access: [], flags: ["bearer"] })
    expect(seen[0]!.headers.get("authorization")).toBe("GNAP bound-token")
    expect(seen[0]!.headers.get("signature-input")).toMatch(/^sig1=\("@method" "@target-uri" "authorization"\);created=\d+;keyid="[^"]+";nonce="[^"]+";tag="gnap"$/)
    expect(seen[1]!.headers.get("authorization")).toBe("Bearer bearer-token")
    expect(seen[1]!.headers.get("signature")).toBeNull()
    // §7.2: never in the query or the body
    expect(new URL(seen[1]!.url).search).toBe("")
  })
})

describe("G. token management (RFC 9635 §6)", () => {
  it("#64 (§6.1) rotate: 200, a new value, the same access, a new management URI; the old value and URI stop working; #65 the rotated token cannot be rotated again (invalid_rotation)", async () => {
    const { approved } = await approvedGrant(h)
    const old = approved.accessToken()
    const rotated = await h.client.rotateToken(old)
    expect(rotated.status).toBe(200)
    const next = rotated.accessToken()
    expect(next.value).not.toBe(old.value)
    expect(next.access).toEqual(old.access)
    expect(next.label).toBe(old.label)
    expect(next.manage!.uri).toMatch(/^https:\/\/as\.example\.com\/gnap\/token\//)
    expect(next.manage!.uri).not.toBe(old.manage!.uri)
    expect((await introspect(old.value)).body).toEqual({ active: false })
    expect((await introspect(next.value)).body["active"]).toBe(true)
    // #65 (§6.1): the rotated (revoked) token cannot be rotated again
    expectError(await h.client.rotateToken(old), "invalid_rotation")
    expect((await h.client.rotateToken(next)).status).toBe(200)
  })

  it("#64 (§6.1) an expired token may still be rotated", async () => {
    const { approved } = await approvedGrant(h)
    await h.advance(3601)
    expect((await introspect(approved.accessToken().value)).body).toEqual({ active: false })
    const rotated = await h.client.rotateToken(approved.accessToken())
    expect(rotated.status).toBe(200)
    expect((await introspect(rotated.accessToken().value)).body["active"]).toBe(true)
  })

  it("#63 (§6) management without the management token, with the access token instead, or proven by another key → rejected", async () => {
    const { approved } = await approvedGrant(h)
    const token = approved.accessToken()
    const raw = await h.client.send({ url: token.manage!.uri })
    expect((await raw.json() as { error: { code: string } }).error.code).toBe("invalid_client")
    expectError(await h.client.rotateToken({ ...token, manage: { ...token.manage!, access_token: { value: token.value } } }), "invalid_client")
    const other = await h.newClient()
    expectError(await other.rotateToken(token), "invalid_client")
    // still intact
    expect((await introspect(token.value)).body["active"]).toBe(true)
  })

  it("#69 (§6.2) DELETE → 204 and the token is dead; DELETE again → 204", async () => {
    const { approved } = await approvedGrant(h)
    const token = approved.accessToken()
    const first = await h.client.revokeToken(token)
    expect(first.status).toBe(204)
    expect((await introspect(token.value)).body).toEqual({ active: false })
    expect((await h.client.revokeToken(token)).status).toBe(204)
    expectError(await h.client.rotateToken(token), "invalid_rotation")
  })

  it("§6: a bearer token is managed with the client instance key", async () => {
    const bearer = (await approvedGrant(h, redirectRequest("n-bm", { access_token: { access: ["photos"], flags: ["bearer"] } }))).approved.accessToken()
    expect((await h.client.rotateToken(bearer)).status).toBe(200)
  })
})

describe("I. introspection for resource servers (RFC 9767 §3.3)", () => {
  it("#72 (RFC 9767 §3.2) an unknown RS, or an unsigned call → invalid_resource_server (400)", async () => {
    const stranger = await h.newClient()
    const unknown = await stranger.send({ url: INTROSPECT, body: { access_token: "x", resource_server: { key: stranger.keyObject() } } })
    expect(unknown.status).toBe(400)
    expect((await unknown.json() as { error: { code: string } }).error.code).toBe("invalid_resource_server")
    const unsigned = await rs.send({ url: INTROSPECT, body: { access_token: "x", resource_server: "photo-rs" }, tamper: { noSignature: true } })
    expect(unsigned.status).toBe(400)
    expect((await unsigned.json() as { error: { code: string } }).error.code).toBe("invalid_resource_server")
    // the RS may also name itself by key
    const byKey = await rs.send({ url: INTROSPECT, body: { access_token: "x", resource_server: { key: rs.keyObject() } } })
    expect(await byKey.json()).toEqual({ active: false })
  })

  it("#73 (§3.3) unknown, revoked or expired tokens, a proof mismatch, or access not covered → {active: false} and nothing else", async () => {
    const { approved } = await approvedGrant(h)
    const token = approved.accessToken()
    expect((await introspect("unknown")).body).toEqual({ active: false })
    expect((await introspect(token.value, { proof: "jwsd" })).body).toEqual({ active: false })
    expect((await introspect(token.value, { access: ["contacts"] })).body).toEqual({ active: false })
    expect((await introspect(token.value, { access: [{ type: "photo-api", actions: ["write"] }] })).body).toEqual({ active: false })
    expect((await introspect(token.value, { proof: "httpsig", access: ["photos"] })).body["active"]).toBe(true)
  })

  it("#74 (§3.3) an active answer: active, access, key, iss = grant endpoint, instance_id, exp, iat — never the token value; Cache-Control no-store", async () => {
    const { first, approved } = await approvedGrant(h)
    const token = approved.accessToken()
    const view = await introspect(token.value)
    expect(view.headers.get("cache-control")).toBe("no-store")
    expect(view.body).toEqual({
      active: true,
      access: token.access,
      key: { proof: "httpsig", jwk: h.client.key.publicJwk },
      exp: Math.floor((await h.now()) / 1000) + 3600,
      iat: Math.floor((await h.now()) / 1000),
      iss: GRANT,
      instance_id: first.body["instance_id"],
      sub: "alice"
    })
    expect(JSON.stringify(view.body)).not.toContain(token.value)
  })

  it("#75 (§2.1.14), #52 continuation and management tokens introspect as inactive", async () => {
    const { approved } = await approvedGrant(h)
    expect((await introspect(approved.continue!.access_token.value)).body).toEqual({ active: false })
    expect((await introspect(approved.accessToken().manage!.access_token.value)).body).toEqual({ active: false })
  })
})

describe("H. discovery (RFC 9635 §9, RFC 9767 §3.1)", () => {
  it("#70 (§9) OPTIONS on the grant endpoint: grant_request_endpoint = the URL used, and the supported values", async () => {
    const response = await h.gh.handler(new Request(GRANT, { method: "OPTIONS" }))
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("application/json")
    expect(await response.json()).toEqual({
      grant_request_endpoint: GRANT,
      interaction_start_modes_supported: ["redirect", "app", "user_code", "user_code_uri"],
      interaction_finish_methods_supported: ["redirect", "push"],
      key_proofs_supported: ["httpsig", "jwsd", "jws"],
      sub_id_formats_supported: ["opaque", "iss_sub", "email"],
      assertion_formats_supported: ["id_token"],
      key_rotation_supported: true
    })
  })

  it("#71 (RFC 9767 §3.1) /.well-known/gnap-as-rs at the origin root: grant_request_endpoint, introspection_endpoint, key_proofs_supported", async () => {
    const based = await makeGnap({ basePath: "/oauth" })
    const response = await based.gh.handler(new Request(`${ISSUER}/.well-known/gnap-as-rs`))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      grant_request_endpoint: `${ISSUER}/oauth/gnap`,
      introspection_endpoint: `${ISSUER}/oauth/gnap/introspect`,
      resource_registration_endpoint: `${ISSUER}/oauth/gnap/resource`,
      key_proofs_supported: ["httpsig", "jwsd", "jws"]
    })
  })

  it("gnap.enabled false: no GNAP endpoints", async () => {
    const off = await makeGnap({ gnap: { enabled: false } })
    expect((await off.gh.handler(new Request(GRANT, { method: "POST" }))).status).toBe(404)
    expect(off.gh.handles("/gnap")).toBe(false)
  })
})

describe("§7.3.3/§7.3.4 JWS proofs through the whole flow", () => {
  for (const proof of ["jwsd", "jws"] as const) {
    it(`${proof}: grant request, continuation with interact_ref and token rotation (ath covers the token)`, async () => {
      const client = await h.newClient({ proof })
      const { approved } = await approvedGrant(h, redirectRequest(clientNonce()), client)
      expect((await client.rotateToken(approved.accessToken())).status).toBe(200)
      // a proof by another key is refused here too
      const other = await h.newClient({ proof })
      expectError(await other.rotateToken(approved.accessToken()), "invalid_client")
    })
  }
})
