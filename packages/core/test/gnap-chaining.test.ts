/**
 * RFC 9767 §4 token chaining: a resource server derives a downstream token at the grant
 * endpoint, presenting the client's token in `existing_access_token`, identified by and
 * signing with its own key. Checklist item 77 (a token not issued for this RS is refused),
 * the derived token itself (bound to the RS key, a subset of the rights, no longer-lived
 * than its parent, introspectable by the downstream RS, chainable again), and the refusals
 * around it. Real Requests on a TestClock.
 */
import { type AccessTokenInfo, type ClientKeyPair, generateClientKey, GnapClient, type GnapResponse, GnapResponse as GnapResponseClass } from "@gatehouse/testkit"
import { beforeAll, describe, expect, it } from "vitest"
import { approvedGrant, clientNonce, GRANT, type GnapHarness, ISSUER, makeGnap, redirectRequest } from "./helpers/gnap.js"

const INTROSPECT = `${ISSUER}/gnap/introspect`
const REGISTER = `${ISSUER}/gnap/resource`

const PHOTO_READ = { type: "photo-api", actions: ["read"] }
const STORAGE_READ = { type: "storage", actions: ["read"] }

let h: GnapHarness
let photoKey: ClientKeyPair
let storageKey: ClientKeyPair
let openKey: ClientKeyPair
/** RS1: protects photo-api, calls the storage RS */
let photoRs: GnapClient
/** RS2: protects storage */
let storageRs: GnapClient
/** an RS without configured access: its registrations say what it protects */
let openRs: GnapClient

const jwk = (k: ClientKeyPair) => k.publicJwk as unknown as Record<string, unknown>
const rsClient = async (key: ClientKeyPair) => GnapClient.create({ grantEndpoint: GRANT, fetch: h.gh.handler, now: h.now, key })

beforeAll(async () => {
  photoKey = await generateClientKey("ES256", "photo-rs-key")
  storageKey = await generateClientKey("ES256", "storage-rs-key")
  openKey = await generateClientKey("ES256", "open-rs-key")
  h = await makeGnap({
    gnap: {
      resourceServers: [
        { key: jwk(photoKey), name: "photo-rs", access: ["photo-api"] },
        { key: jwk(storageKey), name: "storage-rs", access: ["storage"] },
        { key: jwk(openKey), name: "open-rs" }
      ]
    }
  })
  photoRs = await rsClient(photoKey)
  storageRs = await rsClient(storageKey)
  openRs = await rsClient(openKey)
})

/** A client's approved token for `access` (alice approves). */
const clientToken = async (access: ReadonlyArray<unknown>, label = "tok"): Promise<AccessTokenInfo> =>
  (await approvedGrant(h, redirectRequest(clientNonce(), { access_token: { access, label } }))).approved.accessToken(label)

/** RFC 9767 §4: `rs` asks for a derived token, naming itself by name (or by key). */
const derive = (rs: GnapClient, existing: string, access: ReadonlyArray<unknown>, extra: Record<string, unknown> = {}, client: unknown = undefined) =>
  rs.request({ client: client ?? { key: rs.keyObject() }, existing_access_token: existing, access_token: { access }, ...extra })

const introspect = async (rs: GnapClient, name: string, token: string) => {
  const r = await rs.send({ url: INTROSPECT, body: { access_token: token, resource_server: name } })
  return await r.json() as Record<string, any>
}

const expectRefused = (r: GnapResponse, code: string, status: number) => {
  expect(r.error, JSON.stringify(r.body)).toBe(code)
  expect(r.status).toBe(status)
  expect(r.body["access_token"]).toBeUndefined()
}

