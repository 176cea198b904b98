/**
 * End to end: the quickstart on a free port, a standard OAuth 2.0 / OpenID Connect client
 * library (oauth4webapi, with all of its response validation) as the client, and the
 * login and consent forms driven over HTTP the way a browser would (cookies, the csrf
 * field, following 303s by hand).
 *
 * Discovery -> dynamic registration -> authorization code + PKCE S256 + state + nonce ->
 * ID token (nonce, at_hash) -> userinfo -> refresh with rotation -> introspection ->
 * revocation -> reuse of the rotated refresh token.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as oauth from "oauth4webapi"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Quickstart, startQuickstart } from "../server.mjs"

const REDIRECT = "https://client.example.com/callback"

/**
 * > [!WARNING] test only: the quickstart's issuer is http://localhost, which oauth4webapi
 * > refuses unless told otherwise.
 */
const insecure = { [oauth.allowInsecureRequests]: true } as const

/** A browser's cookie handling, as much as this flow needs: name, value, path; Max-Age=0 deletes. */
class CookieJar {
  readonly cookies = new Map<string, { value: string; path: string }>()
  header(url: URL): string | undefined {
    const pairs = [...this.cookies]
      .filter(([, c]) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`))
      .sort(([, a], [, b]) => b.path.length - a.path.length)
      .map(([name, c]) => `${name}=${c.value}`)
    return pairs.length > 0 ? pairs.join("; ") : undefined
  }
  store(response: Response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";").map((s) => s.trim())
      const eq = pair!.indexOf("=")
      const name = pair!.slice(0, eq)
      const attr = (key: string) => attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1)
      const path = attr("path") ?? "/"
      const key = `${name}`
      if (attr("max-age") === "0") this.cookies.delete(key)
      else this.cookies.set(key, { value: pair!.slice(eq + 1), path })
    }
  }
}

class Browser {
  readonly jar = new CookieJar()
  async go(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url)
    const headers = new Headers(init.headers)
    const cookie = this.jar.header(target)
    if (cookie) headers.set("cookie", cookie)
    const response = await fetch(target, { ...init, headers, redirect: "manual" })
    this.jar.store(response)
    return response
  }
  /** submit the page's form (its action and csrf field) with `fields` */
  async submit(page: { url: URL; html: string }, fields: Record<string, string>): Promise<Response> {
    const action = /<form method="post" action="([^"]+)">/.exec(page.html)?.[1]
    const csrf = /<input type="hidden" name="csrf" value="([^"]+)">/.exec(page.html)?.[1]
    if (!action || !csrf) throw new Error(`no form with a csrf field on ${page.url}:\n${page.html}`)
    return this.go(new URL(action.replace(/&amp;/g, "&"), page.url), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: page.url.origin },
      body: new URLSearchParams({ csrf, ...fields })
    })
  }
  async page(url: string | URL) {
    const response = await this.go(url)
    expect(response.status, `GET ${url}`).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/html")
    return { url: new URL(url), html: await response.text() }
  }
}

const location = (response: Response, base: string) => {
  expect(response.status, `expected a 303, got ${response.status}`).toBe(303)
  return new URL(response.headers.get("location")!, base)
}

/** OIDC Core §3.1.3.6: at_hash = base64url(left half of hash(access_token)), the hash of the ID token's alg. */
const atHash = async (accessToken: string, alg: string) => {
  const hash = alg === "EdDSA" || alg.endsWith("512") ? "SHA-512" : alg.endsWith("384") ? "SHA-384" : "SHA-256"
  const digest = new Uint8Array(await crypto.subtle.digest(hash, new TextEncoder().encode(accessToken)))
  return Buffer.from(digest.slice(0, digest.length / 2)).toString("base64url")
}

const headerOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[0]!, "base64url").toString()) as { alg: string; typ?: string }

let app: Quickstart
let as: oauth.AuthorizationServer
let client: oauth.Client
let clientAuth: oauth.ClientAuth
const browser = new Browser()

beforeAll(async () => {
  // SQLite in a temporary folder: the quickstart's default store, isolated per run
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-e2e-"))
  app = await startQuickstart({ port: 0, databaseUrl: `file:${join(dir, "gatehouse.sqlite")}` })
})
afterAll(async () => {
  await app?.close()
})

describe("the quickstart with oauth4webapi as the client", () => {
  it("serves its own home page next to Gatehouse", async () => {
    expect(app.url).toBe(`http://localhost:${app.port}`)
    const home = await fetch(`${app.url}/`)
    expect(home.status).toBe(200)
    const html = await home.text()
    expect(html).toContain("Gatehouse quickstart")
    expect(html).toContain(`href="${app.url}/.well-known/openid-configuration"`)
    expect((await fetch(`${app.url}/no-such-page`)).status).toBe(404)
  })

