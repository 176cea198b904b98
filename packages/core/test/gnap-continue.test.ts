/**
 * RFC 9635 §4 interaction and §5 continuation: checklist items 32–57 and 61, the redirect
 * flow with finish redirect and push, and the user-code flow of §1.6.3 (Figure 5) — through
 * real Requests, the interaction hand-off (the host's Promise API) and a TestClock.
 */
import type { GnapResponse } from "@gatehouse/testkit"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { beforeAll, describe, expect, it } from "vitest"
import {
  approvedGrant,
  Browser,
  clientNonce,
  finishParams,
  type GnapHarness,
  interactThroughRedirect,
  makeGnap,
  redirectRequest
} from "./helpers/gnap.js"

const expectError = (r: GnapResponse, code: string) => {
  expect(r.error, JSON.stringify(r.body)).toBe(code)
  expect(r.body["access_token"]).toBeUndefined()
}

let h: GnapHarness
beforeAll(async () => {
  h = await makeGnap()
})

const userCodeRequest = (extra: Record<string, unknown> = {}) => ({
  access_token: { access: ["photos"] },
  interact: { start: ["user_code"] },
  ...extra
})

/** The code-entry page's work (RFC 8628 verification_uri / RFC 9635 §4.1.2): submit, keep the binding cookie. */
const enterCode = async (code: string, browser = new Browser(h.gh), gh = h.gh) => {
  const result = await gh.userCodes.submit(code, { attemptKeys: [`browser:${Math.random()}`] })
  if (result.outcome === "accepted" && result.setCookie) {
    const [pair] = result.setCookie.split(";")
    const eq = pair!.indexOf("=")
    browser.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1))
  }
  return { result, browser }
}

