/**
 * GNAP test harness: a Gatehouse on in-memory storage with a TestClock, the testkit's GNAP
 * client (written from the RFC, independent of the server code) wired to its handler and
 * clock, a cookie-carrying browser, and the steps of the interaction hand-off.
 */
import { createGatehouse, type CreateGatehouseOptions, type GatehouseInstance } from "@gatehouse/core"
import {
  clientNonce,
  type ClientKeyPair,
  generateClientKey,
  GnapClient,
  type GnapClientOptions,
  type GnapResponse,
  MemoryStorage
} from "@gatehouse/testkit"
import { Clock } from "effect"
import { TestClock } from "effect/testing"
import { Browser, freshDatabase, USERS } from "./setup.js"

export const ISSUER = "https://as.example.com"
export const GRANT = `${ISSUER}/gnap`
/** 2026-11-25T12:00:00Z */
export const T0 = Date.UTC(2026, 10, 25, 12)

export interface GnapHarness {
  readonly gh: GatehouseInstance
  readonly db: ReturnType<typeof freshDatabase>
  readonly client: GnapClient
  readonly newClient: (o?: Partial<GnapClientOptions>) => Promise<GnapClient>
  readonly advance: (seconds: number) => Promise<void>
  readonly now: () => Promise<number>
}

/** An ES256 key shared by the clients of a test file (any alg works; RSA is slow to generate). */
let sharedKey: ClientKeyPair | undefined
export const clientKey = async () => (sharedKey ??= await generateClientKey("ES256", "client-key-1"))

export const makeGnap = async (extra: Partial<CreateGatehouseOptions> = {}): Promise<GnapHarness> => {
  const db = freshDatabase()
  const gh = createGatehouse({
    issuer: ISSUER,
    storage: MemoryStorage.layer(db),
    accounts: {
      claims: (id) => USERS[id],
      authenticate: (u, p) => (USERS[u] && p === `${u}-password` ? u : undefined)
    },
    overrides: TestClock.layer(),
    ...extra
  })
  await gh.run(TestClock.setTime(T0))
  const now = () => gh.run(Clock.currentTimeMillis)
  const newClient = async (o: Partial<GnapClientOptions> = {}) =>
    GnapClient.create({ grantEndpoint: GRANT, fetch: gh.handler, now, key: await generateClientKey("ES256"), ...o })
  return {
    gh,
    db,
    client: await GnapClient.create({ grantEndpoint: GRANT, fetch: gh.handler, now, key: await clientKey(), display: { name: "Photo Frame" } }),
    newClient,
    advance: (seconds) => gh.run(TestClock.adjust(`${seconds} seconds`)),
    now
  }
}

/** A grant request for one token with a redirect start and a redirect finish. */
export const redirectRequest = (nonce: string, extra: Record<string, unknown> = {}) => ({
  access_token: { access: ["photos", { type: "photo-api", actions: ["read"], locations: ["https://rs.example.com/"] }], label: "tok" },
  interact: { start: ["redirect"], finish: { method: "redirect", uri: "https://client.example.com/return", nonce } },
  ...extra
})

/**
 * §4.1.1 + the hand-off: the browser opens the redirect start URI, the host signs `accountId`
 * in and approves (or denies), and the browser returns to the AS. Returns the AS's answer to
 * the browser (the finish redirect, push page, or "return to your device" page).
 */
export const interactThroughRedirect = async (
  h: GnapHarness,
  redirect: string,
  decision: { readonly accountId?: string; readonly deny?: boolean; readonly grantedScopes?: ReadonlyArray<string> } = { accountId: "alice" },
  browser = new Browser(h.gh)
) => {
  const start = await browser.request(redirect)
  if (start.status !== 303) return { response: start, browser, interactionId: undefined }
  const interactionId = /\/interaction\/([^/?]+)/.exec(start.headers.get("location") ?? "")![1]!
  const { redirectTo } = decision.deny
    ? await h.gh.interactions.deny(interactionId)
    : await h.gh.interactions.complete(interactionId, { accountId: decision.accountId ?? "alice", grantedScopes: decision.grantedScopes })
  return { response: await browser.request(redirectTo), browser, interactionId }
}

/** The `hash` and `interact_ref` of a finish redirect (§4.2.1). */
export const finishParams = (response: Response) => {
  const location = response.headers.get("location")
  if (response.status !== 303 || !location) throw new Error(`expected a 303 finish redirect, got ${response.status}`)
  const url = new URL(location)
  return { url, hash: url.searchParams.get("hash")!, interact_ref: url.searchParams.get("interact_ref")! }
}

/** Grant request -> redirect interaction -> finish -> continue with interact_ref: the approved response. */
export const approvedGrant = async (h: GnapHarness, request?: Record<string, unknown>, client = h.client) => {
  const nonce = clientNonce()
  const first = await client.request(request ?? redirectRequest(nonce))
  if (first.status !== 200) throw new Error(`grant request failed: ${JSON.stringify(first.body)}`)
  const finishNonce = ((request?.["interact"] as { finish?: { nonce?: string } } | undefined)?.finish?.nonce) ?? nonce
  const { response } = await interactThroughRedirect(h, first.interact!["redirect"])
  const finish = finishParams(response)
  const ref = client.verifyFinish(finish, { clientNonce: finishNonce, asNonce: first.interact!["finish"] })
  await h.advance(first.continue!.wait ?? 5)
  const approved = await client.continue(first.continue!, { interact_ref: ref })
  if (approved.status !== 200) throw new Error(`continuation failed: ${JSON.stringify(approved.body)}`)
  return { first, approved, interactRef: ref }
}

export const errorCode = (r: GnapResponse) => r.error

export { Browser, clientNonce }