  it("OIDC Discovery §4 / RFC 8414: discovery at the issuer's /.well-known/ paths", async () => {
    const issuer = new URL(app.url)
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...insecure }))
    expect(as.issuer).toBe(app.url)
    expect(as.authorization_endpoint).toBe(`${app.url}/authorize`)
    expect(as.registration_endpoint).toBe(`${app.url}/register`)
    expect(as.code_challenge_methods_supported).toContain("S256")
    expect(as.authorization_response_iss_parameter_supported).toBe(true)
    const rfc8414 = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }))
    expect(rfc8414.token_endpoint).toBe(as.token_endpoint)
  })

  it("RFC 7591: open dynamic registration of a confidential client", async () => {
    const response = await oauth.dynamicClientRegistrationRequest(as, {
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      client_name: "E2E Client"
    }, insecure)
    const registered = await oauth.processDynamicClientRegistrationResponse(response)
    expect(registered.client_id).toBeTruthy()
    expect(typeof registered["client_secret"]).toBe("string")
    client = { client_id: registered.client_id, token_endpoint_auth_method: "client_secret_basic" }
    clientAuth = oauth.ClientSecretBasic(registered["client_secret"] as string)
  })

  let tokens: oauth.TokenEndpointResponse
  let rotated: oauth.TokenEndpointResponse

  it("authorization code flow with PKCE S256, state and nonce, through the login and consent forms", async () => {
    const verifier = oauth.generateRandomCodeVerifier()
    const state = oauth.generateRandomState()
    const nonce = oauth.generateRandomNonce()
    const authorize = new URL(as.authorization_endpoint!)
    authorize.search = new URLSearchParams({
      response_type: "code",
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      scope: "openid profile email offline_access",
      state,
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256"
    }).toString()

    // the authorization endpoint hands the browser to the login page
    const loginUrl = location(await browser.go(authorize), app.url)
    expect(loginUrl.pathname).toMatch(/^\/interaction\/[A-Za-z0-9_-]+$/)
    const login = await browser.page(loginUrl)
    // the contract outside tests rely on
    expect(login.html).toMatch(/<input[^>]* name="username"/)
    expect(login.html).toMatch(/<input[^>]* name="password"[^>]* type="password"/)
    expect(login.html).toMatch(/<button type="submit"[^>]*>Sign in<\/button>/)
    expect(login.html).toContain("E2E Client")

    // a wrong password first: 401 and the form again
    const wrong = await browser.submit(login, { username: "alice", password: "white-rabbit" })
    expect(wrong.status).toBe(401)
    const again = { url: loginUrl, html: await wrong.text() }
    expect(again.html).toContain("Incorrect username or password.")

    // then the right one: on to consent
    const consentUrl = location(await browser.submit(again, { username: "alice", password: "wonderland" }), app.url)
    const consent = await browser.page(consentUrl)
    expect(consent.html).toMatch(/<button[^>]*>Allow<\/button>/)
    expect(consent.html).toMatch(/<button[^>]*>Deny<\/button>/)
    expect(consent.html).toContain("See your email address")
    const resume = location(await browser.submit(consent, { action: "allow" }), app.url)
    expect(resume.origin).toBe(app.url)

    // core's resume step: back to the client with the code
    const callback = location(await browser.go(resume), app.url)
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT)
    // RFC 9207: iss checked by the client library; state too
    const params = oauth.validateAuthResponse(as, client, callback, state)
    expect(params.get("code")).toBeTruthy()
    expect(params.get("iss")).toBe(app.url)

    const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, REDIRECT, verifier, insecure)
    tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, requireIdToken: true })
    expect(tokens.token_type.toLowerCase()).toBe("bearer")
    expect(tokens.refresh_token).toBeTruthy()
    expect(tokens.scope?.split(" ").sort()).toEqual(["email", "offline_access", "openid", "profile"])
    // the library verified signature, iss, aud, exp, iat and nonce
    const claims = oauth.getValidatedIdTokenClaims(tokens)!
    expect(claims.sub).toBe("alice")
    expect(claims.nonce).toBe(nonce)
    expect(claims.aud).toBe(client.client_id)
    expect(typeof claims.auth_time).toBe("number")
    // OIDC Core §3.1.3.6 at_hash
    expect(claims["at_hash"]).toBe(await atHash(tokens.access_token, headerOf(tokens.id_token!).alg))
    // RFC 9068: a JWT access token
    expect(headerOf(tokens.access_token).typ).toBe("at+jwt")
  })

  it("OIDC Core §5.3: userinfo with the access token", async () => {
    const response = await oauth.userInfoRequest(as, client, tokens.access_token, insecure)
    const userinfo = await oauth.processUserInfoResponse(as, client, "alice", response)
    expect(userinfo.sub).toBe("alice")
    expect(userinfo.name).toBe("Alice Liddell")
    expect(userinfo.email).toBe("alice@example.com")
    expect(userinfo.email_verified).toBe(true)
    // no "address" or "phone" scope asked for
    expect(userinfo.address).toBeUndefined()
    expect(userinfo.phone_number).toBeUndefined()
  })

  it("RFC 6749 §6 / RFC 9700 §4.14.2: refresh rotates the refresh token", async () => {
    const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, insecure)
    rotated = await oauth.processRefreshTokenResponse(as, client, response)
    expect(rotated.access_token).toBeTruthy()
    expect(rotated.access_token).not.toBe(tokens.access_token)
    expect(rotated.refresh_token).toBeTruthy()
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token)
  })

  it("RFC 7662 introspection: active, then inactive after RFC 7009 revocation", async () => {
    const before = await oauth.processIntrospectionResponse(as, client,
      await oauth.introspectionRequest(as, client, clientAuth, rotated.access_token, insecure))
    expect(before.active).toBe(true)
    expect(before.sub).toBe("alice")
    expect(before.client_id).toBe(client.client_id)
    expect(before.scope?.split(" ")).toContain("openid")

    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, clientAuth, rotated.access_token, insecure))
    const after = await oauth.processIntrospectionResponse(as, client,
      await oauth.introspectionRequest(as, client, clientAuth, rotated.access_token, insecure))
    expect(after.active).toBe(false)
    expect(after.sub).toBeUndefined()
  })

  it("RFC 9700 §4.14.2: the rotated-out refresh token fails with invalid_grant, and the reuse revokes the family", async () => {
    const reuse = await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, insecure)
    const error = await oauth.processRefreshTokenResponse(as, client, reuse).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(oauth.ResponseBodyError)
    expect((error as oauth.ResponseBodyError).error).toBe("invalid_grant")
    expect((error as oauth.ResponseBodyError).status).toBe(400)

    const family = await oauth.refreshTokenGrantRequest(as, client, clientAuth, rotated.refresh_token!, insecure)
    const familyError = await oauth.processRefreshTokenResponse(as, client, family).catch((e: unknown) => e)
    expect((familyError as oauth.ResponseBodyError).error).toBe("invalid_grant")
  })

  it("Deny on the consent page: the client receives access_denied (RFC 6749 §4.1.2.1) with iss", async () => {
    const state = oauth.generateRandomState()
    const authorize = new URL(as.authorization_endpoint!)
    authorize.search = new URLSearchParams({
      response_type: "code",
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      scope: "openid profile",
      state,
      nonce: oauth.generateRandomNonce(),
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
      code_challenge_method: "S256",
      // the browser is signed in and consent is remembered: ask again
      prompt: "consent"
    }).toString()
    const consent = await browser.page(location(await browser.go(authorize), app.url))
    expect(consent.html).not.toContain(`name="password"`)
    const resume = location(await browser.submit(consent, { action: "deny" }), app.url)
    const callback = location(await browser.go(resume), app.url)
    const error = (() => {
      try {
        oauth.validateAuthResponse(as, client, callback, state)
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(oauth.AuthorizationResponseError)
    expect((error as oauth.AuthorizationResponseError).error).toBe("access_denied")
  })
})