describe("§4 redirect interaction and finish (RFC 9635 §4.1.1, §4.2.1, §4.2.3)", () => {
  it("#38 (§4.2.1, §4.2.3, §11.19) finish redirect: a 303 to the finish URI with interact_ref (unreserved chars) and a hash the client verifies", async () => {
    const nonce = clientNonce()
    const first = await h.client.request(redirectRequest(nonce, {
      interact: { start: ["redirect"], finish: { method: "redirect", uri: "https://client.example.com/return?session=7", nonce } }
    }))
    const { response } = await interactThroughRedirect(h, first.interact!["redirect"])
    expect(response.status).toBe(303)
    const finish = finishParams(response)
    expect(finish.url.origin + finish.url.pathname).toBe("https://client.example.com/return")
    expect(finish.url.searchParams.get("session")).toBe("7")
    expect(finish.interact_ref).toMatch(/^[A-Za-z0-9\-._~]{16,}$/)
    expect(h.client.verifyFinish(finish, { clientNonce: nonce, asNonce: first.interact!["finish"] })).toBe(finish.interact_ref)
    // a hash made with another nonce does not verify (the client's unknown_interaction)
    expect(() => h.client.verifyFinish(finish, { clientNonce: "other", asNonce: first.interact!["finish"] })).toThrow(/unknown_interaction/)
  })

  it("#40 (§4.2.3) hash_method sha3-512 is honoured", async () => {
    const nonce = clientNonce()
    const first = await h.client.request(redirectRequest(nonce, {
      interact: { start: ["redirect"], finish: { method: "redirect", uri: "https://client.example.com/return", nonce, hash_method: "sha3-512" } }
    }))
    const finish = finishParams((await interactThroughRedirect(h, first.interact!["redirect"])).response)
    expect(finish.hash).toHaveLength(86)
    expect(h.client.verifyFinish(finish, { clientNonce: nonce, asNonce: first.interact!["finish"], hashMethod: "sha3-512" })).toBe(finish.interact_ref)
  })

  it("#35 (§4) the redirect start URI is one-time use: opened again (another browser) → an error page, no redirect", async () => {
    const first = await h.client.request(redirectRequest(clientNonce()))
    const one = await new Browser(h.gh).request(first.interact!["redirect"])
    expect(one.status).toBe(303)
    const two = await new Browser(h.gh).request(first.interact!["redirect"])
    expect(two.status).toBe(400)
    expect(two.headers.get("location")).toBeNull()
    expect(await two.text()).toContain("already used")
  })

  it("#33 (§4.1.2) a forged redirect start URI → an error page, never a redirect", async () => {
    const first = await h.client.request(redirectRequest(clientNonce()))
    const forged = first.interact!["redirect"].replace(/\/[^/]+$/, "/forged-secret")
    const r = await new Browser(h.gh).request(forged)
    expect(r.status).toBe(400)
    expect(r.headers.get("location")).toBeNull()
  })

  it("the resume step needs the browser that started the interaction (binding cookie) → else an error page", async () => {
    const first = await h.client.request(redirectRequest(clientNonce()))
    const browser = new Browser(h.gh)
    const start = await browser.request(first.interact!["redirect"])
    const id = /\/interaction\/([^/?]+)/.exec(start.headers.get("location")!)![1]!
    const { redirectTo } = await h.gh.interactions.complete(id, { accountId: "alice" })
    const stranger = await new Browser(h.gh).request(redirectTo)
    expect(stranger.status).toBe(400)
    expect(stranger.headers.get("location")).toBeNull()
    expect((await browser.request(redirectTo)).status).toBe(303)
    // and only once
    expect((await browser.request(redirectTo)).status).toBe(400)
  })

  it("#37 (§4.1) a start mode not used within the interaction lifetime is rejected (expires_in matches)", async () => {
    const first = await h.client.request(redirectRequest(clientNonce()))
    expect(first.interact!["expires_in"]).toBe(600)
    await h.advance(601)
    const r = await new Browser(h.gh).request(first.interact!["redirect"])
    expect(r.status).toBe(400)
    expect(r.headers.get("location")).toBeNull()
  })

  it("#38 (§4.2) the finish is not followed for a grant the client revoked meanwhile: an error page, no redirect", async () => {
    const first = await h.client.request(redirectRequest(clientNonce()))
    const browser = new Browser(h.gh)
    const start = await browser.request(first.interact!["redirect"])
    const id = /\/interaction\/([^/?]+)/.exec(start.headers.get("location")!)![1]!
    await h.advance(5)
    expect((await h.client.revokeGrant(first.continue!)).status).toBe(204)
    const { redirectTo } = await h.gh.interactions.complete(id, { accountId: "alice" })
    const r = await browser.request(redirectTo)
    expect(r.status).toBe(400)
    expect(r.headers.get("location")).toBeNull()
  })

  it("#82 (§11.19) the finish redirect after the POSTed consent is a 303", async () => {
    const nonce = clientNonce()
    const first = await h.client.request(redirectRequest(nonce))
    expect((await interactThroughRedirect(h, first.interact!["redirect"])).response.status).toBe(303)
  })

  it("the consent page data names the client (§2.3.2 display) and one line per access right", async () => {
    const first = await h.client.request(redirectRequest(clientNonce(), { subject: { sub_id_formats: ["opaque"] } }))
    const start = await new Browser(h.gh).request(first.interact!["redirect"])
    const id = /\/interaction\/([^/?]+)/.exec(start.headers.get("location")!)![1]!
    const details = await h.gh.interactions.details(id)
    expect(details.kind).toBe("gnap")
    expect(details.clientName).toBe("Photo Frame")
    expect(details.prompt).toEqual(["login", "consent"])
    expect(details.scope).toEqual(["photos", "photo-api (read) at https://rs.example.com/", "subject information (who you are)"])
  })
})

