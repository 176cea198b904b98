/**
 * The resource server's side of RFC 9767 §3.4 (resource set registration, checklist item 76
 * seen from the RS), the RS-first challenge carrying the reference (RFC 9635 §9.1), and §4
 * token chaining (item 77 seen from the RS) — against a real Gatehouse over node:http. The
 * client is testkit's GnapClient (written from the RFC, independent of the server code).
 */
import { type AccessTokenInfo, type ClientKeyPair, generateClientKey, GnapClient } from "@gatehouse/testkit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createGnapRegistration, createResourceServer, GnapAsRefused, type ResourceServerInstance, ResourceServerConfigError } from "../src/index.js"
import { API, startAs, type TestAs } from "./helpers.js"

const PHOTOS = `${API}/photos`
const STORAGE = "https://storage.example.com/files"
const PHOTO_READ = { type: "photo-api", actions: ["read"], locations: [PHOTOS] }
const STORAGE_READ = { type: "storage", actions: ["read"] }

let as: TestAs
let photoKey: ClientKeyPair
let storageKey: ClientKeyPair
let photoRs: ResourceServerInstance
let storageRs: ResourceServerInstance
let client: GnapClient

const privateJwkOf = async (key: ClientKeyPair) => {
  const { key_ops: _ops, ext: _ext, ...jwk } = await crypto.subtle.exportKey("jwk", key.privateKey)
  return { ...jwk, kid: key.publicJwk.kid, alg: key.publicJwk.alg }
}

const makeRs = async (key: ClientKeyPair, rsName: string) =>
  createResourceServer({
    issuer: as.issuer,
    audience: API,
    clock: as.now,
    gnap: { asUri: as.gh.config.endpoints.gnap, rsKey: await privateJwkOf(key), rsName }
  })

/** The RS answering a request: its refusal (with the registration's challenge), or a 200 with what it verified. */
const serve = async (server: ResourceServerInstance, request: Request, access?: ReadonlyArray<unknown>) => {
  const result = await server.verify(request, access ? { access } : {})
  return result.ok ? Response.json(result.token) : result.response
}

/** RFC 9635 §9.1: the parameters of the GNAP challenge. */
const gnapParams = (response: Response) => {
  const header = response.headers.get("www-authenticate") ?? ""
  const gnap = header.slice(header.indexOf("GNAP "))
  return Object.fromEntries([...gnap.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]))
}

/** RFC 9635 §1.6.3: user-code grant for `access`, alice approves through the host API. */
const obtainToken = async (c: GnapClient, access: ReadonlyArray<unknown>): Promise<AccessTokenInfo> => {
  const first = await c.request({ access_token: { access }, interact: { start: ["user_code"] } })
  expect(first.status, JSON.stringify(first.body)).toBe(200)
  const entered = await as.gh.userCodes.submit(first.interact!["user_code"], { attemptKeys: [`test:${Math.random()}`] })
  if (entered.outcome !== "accepted") throw new Error(entered.outcome)
  const cookie = entered.setCookie!.split(";")[0]!
  const { redirectTo } = await as.gh.interactions.complete(entered.interactionId, { accountId: "alice" })
  await fetch(new URL(redirectTo, as.issuer), { headers: { cookie }, redirect: "manual" })
  await as.advance(first.continue!.wait ?? 5)
  const approved = await c.continue(first.continue!)
  expect(approved.status, JSON.stringify(approved.body)).toBe(200)
  return approved.accessToken()
}

beforeAll(async () => {
  photoKey = await generateClientKey("ES256", "photo-rs-key")
  storageKey = await generateClientKey("ES256", "storage-rs-key")
  as = await startAs({
    issuer: (port) => `http://127.0.0.1:${port}`,
    extra: {
      gnap: {
        resourceServers: [
          { key: photoKey.publicJwk as unknown as Record<string, unknown>, name: "photo-api", access: ["photo-api", "photos"] },
          { key: storageKey.publicJwk as unknown as Record<string, unknown>, name: "storage-api", access: ["storage"] }
        ]
      }
    }
  })
  photoRs = await makeRs(photoKey, "photo-api")
  storageRs = await makeRs(storageKey, "storage-api")
  client = await GnapClient.create({
    grantEndpoint: as.gh.config.endpoints.gnap,
    now: as.now,
    fetch: (request) => request.url.startsWith(API) ? serve(photoRs, request) : fetch(request)
  })
}, 60_000)
afterAll(async () => {
  await as?.close()
})

