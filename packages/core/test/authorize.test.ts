/**
 * The authorization endpoint and the interaction hand-off, through real Requests.
 */
import { describe, expect, it } from "vitest"
import {
  authorizeThrough,
  authorizeUrl,
  Browser,
  codeFrom,
  defaultParams,
  interactionId,
  ISSUER,
  makeGatehouse,
  REDIRECT,
  setTime
} from "./helpers/setup.js"

const fresh = async () => {
  const gh = makeGatehouse()
  await setTime(gh)
  return gh
}

const expectErrorPage = async (response: Response, code: string) => {
  expect(response.status).toBe(400)
  expect(response.headers.get("location")).toBeNull()
  expect(response.headers.get("content-type")).toContain("text/html")
  expect(response.headers.get("x-frame-options")).toBe("DENY")
  expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'")
  const body = await response.text()
  expect(body).toContain(code)
  expect(body).not.toMatch(/at .*\.ts:\d+/)
}

const expectRedirectError = (response: Response, code: string, state = "st4te") => {
  expect(response.status).toBe(303)
  const url = new URL(response.headers.get("location")!)
  expect(`${url.origin}${url.pathname}`).toBe(REDIRECT)
  expect(url.searchParams.get("error")).toBe(code)
  expect(url.searchParams.get("error_description")).toBeTruthy()
  // RFC 9207 §2: iss in error responses too
  expect(url.searchParams.get("iss")).toBe(ISSUER)
  if (state) expect(url.searchParams.get("state")).toBe(state)
  expect(url.searchParams.get("code")).toBeNull()
  return url
}

describe("authorization endpoint: errors shown, never redirected (RFC 6749 §4.1.2.1)", () => {
  it("RFC 6749 §4.1.2.1: unknown client_id -> error page, no redirect", async () => {
    const gh = await fresh()
    const res = await gh.handler(new Request(authorizeUrl(await defaultParams({ client_id: "nobody" }))))
    await expectErrorPage(res, "invalid_client")
  })

  it("RFC 6749 §4.1.2.1: missing client_id -> error page", async () => {
    const gh = await fresh()
    const res = await gh.handler(new Request(authorizeUrl(await defaultParams({ client_id: undefined }))))
    await expectErrorPage(res, "invalid_request")
  })

  it("RFC 6749 §3.1: duplicate client_id -> error page", async () => {
    const gh = await fresh()
    const url = `${authorizeUrl(await defaultParams())}&client_id=web`
    await expectErrorPage(await gh.handler(new Request(url)), "invalid_request")
  })

  it.each([
    ["a different host", "https://evil.example.com/cb"],
    ["a path suffix", `${REDIRECT}/../evil`],
    ["an extra query", `${REDIRECT}?next=https://evil.example.com`],
    ["a trailing slash", `${REDIRECT}/`],
    ["a different scheme", REDIRECT.replace("https", "http")],
    ["a different case host", "https://CLIENT.example.com/cb"],
    ["a fragment", `${REDIRECT}#x`]
  ])("RFC 9700 §4.1.3: exact redirect_uri matching refuses %s (error page, no open redirect)", async (_, uri) => {
    const gh = await fresh()
    const res = await gh.handler(new Request(authorizeUrl(await defaultParams({ redirect_uri: uri }))))
    await expectErrorPage(res, "invalid_request")
  })

  it("RFC 6749 §3.1.2.3: redirect_uri may be omitted only with a single registered URI", async () => {
    const gh = await fresh()
    // "web" has two registered URIs
    const res = await gh.handler(new Request(authorizeUrl(await defaultParams({ redirect_uri: undefined, scope: "profile" }))))
    await expectErrorPage(res, "invalid_request")
  })

  it("RFC 6749 §3.1: duplicate redirect_uri -> error page", async () => {
    const gh = await fresh()
    const url = `${authorizeUrl(await defaultParams())}&redirect_uri=${encodeURIComponent(REDIRECT)}`
    await expectErrorPage(await gh.handler(new Request(url)), "invalid_request")
  })

  it("RFC 8252 §7.3: loopback redirect URIs match on any port", async () => {
    const gh = await fresh()
    const ok = await gh.handler(new Request(authorizeUrl(await defaultParams({ client_id: "native", redirect_uri: "http://127.0.0.1:51004/callback" }))))
    expect(ok.status).toBe(303)
    expect(ok.headers.get("location")).toContain("/interaction/")
    const bad = await gh.handler(new Request(authorizeUrl(await defaultParams({ client_id: "native", redirect_uri: "http://127.0.0.1:51004/other" }))))
    await expectErrorPage(bad, "invalid_request")
  })
})

