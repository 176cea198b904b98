/**
 * RFC 9635 features beyond the core flows: the `app` start mode (§2.5.1.2, §3.3.2,
 * §4.1.4), subject assertions (§2.2, §3.4, §3.4.1) and user assertions (§2.4), the
 * configurable handling of unknown members (Appendix D, checklist item 8) and class_ids
 * (§2.3, item 12), renegotiation after a denial (§3.6, item 53), the remaining JWS proof
 * checks (item 26), tokens outside the Authorization header (§7.2, item 60) and the §3.6
 * format of a 405 — through real Requests on a TestClock.
 */
import { Keys } from "@gatehouse/core"
import type { GnapResponse } from "@gatehouse/testkit"
import { Effect } from "effect"
import * as jose from "jose"
import { beforeAll, describe, expect, it } from "vitest"
import {
  approvedGrant,
  Browser,
  clientNonce,
  finishParams,
  GRANT,
  type GnapHarness,
  interactThroughRedirect,
  ISSUER,
  makeGnap,
  redirectRequest
} from "./helpers/gnap.js"

const expectError = (r: GnapResponse, code: string) => {
  expect(r.error, JSON.stringify(r.body)).toBe(code)
  expect(r.body["access_token"]).toBeUndefined()
  expect(Object.keys(r.body["error"]).sort()).toEqual(["code", "description"])
}

let h: GnapHarness
beforeAll(async () => {
  h = await makeGnap()
})

const jwks = async (gh = h.gh) => jose.createLocalJWKSet(await (await gh.handler(new Request(`${ISSUER}/jwks`))).json() as jose.JSONWebKeySet)

describe("§2.5.1.2 / §3.3.2 / §4.1.4 the app start mode", () => {
  it("§3.3.2: asked for app, the AS answers an app URI (an AS URL) that leads to the same interaction as redirect; the flow completes through it", async () => {
    const nonce = clientNonce()
    const first = await h.client.request(redirectRequest(nonce, { interact: { start: ["app"], finish: { method: "redirect", uri: "https://client.example.com/return", nonce } } }))
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    const app = first.interact!["app"] as string
    expect(app.startsWith(`${ISSUER}/gnap/interact/`)).toBe(true)
    expect(first.interact!["redirect"]).toBeUndefined()
    const { response } = await interactThroughRedirect(h, app)
    const ref = h.client.verifyFinish(finishParams(response), { clientNonce: nonce, asNonce: first.interact!["finish"] })
    await h.advance(5)
    const approved = await h.client.continue(first.continue!, { interact_ref: ref })
    expect(approved.status, JSON.stringify(approved.body)).toBe(200)
    expect(approved.accessToken().access.length).toBe(2)
  })

  it("#36 (§4.1) app and redirect are two modes with distinct URIs: once the app URI started the interaction, the redirect URI is rejected (and vice versa)", async () => {
    const both = async () => h.client.request({ access_token: { access: ["photos"] }, interact: { start: ["redirect", "app"] } })
    const a = await both()
    expect(a.interact!["app"]).not.toBe(a.interact!["redirect"])
    expect((await new Browser(h.gh).request(a.interact!["app"])).status).toBe(303)
    const refused = await new Browser(h.gh).request(a.interact!["redirect"])
    expect(refused.status).toBe(400)
    expect(refused.headers.get("location")).toBeNull()
    const b = await both()
    expect((await new Browser(h.gh).request(b.interact!["redirect"])).status).toBe(303)
    expect((await new Browser(h.gh).request(b.interact!["app"])).status).toBe(400)
  })

  it("#70 (§9) discovery lists app among the start modes", async () => {
    expect((await h.client.discover())["interaction_start_modes_supported"]).toContain("app")
  })
})

