/**
 * The device authorization grant (RFC 8628) end to end on the quickstart, in a real browser
 * (headless Chromium): a device client registers itself, asks for a device code (§3.1) and
 * starts polling the token endpoint (§3.4); a person opens `verification_uri` in the
 * browser, types the user code, signs in as alice / wonderland and clicks Allow (or Deny);
 * the polling device gets its tokens (or `access_denied`, §3.5), and the quickstart's own
 * API accepts the access token. Every page is saved under test-results/quickstart-device/.
 */
import { type Browser, chromiumAvailable, launchChromium, type Page, screenshots } from "@gatehouse/testkit/browser"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { setTimeout as delay } from "node:timers/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Quickstart, startQuickstart } from "../server.mjs"

const DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
const ARTIFACTS = fileURLToPath(new URL("../../../test-results/quickstart-device/", import.meta.url))

interface DeviceAuthorization {
  readonly device_code: string
  readonly user_code: string
  readonly verification_uri: string
  readonly verification_uri_complete: string
  readonly expires_in: number
  readonly interval: number
}

type PollOutcome =
  | { readonly kind: "tokens"; readonly body: Record<string, string>; readonly polls: ReadonlyArray<string> }
  | { readonly kind: "error"; readonly error: string; readonly polls: ReadonlyArray<string> }

/** A device as RFC 8628 describes it: no browser, only HTTP to the AS. */
class Device {
  constructor(readonly issuer: string, readonly clientId: string) {}

  /** RFC 7591: a public client allowed the device grant (and nothing else). */
  static async register(issuer: string): Promise<Device> {
    const response = await fetch(`${issuer}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_name: "Quickstart TV", grant_types: [DEVICE_CODE], token_endpoint_auth_method: "none" })
    })
    const body = await response.json() as { client_id: string }
    expect(response.status).toBe(201)
    return new Device(issuer, body.client_id)
  }

  /** RFC 8628 §3.1, §3.2. The endpoint comes from the AS metadata (§4). */
  async authorize(scope: string): Promise<DeviceAuthorization> {
    const metadata = await (await fetch(`${this.issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, string>
    const response = await fetch(metadata["device_authorization_endpoint"]!, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: this.clientId, scope })
    })
    expect(response.status).toBe(200)
    return await response.json() as DeviceAuthorization
  }

  /**
   * RFC 8628 §3.4, §3.5: poll until tokens or a final error, waiting `interval` seconds
   * between requests (the protocol requires the wait) and 5 more after each slow_down.
   */
  async poll(auth: DeviceAuthorization): Promise<PollOutcome> {
    const polls: Array<string> = []
    let interval = auth.interval
    for (;;) {
      const response = await fetch(`${this.issuer}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: DEVICE_CODE, device_code: auth.device_code, client_id: this.clientId })
      })
      const body = await response.json() as Record<string, string>
      if (response.status === 200) return { kind: "tokens", body, polls }
      const error = body["error"]!
      polls.push(error)
      if (error === "slow_down") interval += 5
      else if (error !== "authorization_pending") return { kind: "error", error, polls }
      await delay(interval * 1000)
    }
  }
}

/** What a person does on the AS's pages, screenshotting each one. */
const signInAndDecide = async (page: Page, shots: ReturnType<typeof screenshots>, decision: "Allow" | "Deny") => {
  await page.locator(`input[name="username"]`).waitFor()
  await shots.take(page, "login")
  await page.locator(`input[name="username"]`).fill("alice")
  await page.locator(`input[name="password"]`).fill("wonderland")
  await page.getByRole("button", { name: "Sign in" }).click()
  const button = page.getByRole("button", { name: decision })
  await button.waitFor()
  // RFC 8628 §5.4: the consent page says a device is being connected, and by whom
  await expect(page.locator("#gh-device-notice").innerText()).resolves.toContain("connecting a device")
  await expect(page.locator("main").innerText()).resolves.toContain("Quickstart TV")
  await shots.take(page, "consent")
  await button.click()
  await page.getByRole("heading", { level: 1 }).waitFor()
  await shots.take(page, decision === "Allow" ? "device-connected" : "device-denied")
  return page.locator("main").innerText()
}

describe.skipIf(!chromiumAvailable())("the device flow (RFC 8628) on the quickstart in headless Chromium", () => {
  let app: Quickstart | undefined
  let browser: Browser | undefined

  beforeAll(async () => {
    ;[app, browser] = await Promise.all([
      startQuickstart({ port: 0, databaseUrl: `file:${join(mkdtempSync(join(tmpdir(), "gatehouse-device-")), "gatehouse.sqlite")}` }),
      launchChromium()
    ])
  }, 5 * 60_000)
  afterAll(async () => {
    await browser?.close()
    await app?.close()
  })

  it("device code -> open verification_uri -> type the user code -> sign in as alice -> Allow: the polling device gets tokens the API accepts", { timeout: 120_000 }, async () => {
    const device = await Device.register(app!.url)
    const auth = await device.authorize("openid profile")
    expect(auth.verification_uri).toBe(`${app!.url}/device`)
    expect(auth.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/)
    const polling = device.poll(auth)

    const context = await browser!.newContext()
    try {
      const page = await context.newPage()
      page.setDefaultTimeout(20_000)
      const shots = screenshots(ARTIFACTS, "allow-")
      await page.goto(auth.verification_uri)
      await shots.take(page, "enter-code")
      await page.locator(`input[name="user_code"]`).fill(auth.user_code.toLowerCase())
      await page.getByRole("button", { name: "Continue" }).click()
      expect(await signInAndDecide(page, shots, "Allow")).toContain("Device connected")
    } finally {
      await context.close()
    }

    const outcome = await polling
    expect(outcome.kind).toBe("tokens")
    if (outcome.kind !== "tokens") return
    expect(outcome.polls.every((e) => e === "authorization_pending" || e === "slow_down")).toBe(true)
    expect(outcome.body["token_type"]).toBe("Bearer")
    expect(outcome.body["scope"]).toBe("openid profile")
    expect(outcome.body["id_token"]).toBeTruthy()
    const me = await fetch(`${app!.url}/api/me`, { headers: { authorization: `Bearer ${outcome.body["access_token"]}` } })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ sub: "alice", client_id: device.clientId })
    // RFC 8628 §3.4: the device code was single use
    const again = await device.poll(auth)
    expect(again).toMatchObject({ kind: "error", error: "invalid_grant" })
  })

  it("verification_uri_complete pre-fills the code, the user confirms it (RFC 8628 §5.4), signs in and denies: the device gets access_denied", { timeout: 120_000 }, async () => {
    const device = await Device.register(app!.url)
    const auth = await device.authorize("profile")
    const polling = device.poll(auth)
    const context = await browser!.newContext()
    try {
      const page = await context.newPage()
      page.setDefaultTimeout(20_000)
      const shots = screenshots(ARTIFACTS, "deny-")
      await page.goto(auth.verification_uri_complete)
      // shown for the user to check, not submitted for them
      await expect(page.locator(`input[name="user_code"]`).inputValue()).resolves.toBe(auth.user_code)
      await expect(page.locator("main").innerText()).resolves.toContain("Check that this is the code shown on your device")
      await shots.take(page, "confirm-code")
      await page.getByRole("button", { name: "Continue" }).click()
      expect(await signInAndDecide(page, shots, "Deny")).toContain("denied")
    } finally {
      await context.close()
    }
    expect(await polling).toMatchObject({ kind: "error", error: "access_denied" })
  })
})