describe("RFC 9767 §3.4 at the resource server: register the resource set, hand out the reference", () => {
  it("§3.4 register() POSTs the set signed with the RS key to the endpoint from /.well-known/gnap-as-rs (§3.1), once; concurrent callers share it", async () => {
    const registration = createGnapRegistration(photoRs, { access: [PHOTO_READ], tokenIntrospectionRequired: true, referrer: API })
    expect(registration.reference()).toBeUndefined()
    const before = as.hitsOf("/gnap/resource")
    const results = await Promise.all([registration.register(), registration.register(), registration.register()])
    expect(as.hitsOf("/gnap/resource")).toBe(before + 1)
    expect(new Set(results.map((r) => r.resourceReference)).size).toBe(1)
    expect(results[0]).toMatchObject({ instanceId: "photo-api", introspectionEndpoint: as.gh.config.endpoints.gnapIntrospect })
    expect(registration.reference()).toBe(results[0]!.resourceReference)
    await registration.register()
    expect(as.hitsOf("/gnap/resource")).toBe(before + 1)
    // §3.4: the AS returns the same reference for the same set from the same RS
    const again = createGnapRegistration(photoRs, { access: [PHOTO_READ], tokenIntrospectionRequired: true })
    expect((await again.register()).resourceReference).toBe(results[0]!.resourceReference)
  })

  it("RFC 9635 §9.1: a 401 carries GNAP as_uri, access=<reference> and referrer beside the Bearer challenge; before registration only as_uri and referrer", async () => {
    const registration = createGnapRegistration(photoRs, { access: [PHOTO_READ, "photos"], referrer: API })
    const unregistered = registration.withChallenge(await serve(photoRs, new Request(PHOTOS)))
    expect(gnapParams(unregistered)).toEqual({ as_uri: as.gh.config.endpoints.gnap, referrer: API })
    const { resourceReference } = await registration.register()
    const refused = registration.withChallenge(await serve(photoRs, new Request(PHOTOS)))
    expect(refused.status).toBe(401)
    expect(refused.headers.get("www-authenticate")).toContain(`Bearer realm=`)
    expect(refused.headers.get("www-authenticate")).toContain(`GNAP as_uri="${as.gh.config.endpoints.gnap}", access="${resourceReference}", referrer="${API}"`)
    expect(registration.challenge()).toBe(`GNAP as_uri="${as.gh.config.endpoints.gnap}", access="${resourceReference}", referrer="${API}"`)
    // a 200 is left alone
    const ok = new Response("fine")
    expect(registration.withChallenge(ok)).toBe(ok)
  })

  it("§3.4 end to end: the client reads the challenge, requests access: [reference] at as_uri, and its token passes the RS with the registered rights", async () => {
    const registration = createGnapRegistration(photoRs, { access: [PHOTO_READ], referrer: API })
    await registration.register()
    const challenge = gnapParams(registration.withChallenge(await serve(photoRs, new Request(PHOTOS))))
    // RFC 9635 §9.1: the client checks referrer against the URI it called
    expect(PHOTOS.startsWith(challenge["referrer"]!)).toBe(true)
    expect(challenge["as_uri"]).toBe(client.options.grantEndpoint)
    const token = await obtainToken(client, [challenge["access"]!])
    expect(token.access).toEqual([PHOTO_READ])
    const served = await client.fetchResource(PHOTOS, token)
    expect(served.status).toBe(200)
    expect((await served.json() as any).gnap.access).toEqual([PHOTO_READ])
    // the RS may ask the AS to confirm the registered right (RFC 9767 §3.3)
    const signed = await signedCopy(PHOTOS, token)
    expect((await serve(photoRs, signed, [PHOTO_READ])).status).toBe(200)
  })

  it("#76 item 76 (§3.4) the AS's refusals reach the host as GnapAsRefused with the §3.5 code: access the RS may not register (invalid_access), a token format (invalid_request); a failure is not cached", async () => {
    const notPermitted = createGnapRegistration(photoRs, { access: [{ type: "contacts" }] })
    const e1 = await notPermitted.register().catch((e: unknown) => e)
    expect(e1).toBeInstanceOf(GnapAsRefused)
    expect(e1).toMatchObject({ code: "invalid_access", status: 400 })
    const before = as.hitsOf("/gnap/resource")
    await notPermitted.register().catch(() => undefined)
    expect(as.hitsOf("/gnap/resource")).toBe(before + 1)
    expect(notPermitted.reference()).toBeUndefined()
    const formats = createGnapRegistration(photoRs, { access: [PHOTO_READ], tokenFormatsSupported: ["jwt-signed"] })
    expect(await formats.register().catch((e: unknown) => e)).toMatchObject({ _tag: "GnapAsRefused", code: "invalid_request", status: 400 })
  })

  it("unusable options throw ResourceServerConfigError at once: no gnap options, an empty access, a referrer that is not a URL", async () => {
    const plain = createResourceServer({ issuer: as.issuer, audience: API })
    expect(() => createGnapRegistration(plain, { access: [PHOTO_READ] })).toThrow(ResourceServerConfigError)
    expect(() => createGnapRegistration(photoRs, { access: [] })).toThrow(/access/)
    expect(() => createGnapRegistration(photoRs, { access: ["photos"], referrer: "not a url" })).toThrow(/referrer/)
  })
})