describe("§5.1 continuing after a finish", () => {
  it("§5.1: interact_ref → the tokens (§3.2) with a management URI, and a new continue; the grant is approved", async () => {
    const { approved } = await approvedGrant(h)
    const token = approved.accessToken()
    expect(token.access).toEqual(["photos", { type: "photo-api", actions: ["read"], locations: ["https://rs.example.com/"] }])
    expect(token.manage!.uri).toMatch(/^https:\/\/as\.example\.com\/gnap\/token\//)
    expect(token.expires_in).toBe(3600)
    expect(approved.continue!.uri).toBeDefined()
  })

  it("#48 (§5.1) an interact_ref used twice → too_many_attempts; the grant is finalized and its tokens revoked", async () => {
    const { approved, interactRef } = await approvedGrant(h)
    await h.advance(5)
    expectError(await h.client.continue(approved.continue!, { interact_ref: interactRef }), "too_many_attempts")
    await h.advance(5)
    expectError(await h.client.continue(approved.continue!), "invalid_continuation")
    // the tokens were revoked: they can no longer be rotated
    expectError(await h.client.rotateToken(approved.accessToken()), "invalid_rotation")
  })

  it("#49 (§5.1) a wrong interact_ref → invalid_interaction (and the right one still works)", async () => {
    const nonce = clientNonce()
    const first = await h.client.request(redirectRequest(nonce))
    const finish = finishParams((await interactThroughRedirect(h, first.interact!["redirect"])).response)
    await h.advance(5)
    expectError(await h.client.continue(first.continue!, { interact_ref: "not-the-reference" }), "invalid_interaction")
    expect((await h.client.continue(first.continue!, { interact_ref: finish.interact_ref })).status).toBe(200)
  })

  it("#49 an interact_ref before the interaction finished → invalid_interaction", async () => {
    const first = await h.client.request(redirectRequest(clientNonce()))
    await h.advance(5)
    expectError(await h.client.continue(first.continue!, { interact_ref: "early" }), "invalid_interaction")
  })

  it("#53 (§3.6) the RO denies → user_denied, without tokens and without continue; then invalid_continuation stays the answer's family", async () => {
    const nonce = clientNonce()
    const first = await h.client.request(redirectRequest(nonce))
    const { response } = await interactThroughRedirect(h, first.interact!["redirect"], { deny: true })
    const finish = finishParams(response)
    await h.advance(5)
    const denied = await h.client.continue(first.continue!, { interact_ref: finish.interact_ref })
    expectError(denied, "user_denied")
    expect(denied.continue).toBeUndefined()
    // #54 (§5.3) a finalized grant cannot be modified
    expectError(await h.client.update(first.continue!, { access_token: { access: ["photos"] } }), "user_denied")
  })

  it("§2.4 the signed-in RO is not the user the client named → unknown_user", async () => {
    const nonce = clientNonce()
    const first = await h.client.request(redirectRequest(nonce, { user: { sub_ids: [{ format: "opaque", id: "bob" }] } }))
    const finish = finishParams((await interactThroughRedirect(h, first.interact!["redirect"], { accountId: "alice" })).response)
    await h.advance(5)
    expectError(await h.client.continue(first.continue!, { interact_ref: finish.interact_ref }), "unknown_user")
  })

  it("the RO may grant part of the access: tokens carry only what was granted (§3.2.1 access may differ)", async () => {
    const nonce = clientNonce()
    const first = await h.client.request(redirectRequest(nonce, {
      access_token: [{ access: ["photos"], label: "p" }, { access: ["contacts"], label: "c" }]
    }))
    const finish = finishParams((await interactThroughRedirect(h, first.interact!["redirect"], { accountId: "alice", grantedScopes: ["photos"] })).response)
    await h.advance(5)
    const approved = await h.client.continue(first.continue!, { interact_ref: finish.interact_ref })
    // §3.2.2: a refused token is left out of the array
    expect((approved.body["access_token"] as Array<{ label: string }>).map((t) => t.label)).toEqual(["p"])
  })
})

describe("§5 continuation rules", () => {
  it("#41 (§5) no Authorization: GNAP, a Bearer scheme, an unknown token → invalid_continuation", async () => {
    const first = await h.client.request(redirectRequest(clientNonce()))
    await h.advance(5)
    const raw = await h.client.send({ url: first.continue!.uri })
    expect((await raw.json() as { error: { code: string } }).error.code).toBe("invalid_continuation")
    const bearer = await h.client.send({ url: first.continue!.uri, headers: { authorization: `Bearer ${first.continue!.access_token.value}` } })
    expect((await bearer.json() as { error: { code: string } }).error.code).toBe("invalid_continuation")
    expectError(await h.client.continue({ ...first.continue!, access_token: { value: "unknown-token" } }), "invalid_continuation")
  })

  it("#46 (§5) every continuation response rotates the token: the previous one → invalid_continuation", async () => {
    const first = await h.client.request(userCodeRequest())
    await h.advance(5)
    const second = await h.client.continue(first.continue!)
    expect(second.status).toBe(200)
    expect(second.continue!.access_token.value).not.toBe(first.continue!.access_token.value)
    await h.advance(5)
    expectError(await h.client.continue(first.continue!), "invalid_continuation")
    expect((await h.client.continue(second.continue!)).status).toBe(200)
  })

  it("#42 (§5) a continuation signed by a key other than the grant's → invalid_client", async () => {
    const first = await h.client.request(userCodeRequest())
    await h.advance(5)
    const other = await h.newClient()
    expectError(await other.continue(first.continue!), "invalid_client")
  })

  it("#22 (§7.3.1) a continuation whose signature does not cover authorization → invalid_client", async () => {
    const first = await h.client.request(userCodeRequest())
    await h.advance(5)
    expectError(await h.client.continue(first.continue!, undefined, { tamper: { components: (c) => c.filter((x) => x !== "authorization") } }), "invalid_client")
  })

  it("#43 (§5) the URI of one grant with the token of another → invalid_continuation", async () => {
    const a = await h.client.request(userCodeRequest())
    const b = await h.client.request(userCodeRequest())
    await h.advance(5)
    expectError(await h.client.continue({ ...a.continue!, access_token: b.continue!.access_token }), "invalid_continuation")
  })

  it("#44 (§5, §3.1) polling before `wait` → too_fast (token not consumed); at t+wait → accepted", async () => {
    const first = await h.client.request(userCodeRequest())
    expectError(await h.client.continue(first.continue!), "too_fast")
    await h.advance(4)
    const early = await h.client.continue(first.continue!)
    expectError(early, "too_fast")
    expect(early.status).toBe(429)
    await h.advance(1)
    const ok = await h.client.continue(first.continue!)
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    expect(ok.continue!.wait).toBe(5)
  })

  it("#80 (§11.27) repeated too_fast answers grow the wait", async () => {
    const first = await h.client.request(userCodeRequest())
    for (let i = 0; i < 4; i++) expectError(await h.client.continue(first.continue!), "too_fast")
    await h.advance(5)
    // the fourth too_fast added 5 s
    expectError(await h.client.continue(first.continue!), "too_fast")
    await h.advance(10)
    expect((await h.client.continue(first.continue!)).status).toBe(200)
  })

  it("#47 (§5.2) pending poll responses never contain access_token or subject", async () => {
    const first = await h.client.request(userCodeRequest({ subject: { sub_id_formats: ["opaque"] } }))
    await h.advance(5)
    const poll = await h.client.continue(first.continue!)
    expect(Object.keys(poll.body)).toEqual(["continue"])
  })

  it("#50 (§5.2), #45 (§5) too many polls → too_many_attempts without continue; then any continuation → invalid_continuation", async () => {
    const limited = await makeGnap({ gnap: { maxPolls: 2 } })
    let cont = (await limited.client.request(userCodeRequest())).continue!
    for (let i = 0; i < 2; i++) {
      await limited.advance(5)
      cont = (await limited.client.continue(cont)).continue!
    }
    await limited.advance(5)
    const stop = await limited.client.continue(cont)
    expectError(stop, "too_many_attempts")
    expect(stop.continue).toBeUndefined()
    await limited.advance(5)
    expectError(await limited.client.continue(cont), "invalid_continuation")
  })

  it("#37 (§4.1, §3.6) polling after the interaction expired unanswered → invalid_interaction; the grant is finalized", async () => {
    const first = await h.client.request(userCodeRequest())
    await h.advance(601)
    expectError(await h.client.continue(first.continue!), "invalid_interaction")
    await h.advance(5)
    expectError(await h.client.continue(first.continue!), "invalid_continuation")
  })

  it("#60 (§7.2) a continuation token in the query string instead of the Authorization header → invalid_continuation", async () => {
    const first = await h.client.request(userCodeRequest())
    await h.advance(5)
    const r = await h.client.send({ url: `${first.continue!.uri}?access_token=${first.continue!.access_token.value}` })
    expect((await r.json() as { error: { code: string } }).error.code).toBe("invalid_continuation")
  })

  it("#51 (§5) continuation content that is not a JSON object → invalid_request", async () => {
    const first = await h.client.request(userCodeRequest())
    await h.advance(5)
    const r = await h.client.send({ url: first.continue!.uri, token: first.continue!.access_token.value, body: "[1, 2]" })
    expect((await r.json() as { error: { code: string } }).error.code).toBe("invalid_request")
  })

  it("#52 (§5) an access token presented at the continuation URI → invalid_continuation", async () => {
    const { approved } = await approvedGrant(h)
    await h.advance(5)
    expectError(await h.client.continue({ ...approved.continue!, access_token: { value: approved.accessToken().value } }), "invalid_continuation")
  })

  it("POST on an approved grant whose tokens were delivered → invalid_continuation (PATCH or DELETE it instead)", async () => {
    const { approved } = await approvedGrant(h)
    await h.advance(5)
    expectError(await h.client.continue(approved.continue!), "invalid_continuation")
  })
})

describe("§5.3 modifying and §5.4 revoking a grant", () => {
  it("#55 (§5.3) a PATCH with client or interact_ref → invalid_request", async () => {
    const { approved } = await approvedGrant(h)
    await h.advance(5)
    expectError(await h.client.update(approved.continue!, { client: { key: h.client.keyObject() } }), "invalid_request")
    expectError(await h.client.update(approved.continue!, { interact_ref: "x" }), "invalid_request")
    expectError(await h.client.update(approved.continue!, { access_token: { access: [] } }), "invalid_request")
  })

  it("#56 (§5.3) a PATCH within what the RO approved is re-evaluated at once: new tokens, earlier tokens unaltered", async () => {
    const { approved } = await approvedGrant(h)
    const earlier = approved.accessToken()
    await h.advance(5)
    const narrowed = await h.client.update(approved.continue!, { access_token: { access: ["photos"], label: "narrow" } })
    expect(narrowed.status, JSON.stringify(narrowed.body)).toBe(200)
    expect(narrowed.accessToken().access).toEqual(["photos"])
    expect(narrowed.accessToken().label).toBe("narrow")
    expect(narrowed.accessToken().value).not.toBe(earlier.value)
    // the earlier token still works (it can be rotated)
    expect((await h.client.rotateToken(earlier)).status).toBe(200)
  })

  it("#56 (§5.3) a PATCH asking for more goes back to the RO: a new interaction, no tokens yet", async () => {
    const { approved } = await approvedGrant(h)
    await h.advance(5)
    const nonce = clientNonce()
    const more = await h.client.update(approved.continue!, {
      access_token: { access: ["photos", "contacts"] },
      interact: { start: ["redirect"], finish: { method: "redirect", uri: "https://client.example.com/return", nonce } }
    })
    expect(more.status, JSON.stringify(more.body)).toBe(200)
    expect(more.body["access_token"]).toBeUndefined()
    const finish = finishParams((await interactThroughRedirect(h, more.interact!["redirect"])).response)
    expect(h.client.verifyFinish(finish, { clientNonce: nonce, asNonce: more.interact!["finish"] })).toBe(finish.interact_ref)
    await h.advance(5)
    const approvedAgain = await h.client.continue(more.continue!, { interact_ref: finish.interact_ref })
    expect(approvedAgain.accessToken().access).toEqual(["photos", "contacts"])
  })

  it("#57 (§5.4) DELETE → 204; the grant's tokens are revoked and any later continuation, PATCH or DELETE → invalid_continuation", async () => {
    const { approved } = await approvedGrant(h)
    await h.advance(5)
    const deleted = await h.client.revokeGrant(approved.continue!)
    expect(deleted.status).toBe(204)
    expect(await deleted.text()).toBe("")
    await h.advance(5)
    expectError(await h.client.continue(approved.continue!), "invalid_continuation")
    expectError(await h.client.update(approved.continue!, { access_token: { access: ["photos"] } }), "invalid_continuation")
    const again = await h.client.revokeGrant(approved.continue!)
    expect(again.status).toBe(400)
    expectError(await h.client.rotateToken(approved.accessToken()), "invalid_rotation")
  })

  it("#54 (§5.3) PATCH on a grant finalized by DELETE → invalid_continuation", async () => {
    const first = await h.client.request(userCodeRequest())
    await h.advance(5)
    expect((await h.client.revokeGrant(first.continue!)).status).toBe(204)
    await h.advance(5)
    expectError(await h.client.update(first.continue!, { access_token: { access: ["photos"] } }), "invalid_continuation")
  })
})

describe("§1.6.3 Figure 5: the user-code flow (steps 1–12)", () => {
  it("request (1) → user code (2, 3) → poll: wait (9, 10) → code entered, sign-in, approval (4–8) → poll: tokens (11, 12); #32 the code typed in lower case with a dash, #61 subject once approved", async () => {
    // (1) request access, (2) interaction needed
    const first = await h.client.request(userCodeRequest({ subject: { sub_id_formats: ["opaque", "iss_sub"] } }))
    const code = first.interact!["user_code"] as string
    // (9) continue request A, (10) not yet granted: wait
    await h.advance(5)
    const waiting = await h.client.continue(first.continue!)
    expect(Object.keys(waiting.body)).toEqual(["continue"])
    expect(waiting.continue!.wait).toBe(5)
    // (4) open URI, (6) enter the code — typed in lower case with a separator (#32, §4.1.2)
    const { result, browser } = await enterCode(`${code.slice(0, 4).toLowerCase()}-${code.slice(4)} `)
    expect(result.outcome).toBe("accepted")
    if (result.outcome !== "accepted") return
    expect(result.kind).toBe("gnap")
    // (5) authN, (7) authZ — the host's pages through the interaction API
    const { redirectTo } = await h.gh.interactions.complete(result.interactionId, { accountId: "alice" })
    // (8) completed: no finish method, the RO is told to return to the device (§4.2)
    const done = await browser.request(redirectTo)
    expect(done.status).toBe(200)
    expect(await done.text()).toContain("Return to your device")
    // (11) continue request B, (12) grant access
    await h.advance(5)
    const granted = await h.client.continue(waiting.continue!)
    expect(granted.status, JSON.stringify(granted.body)).toBe(200)
    expect(granted.accessToken().access).toEqual(["photos"])
    // #61 (§3.4): subject information, the RO having approved it
    expect(granted.body["subject"]).toEqual({
      sub_ids: [{ format: "opaque", id: "alice" }, { format: "iss_sub", iss: "https://as.example.com", sub: "alice" }]
    })
  })

  it("#35 (§4) a user code is used once: entered again from another browser → rejected", async () => {
    const first = await h.client.request(userCodeRequest())
    expect((await enterCode(first.interact!["user_code"])).result.outcome).toBe("accepted")
    const again = await enterCode(first.interact!["user_code"])
    expect(again.result.outcome).toBe("rejected")
  })

  it("#33 (§4.1.2) an unknown code is rejected (the page shows an error; no redirect to the client)", async () => {
    const { result } = await enterCode("BCDFGHJK")
    expect(result.outcome).toBe("rejected")
  })

  it("#36 (§4.1) once the user code opened the interaction, the redirect start URI is rejected", async () => {
    const first = await h.client.request({ access_token: { access: ["photos"] }, interact: { start: ["redirect", "user_code"] } })
    expect((await enterCode(first.interact!["user_code"])).result.outcome).toBe("accepted")
    const r = await new Browser(h.gh).request(first.interact!["redirect"])
    expect(r.status).toBe(400)
    expect(r.headers.get("location")).toBeNull()
  })

  it("#36 (§4.1) once the redirect start URI was used, the user code is rejected", async () => {
    const first = await h.client.request({ access_token: { access: ["photos"] }, interact: { start: ["redirect", "user_code"] } })
    expect((await new Browser(h.gh).request(first.interact!["redirect"])).status).toBe(303)
    expect((await enterCode(first.interact!["user_code"])).result.outcome).toBe("rejected")
  })

  it("#37 (§4.1) a user code not entered within expires_in is rejected", async () => {
    const first = await h.client.request(userCodeRequest())
    await h.advance(601)
    const { result } = await enterCode(first.interact!["user_code"])
    expect(result.outcome).toBe("rejected")
  })

  it("#34 (§4.1.2) repeated wrong codes from one browser → too many attempts", async () => {
    const key = `browser:${Math.random()}`
    let last = await h.gh.userCodes.submit("BCDFGHJK", { attemptKeys: [key] })
    for (let i = 0; i < 6; i++) last = await h.gh.userCodes.submit("BCDFGHJK", { attemptKeys: [key] })
    expect(last.outcome).toBe("too_many_attempts")
  })
})

describe("§4.2.2 push finish (and §11.34 SSRF)", () => {
  it("#39 (§11.34) a push finish to a loopback or private address is not made", async () => {
    const nonce = clientNonce()
    const first = await h.client.request(redirectRequest(nonce, {
      interact: { start: ["redirect"], finish: { method: "push", uri: "https://127.0.0.1:9/push", nonce } }
    }))
    const { response } = await interactThroughRedirect(h, first.interact!["redirect"])
    expect(response.status).toBe(502)
    expect(await response.text()).toContain("could not be reached")
  })

  it("§4.2.2: the AS POSTs {hash, interact_ref} as JSON to the finish URI; the client verifies it and continues", async () => {
    let received: (value: { request: IncomingMessage; body: string }) => void = () => {}
    const pushed = new Promise<{ request: IncomingMessage; body: string }>((resolve) => (received = resolve))
    const server = createServer((request, response) => {
      let body = ""
      request.on("data", (c) => (body += c))
      request.on("end", () => {
        response.writeHead(200).end()
        received({ request, body })
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as AddressInfo).port
    const local = await makeGnap({ gnap: { finishPush: { allowPrivateNetworks: true } } })
    const nonce = clientNonce()
    const first = await local.client.request(redirectRequest(nonce, {
      interact: { start: ["redirect"], finish: { method: "push", uri: `http://127.0.0.1:${port}/push`, nonce } }
    }))
    const { response } = await interactThroughRedirect(local, first.interact!["redirect"])
    expect(response.status).toBe(200)
    const { request, body } = await pushed
    expect(request.method).toBe("POST")
    expect(request.headers["content-type"]).toBe("application/json")
    const message = JSON.parse(body) as { hash: string; interact_ref: string }
    expect(Object.keys(message).sort()).toEqual(["hash", "interact_ref"])
    const ref = local.client.verifyFinish(message, { clientNonce: nonce, asNonce: first.interact!["finish"] })
    await local.advance(5)
    expect((await local.client.continue(first.continue!, { interact_ref: ref })).status).toBe(200)
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
})