describe("item 77 (RFC 9767 §4): existing_access_token not issued for this RS → rejected", () => {
  it("#77 item 77 (§4) a token whose rights belong to another RS only → 400 invalid_request, and no token is issued", async () => {
    const storageOnly = await clientToken([STORAGE_READ])
    const r = await derive(photoRs, storageOnly.value, [STORAGE_READ])
    expectRefused(r, "invalid_request", 400)
    expect(r.body["error"]["description"]).toContain("not an active access token issued for this resource server")
    // the same token is appropriate at the storage RS
    expect((await derive(storageRs, storageOnly.value, [STORAGE_READ])).status).toBe(200)
  })

  it("#77 item 77 (§4) a token for rights no RS protects → refused; named by key or by name alike", async () => {
    const nobodys = await clientToken(["dolphin-metadata"])
    expectRefused(await derive(photoRs, nobodys.value, ["dolphin-metadata"]), "invalid_request", 400)
    expectRefused(await derive(photoRs, nobodys.value, ["dolphin-metadata"], {}, "photo-rs"), "invalid_request", 400)
  })

  it("#77 item 77 (§4) unknown, revoked and expired tokens get the same refusal as a token for another RS (no oracle)", async () => {
    const forOther = await derive(photoRs, (await clientToken([STORAGE_READ])).value, [STORAGE_READ])
    const unknown = await derive(photoRs, "no-such-token", [PHOTO_READ])
    const revokedToken = await clientToken([PHOTO_READ])
    await h.client.revokeToken(revokedToken)
    const revoked = await derive(photoRs, revokedToken.value, [PHOTO_READ])
    const expiring = await clientToken([PHOTO_READ])
    await h.advance(3601)
    const expired = await derive(photoRs, expiring.value, [PHOTO_READ])
    for (const r of [unknown, revoked, expired]) {
      expectRefused(r, "invalid_request", 400)
      expect(r.body["error"]).toEqual(forOther.body["error"])
    }
  })

  it("#77 item 77 (§3.4, §4) an RS without configured access: a token is for it once it registered those rights", async () => {
    const albums = await clientToken([{ type: "albums", actions: ["read"] }])
    expectRefused(await derive(openRs, albums.value, [{ type: "albums", actions: ["read"] }]), "invalid_request", 400)
    const reg = await openRs.send({ url: REGISTER, body: { access: [{ type: "albums", actions: ["read"] }], resource_server: "open-rs" } })
    expect(reg.status).toBe(200)
    expect((await derive(openRs, albums.value, [{ type: "albums", actions: ["read"] }])).status).toBe(200)
  })

  it("§4 only a configured resource server may present existing_access_token: a client → 400 invalid_request", async () => {
    const token = await clientToken([PHOTO_READ, STORAGE_READ])
    expectRefused(await derive(h.client, token.value, [STORAGE_READ]), "invalid_request", 400)
  })

  it("§4 the RS must sign with its own key: named photo-rs but signed by another key → invalid_client (401)", async () => {
    const token = await clientToken([PHOTO_READ, STORAGE_READ])
    const impostor = await h.newClient()
    expectRefused(await derive(impostor, token.value, [STORAGE_READ], {}, "photo-rs"), "invalid_client", 401)
    expectRefused(await derive(impostor, token.value, [STORAGE_READ], {}, { key: photoRs.keyObject() }), "invalid_client", 401)
  })
})