describe("§3.4 subject assertions, §2.4 user assertions", () => {
  it("§3.4, §3.4.1: assertion_formats [id_token] → an ID token signed by the AS keys, sub = the account, aud = the client instance", async () => {
    const { first, approved } = await approvedGrant(h, redirectRequest(clientNonce(), { subject: { assertion_formats: ["id_token", "saml2"], sub_id_formats: ["opaque"] } }))
    const subject = approved.body["subject"] as { sub_ids: Array<unknown>; assertions: Array<{ format: string; value: string }> }
    expect(subject.sub_ids).toEqual([{ format: "opaque", id: "alice" }])
    // saml2 is not issued (§3.4: only formats the AS supports)
    expect(subject.assertions.map((a) => a.format)).toEqual(["id_token"])
    const { payload } = await jose.jwtVerify(subject.assertions[0]!.value, await jwks(), {
      issuer: ISSUER,
      audience: first.body["instance_id"],
      currentDate: new Date(await h.now())
    })
    expect(payload.sub).toBe("alice")
    // OIDC Core §2: seconds, no later than the token itself
    expect(payload["auth_time"]).toBeLessThanOrEqual(payload.iat!)
    expect(payload["auth_time"]).toBeGreaterThan(payload.iat! - 3600)
  })

  it("§2.2 only an unsupported assertion format asked for → no subject", async () => {
    const { approved } = await approvedGrant(h, redirectRequest(clientNonce(), { subject: { assertion_formats: ["saml2"] } }))
    expect(approved.body["subject"]).toBeUndefined()
  })

  it("§2.4: an id_token assertion this AS issued names the user: the same RO is approved, another RO → unknown_user", async () => {
    const { approved } = await approvedGrant(h, redirectRequest(clientNonce(), { subject: { assertion_formats: ["id_token"] } }))
    const assertion = (approved.body["subject"] as { assertions: Array<{ format: string; value: string }> }).assertions[0]!
    const user = { assertions: [{ format: "id_token", value: assertion.value }] }
    const same = await approvedGrant(h, redirectRequest(clientNonce(), { user }))
    expect(same.approved.status).toBe(200)
    const nonce = clientNonce()
    const first = await h.client.request(redirectRequest(nonce, { user }))
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    const finish = finishParams((await interactThroughRedirect(h, first.interact!["redirect"], { accountId: "bob" })).response)
    await h.advance(5)
    expectError(await h.client.continue(first.continue!, { interact_ref: finish.interact_ref }), "unknown_user")
  })

  it("§2.4: an ID token not issued by this AS, or a JWT of this AS that is no ID token → unknown_user; a format this AS does not accept → invalid_request; malformed → invalid_request", async () => {
    const { privateKey } = await jose.generateKeyPair("ES256")
    const forged = await new jose.SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "ES256", kid: "x" }).setIssuer(ISSUER).setIssuedAt().sign(privateKey)
    expectError(await h.client.request(redirectRequest(clientNonce(), { user: { assertions: [{ format: "id_token", value: forged }] } })), "unknown_user")
    // signed by this AS, but an access token (RFC 9068 at+jwt), not an ID token
    const iat = Math.floor((await h.now()) / 1000)
    const accessToken = await h.gh.run(Effect.flatMap(Keys, (k) => k.sign({ iss: ISSUER, sub: "alice", aud: "x", iat, exp: iat + 60 }, { alg: "ES256", typ: "at+jwt" })))
    expectError(await h.client.request(redirectRequest(clientNonce(), { user: { assertions: [{ format: "id_token", value: accessToken }] } })), "unknown_user")
    expectError(await h.client.request(redirectRequest(clientNonce(), { user: { assertions: [{ format: "saml2", value: "PHNhbWw+" }] } })), "invalid_request")
    expectError(await h.client.request(redirectRequest(clientNonce(), { user: { assertions: [{ format: "id_token" }] } })), "invalid_request")
  })

  it("#70 (§9) discovery: assertion_formats_supported [id_token], sub_id_formats_supported", async () => {
    const d = await h.client.discover()
    expect(d["assertion_formats_supported"]).toEqual(["id_token"])
    expect(d["sub_id_formats_supported"]).toEqual(["opaque", "iss_sub", "email"])
  })
})

