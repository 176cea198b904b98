/**
 * RFC 9635 §6.1.1 rotating the access token's key, with the two linked httpsig proofs of
 * §7.3.1.1, and §7.1.1 key references (registered keys named by an opaque string):
 * checklist items 66, 67, 68, through real Requests signed by the testkit's GNAP client.
 */
import { type ClientKeyPair, generateClientKey, type GnapResponse } from "@gatehouse/testkit"
import { beforeAll, describe, expect, it } from "vitest"
import { approvedGrant, clientNonce, GRANT, type GnapHarness, ISSUER, makeGnap, redirectRequest } from "./helpers/gnap.js"

const INTROSPECT = `${ISSUER}/gnap/introspect`

const expectError = (r: GnapResponse, code: string) => {
  expect(r.error, JSON.stringify(r.body)).toBe(code)
  expect(r.body["access_token"]).toBeUndefined()
}

let h: GnapHarness
let rsKey: ClientKeyPair
let registeredKey: ClientKeyPair
beforeAll(async () => {
  rsKey = await generateClientKey("ES256", "rs-key")
  registeredKey = await generateClientKey("ES256", "registered-1")
  h = await makeGnap({
    gnap: {
      resourceServers: [{ key: rsKey.publicJwk as unknown as Record<string, unknown>, name: "photo-rs" }],
      clients: [{ instanceId: "frame-7", key: registeredKey.publicJwk as unknown as Record<string, unknown>, keyRef: "frame-key-7" }]
    }
  })
})

const introspect = async (token: string) => {
  const rs = (await h.newClient({ key: rsKey }))
  const r = await rs.send({ url: INTROSPECT, body: { access_token: token, resource_server: "photo-rs" } })
  return await r.json() as Record<string, any>
}

