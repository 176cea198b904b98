/**
 * A Gatehouse on in-memory storage with a frozen, adjustable clock, and a browser-like
 * cookie jar to drive the authorization endpoint, the host's interaction and the resume step.
 */
import { createGatehouse, type CreateGatehouseOptions, type GatehouseInstance } from "@gatehouse/core"
import { makeMemoryDatabase, type MemoryDatabase, MemoryStorage } from "@gatehouse/testkit"
import { Effect } from "effect"
import { TestClock } from "effect/testing"

export const ISSUER = "https://as.example.com"
export const REDIRECT = "https://client.example.com/cb"
export const VERIFIER = "dBjftJeZ4CVP-mJ92K9W-QuRZSNiP1S3ZVo1f2s-SbhcKl3kBbUo"
/** RFC 7636 Appendix B: BASE64URL(SHA256(verifier)) for the verifier above (different value, computed) */
export const challengeFor = async (verifier: string) => {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)))
  return btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
}

export const USERS: Record<string, Record<string, unknown>> = {
  alice: { name: "Alice Liddell", email: "alice@example.com", email_verified: true, preferred_username: "alice" },
  bob: { name: "Bob", email: "bob@example.com" }
}

/**
 * Signing keys are generated once per test file and copied into every fresh database
 * (RSA generation is slow; what is tested here is the protocol, not key generation).
 */
let keysTemplate: MemoryDatabase["keys"] | undefined
export const freshDatabase = () => {
  const db = makeMemoryDatabase()
  if (keysTemplate) for (const [k, v] of keysTemplate) db.keys.set(k, v)
  else keysTemplate = db.keys
  return db
}

export const makeGatehouse = (extra: Partial<CreateGatehouseOptions> = {}): GatehouseInstance =>
  createGatehouse({
    issuer: ISSUER,
    storage: MemoryStorage.layer(freshDatabase()),
    accounts: {
      claims: (id) => USERS[id],
      authenticate: (u, p) => (USERS[u] && p === `${u}-password` ? u : undefined)
    },
    clients: [
      {
        client_id: "web",
        client_secret: "web-secret-0123456789",
        redirect_uris: [REDIRECT, "https://client.example.com/cb2?x=1"],
        grant_types: ["authorization_code", "refresh_token"],
        client_name: "Web App"
      },
      {
        client_id: "spa",
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token"]
      },
      {
        client_id: "native",
        redirect_uris: ["http://127.0.0.1/callback"],
        token_endpoint_auth_method: "none"
      }
    ],
    // TestClock starts at 0: move it to a realistic date so JWT times look real
    overrides: TestClock.layer(),
    ...extra
  })

export const setTime = (gh: GatehouseInstance, iso = "2026-11-25T12:00:00Z") =>
  gh.run(TestClock.setTime(Date.parse(iso)))

export const advance = (gh: GatehouseInstance, duration: string) => gh.run(TestClock.adjust(duration as never))

/** A minimal cookie jar keyed by name (one origin). */
export class Browser {
  readonly cookies = new Map<string, string>()
  constructor(readonly gh: GatehouseInstance) {}
  store(response: Response) {
    for (const c of response.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";")
      const eq = pair!.indexOf("=")
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      if (attrs.some((a) => /max-age=0$/i.test(a.trim()))) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }
  async request(url: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers)
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "))
    const response = await this.gh.handler(new Request(url, { ...init, headers, redirect: "manual" }))
    this.store(response)
    return response
  }
}

export const authorizeUrl = (params: Record<string, string | undefined>, endpoint = `${ISSUER}/authorize`) => {
  const url = new URL(endpoint)
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.append(k, v)
  return url.toString()
}

export const defaultParams = async (overrides: Record<string, string | undefined> = {}) => ({
  response_type: "code",
  client_id: "web",
  redirect_uri: REDIRECT,
  scope: "openid profile",
  state: "st4te",
  nonce: "n0nce",
  code_challenge: await challengeFor(VERIFIER),
  code_challenge_method: "S256",
  ...overrides
})

/** The interaction id from a redirect to the host's login page. */
export const interactionId = (response: Response) => {
  const location = response.headers.get("location")
  if (!location) throw new Error(`expected a redirect, got ${response.status}`)
  const match = /\/interaction\/([^/?]+)/.exec(location)
  if (!match) throw new Error(`not an interaction redirect: ${location}`)
  return decodeURIComponent(match[1]!)
}

/**
 * Authorize -> host login/consent (through the Promise API) -> resume. Returns the final
 * response (redirect to the client) and the browser (with its session cookie).
 */
export const authorizeThrough = async (
  gh: GatehouseInstance,
  params: Record<string, string | undefined>,
  complete: { accountId?: string; grantedScopes?: ReadonlyArray<string> } = { accountId: "alice" },
  browser = new Browser(gh)
) => {
  const start = await browser.request(authorizeUrl(params))
  const location = start.headers.get("location") ?? ""
  if (!location.includes("/interaction/")) return { response: start, browser }
  const id = interactionId(start)
  const { redirectTo } = await gh.interactions.complete(id, complete)
  const response = await browser.request(redirectTo)
  return { response, browser, interaction: id }
}

export const codeFrom = (response: Response) => {
  const location = response.headers.get("location")
  if (!location) throw new Error(`expected a redirect, got ${response.status}`)
  const url = new URL(location)
  const code = url.searchParams.get("code")
  if (!code) throw new Error(`no code in ${location}`)
  return { code, url }
}

export const run = <A>(gh: GatehouseInstance, effect: Effect.Effect<A, unknown, never>) => gh.run(effect)