describe("#8 (Appendix D) unknown members, #12 (§2.3) class_id: configurable", () => {
  it("#8 gnap.unknownMembers \"reject\": an unknown top-level member → invalid_request; known ones (and RFC 9767 existing_access_token) pass; default \"ignore\" accepts it", async () => {
    const strict = await makeGnap({ gnap: { unknownMembers: "reject" } })
    expectError(await strict.client.request(redirectRequest(clientNonce(), { capabilities: ["x"] })), "invalid_request")
    expect((await strict.client.request(redirectRequest(clientNonce()))).status).toBe(200)
    expect((await h.client.request(redirectRequest(clientNonce(), { capabilities: ["x"] }))).status).toBe(200)
  })

  it("#12 gnap.unknownClassId \"reject\": a class_id not in gnap.classIds → invalid_client; a listed one passes; default \"ignore\" accepts any", async () => {
    const strict = await makeGnap({ gnap: { unknownClassId: "reject", classIds: ["acme-tv-4"] } })
    const withClass = (classId: string, c = strict.client) => ({ ...redirectRequest(clientNonce()), client: { key: c.keyObject(), class_id: classId } })
    expectError(await strict.client.request(withClass("unknown-class")), "invalid_client")
    expect((await strict.client.request(withClass("acme-tv-4"))).status).toBe(200)
    expect((await h.client.request(withClass("unknown-class", h.client))).status).toBe(200)
  })
})

describe("#53 (§3.6) user_denied with continue: the grant may be renegotiated", () => {
  it("#53 gnap.continueAfterDenial: the RO denies → user_denied with continue; a PATCH with new access asks the RO again; then approved", async () => {
    const g = await makeGnap({ gnap: { continueAfterDenial: true } })
    const nonce = clientNonce()
    const first = await g.client.request(redirectRequest(nonce))
    const finish = finishParams((await interactThroughRedirect(g, first.interact!["redirect"], { deny: true })).response)
    await g.advance(5)
    const denied = await g.client.continue(first.continue!, { interact_ref: finish.interact_ref })
    expect(denied.error).toBe("user_denied")
    expect(Object.keys(denied.body).sort()).toEqual(["continue", "error"])
    expect(denied.body["access_token"]).toBeUndefined()
    await g.advance(5)
    const nonce2 = clientNonce()
    const updated = await g.client.update(denied.continue!, {
      access_token: { access: ["contacts"] },
      interact: { start: ["redirect"], finish: { method: "redirect", uri: "https://client.example.com/return", nonce: nonce2 } }
    })
    expect(updated.status, JSON.stringify(updated.body)).toBe(200)
    expect(updated.interact!["redirect"]).toBeDefined()
    const again = finishParams((await interactThroughRedirect(g, updated.interact!["redirect"])).response)
    const ref = g.client.verifyFinish(again, { clientNonce: nonce2, asNonce: updated.interact!["finish"] })
    await g.advance(5)
    const approved = await g.client.continue(updated.continue!, { interact_ref: ref })
    expect(approved.status, JSON.stringify(approved.body)).toBe(200)
    expect(approved.accessToken().access).toEqual(["contacts"])
  })

  it("#53 without continueAfterDenial (default) a denied grant is finalized: user_denied, no continue, and it cannot be modified", async () => {
    const nonce = clientNonce()
    const first = await h.client.request(redirectRequest(nonce))
    const finish = finishParams((await interactThroughRedirect(h, first.interact!["redirect"], { deny: true })).response)
    await h.advance(5)
    const denied = await h.client.continue(first.continue!, { interact_ref: finish.interact_ref })
    expectError(denied, "user_denied")
    expect(denied.continue).toBeUndefined()
    await h.advance(5)
    expect((await h.client.update(first.continue!, { access_token: { access: ["contacts"] } })).status).toBeGreaterThanOrEqual(400)
  })

  it("#53 with continueAfterDenial and polling (no finish): the poll after the denial → user_denied with continue; DELETE then ends it", async () => {
    const g = await makeGnap({ gnap: { continueAfterDenial: true } })
    const first = await g.client.request({ access_token: { access: ["photos"] }, interact: { start: ["redirect"] } })
    await interactThroughRedirect(g, first.interact!["redirect"], { deny: true })
    await g.advance(5)
    const denied = await g.client.continue(first.continue!)
    expect(denied.error).toBe("user_denied")
    expect(denied.continue).toBeDefined()
    await g.advance(5)
    expect((await g.client.revokeGrant(denied.continue!)).status).toBe(204)
  })
})

