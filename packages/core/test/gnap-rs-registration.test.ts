/**
 * RFC 9767 §3.4 resource set registration: checklist item 76 (unsupported token formats,
 * introspection the AS does not offer, access the RS may not register), #72 for the
 * registration endpoint, the happy path, §3.1 discovery, and the `resource_reference`
 * working as a client's string access right (RFC 9635 §8.1) end to end — grant request,
 * consent, issued token, introspection, and a grant update (§5.3). Real Requests, TestClock.
 */
import { type ClientKeyPair, generateClientKey, GnapClient, type GnapResponse } from "@gatehouse/testkit"
import { beforeAll, describe, expect, it } from "vitest"
import { approvedGrant, Browser, clientNonce, finishParams, GRANT, type GnapHarness, ISSUER, makeGnap, redirectRequest } from "./helpers/gnap.js"

const REGISTER = `${ISSUER}/gnap/resource`
const INTROSPECT = `${ISSUER}/gnap/introspect`

const PHOTO_READ = { type: "photo-api", actions: ["read"], locations: ["https://rs.example.com/photos"] }

let h: GnapHarness
let photoKey: ClientKeyPair
let openKey: ClientKeyPair
let quietKey: ClientKeyPair
let photoRs: GnapClient
let openRs: GnapClient
let quietRs: GnapClient
let strangerRs: GnapClient

const rsClient = async (key: ClientKeyPair, harness = h) => GnapClient.create({ grantEndpoint: GRANT, fetch: harness.gh.handler, now: harness.now, key })
const jwk = (k: ClientKeyPair) => k.publicJwk as unknown as Record<string, unknown>

beforeAll(async () => {
  photoKey = await generateClientKey("ES256", "photo-rs-key")
  openKey = await generateClientKey("ES256", "open-rs-key")
  quietKey = await generateClientKey("ES256", "quiet-rs-key")
  h = await makeGnap({
    gnap: {
      resourceServers: [
        // may register (and protect) photo-api rights and the "photos" reference only
        { key: jwk(photoKey), name: "photo-rs", access: ["photo-api", "photos"] },
        // may register anything; known by its key only
        { key: jwk(openKey) },
        // not offered introspection
        { key: jwk(quietKey), name: "quiet-rs", introspection: false }
      ]
    }
  })
  photoRs = await rsClient(photoKey)
  openRs = await rsClient(openKey)
  quietRs = await rsClient(quietKey)
  strangerRs = await h.newClient()
})

/** RFC 9767 §3.4: the RS registers, signed with its key. */
const register = async (by: GnapClient, body: Record<string, unknown>, o: { readonly unsigned?: boolean } = {}) => {
  const r = await by.send({ url: REGISTER, body, ...(o.unsigned ? { tamper: { noSignature: true } } : {}) })
  return { status: r.status, headers: r.headers, body: await r.json() as Record<string, any> }
}

/** RFC 9767 §3.5: HTTP 400 and `{"error": {"code", "description"}}`, no reference. */
const expectRsError = (r: Awaited<ReturnType<typeof register>>, code: string) => {
  expect(r.status, JSON.stringify(r.body)).toBe(400)
  expect(r.body["error"]["code"]).toBe(code)
  expect(typeof r.body["error"]["description"]).toBe("string")
  expect(r.body["resource_reference"]).toBeUndefined()
}

const introspect = async (by: GnapClient, token: string, extra: Record<string, unknown> = {}) => {
  const r = await by.send({ url: INTROSPECT, body: { access_token: token, ...extra } })
  return { status: r.status, body: await r.json() as Record<string, any> }
}

