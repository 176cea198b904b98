/**
 * GNAP at the resource server (RFC 9635 §7.2, §9.1; RFC 9767 §3.1, §3.3), against a real
 * Gatehouse over node:http: tokens come from the AS's GNAP grant endpoint (user-code
 * interaction completed through the host API), the resource server introspects them over
 * HTTP with its own key proof, and checks the client's HTTP Message Signature (RFC 9421).
 * The client is testkit's GnapClient (written from the RFC, independent of the server code).
 */
import { type AccessTokenInfo, type ClientKeyPair, generateClientKey, GnapClient } from "@gatehouse/testkit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createResourceServer, type ResourceServerInstance, ResourceServerConfigError } from "../src/index.js"
import { API, startAs, type TestAs } from "./helpers.js"

const PHOTOS = `${API}/photos`

let as: TestAs
let rsKey: ClientKeyPair
let rsPrivateJwk: Record<string, unknown>
let rs: ResourceServerInstance
let client: GnapClient

const privateJwkOf = async (key: ClientKeyPair) => {
  const { key_ops: _ops, ext: _ext, ...jwk } = await crypto.subtle.exportKey("jwk", key.privateKey)
  return { ...jwk, kid: key.publicJwk.kid, alg: key.publicJwk.alg }
}

const makeRs = (gnap: Record<string, unknown> = {}) =>
  createResourceServer({
    issuer: as.issuer,
    audience: API,
    clock: as.now,
    gnap: { asUri: as.gh.config.endpoints.gnap, rsKey: rsPrivateJwk, ...gnap }
  })

/** The RS answering a request: its refusal, or a 200 carrying what it verified. */
const serve = async (server: ResourceServerInstance, request: Request) => {
  const result = await server.verify(request)
  return result.ok ? Response.json(result.token) : result.response
}

/** A client whose requests to the API go to `server`, and to the AS over HTTP. */
const newClient = (server: () => ResourceServerInstance, key?: ClientKeyPair) =>
  GnapClient.create({
    grantEndpoint: as.gh.config.endpoints.gnap,
    now: as.now,
    ...(key ? { key } : {}),
    fetch: (request) => request.url.startsWith(API) ? serve(server(), request) : fetch(request)
  })

/** The request the client would send to `url` with `token` (signed with its key), not sent. */
const signedRequest = async (url: string, token: AccessTokenInfo): Promise<Request> => {
  let captured: Request | undefined
  const capture = await GnapClient.create({
    grantEndpoint: as.gh.config.endpoints.gnap,
    now: as.now,
    key: client.key,
    fetch: async (r) => {
      captured = r
      return new Response(null)
    }
  })
  await capture.fetchResource(url, token)
  return captured!
}

/**
 * RFC 9635 §1.6.3: grant request with a user code, the user (alice) enters it and approves
 * through the host API, the client continues after `wait` and gets its token.
 */
const obtainToken = async (c: GnapClient, accessToken: Record<string, unknown> = { access: ["photos"] }): Promise<AccessTokenInfo> => {
  const first = await c.request({ access_token: accessToken, interact: { start: ["user_code"] } })
  expect(first.status, JSON.stringify(first.body)).toBe(200)
  const entered = await as.gh.userCodes.submit(first.interact!["user_code"], { attemptKeys: [`test:${Math.random()}`] })
  if (entered.outcome !== "accepted") throw new Error(entered.outcome)
  const cookie = entered.setCookie!.split(";")[0]!
  const { redirectTo } = await as.gh.interactions.complete(entered.interactionId, { accountId: "alice" })
  const resumed = await fetch(new URL(redirectTo, as.issuer), { headers: { cookie }, redirect: "manual" })
  expect(resumed.status).toBeLessThan(400)
  await as.advance(first.continue!.wait ?? 5)
  const approved = await c.continue(first.continue!)
  expect(approved.status, JSON.stringify(approved.body)).toBe(200)
  return approved.accessToken()
}

beforeAll(async () => {
  rsKey = await generateClientKey("ES256", "rs-key-1")
  rsPrivateJwk = await privateJwkOf(rsKey)
  // the issuer names the origin node:http serves the AS at, which is the @target-uri the AS sees (RFC 9421 §2.2.2)
  as = await startAs({ issuer: (port) => `http://127.0.0.1:${port}`, extra: { gnap: { resourceServers: [{ key: rsKey.publicJwk as unknown as Record<string, unknown>, name: "photo-api" }] } } })
  rs = makeRs()
  client = await newClient(() => rs)
}, 60_000)
afterAll(async () => {
  await as?.close()
})

