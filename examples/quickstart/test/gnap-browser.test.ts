/**
 * GNAP's founding drawing end to end (RFC 9635 §1.6.3 Figure 5, Appendix B.2; issue 5 steps
 * 1–14) on the quickstart, with the default pages in a real browser (headless Chromium):
 *
 *  (1) the client instance (testkit's GnapClient, written from the RFC) asks for access with
 *      interact start `user_code`; (2, 3) it gets `interact.user_code` and a `continue`;
 *  (4) a person opens the AS's user-code page and (6) types the code, (5) signs in as
 *      alice / wonderland, (7, 8) approves; meanwhile (9) the client continues, (10) is told
 *      to wait (`too_fast` when it comes back before `wait`, else a pending `continue`),
 *  (11) continues again after `wait` and (12) gets its access token, which (13) it presents
 *      to the quickstart's own API with a key proof and (14) is served.
 *
 * The instance runs with `gnap.wait` = 1 s so the protocol's waits are short; the client
 * waits exactly what each response tells it. Every page is saved under test-results/quickstart-gnap/.
 */
import { type AccessTokenInfo, type ContinueInfo, GnapClient, type GnapResponse } from "@gatehouse/testkit"
import { type Browser, chromiumAvailable, launchChromium, screenshots } from "@gatehouse/testkit/browser"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setTimeout as delay } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Quickstart, startQuickstart } from "../server.mjs"

const ARTIFACTS = fileURLToPath(new URL("../../../test-results/quickstart-gnap/", import.meta.url))

/** Steps 9–12: continue, honouring each `wait`, until the access token (or a final error). */
const pollForToken = async (client: GnapClient, first: ContinueInfo) => {
  const answers: Array<string> = []
  let cont = first
  for (;;) {
    // §5.2: "the client instance MUST NOT call the continuation URI before `wait` seconds"
    await delay((cont.wait ?? 5) * 1000)
    const r = await client.continue(cont)
    if (r.status === 200 && r.body["access_token"]) {
      answers.push("access_token")
      return { token: r.accessToken(), answers }
    }
    if (r.status !== 200) {
      answers.push(r.error ?? String(r.status))
      return { token: undefined, answers, body: r.body }
    }
    answers.push("pending")
    cont = r.continue!
  }
}

describe.skipIf(!chromiumAvailable())("GNAP user-code flow (RFC 9635 §1.6.3) on the quickstart in headless Chromium", () => {
  let app: Quickstart | undefined
  let browser: Browser | undefined

  beforeAll(async () => {
    ;[app, browser] = await Promise.all([
      startQuickstart({ port: 0, gnapWait: 1, databaseUrl: `file:${join(mkdtempSync(join(tmpdir(), "gatehouse-gnap-")), "gatehouse.sqlite")}` }),
      launchChromium()
    ])
  }, 5 * 60_000)
  afterAll(async () => {
    await browser?.close()
    await app?.close()
  })

  it("steps 1–14: user_code -> too_fast/wait -> the person enters the code, signs in as alice, approves -> the client's token -> GET /api/gnap/me with a key proof is served", { timeout: 120_000 }, async () => {
    const api = `${app!.url}/api/gnap/me`
    // RFC 9635 §9.1: the RS-first challenge names the AS's grant endpoint
    const unauthenticated = await fetch(api)
    expect(unauthenticated.status).toBe(401)
    const asUri = /GNAP as_uri="([^"]+)"/.exec(unauthenticated.headers.get("www-authenticate") ?? "")?.[1]
    expect(asUri).toBe(`${app!.url}/gnap`)

    // (1) request access; (2, 3) interaction needed: a user code and a continuation
    const client = await GnapClient.create({ grantEndpoint: asUri!, display: { name: "Quickstart Photo Frame" } })
    const first: GnapResponse = await client.request({ access_token: { access: ["photos"] }, interact: { start: ["user_code"] } })
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    const userCode = first.interact!["user_code"] as string
    // the user-code engine shared with RFC 8628 (§6.1 alphabet); GNAP sends it without the separator
    expect(userCode).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-?[BCDFGHJKLMNPQRSTVWXZ]{4}$/)
    expect(first.continue!.wait).toBe(1)
    expect(first.body["access_token"]).toBeUndefined()

    // (9, 10) continuing at once, before `wait`: too_fast (§3.6, §5) — or, on a machine slow
    // enough that a second has passed, still pending with a new `wait` (§5.2)
    const early = await client.continue(first.continue!)
    let cont: ContinueInfo
    if (early.status === 200) {
      expect(early.body["access_token"]).toBeUndefined()
      expect(early.continue!.wait).toBe(1)
      cont = early.continue!
    } else {
      expect(early.error).toBe("too_fast")
      // §5: the continuation token stays valid after too_fast
      cont = first.continue!
    }
    const polling = pollForToken(client, cont)

    // (4–8) in the browser: the AS's user-code page, the code, sign-in, approval
    const context = await browser!.newContext()
    try {
      const page = await context.newPage()
      page.setDefaultTimeout(20_000)
      const shots = screenshots(ARTIFACTS, "gnap-")
      await page.goto(app!.gatehouse.config.userCode.verificationUri)
      await shots.take(page, "enter-code")
      await page.locator(`input[name="user_code"]`).fill(userCode)
      await page.getByRole("button", { name: "Continue" }).click()
      await page.locator(`input[name="username"]`).waitFor()
      await shots.take(page, "login")
      await page.locator(`input[name="username"]`).fill("alice")
      await page.locator(`input[name="password"]`).fill("wonderland")
      await page.getByRole("button", { name: "Sign in" }).click()
      const allow = page.getByRole("button", { name: "Allow" })
      await allow.waitFor()
      await expect(page.locator("main").innerText()).resolves.toContain("Quickstart Photo Frame")
      await shots.take(page, "consent")
      await allow.click()
      await page.getByRole("heading", { level: 1 }).waitFor()
      await shots.take(page, "approved")
      await expect(page.locator("body").innerText()).resolves.toContain("Return to your device")
    } finally {
      await context.close()
    }

    // (11, 12) the client, honouring `wait`, gets its access token
    const outcome = await polling
    expect(outcome.token, JSON.stringify(outcome)).toBeDefined()
    expect(outcome.answers.at(-1)).toBe("access_token")
    expect(outcome.answers.slice(0, -1).every((a) => a === "pending")).toBe(true)
    const token: AccessTokenInfo = outcome.token!
    expect(token.access).toEqual(["photos"])
    expect(token.flags ?? []).not.toContain("bearer")

    // (13, 14) the token at the quickstart's API, with an HTTP Message Signature by the client key (§7.2, §7.3.1)
    const served = await client.fetchResource(api, token)
    expect(served.status).toBe(200)
    expect(await served.json()).toMatchObject({ sub: "alice", name: "Alice Liddell", access: ["photos"], bound: true })

    // the same token without its proof, or as a Bearer token, is refused (§7.2), with the RS-first challenge
    const unproven = await client.send({ method: "GET", url: api, token: token.value, tamper: { noSignature: true } })
    expect(unproven.status).toBe(401)
    expect(unproven.headers.get("www-authenticate")).toContain(`GNAP as_uri="${asUri}"`)
    const asBearer = await fetch(api, { headers: { authorization: `Bearer ${token.value}` } })
    expect(asBearer.status).toBe(401)
  })
})