describe("item 76 (RFC 9767 §3.4): registrations the AS must refuse", () => {
  it("#76 item 76 (§3.4) token_formats_supported the AS supports none of → 400 invalid_request (Gatehouse's GNAP tokens are opaque)", async () => {
    expectRsError(await register(photoRs, { access: [PHOTO_READ], resource_server: "photo-rs", token_formats_supported: ["jwt-signed"] }), "invalid_request")
    expectRsError(await register(photoRs, { access: [PHOTO_READ], resource_server: "photo-rs", token_formats_supported: ["jwt-signed", "jwt-encrypted", "macaroon"] }), "invalid_request")
    // an empty list names no format the AS supports either
    expectRsError(await register(photoRs, { access: [PHOTO_READ], resource_server: "photo-rs", token_formats_supported: [] }), "invalid_request")
    // malformed
    expectRsError(await register(photoRs, { access: [PHOTO_READ], resource_server: "photo-rs", token_formats_supported: "jwt-signed" }), "invalid_request")
  })

  it("#76 item 76 (§3.4) token_introspection_required: true from an RS the AS does not offer introspection → 400 invalid_request; false or absent is registered", async () => {
    const refused = await register(quietRs, { access: [PHOTO_READ], resource_server: "quiet-rs", token_introspection_required: true })
    expectRsError(refused, "invalid_request")
    expect(refused.body["error"]["description"]).toContain("introspection")
    const without = await register(quietRs, { access: [PHOTO_READ], resource_server: "quiet-rs", token_introspection_required: false })
    expect(without.status).toBe(200)
    // §3.4 introspection_endpoint is not offered to it, and §3.3 introspection refuses it
    expect(without.body["introspection_endpoint"]).toBeUndefined()
    expect((await introspect(quietRs, "some-token", { resource_server: "quiet-rs" })).body["error"]["code"]).toBe("invalid_resource_server")
    // the same field from an RS offered introspection is fine
    expect((await register(photoRs, { access: [PHOTO_READ], resource_server: "photo-rs", token_introspection_required: true })).status).toBe(200)
    // malformed
    expectRsError(await register(photoRs, { access: [PHOTO_READ], resource_server: "photo-rs", token_introspection_required: "yes" }), "invalid_request")
  })

  it("#76 item 76 (§3.4, §3.5) access the RS is not permitted to register → 400 invalid_access: another type, another reference, any one of several rights", async () => {
    expectRsError(await register(photoRs, { access: [{ type: "contacts", actions: ["read"] }], resource_server: "photo-rs" }), "invalid_access")
    expectRsError(await register(photoRs, { access: ["dolphin-metadata"], resource_server: "photo-rs" }), "invalid_access")
    const mixed = await register(photoRs, { access: [PHOTO_READ, "photos", { type: "contacts" }], resource_server: "photo-rs" })
    expectRsError(mixed, "invalid_access")
    expect(mixed.body["error"]["description"]).toContain("access[2]")
    // an RS without an `access` restriction may register them
    expect((await register(openRs, { access: [{ type: "contacts", actions: ["read"] }], resource_server: { key: openRs.keyObject() } })).status).toBe(200)
  })

  it("#76 item 76 (§3.4) gnap.accessTypes bounds every RS: a type the AS does not grant → invalid_access even for an unrestricted RS", async () => {
    const key = await generateClientKey("ES256", "rs-typed")
    const typed = await makeGnap({ gnap: { accessTypes: ["photo-api"], resourceServers: [{ key: jwk(key), name: "typed-rs" }] } })
    const rs = await rsClient(key, typed)
    const r = await rs.send({ url: REGISTER, body: { access: [{ type: "contacts" }], resource_server: "typed-rs" } })
    expect(r.status).toBe(400)
    expect((await r.json() as any).error.code).toBe("invalid_access")
    expect((await rs.send({ url: REGISTER, body: { access: [PHOTO_READ], resource_server: "typed-rs" } })).status).toBe(200)
  })

  it("#76 item 76 (§3.4) malformed registrations → 400 invalid_request: no access, an empty one, a right without a type, a non-string action, a relative location", async () => {
    for (const access of [undefined, [], "photos", [{ actions: ["read"] }], [{ type: "photo-api", actions: [1] }], [{ type: "photo-api", locations: ["/photos"] }], [""]]) {
      expectRsError(await register(photoRs, { ...(access === undefined ? {} : { access }), resource_server: "photo-rs" }), "invalid_request")
    }
  })

  it("#72 (RFC 9767 §3.2) for registration: unsigned, an unknown RS, a key named but another key signing → invalid_resource_server (400); no resource_server → invalid_request", async () => {
    expectRsError(await register(photoRs, { access: [PHOTO_READ], resource_server: "photo-rs" }, { unsigned: true }), "invalid_resource_server")
    expectRsError(await register(strangerRs, { access: [PHOTO_READ], resource_server: { key: strangerRs.keyObject() } }), "invalid_resource_server")
    expectRsError(await register(strangerRs, { access: [PHOTO_READ], resource_server: "no-such-rs" }), "invalid_resource_server")
    // names photo-rs, signed by another key
    expectRsError(await register(strangerRs, { access: [PHOTO_READ], resource_server: "photo-rs" }), "invalid_resource_server")
    expectRsError(await register(photoRs, { access: [PHOTO_READ] }), "invalid_request")
    // not JSON
    const text = await photoRs.send({ url: REGISTER, body: "access=photos", headers: { "content-type": "application/x-www-form-urlencoded" } })
    expect(text.status).toBe(400)
    expect((await text.json() as any).error.code).toBe("invalid_request")
  })
})