describe("§6.1.1 rotating the access token key (§7.3.1.1 httpsig)", () => {
  it("§6.1.1: old key signs the new key, new key signs over the old signature → a new token bound to the new key; the old value and key stop working", async () => {
    const { approved } = await approvedGrant(h)
    const token = approved.accessToken()
    const newKey = await generateClientKey("ES256", "rotated-1")
    const rotated = await h.client.rotateTokenKey(token, newKey)
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200)
    const next = rotated.accessToken()
    expect(next.value).not.toBe(token.value)
    expect(next.access).toEqual(token.access)
    // §3.2.1: the key the token is bound to, since it is not the client instance's key
    expect(next.key).toEqual({ proof: "httpsig", jwk: newKey.publicJwk })
    expect(next.manage!.uri).not.toBe(token.manage!.uri)
    // the RS learns the new binding (RFC 9767 §3.3)
    expect((await introspect(next.value))["key"]["jwk"]["kid"]).toBe("rotated-1")
    expect(await introspect(token.value)).toEqual({ active: false })
    // management now needs the new key
    expectError(await h.client.rotateToken(next), "invalid_client")
    const again = await h.client.withKey(newKey).rotateToken(next)
    expect(again.status, JSON.stringify(again.body)).toBe(200)
  })

  it("#66 (§6.1.1, §7.3.1.1) no new-key signature, no old-key signature, a new-key signature not covering the old one, or without tag gnap-rotate → invalid_rotation", async () => {
    const newKey = await generateClientKey("ES256", "rotated-2")
    for (const rotation of [{ omitNew: true }, { omitOld: true }, { coverOld: false }, { tag: "gnap" }]) {
      const { approved } = await approvedGrant(h)
      const token = approved.accessToken()
      expectError(await h.client.rotateTokenKey(token, newKey, { rotation }), "invalid_rotation")
      // §6.1: the token keeps its state
      expect((await introspect(token.value))["active"]).toBe(true)
    }
    // the new key's signature made by yet another key
    const { approved } = await approvedGrant(h)
    const impostor = await generateClientKey("ES256", "rotated-2")
    expectError(
      await h.client.rotateTokenKey(approved.accessToken(), impostor, { key: { proof: "httpsig", jwk: newKey.publicJwk } }),
      "invalid_rotation"
    )
  })

  it("#67 (§6.1.1) a key rotation that changes the proofing method, or of a bearer token → invalid_rotation", async () => {
    const newKey = await generateClientKey("ES256", "rotated-3")
    const { approved } = await approvedGrant(h)
    expectError(await h.client.rotateTokenKey(approved.accessToken(), newKey, { key: { proof: "jwsd", jwk: newKey.publicJwk } }), "invalid_rotation")
    const objectForm = { proof: { method: "httpsig", alg: "ecdsa-p256-sha256", "content-digest-alg": "sha-512" }, jwk: newKey.publicJwk }
    expectError(await h.client.rotateTokenKey(approved.accessToken(), newKey, { key: objectForm }), "invalid_rotation")
    const bearer = (await approvedGrant(h, redirectRequest(clientNonce(), { access_token: { access: ["photos"], flags: ["bearer"] } }))).approved.accessToken()
    expectError(await h.client.rotateTokenKey(bearer, newKey), "invalid_rotation")
    // an unknown key reference, a malformed key → invalid_rotation
    expectError(await h.client.rotateTokenKey(approved.accessToken(), newKey, { key: "no-such-key" }), "invalid_rotation")
    expectError(await h.client.rotateTokenKey(approved.accessToken(), newKey, { key: { proof: "httpsig", jwk: { kty: "oct", k: "AAAA", alg: "HS256", kid: "x" } } }), "invalid_rotation")
  })

  it("#68 (§6.1.1) keys proven with jwsd/jws are not rotated: key_rotation_not_supported; discovery says key_rotation_supported for httpsig", async () => {
    const client = await h.newClient({ proof: "jwsd" })
    const { approved } = await approvedGrant(h, redirectRequest(clientNonce()), client)
    const newKey = await generateClientKey("ES256", "rotated-4")
    expectError(await client.rotateToken(approved.accessToken(), { body: { key: { proof: "jwsd", jwk: newKey.publicJwk } } }), "key_rotation_not_supported")
    expect((await h.client.discover())["key_rotation_supported"]).toBe(true)
  })

  it("§7.1.1: the new key may be a reference to a registered key", async () => {
    const { approved } = await approvedGrant(h)
    const rotated = await h.client.rotateTokenKey(approved.accessToken(), registeredKey, { key: "frame-key-7" })
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200)
    expect(rotated.accessToken().key).toEqual({ proof: "httpsig", jwk: registeredKey.publicJwk })
  })
})

describe("§7.1.1 key references", () => {
  it("§7.1.1: client.key as a reference to a registered key → that instance, proven with the registered key", async () => {
    const frame = await h.newClient({ key: registeredKey })
    const r = await frame.request({ access_token: { access: ["photos"] }, interact: { start: ["redirect"] }, client: { key: "frame-key-7" } })
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.body["instance_id"]).toBe("frame-7")
    // a proof by another key than the referenced one
    const other = await h.newClient()
    expectError(await other.request({ access_token: { access: ["photos"] }, interact: { start: ["redirect"] }, client: { key: "frame-key-7" } }), "invalid_client")
  })

  it("#10 (§7.1.1) an unknown key reference → invalid_client", async () => {
    expectError(await h.client.request({ access_token: { access: ["photos"] }, interact: { start: ["redirect"] }, client: { key: "nobody" } }), "invalid_client")
  })

  it("#17 (§6.1.1, §5) after a key rotation the grant's continuation is still proven with the client key", async () => {
    const { approved } = await approvedGrant(h)
    await h.client.rotateTokenKey(approved.accessToken(), await generateClientKey("ES256", "rotated-5"))
    await h.advance(5)
    const update = await h.client.update(approved.continue!, { access_token: { access: ["photos"] } })
    expect(update.status, JSON.stringify(update.body)).toBe(200)
    expect(GRANT).toContain("/gnap")
  })
})