describe("authorization endpoint: errors redirected to the verified client (RFC 6749 §4.1.2.1, RFC 9207)", () => {
  it.each(["token", "id_token", "code id_token", "code token", "none"])(
    "RFC 9700 §2.1.2: response_type=%s -> unsupported_response_type",
    async (rt) => {
      const gh = await fresh()
      expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ response_type: rt })))), "unsupported_response_type")
    }
  )

  it("RFC 6749 §4.1.1: missing response_type -> invalid_request", async () => {
    const gh = await fresh()
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ response_type: undefined })))), "invalid_request")
  })

  it("RFC 6749 §3.1: duplicate state -> invalid_request (state not echoed)", async () => {
    const gh = await fresh()
    const url = `${authorizeUrl(await defaultParams())}&state=other`
    expectRedirectError(await gh.handler(new Request(url)), "invalid_request", "")
  })

  it("RFC 7636 §4.4.1 / RFC 9700 §2.1.1: missing code_challenge -> invalid_request (PKCE required by default)", async () => {
    const gh = await fresh()
    const res = await gh.handler(new Request(authorizeUrl(await defaultParams({ code_challenge: undefined, code_challenge_method: undefined }))))
    expectRedirectError(res, "invalid_request")
  })

  it("RFC 7636 §4.3: code_challenge_method=plain is refused (S256 only)", async () => {
    const gh = await fresh()
    const res = await gh.handler(new Request(authorizeUrl(await defaultParams({ code_challenge_method: "plain" }))))
    expect(new URL(expectRedirectError(res, "invalid_request")).searchParams.get("error_description")).toContain("S256")
  })

  it("RFC 7636 §4.3: a challenge without method defaults to plain -> refused", async () => {
    const gh = await fresh()
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ code_challenge_method: undefined })))), "invalid_request")
  })

  it("RFC 7636 §4.2: malformed code_challenge -> invalid_request", async () => {
    const gh = await fresh()
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ code_challenge: "short" })))), "invalid_request")
  })

  it("pkce.required=public lets a confidential client skip PKCE, never a public one", async () => {
    const gh = makeGatehouse({ pkce: { required: "public" } })
    await setTime(gh)
    const ok = await gh.handler(new Request(authorizeUrl(await defaultParams({ code_challenge: undefined, code_challenge_method: undefined }))))
    expect(ok.headers.get("location")).toContain("/interaction/")
    const spa = await gh.handler(new Request(authorizeUrl(await defaultParams({ client_id: "spa", code_challenge: undefined, code_challenge_method: undefined }))))
    expectRedirectError(spa, "invalid_request")
  })

  it("RFC 6749 §3.3: unknown scope -> invalid_scope", async () => {
    const gh = await fresh()
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ scope: "openid admin" })))), "invalid_scope")
  })

  it("OIDC Core §6: request and request_uri are not supported", async () => {
    const gh = await fresh()
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ request: "eyJ..." })))), "request_not_supported")
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ request_uri: "urn:x" })))), "request_uri_not_supported")
  })

  it("OAuth 2.0 Multiple Response Types §2.1: unsupported response_mode -> invalid_request", async () => {
    const gh = await fresh()
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ response_mode: "fragment" })))), "invalid_request")
  })

  it("OIDC Core §3.1.2.1: prompt=none combined with another value -> invalid_request", async () => {
    const gh = await fresh()
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ prompt: "none login" })))), "invalid_request")
  })

  it("OIDC Core §3.1.2.6: prompt=none without a session -> login_required", async () => {
    const gh = await fresh()
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ prompt: "none" })))), "login_required")
  })

  it("OIDC Core §3.1.2.1: max_age must be a non-negative integer", async () => {
    const gh = await fresh()
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ max_age: "-1" })))), "invalid_request")
  })

  it("OIDC Core §3.1.2.1: an id_token_hint we did not sign -> invalid_request", async () => {
    const gh = await fresh()
    const forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9."
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ id_token_hint: forged })))), "invalid_request")
  })

  it("OIDC Core §5.5: a malformed claims parameter -> invalid_request", async () => {
    const gh = await fresh()
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ claims: "[1,2]" })))), "invalid_request")
  })

  it("RFC 8707 §2: an unknown resource -> invalid_target", async () => {
    const gh = await fresh()
    expectRedirectError(await gh.handler(new Request(authorizeUrl(await defaultParams({ resource: "https://api.other.example/" })))), "invalid_target")
  })

  it("RFC 6749 §3.1.2: the redirect URI's own query is kept", async () => {
    const gh = await fresh()
    const res = await gh.handler(new Request(authorizeUrl(await defaultParams({ redirect_uri: "https://client.example.com/cb2?x=1", response_type: "token" }))))
    const url = new URL(res.headers.get("location")!)
    expect(url.searchParams.get("x")).toBe("1")
    expect(url.searchParams.get("error")).toBe("unsupported_response_type")
  })

  it("RFC 6749 §3.1: POST with a JSON body is refused with a page (form only)", async () => {
    const gh = await fresh()
    const res = await gh.handler(new Request(`${ISSUER}/authorize`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }))
    await expectErrorPage(res, "invalid_request")
  })

  it("405 with Allow for other methods", async () => {
    const gh = await fresh()
    const res = await gh.handler(new Request(`${ISSUER}/authorize`, { method: "DELETE" }))
    expect(res.status).toBe(405)
    expect(res.headers.get("allow")).toBe("GET, POST")
  })
})