describe("RFC 9767 §3.4 registration: the happy path", () => {
  it("§3.4 200 with resource_reference, instance_id (the RS's name) and introspection_endpoint; Cache-Control no-store", async () => {
    const r = await register(photoRs, { access: [PHOTO_READ, "photos"], resource_server: "photo-rs", token_introspection_required: true })
    expect(r.status).toBe(200)
    expect(r.headers.get("cache-control")).toBe("no-store")
    expect(r.body).toEqual({ resource_reference: expect.any(String), instance_id: "photo-rs", introspection_endpoint: INTROSPECT })
    // usable in a WWW-Authenticate quoted-string and as a token68-ish access reference
    expect(r.body["resource_reference"]).toMatch(/^[A-Za-z0-9_-]{16,}$/)
  })

  it("§3.4 the same RS registering the same set gets the same reference (member order aside); another set or another RS gets its own", async () => {
    const first = await register(openRs, { access: [{ type: "albums", actions: ["read", "write"] }], resource_server: { key: openRs.keyObject() } })
    const again = await register(openRs, { access: [{ actions: ["read", "write"], type: "albums" }], resource_server: { key: openRs.keyObject() } })
    expect(again.body["resource_reference"]).toBe(first.body["resource_reference"])
    // an RS known by key only gets no instance_id
    expect(first.body["instance_id"]).toBeUndefined()
    const other = await register(openRs, { access: [{ type: "albums", actions: ["read"] }], resource_server: { key: openRs.keyObject() } })
    expect(other.body["resource_reference"]).not.toBe(first.body["resource_reference"])
    const otherRs = await register(photoRs, { access: ["photos"], resource_server: "photo-rs" })
    const otherRsAgain = await register(photoRs, { access: ["photos"], resource_server: { key: photoRs.keyObject() } })
    expect(otherRsAgain.body["resource_reference"]).toBe(otherRs.body["resource_reference"])
  })

  it("#71 (RFC 9767 §3.1) discovery advertises resource_registration_endpoint, the URL that registers", async () => {
    const doc = await (await h.gh.handler(new Request(`${ISSUER}/.well-known/gnap-as-rs`))).json() as Record<string, unknown>
    expect(doc["resource_registration_endpoint"]).toBe(REGISTER)
    expect(doc["token_formats_supported"]).toBeUndefined()
  })
})