/** The request the client would send to `url` with `token`, signed, not sent. */
const signedCopy = async (url: string, token: AccessTokenInfo, key = client.key): Promise<Request> => {
  let captured: Request | undefined
  const capture = await GnapClient.create({ grantEndpoint: as.gh.config.endpoints.gnap, now: as.now, key, fetch: async (r) => ((captured = r), new Response(null)) })
  await capture.fetchResource(url, token)
  return captured!
}

describe("RFC 9767 §4 at the resource server: token chaining", () => {
  it("§4 deriveToken: the photo RS derives a storage token from the client's, bound to its own key; the storage RS accepts it when the photo RS signs", async () => {
    const token = await obtainToken(client, [PHOTO_READ, STORAGE_READ])
    const registration = createGnapRegistration(photoRs, { access: [PHOTO_READ] })
    const answer = await registration.deriveToken(token.value, { access: [STORAGE_READ] })
    const derived = answer["access_token"] as AccessTokenInfo
    expect(derived.access).toEqual([STORAGE_READ])
    expect(answer["instance_id"]).toBe("photo-api")
    // the photo RS presents it downstream, proving its own key (RFC 9635 §7.2)
    const signedByPhotoRs = await signedCopy(STORAGE, derived, photoKey)
    const served = await serve(storageRs, signedByPhotoRs)
    expect(served.status).toBe(200)
    expect(await served.json()).toMatchObject({ sub: "alice", clientId: "photo-api", gnap: { access: [STORAGE_READ], bound: true } })
    // signed by the client instead: refused, the token is bound to the photo RS
    expect((await serve(storageRs, await signedCopy(STORAGE, derived))).status).toBe(401)
  })

  it("#77 item 77 (§4) a token that was not issued for this RS: the AS refuses and deriveToken rejects with GnapAsRefused invalid_request", async () => {
    const storageOnly = await obtainToken(client, [STORAGE_READ])
    const registration = createGnapRegistration(photoRs, { access: [PHOTO_READ] })
    const refused = await registration.deriveToken(storageOnly.value, { access: [STORAGE_READ] }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(GnapAsRefused)
    expect(refused).toMatchObject({ code: "invalid_request", status: 400 })
    // the storage RS, for which it was issued, may derive from it
    const storage = createGnapRegistration(storageRs, { access: [STORAGE_READ] })
    expect((await storage.deriveToken(storageOnly.value, { access: [STORAGE_READ] }))["access_token"]).toBeDefined()
  })
})