describe("RFC 9767 §4: the derived token", () => {
  it("§4 RS1 derives a token for RS2: bound to RS1's key, the rights asked for, the same resource owner; RS2 introspects it as active", async () => {
    const token = await clientToken([PHOTO_READ, STORAGE_READ])
    const r = await derive(photoRs, token.value, [STORAGE_READ], {}, "photo-rs")
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.continue).toBeUndefined()
    expect(r.body["instance_id"]).toBe("photo-rs")
    const derived = r.accessToken()
    expect(derived.value).not.toBe(token.value)
    expect(derived.access).toEqual([STORAGE_READ])
    expect(derived.flags).toBeUndefined()
    const view = await introspect(storageRs, "storage-rs", derived.value)
    expect(view["active"]).toBe(true)
    expect(view["access"]).toEqual([STORAGE_READ])
    expect(view["key"]).toEqual({ proof: "httpsig", jwk: photoKey.publicJwk })
    expect(view["sub"]).toBe("alice")
    expect(view["instance_id"]).toBe("photo-rs")
    // the client's own token is untouched
    expect((await introspect(storageRs, "storage-rs", token.value))["active"]).toBe(true)
  })

  it("§4 a derived token expires no later than the token it came from", async () => {
    const token = await clientToken([PHOTO_READ, STORAGE_READ])
    await h.advance(1800)
    const derived = (await derive(photoRs, token.value, [STORAGE_READ])).accessToken()
    expect(derived.expires_in).toBeLessThanOrEqual(token.expires_in! - 1800)
    await h.advance(token.expires_in! - 1800)
    expect(await introspect(storageRs, "storage-rs", derived.value)).toEqual({ active: false })
  })

  it("§4 rights the existing token does not carry → 403 request_denied; interact, subject or user in the request → invalid_request", async () => {
    const token = await clientToken([PHOTO_READ, STORAGE_READ])
    expectRefused(await derive(photoRs, token.value, [{ type: "storage", actions: ["write"] }]), "request_denied", 403)
    expectRefused(await derive(photoRs, token.value, [STORAGE_READ, "contacts"]), "request_denied", 403)
    expectRefused(await derive(photoRs, token.value, [STORAGE_READ], { interact: { start: ["redirect"] } }), "invalid_request", 400)
    expectRefused(await derive(photoRs, token.value, [STORAGE_READ], { subject: { sub_id_formats: ["opaque"] } }), "invalid_request", 400)
    // malformed: never a 500
    for (const existing of ["", 5, null, {}, ["x"]]) {
      expectRefused(await photoRs.request({ client: "photo-rs", existing_access_token: existing, access_token: { access: [STORAGE_READ] } }), "invalid_request", 400)
    }
    expectRefused(await photoRs.send({ url: GRANT, body: { existing_access_token: token.value, access_token: { access: [STORAGE_READ] } } }).then(async (r) => new GnapResponseClass(r, await r.json() as Record<string, any>)), "invalid_request", 400)
    expectRefused(await photoRs.request({ client: "photo-rs", existing_access_token: token.value }), "invalid_request", 400)
    expectRefused(await photoRs.request({ client: "photo-rs", existing_access_token: token.value, access_token: { access: "storage" } }), "invalid_request", 400)
  })

  it("§4 several labelled derived tokens (RFC 9635 §2.1.2), a bearer one, and a registered reference (§3.4) in the request", async () => {
    const token = await clientToken([PHOTO_READ, STORAGE_READ])
    const ref = (await (await storageRs.send({ url: REGISTER, body: { access: [STORAGE_READ], resource_server: "storage-rs" } })).json() as any).resource_reference as string
    const r = await photoRs.request({
      client: "photo-rs",
      existing_access_token: token.value,
      access_token: [{ access: [ref], label: "storage" }, { access: [PHOTO_READ], label: "photos", flags: ["bearer"] }]
    })
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.accessToken("storage").access).toEqual([STORAGE_READ])
    expect(r.accessToken("photos").flags).toEqual(["bearer"])
    expect((await introspect(photoRs, "photo-rs", r.accessToken("photos").value))["key"]).toBeUndefined()
  })

  it("§4 RS2 may chain the derived token again (\"repeat this process as necessary\"); RS1 manages (revokes) its derived token with its key", async () => {
    const token = await clientToken([PHOTO_READ, STORAGE_READ])
    const derived = (await derive(photoRs, token.value, [STORAGE_READ])).accessToken()
    const again = await derive(storageRs, derived.value, [STORAGE_READ])
    expect(again.status, JSON.stringify(again.body)).toBe(200)
    expect((await introspect(storageRs, "storage-rs", again.accessToken().value))["key"]).toEqual({ proof: "httpsig", jwk: storageKey.publicJwk })
    // RFC 9635 §6.2 by the token's key
    expect((await photoRs.revokeToken(derived)).status).toBe(204)
    expect(await introspect(storageRs, "storage-rs", derived.value)).toEqual({ active: false })
    expectRefused(await derive(storageRs, derived.value, [STORAGE_READ]), "invalid_request", 400)
  })
})