describe("#26 (§7.3.3, §7.3.4) the remaining JWS proof checks", () => {
  it("#26 jwsd with a token: a missing or wrong ath → invalid_client; the right one → accepted", async () => {
    const client = await h.newClient({ proof: "jwsd" })
    const first = await client.request({ access_token: { access: ["photos"] }, interact: { start: ["user_code"] } })
    await h.advance(5)
    const rewriteAth = (ath: string | undefined) => ({
      after: (r: { headers: Headers }) => {
        const [h64, , s] = r.headers.get("detached-jws")!.split(".")
        const header = JSON.parse(Buffer.from(h64!, "base64url").toString()) as Record<string, unknown>
        if (ath === undefined) delete header["ath"]
        else header["ath"] = ath
        r.headers.set("detached-jws", `${Buffer.from(JSON.stringify(header)).toString("base64url")}..${s}`)
      }
    })
    expectError(await client.continue(first.continue!, undefined, { tamper: rewriteAth(undefined) }), "invalid_client")
    expectError(await client.continue(first.continue!, undefined, { tamper: rewriteAth("AAAA") }), "invalid_client")
    expect((await client.continue(first.continue!)).status).toBe(200)
  })

  it("#26 jws (attached): wrong typ, a JWS signed by another key, no Detached-JWS on a request without content → invalid_client", async () => {
    const client = await h.newClient({ proof: "jws" })
    const retype = {
      after: (r: { body: string | undefined }) => {
        const [h64, p, s] = r.body!.split(".")
        const header = { ...JSON.parse(Buffer.from(h64!, "base64url").toString()), typ: "gnap-binding-jwsd" }
        r.body = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${p}.${s}`
      }
    }
    expectError(await client.request(redirectRequest(clientNonce()), { tamper: retype }), "invalid_client")
    const other = await h.newClient({ proof: "jws" })
    expectError(await client.request(redirectRequest(clientNonce()), { tamper: { key: other.key } }), "invalid_client")
    const first = await client.request({ access_token: { access: ["photos"] }, interact: { start: ["user_code"] } })
    expect(first.status).toBe(200)
    await h.advance(5)
    expectError(await client.continue(first.continue!, undefined, { tamper: { after: (r) => r.headers.delete("detached-jws") } }), "invalid_client")
  })
})

describe("#60 (§7.2) GNAP tokens only in the Authorization header", () => {
  it("#60 a management token in the query string or a form body → refused; a continuation token in a form body → refused", async () => {
    const { approved } = await approvedGrant(h)
    const token = approved.accessToken()
    const inQuery = await h.client.send({ url: `${token.manage!.uri}?access_token=${token.manage!.access_token.value}` })
    expect(((await inQuery.json()) as { error: { code: string } }).error.code).toBe("invalid_client")
    const inForm = await h.client.send({
      url: token.manage!.uri,
      body: `access_token=${token.manage!.access_token.value}`,
      headers: { "content-type": "application/x-www-form-urlencoded" }
    })
    expect(inForm.status).toBeGreaterThanOrEqual(400)
    expect(((await inForm.json()) as { error: { code: string } }).error.code).toBe("invalid_client")
    await h.advance(5)
    const cont = await h.client.send({
      url: approved.continue!.uri,
      body: `access_token=${approved.continue!.access_token.value}`,
      headers: { "content-type": "application/x-www-form-urlencoded" }
    })
    expect(((await cont.json()) as { error: { code: string } }).error.code).toBe("invalid_continuation")
    // the token itself still works where it belongs
    expect((await h.client.rotateToken(token)).status).toBe(200)
  })
})

describe("§3.6 errors on every GNAP route", () => {
  it("a method a GNAP route does not serve → 405 with Allow, as a §3.6 error (invalid_request), Cache-Control no-store", async () => {
    const r = await h.gh.handler(new Request(GRANT, { method: "GET" }))
    expect(r.status).toBe(405)
    expect(r.headers.get("allow")).toContain("POST")
    expect(r.headers.get("cache-control")).toBe("no-store")
    expect(await r.json()).toEqual({ error: { code: "invalid_request", description: expect.any(String) } })
    const c = await h.gh.handler(new Request(`${ISSUER}/gnap/continue/abc`, { method: "PUT" }))
    expect(c.status).toBe(405)
    expect(((await c.json()) as { error: { code: string } }).error.code).toBe("invalid_request")
  })
})