describe("GNAP-bound tokens at the resource server (RFC 9635 §7.2, RFC 9767 §3.3)", () => {
  it("§7.2: Authorization: GNAP with an HTTP Message Signature by the token's key is served; the RS introspected with its own key proof (RFC 9767 §3.2, §3.3) at the endpoint from /.well-known/gnap-as-rs (§3.1)", async () => {
    const token = await obtainToken(client)
    expect(token.flags ?? []).not.toContain("bearer")
    const before = as.hitsOf("/gnap/introspect")
    const response = await client.fetchResource(PHOTOS, token)
    expect(response.status).toBe(200)
    const verified = await response.json() as Record<string, any>
    expect(verified).toMatchObject({ sub: "alice", scope: ["photos"], format: "gnap", gnap: { access: ["photos"], flags: [], bound: true } })
    expect(verified["clientId"]).toBe(verified["claims"]["instance_id"] ?? "")
    expect(verified["claims"]["iss"]).toBe(as.gh.config.endpoints.gnap)
    expect(as.hitsOf("/gnap/introspect")).toBe(before + 1)
    expect(as.hitsOf("/.well-known/gnap-as-rs")).toBe(1)
  })

  it("§7.2 / §7.3.1: the proof must be there, by the token's key, fresh, and cover the Authorization header", async () => {
    const token = await obtainToken(client)
    const refused = async (r: Response) => {
      expect(r.status).toBe(401)
      const challenge = r.headers.get("www-authenticate")!
      expect(challenge).toContain(`error="invalid_token"`)
      expect(challenge).toContain(`GNAP as_uri="${as.gh.config.endpoints.gnap}"`)
      return (await r.json() as { error_description: string }).error_description
    }
    // no signature at all
    expect(await refused(await client.send({ method: "GET", url: PHOTOS, token: token.value, tamper: { noSignature: true } }))).toMatch(/signed|proven/)
    // signed by another key
    const other = await generateClientKey("ES256", client.key.publicJwk.kid)
    expect(await refused(await client.send({ method: "GET", url: PHOTOS, token: token.value, tamper: { key: other } }))).toMatch(/does not verify/)
    // the signature leaves out the Authorization header (§7.3.1)
    expect(await refused(await client.send({
      method: "GET",
      url: PHOTOS,
      token: token.value,
      tamper: { components: (c) => c.filter((x) => x !== "authorization") }
    }))).toMatch(/authorization/)
    // stale `created` (older than signatureMaxAgeSeconds, default 300)
    expect(await refused(await client.send({ method: "GET", url: PHOTOS, token: token.value, tamper: { createdOffset: -301 } }))).toMatch(/too old/)
    // signed for another URL (@target-uri) than the one requested
    const forOther = await signedRequest(`${API}/other`, token)
    expect(await refused(await serve(rs, new Request(PHOTOS, { headers: forOther.headers })))).toMatch(/does not verify/)
    // a replayed nonce (§7.3.1)
    const nonce = "replayed-nonce-1"
    expect((await client.send({ method: "GET", url: PHOTOS, token: token.value, tamper: { nonce } })).status).toBe(200)
    expect(await refused(await client.send({ method: "GET", url: PHOTOS, token: token.value, tamper: { nonce } }))).toMatch(/replay/)
  })

  it("§7.3.3: a token bound to a `jwsd` key is proven with a detached JWS (`ath` = the token's hash)", async () => {
    const jwsdClient = await GnapClient.create({
      grantEndpoint: as.gh.config.endpoints.gnap,
      now: as.now,
      proof: "jwsd",
      fetch: (request) => request.url.startsWith(API) ? serve(rs, request) : fetch(request)
    })
    const token = await obtainToken(jwsdClient)
    const served = await jwsdClient.fetchResource(PHOTOS, token)
    expect(served.status).toBe(200)
    expect(await served.json()).toMatchObject({ sub: "alice", gnap: { bound: true } })
    // without the detached JWS: refused
    const unproven = await jwsdClient.send({ method: "GET", url: PHOTOS, token: token.value, tamper: { noSignature: true } })
    expect(unproven.status).toBe(401)
  })

  it("checklist #59 (§2.1.1/§7.2): a key-bound token presented as Authorization: Bearer is refused", async () => {
    const token = await obtainToken(client)
    const response = await serve(rs, new Request(PHOTOS, { headers: { authorization: `Bearer ${token.value}` } }))
    expect(response.status).toBe(401)
    expect(((await response.json()) as { error_description: string }).error_description).toMatch(/bound to a key/)
  })

  it("§7.2: a `bearer`-flagged token is served as Authorization: Bearer (RFC 6750 §2.1), and refused as GNAP", async () => {
    const token = await obtainToken(client, { access: ["photos"], flags: ["bearer"] })
    expect(token.flags).toContain("bearer")
    const ok = await client.fetchResource(PHOTOS, token)
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ sub: "alice", format: "gnap", gnap: { flags: ["bearer"], bound: false } })
    const asGnap = await client.send({ method: "GET", url: PHOTOS, token: token.value })
    expect(asGnap.status).toBe(401)
  })

  it("RFC 9767 §3.3: a revoked token (RFC 9635 §6.2) and an unknown one are inactive: 401 invalid_token", async () => {
    const token = await obtainToken(client)
    expect((await client.fetchResource(PHOTOS, token)).status).toBe(200)
    expect((await client.revokeToken(token)).status).toBe(204)
    const revoked = await client.fetchResource(PHOTOS, token)
    expect(revoked.status).toBe(401)
    expect(await revoked.json()).toMatchObject({ error: "invalid_token", error_description: "the access token is not active" })
    const unknown = await client.fetchResource(PHOTOS, { ...token, value: "NOT-A-TOKEN-0123456789" })
    expect(unknown.status).toBe(401)
  })

  it("RFC 9767 §3.3: `access` the token does not cover makes it inactive; string rights are the scopes", async () => {
    const token = await obtainToken(client)
    const signed = async (access: ReadonlyArray<unknown>) => rs.verify(await signedRequest(PHOTOS, token), { access })
    expect((await signed(["photos"])).ok).toBe(true)
    const refused = await signed(["videos"])
    expect(refused.ok).toBe(false)
    if (!refused.ok) expect(refused.response.status).toBe(401)
  })

  it("RFC 9635 §9.1: no token -> 401 with the Bearer challenge and the RS-first `GNAP as_uri` challenge", async () => {
    const response = await serve(rs, new Request(PHOTOS))
    expect(response.status).toBe(401)
    const challenge = response.headers.get("www-authenticate")!
    expect(challenge).toMatch(/^Bearer realm=/)
    expect(challenge).toContain(`GNAP as_uri="${as.gh.config.endpoints.gnap}"`)
    // a malformed GNAP authorization header is a bad request (RFC 6750 §3.1 invalid_request), not a 5xx
    const malformed = await serve(rs, new Request(PHOTOS, { headers: { authorization: "GNAP two words" } }))
    expect(malformed.status).toBe(400)
    expect(await malformed.json()).toMatchObject({ error: "invalid_request" })
    // without gnap options, no GNAP challenge (and GNAP authorization is not understood)
    const plain = createResourceServer({ issuer: as.issuer, audience: API, clock: as.now })
    const r = await plain.verify(new Request(PHOTOS, { headers: { authorization: "GNAP abc" } }))
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.response.headers.get("www-authenticate")).not.toContain("GNAP")
  })

  it("an RS the AS does not know cannot introspect (RFC 9767 §3.5 invalid_resource_server): 503, never the client's fault", async () => {
    const token = await obtainToken(client)
    const stranger = await generateClientKey("ES256", "rs-unknown")
    const strangerRs = createResourceServer({
      issuer: as.issuer,
      audience: API,
      clock: as.now,
      gnap: { asUri: as.gh.config.endpoints.gnap, rsKey: await privateJwkOf(stranger) }
    })
    const c = await newClient(() => strangerRs, client.key)
    expect((await c.fetchResource(PHOTOS, token)).status).toBe(503)
    // by name: the AS knows "photo-api" by its key, so the stranger's key under that name is refused too
    const impostor = createResourceServer({
      issuer: as.issuer,
      audience: API,
      clock: as.now,
      gnap: { asUri: as.gh.config.endpoints.gnap, rsKey: await privateJwkOf(stranger), rsName: "photo-api" }
    })
    const c2 = await newClient(() => impostor, client.key)
    expect((await c2.fetchResource(PHOTOS, token)).status).toBe(503)
    // the right key by name works
    const named = makeRs({ rsName: "photo-api" })
    const c3 = await newClient(() => named, client.key)
    expect((await c3.fetchResource(PHOTOS, token)).status).toBe(200)
  })

  it("gnap options are validated at start-up, one message per field", () => {
    const bad = () => createResourceServer({ issuer: as.issuer, audience: API, gnap: { asUri: "not a url", rsKey: { kty: "EC" } } })
    expect(bad).toThrow(ResourceServerConfigError)
    try {
      bad()
    } catch (e) {
      expect((e as ResourceServerConfigError).problems.join("\n")).toMatch(/gnap\.asUri[\s\S]*gnap\.rsKey/)
    }
  })
})