describe("RFC 9767 §3.4 / RFC 9635 §8.1: the reference in a client's grant request", () => {
  it("§3.4 a client requesting access: [reference] is asked consent for, and issued, the registered rights; the RS introspects them as active", async () => {
    const ref = (await register(photoRs, { access: [PHOTO_READ, "photos"], resource_server: "photo-rs" })).body["resource_reference"] as string
    const nonce = clientNonce()
    const first = await h.client.request(redirectRequest(nonce, { access_token: { access: [ref], label: "tok" } }))
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    // the consent page sees the real rights, not the opaque reference
    const browser = new Browser(h.gh)
    const start = await browser.request(first.interact!["redirect"])
    const interactionId = /\/interaction\/([^/?]+)/.exec(start.headers.get("location") ?? "")![1]!
    const details = await h.gh.interactions.details(interactionId)
    expect(JSON.stringify(details)).not.toContain(ref)
    expect(JSON.stringify(details)).toContain("photo-api")
    const { redirectTo } = await h.gh.interactions.complete(interactionId, { accountId: "alice" })
    const finish = finishParams(await browser.request(redirectTo))
    const interactRef = h.client.verifyFinish(finish, { clientNonce: nonce, asNonce: first.interact!["finish"] })
    await h.advance(first.continue!.wait ?? 5)
    const approved = await h.client.continue(first.continue!, { interact_ref: interactRef })
    expect(approved.status, JSON.stringify(approved.body)).toBe(200)
    const token = approved.accessToken("tok")
    expect(token.access).toEqual([PHOTO_READ, "photos"])
    const view = await introspect(photoRs, token.value, { resource_server: "photo-rs", access: [PHOTO_READ] })
    expect(view.body["active"]).toBe(true)
    expect(view.body["access"]).toEqual([PHOTO_READ, "photos"])
  })

  it("§3.4 a reference combined with other rights (the RFC's example), and in a grant update (RFC 9635 §5.3)", async () => {
    const ref = (await register(photoRs, { access: [{ type: "photo-api", actions: ["write"] }], resource_server: "photo-rs" })).body["resource_reference"] as string
    const { approved } = await approvedGrant(h, redirectRequest("n-combined", { access_token: { access: [ref, "dolphin-metadata"], label: "tok" } }))
    expect(approved.accessToken("tok").access).toEqual([{ type: "photo-api", actions: ["write"] }, "dolphin-metadata"])
    // §5.3: the same reference in an update is the rights the RO approved: re-issued at once, no interaction
    await h.advance(approved.continue!.wait ?? 5)
    const updated = await h.client.update(approved.continue!, { access_token: { access: [ref], label: "again" } })
    expect(updated.status, JSON.stringify(updated.body)).toBe(200)
    expect(updated.interact).toBeUndefined()
    expect(updated.accessToken("again").access).toEqual([{ type: "photo-api", actions: ["write"] }])
  })

  it("§3.4 with gnap.accessTypes set, a registered reference is accepted (it stands for granted types) and an unregistered string is not", async () => {
    const key = await generateClientKey("ES256", "rs-typed-2")
    const typed = await makeGnap({ gnap: { accessTypes: ["photo-api"], resourceServers: [{ key: jwk(key), name: "typed-rs" }] } })
    const rs = await rsClient(key, typed)
    const ref = (await (await rs.send({ url: REGISTER, body: { access: [PHOTO_READ], resource_server: "typed-rs" } })).json() as any).resource_reference as string
    const ok = await typed.client.request(redirectRequest("n-typed", { access_token: { access: [ref] } }))
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    const refused: GnapResponse = await typed.client.request(redirectRequest("n-typed-2", { access_token: { access: ["not-a-reference"] } }))
    expect(refused.error).toBe("invalid_request")
  })
})

describe("RFC 9767 §3.3: introspection answers only for tokens appropriate for the asking RS", () => {
  it("§3.3 an RS configured with the rights it serves sees a token for other rights as inactive; an unrestricted RS sees it active", async () => {
    const { approved } = await approvedGrant(h, redirectRequest("n-elsewhere", { access_token: { access: ["dolphin-metadata"], label: "tok" } }))
    const token = approved.accessToken("tok").value
    // photo-rs serves photo-api / "photos" only: a dolphin-metadata token is not for it
    expect((await introspect(photoRs, token, { resource_server: "photo-rs" })).body).toEqual({ active: false })
    // the RS known by key only, with no list of rights, is trusted with every token
    expect((await introspect(openRs, token, { resource_server: { key: openRs.keyObject() } })).body["active"]).toBe(true)
    // a token carrying one of photo-rs's rights is active for it
    const { approved: photo } = await approvedGrant(h, redirectRequest("n-photo", { access_token: { access: [PHOTO_READ], label: "tok" } }))
    expect((await introspect(photoRs, photo.accessToken("tok").value, { resource_server: "photo-rs" })).body["active"]).toBe(true)
  })
})