describe("the interaction hand-off", () => {
  it("RFC 6749 §4.1.2 + RFC 9207: login -> consent -> code with state and iss", async () => {
    const gh = await fresh()
    const browser = new Browser(gh)
    const start = await browser.request(authorizeUrl(await defaultParams()))
    expect(start.status).toBe(303)
    expect(start.headers.get("location")).toMatch(new RegExp(`^${ISSUER}/interaction/`))
    const id = interactionId(start)
    const details = await gh.interactions.details(id)
    expect(details).toMatchObject({ clientId: "web", clientName: "Web App", scope: ["openid", "profile"], prompt: ["login", "consent"] })
    expect(await gh.interactions.authenticate(id, { accountId: "alice", amr: ["pwd"] })).toEqual({ consentRequired: true })
    expect((await gh.interactions.details(id)).prompt).toEqual(["consent"])
    const { redirectTo } = await gh.interactions.complete(id, {})
    const done = await browser.request(redirectTo)
    const { url } = codeFrom(done)
    expect(`${url.origin}${url.pathname}`).toBe(REDIRECT)
    expect(url.searchParams.get("state")).toBe("st4te")
    expect(url.searchParams.get("iss")).toBe(ISSUER)
    expect(url.searchParams.get("code")!.length).toBeGreaterThanOrEqual(43)
    expect(done.headers.get("referrer-policy")).toBe("no-referrer")
  })

  it("POST to the authorization endpoint (OIDC Core §3.1.2.1) works like GET", async () => {
    const gh = await fresh()
    const res = await gh.handler(new Request(`${ISSUER}/authorize`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(await defaultParams() as Record<string, string>)
    }))
    expect(res.headers.get("location")).toContain("/interaction/")
  })

  it("the resume step refuses another browser (no binding cookie) with a page", async () => {
    const gh = await fresh()
    const start = await new Browser(gh).request(authorizeUrl(await defaultParams()))
    const { redirectTo } = await gh.interactions.complete(interactionId(start), { accountId: "alice" })
    const res = await new Browser(gh).request(redirectTo)
    await expectErrorPage(res, "another browser")
  })

  it("an interaction completes once: replaying the resume URL gives a page", async () => {
    const gh = await fresh()
    const { response, browser, interaction } = await authorizeThrough(gh, await defaultParams())
    codeFrom(response)
    // the binding cookie was cleared; restore it to prove the state check holds on its own
    const replay = await browser.request(`${ISSUER}/authorize/resume?interaction=${interaction}`)
    expect(replay.status).toBe(400)
    await expect(gh.interactions.complete(interaction!, { accountId: "alice" })).rejects.toMatchObject({ _tag: "InvalidRequest" })
  })

  it("RFC 6749 §4.1.2.1: the user denies -> access_denied to the client", async () => {
    const gh = await fresh()
    const browser = new Browser(gh)
    const start = await browser.request(authorizeUrl(await defaultParams()))
    const { redirectTo } = await gh.interactions.deny(interactionId(start))
    expectRedirectError(await browser.request(redirectTo), "access_denied")
  })

  it("an unfinished interaction cannot be resumed", async () => {
    const gh = await fresh()
    const browser = new Browser(gh)
    const start = await browser.request(authorizeUrl(await defaultParams()))
    const res = await browser.request(`${ISSUER}/authorize/resume?interaction=${interactionId(start)}`)
    await expectErrorPage(res, "not finished")
  })

  it("an interaction expires (config.ttl.interaction)", async () => {
    const gh = makeGatehouse({ ttl: { interaction: 60 } })
    await setTime(gh)
    const browser = new Browser(gh)
    const start = await browser.request(authorizeUrl(await defaultParams()))
    const { TestClock } = await import("effect/testing")
    await gh.run(TestClock.adjust("61 seconds"))
    await expect(gh.interactions.complete(interactionId(start), { accountId: "alice" })).rejects.toMatchObject({ _tag: "InvalidRequest" })
  })

  it("granted scopes can be narrowed by the user; never widened", async () => {
    const gh = await fresh()
    const browser = new Browser(gh)
    const start = await browser.request(authorizeUrl(await defaultParams({ scope: "openid profile email" })))
    const { redirectTo } = await gh.interactions.complete(interactionId(start), { accountId: "alice", grantedScopes: ["openid", "email", "phone"] })
    codeFrom(await browser.request(redirectTo))
    const again = await browser.request(authorizeUrl(await defaultParams({ scope: "openid email" })))
    // consent remembered for openid+email: straight back with a code
    codeFrom(again)
    const wider = await browser.request(authorizeUrl(await defaultParams({ scope: "openid phone" })))
    expect(wider.headers.get("location")).toContain("/interaction/")
    expect((await gh.interactions.details(interactionId(wider))).prompt).toEqual(["consent"])
  })

  it("SSO: a signed-in browser with remembered consent gets a code without interaction", async () => {
    const gh = await fresh()
    const { browser } = await authorizeThrough(gh, await defaultParams())
    codeFrom(await browser.request(authorizeUrl(await defaultParams({ state: "second" }))))
  })

  it("OIDC Core §3.1.2.1: prompt=none with session and consent -> code; prompt=none without consent -> consent_required", async () => {
    const gh = await fresh()
    const { browser } = await authorizeThrough(gh, await defaultParams())
    codeFrom(await browser.request(authorizeUrl(await defaultParams({ prompt: "none" }))))
    expectRedirectError(await browser.request(authorizeUrl(await defaultParams({ prompt: "none", scope: "openid email" }))), "consent_required")
  })

  it("OIDC Core §3.1.2.1: prompt=login forces a new login even with a session", async () => {
    const gh = await fresh()
    const { browser } = await authorizeThrough(gh, await defaultParams())
    const res = await browser.request(authorizeUrl(await defaultParams({ prompt: "login" })))
    const id = interactionId(res)
    expect((await gh.interactions.details(id)).prompt).toContain("login")
    // completing without naming the account is refused: a login is required
    await expect(gh.interactions.complete(id, {})).rejects.toMatchObject({ _tag: "InvalidRequest" })
  })

  it("OIDC Core §3.1.2.1: prompt=consent asks again even when consent is remembered", async () => {
    const gh = await fresh()
    const { browser } = await authorizeThrough(gh, await defaultParams())
    const res = await browser.request(authorizeUrl(await defaultParams({ prompt: "consent" })))
    const details = await gh.interactions.details(interactionId(res))
    expect(details.prompt).toEqual(["consent"])
    expect(details.accountId).toBe("alice")
    const { redirectTo } = await gh.interactions.complete(details.id, {})
    codeFrom(await browser.request(redirectTo))
  })

  it("OIDC Core §3.1.2.1: max_age=0 forces re-authentication", async () => {
    const gh = await fresh()
    const { browser } = await authorizeThrough(gh, await defaultParams())
    const { TestClock } = await import("effect/testing")
    await gh.run(TestClock.adjust("1 second"))
    const res = await browser.request(authorizeUrl(await defaultParams({ max_age: "0" })))
    expect((await gh.interactions.details(interactionId(res))).prompt).toContain("login")
  })

  it("OAuth 2.0 Form Post Response Mode: an auto-submitting form to the redirect URI, script pinned by CSP hash", async () => {
    const gh = await fresh()
    const { response } = await authorizeThrough(gh, await defaultParams({ response_mode: "form_post" }))
    expect(response.status).toBe(200)
    const csp = response.headers.get("content-security-policy")!
    expect(csp).toContain("form-action https://client.example.com")
    const html = await response.text()
    expect(html).toContain(`action="${REDIRECT}"`)
    expect(html).toMatch(/name="code" value="[A-Za-z0-9_-]{43}"/)
    expect(html).toContain(`name="iss" value="${ISSUER}"`)
    expect(html).toContain(`name="state" value="st4te"`)
    const script = /<script>(.*?)<\/script>/.exec(html)![1]!
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(script)))
    expect(csp).toContain(`'sha256-${btoa(String.fromCharCode(...digest))}'`)
  })

  it("form_post escapes hostile state values", async () => {
    const gh = await fresh()
    const { response } = await authorizeThrough(gh, await defaultParams({ response_mode: "form_post", state: `"><script>alert(1)</script>` }))
    const html = await response.text()
    expect(html).not.toContain("<script>alert(1)")
    expect(html).toContain("&quot;&gt;&lt;script&gt;")
  })
})
