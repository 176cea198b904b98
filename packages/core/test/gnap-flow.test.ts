/**
 * The docs/gnap.md client example, run as written (with the TestClock standing in for the
 * `wait` sleep), and the audit events a GNAP grant emits.
 */
import type { GatehouseEvent } from "@gatehouse/core"
import { describe, expect, it } from "vitest"
import { Browser, makeGnap } from "./helpers/gnap.js"

describe("docs/gnap.md", () => {
  it("the ten-line client example: user_code_uri, polling with wait, tokens (RFC 9635 §1.6.3)", async () => {
    const events: Array<GatehouseEvent> = []
    const h = await makeGnap({ onEvent: (e) => void events.push(e) })
    const client = await h.newClient()
    let grant = await client.request({ access_token: { access: ["photos"] }, interact: { start: ["user_code_uri"] } })
    const { uri, code } = grant.interact!["user_code_uri"]
    expect(uri).toBe("https://as.example.com/device")
    let polls = 0
    while (!grant.body["access_token"]) {
      await h.advance(grant.continue!.wait ?? 5)
      grant = await client.continue(grant.continue!)
      expect(grant.status, JSON.stringify(grant.body)).toBe(200)
      if (++polls === 2) {
        // meanwhile, on a phone: the code, the sign-in, the approval
        const entered = await h.gh.userCodes.submit(code, { attemptKeys: ["browser:phone"] })
        if (entered.outcome !== "accepted") throw new Error(entered.outcome)
        const browser = new Browser(h.gh)
        const [pair] = entered.setCookie!.split(";")
        browser.cookies.set(pair!.split("=")[0]!, pair!.slice(pair!.indexOf("=") + 1))
        const { redirectTo } = await h.gh.interactions.complete(entered.interactionId, { accountId: "alice" })
        expect((await browser.request(redirectTo)).status).toBe(200)
      }
    }
    expect(grant.accessToken().access).toEqual(["photos"])
    expect(polls).toBe(3)
    expect(events.map((e) => e.type)).toEqual(["user_code.accepted", "authorization.granted", "token.issued"])
    expect(events[2]).toMatchObject({ grantType: "gnap", accountId: "alice", scope: ["photos"] })
  })
})
