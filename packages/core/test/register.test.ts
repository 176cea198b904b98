/**
 * Dynamic client registration (RFC 7591) and client management (RFC 7592), through real
 * Requests; registered clients are then used at the real token, userinfo and
 * introspection endpoints.
 */
import { describe, expect, it } from "vitest"
import {
  asClient,
  bearerChallenge,
  type ClientInformation,
  introspect,
  introspection,
  REGISTER,
  registerRequest,
  registered,
  userinfo,
  WEB_METADATA
} from "./helpers/endpoint-helpers.js"
import {
  advance,
  assertionParams,
  authorize,
  exchangeCode,
  generateClientKey,
  type Harness,
  makeHarness,
  now,
  oauthError,
  REDIRECT_URI,
  signAssertion,
  T0,
  tokenRequest,
  tokens
} from "./helpers/token-helpers.js"

const open = () => makeHarness({ options: { registration: { open: true } } })
const IAT = "initial-0123456789"
/** Registration with the initial access token: the operator vouches for the clients. */
const vouched = () => makeHarness({ options: { registration: { initialAccessToken: IAT } } })

const expectError = async (response: Response, status: number, error: string, descriptionPart?: string) => {
  const e = await oauthError(response)
  expect({ status: e.status, error: e.error }).toEqual({ status, error })
  if (descriptionPart !== undefined) expect(e.description).toContain(descriptionPart)
  return e
}

/** RFC 7592 §2 request to the client's configuration endpoint. */
const manage = (h: Harness, info: ClientInformation, method: string, token = info.registration_access_token, body?: unknown) =>
  registerRequest(h, body, { url: info.registration_client_uri, method, token })

describe("registration (RFC 7591 §3)", () => {
  it("RFC 7591 §3.2.1: 201 with client_id, secret, issue time, expiry 0, registration access token and URI, metadata with defaults", async () => {
    const h = await open()
    const response = await registerRequest(h, WEB_METADATA)
    expect(response.status).toBe(201)
    expect(response.headers.get("content-type")).toMatch(/^application\/json/)
    expect(response.headers.get("cache-control")).toBe("no-store")
    const info = await response.json() as ClientInformation
    expect(info.client_id).toMatch(/^[A-Za-z0-9_-]{22,}$/)
    expect(info.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(info.client_id_issued_at).toBe(Math.floor(T0 / 1000))
    expect(info.client_secret_expires_at).toBe(0)
    expect(info.registration_access_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(info.registration_client_uri).toBe(`${REGISTER}/${info.client_id}`)
    // RFC 7591 §2 defaults
    expect(info).toMatchObject({
      redirect_uris: WEB_METADATA.redirect_uris,
      client_name: "Registered App",
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["authorization_code"],
      response_types: ["code"]
    })
    expect(h.events).toContainEqual(expect.objectContaining({ type: "client.registered", clientId: info.client_id }))
  })

  it("RFC 7591 §3.2.1: two registrations get different client ids and secrets", async () => {
    const h = await open()
    const a = await registered(h, WEB_METADATA)
    const b = await registered(h, WEB_METADATA)
    expect(a.client_id).not.toBe(b.client_id)
    expect(a.client_secret).not.toBe(b.client_secret)
  })

  it("RFC 7591 §3.2.1: the secret and the registration access token are stored only as digests", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    const stored = JSON.stringify(h.db.clients.get(info.client_id))
    expect(stored).not.toContain(info.client_secret)
    expect(stored).not.toContain(info.registration_access_token)
  })

  it("RFC 7591 §2: token_endpoint_auth_method none -> no client_secret and no client_secret_expires_at", async () => {
    const h = await open()
    const info = await registered(h, { ...WEB_METADATA, token_endpoint_auth_method: "none" })
    expect(info).not.toHaveProperty("client_secret")
    expect(info).not.toHaveProperty("client_secret_expires_at")
  })

  it("RFC 7591 §3.2.1: client_secret_expires_at follows ttl.registrationSecret, and an expired secret stops working", async () => {
    const h = await makeHarness({ options: { registration: { initialAccessToken: IAT }, ttl: { registrationSecret: 3600 } } })
    const info = await registered(h, { grant_types: ["client_credentials"] }, { token: IAT })
    expect(info.client_secret_expires_at).toBe(Math.floor(T0 / 1000) + 3600)
    expect((await tokenRequest(h, { grant_type: "client_credentials" }, { basic: [info.client_id, info.client_secret!] })).status).toBe(200)
    await advance(h, "61 minutes")
    await expectError(await tokenRequest(h, { grant_type: "client_credentials" }, { basic: [info.client_id, info.client_secret!] }), 401, "invalid_client")
  })

  it("RFC 7591 §3: a registered confidential client runs the authorization code flow and reaches userinfo", async () => {
    const h = await open()
    const info = await registered(h, { redirect_uris: [REDIRECT_URI], grant_types: ["authorization_code", "refresh_token"] })
    const auth = await authorize(h, { clientId: info.client_id, scope: "openid profile" })
    const t = await tokens(await exchangeCode(h, auth, asClient(info)))
    expect((await userinfo(h, t.access_token)).status).toBe(200)
  })

  it("RFC 7591 §2 / RFC 7523: a registered private_key_jwt client authenticates with its registered jwks", async () => {
    const h = await vouched()
    const key = await generateClientKey()
    const info = await registered(h, { grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] } }, { token: IAT })
    expect(info).not.toHaveProperty("client_secret")
    const assertion = await signAssertion(key, info.client_id, await now(h))
    expect((await tokenRequest(h, { grant_type: "client_credentials", ...assertionParams(assertion) })).status).toBe(200)
  })

  it("RFC 7591 §2: client_credentials only -> response_types default to [] (no redirect URIs needed)", async () => {
    const h = await vouched()
    const info = await registered(h, { grant_types: ["client_credentials"] }, { token: IAT })
    expect(info.response_types).toEqual([])
    expect(info.redirect_uris).toEqual([])
  })

  it("RFC 7591 §2: metadata the server does not understand is ignored, not stored or echoed", async () => {
    const h = await open()
    const info = await registered(h, { ...WEB_METADATA, frobnicate: true, "client_name#fr": "Appli" })
    expect(info).not.toHaveProperty("frobnicate")
    expect(info).not.toHaveProperty("client_name#fr")
  })

  it("RFC 7591 §2: loopback http and native private-use scheme redirect URIs are accepted", async () => {
    const h = await open()
    const info = await registered(h, {
      application_type: "native",
      token_endpoint_auth_method: "none",
      redirect_uris: ["http://127.0.0.1/cb", "http://[::1]:8080/cb", "http://localhost/cb", "com.example.app:/oauth2redirect"]
    })
    expect(info.redirect_uris).toHaveLength(4)
  })
})

describe("registration access control (RFC 7591 §3, RFC 6750 §3)", () => {
  it("RFC 7591 §3: registration closed (no open, no initial access token) -> 403 access_denied", async () => {
    const h = await makeHarness()
    await expectError(await registerRequest(h, WEB_METADATA), 403, "access_denied")
    expect(h.db.clients.size).toBe(0)
  })

  it("RFC 6750 §3.1: with an initial access token configured, none presented -> 401 bare Bearer challenge", async () => {
    const h = await makeHarness({ options: { registration: { initialAccessToken: IAT } } })
    const response = await registerRequest(h, WEB_METADATA)
    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="gatehouse"`)
    expect(h.db.clients.size).toBe(0)
  })

  it("RFC 6750 §3.1: a wrong initial access token -> 401 invalid_token", async () => {
    const h = await makeHarness({ options: { registration: { initialAccessToken: IAT } } })
    const response = await registerRequest(h, WEB_METADATA, { token: "initial-0123456780" })
    expect(bearerChallenge(response)["error"]).toBe("invalid_token")
    await expectError(response, 401, "invalid_token")
    expect(h.db.clients.size).toBe(0)
  })

  it("RFC 6749 §4.4: open registration refuses client_credentials (tokens without any user's consent) -> invalid_client_metadata", async () => {
    const h = await open()
    await expectError(await registerRequest(h, { grant_types: ["client_credentials"] }), 400, "invalid_client_metadata", "initial access token")
    expect(h.db.clients.size).toBe(0)
  })

  it("RFC 7591 §3: open registration with the initial access token presented may include client_credentials", async () => {
    const h = await makeHarness({ options: { registration: { open: true, initialAccessToken: IAT } } })
    await expectError(await registerRequest(h, { grant_types: ["client_credentials"] }, { token: "not-the-token" }), 400, "invalid_client_metadata")
    const info = await registered(h, { grant_types: ["client_credentials"] }, { token: IAT })
    expect(info.grant_types).toEqual(["client_credentials"])
  })

  it("RFC 7592 §2.2: under open registration an update cannot add client_credentials", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    const response = await manage(h, info, "PUT", info.registration_access_token, {
      ...WEB_METADATA,
      client_id: info.client_id,
      grant_types: ["authorization_code", "client_credentials"]
    })
    await expectError(response, 400, "invalid_client_metadata", "client_credentials")
    expect(h.db.clients.get(info.client_id)?.metadata.grant_types).toEqual(["authorization_code"])
  })

  it("RFC 7591 §3: the right initial access token -> 201", async () => {
    const h = await makeHarness({ options: { registration: { initialAccessToken: IAT } } })
    expect((await registerRequest(h, WEB_METADATA, { token: IAT })).status).toBe(201)
  })
})

describe("registration: malformed requests", () => {
  it("RFC 7591 §3.1: malformed JSON -> 400 invalid_request", async () => {
    const h = await open()
    await expectError(await registerRequest(h, undefined, { raw: `{"redirect_uris": [` }), 400, "invalid_request")
  })

  it("RFC 7591 §3.1: a body that is not a JSON object -> 400 invalid_request", async () => {
    const h = await open()
    await expectError(await registerRequest(h, [WEB_METADATA]), 400, "invalid_request")
  })

  it("RFC 7591 §3.1: a form body (wrong content type) -> 400 invalid_request", async () => {
    const h = await open()
    await expectError(
      await registerRequest(h, undefined, { contentType: "application/x-www-form-urlencoded", raw: "redirect_uris=https://a.example/cb" }),
      400,
      "invalid_request"
    )
  })

  it("RFC 7591 §3: GET on the registration endpoint -> 405", async () => {
    const h = await open()
    const response = await h.gh.handler(new Request(REGISTER))
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("POST")
  })
})

describe("registration: invalid_redirect_uri (RFC 7591 §3.2.2)", () => {
  it.each([
    ["redirect_uris missing for the authorization_code grant", { client_name: "x" }, "redirect_uris is required"],
    ["an empty redirect_uris", { redirect_uris: [] }, "redirect_uris is required"],
    ["redirect_uris not an array", { redirect_uris: "https://app.example.com/cb" }, "redirect_uris"],
    ["a non-string redirect URI", { redirect_uris: [42] }, "redirect_uris[0]"],
    ["a relative URI", { redirect_uris: ["/callback"] }, "absolute"],
    ["a fragment", { redirect_uris: ["https://app.example.com/cb#frag"] }, "fragment"],
    ["http on a non-loopback host", { redirect_uris: ["http://app.example.com/cb"] }, "https"],
    ["user information in the URI", { redirect_uris: ["https://user:pw@app.example.com/cb"] }, "user information"],
    ["a javascript: URI", { redirect_uris: ["javascript:alert(1)"] }, "not allowed"],
    ["a data: URI", { redirect_uris: ["data:text/html,hi"] }, "not allowed"],
    ["a private-use scheme for a web client", { redirect_uris: ["com.example.app:/cb"] }, "native"],
    ["the second URI bad", { redirect_uris: ["https://app.example.com/cb", "http://evil.example.com/cb"] }, "redirect_uris[1]"]
  ])("RFC 7591 §2 / RFC 8252: %s -> 400 invalid_redirect_uri", async (_, metadata, part) => {
    const h = await open()
    await expectError(await registerRequest(h, metadata), 400, "invalid_redirect_uri", part)
    expect(h.db.clients.size).toBe(0)
  })
})

describe("registration: invalid_client_metadata (RFC 7591 §3.2.2)", () => {
  const key = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }
  it.each([
    ["an unknown token_endpoint_auth_method", { token_endpoint_auth_method: "client_secret_jwt" }, "token_endpoint_auth_method"],
    ["an unsupported grant type", { grant_types: ["password"] }, "password"],
    ["an unsupported response type", { response_types: ["token"] }, "token"],
    ["response type code without the authorization_code grant", { grant_types: ["client_credentials"], response_types: ["code"] }, "go together"],
    ["the authorization_code grant without response type code", { response_types: [] }, "go together"],
    ["client_credentials for a public client", { grant_types: ["client_credentials"], token_endpoint_auth_method: "none" }, "client_credentials"],
    ["private_key_jwt without jwks", { token_endpoint_auth_method: "private_key_jwt" }, "jwks is required"],
    ["jwks_uri (not supported)", { token_endpoint_auth_method: "private_key_jwt", jwks_uri: "https://app.example.com/jwks" }, "jwks_uri"],
    ["a private key in jwks", { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [{ ...key, d: "jhkhkh" }] } }, `"d"`],
    ["a symmetric key in jwks", { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [{ kty: "oct", k: "c2VjcmV0" }] } }, "kty"],
    ["jwks without keys", { jwks: {} }, "jwks.keys"],
    ["an unsupported id_token_signed_response_alg", { id_token_signed_response_alg: "HS256" }, "id_token_signed_response_alg"],
    ["id_token_signed_response_alg none", { id_token_signed_response_alg: "none" }, "id_token_signed_response_alg"],
    ["an unsupported token_endpoint_auth_signing_alg", { token_endpoint_auth_signing_alg: "HS256" }, "token_endpoint_auth_signing_alg"],
    ["userinfo_signed_response_alg (not supported)", { userinfo_signed_response_alg: "RS256" }, "userinfo_signed_response_alg"],
    ["a scope the server does not offer", { scope: "openid superuser" }, "superuser"],
    ["a javascript: logo_uri", { logo_uri: "javascript:alert(1)" }, "logo_uri"],
    ["a relative policy_uri", { policy_uri: "/policy" }, "policy_uri"],
    ["a negative default_max_age", { default_max_age: -1 }, "default_max_age"],
    ["client_name of the wrong type", { client_name: 42 }, "client_name"],
    ["contacts not an array of strings", { contacts: "ops@example.com" }, "contacts"],
    ["an unknown application_type", { application_type: "desktop" }, "application_type"],
    ["a bad post_logout_redirect_uri", { post_logout_redirect_uris: ["http://evil.example.com/"] }, "post_logout_redirect_uris[0]"]
  ])("RFC 7591 §2: %s -> 400 invalid_client_metadata", async (_, metadata, part) => {
    const h = await open()
    await expectError(await registerRequest(h, { ...WEB_METADATA, ...metadata }), 400, "invalid_client_metadata", part)
    expect(h.db.clients.size).toBe(0)
  })

  it("RFC 7591 §2.3: a software_statement -> 400 invalid_software_statement (not supported)", async () => {
    const h = await open()
    await expectError(await registerRequest(h, { ...WEB_METADATA, software_statement: "eyJhbGciOiJub25lIn0.e30." }), 400, "invalid_software_statement")
  })

  it("RFC 7592 §2.2: null members count as omitted", async () => {
    const h = await open()
    const info = await registered(h, { ...WEB_METADATA, logo_uri: null, token_endpoint_auth_method: null })
    expect(info).not.toHaveProperty("logo_uri")
    expect(info.token_endpoint_auth_method).toBe("client_secret_basic")
  })
})

describe("client configuration endpoint (RFC 7592 §2)", () => {
  it("RFC 7592 §2.1: GET -> 200 with the current metadata, no client_secret, a new registration access token", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    const response = await manage(h, info, "GET")
    expect(response.status).toBe(200)
    expect(response.headers.get("cache-control")).toBe("no-store")
    const read = await response.json() as ClientInformation
    expect(read).toMatchObject({
      client_id: info.client_id,
      client_id_issued_at: info.client_id_issued_at,
      client_secret_expires_at: 0,
      registration_client_uri: info.registration_client_uri,
      redirect_uris: info.redirect_uris,
      client_name: "Registered App"
    })
    expect(read).not.toHaveProperty("client_secret")
    expect(read.registration_access_token).not.toBe(info.registration_access_token)
    // the old token is gone, the new one works
    await expectError(await manage(h, info, "GET"), 401, "invalid_token")
    expect((await manage(h, info, "GET", read.registration_access_token)).status).toBe(200)
  })

  it("RFC 6750 §3.1: no registration access token -> 401 bare Bearer challenge", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    const response = await registerRequest(h, undefined, { url: info.registration_client_uri, method: "GET" })
    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="gatehouse"`)
  })

  it("RFC 7592 §2.1: a wrong registration access token -> 401 invalid_token with a challenge", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    const response = await manage(h, info, "GET", "wrong-token")
    expect(bearerChallenge(response)["error"]).toBe("invalid_token")
    await expectError(response, 401, "invalid_token")
  })

  it("RFC 7592 §2.1: another client's registration access token -> 401 invalid_token", async () => {
    const h = await open()
    const a = await registered(h, WEB_METADATA)
    const b = await registered(h, WEB_METADATA)
    await expectError(await manage(h, a, "GET", b.registration_access_token), 401, "invalid_token")
  })

  it("RFC 7592 §2.1: an unknown client id -> 401 invalid_token", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    await expectError(await registerRequest(h, undefined, { url: `${REGISTER}/nobody`, method: "GET", token: info.registration_access_token }), 401, "invalid_token")
  })

  it("RFC 7592 §2: a statically configured client is not manageable -> 401 invalid_token", async () => {
    const h = await open()
    await expectError(await registerRequest(h, undefined, { url: `${REGISTER}/web`, method: "DELETE", token: "anything" }), 401, "invalid_token")
  })

  it("RFC 7592 §2.2: PUT replaces the metadata (omitted members are removed) and keeps the secret", async () => {
    const h = await vouched()
    const info = await registered(h, { ...WEB_METADATA, logo_uri: "https://app.example.com/logo.png", grant_types: ["authorization_code", "client_credentials"] }, { token: IAT })
    const response = await manage(h, info, "PUT", info.registration_access_token, {
      client_id: info.client_id,
      client_secret: info.client_secret,
      redirect_uris: ["https://app.example.com/new-callback"],
      client_name: "Renamed",
      grant_types: ["authorization_code", "client_credentials"]
    })
    expect(response.status).toBe(200)
    const updated = await response.json() as ClientInformation
    expect(updated).toMatchObject({ client_id: info.client_id, client_name: "Renamed", redirect_uris: ["https://app.example.com/new-callback"] })
    expect(updated).not.toHaveProperty("logo_uri")
    expect(updated).not.toHaveProperty("client_secret")
    expect(updated.registration_access_token).not.toBe(info.registration_access_token)
    expect(h.db.clients.get(info.client_id)?.metadata.client_name).toBe("Renamed")
    // the secret still authenticates
    expect((await tokenRequest(h, { grant_type: "client_credentials" }, { basic: [info.client_id, info.client_secret!] })).status).toBe(200)
  })

  it("RFC 7592 §2.2: PUT without client_id -> 400 invalid_request, nothing changed", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    await expectError(await manage(h, info, "PUT", info.registration_access_token, { ...WEB_METADATA, client_name: "Changed" }), 400, "invalid_request", "client_id")
    expect(h.db.clients.get(info.client_id)?.metadata.client_name).toBe("Registered App")
  })

  it("RFC 7592 §2.2: PUT with another client_id -> 400 invalid_request", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    await expectError(await manage(h, info, "PUT", info.registration_access_token, { ...WEB_METADATA, client_id: "someone-else" }), 400, "invalid_request", "client_id")
  })

  it("RFC 7592 §2.2: PUT with a client_secret that is not the current one -> 400 invalid_request", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    const response = await manage(h, info, "PUT", info.registration_access_token, { ...WEB_METADATA, client_id: info.client_id, client_secret: "my-own-choice" })
    await expectError(response, 400, "invalid_request", "client_secret")
  })

  it("RFC 7592 §2.2: PUT with invalid metadata -> 400 invalid_client_metadata as JSON (no Bearer challenge)", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    const response = await manage(h, info, "PUT", info.registration_access_token, { ...WEB_METADATA, client_id: info.client_id, grant_types: ["password"] })
    expect(response.headers.get("www-authenticate")).toBeNull()
    await expectError(response, 400, "invalid_client_metadata")
  })

  it("RFC 7592 §2.2: PUT with a bad redirect URI -> 400 invalid_redirect_uri", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    const response = await manage(h, info, "PUT", info.registration_access_token, { client_id: info.client_id, redirect_uris: ["http://evil.example.com/"] })
    await expectError(response, 400, "invalid_redirect_uri")
  })

  it("RFC 7592 §2.2: PUT cannot move a public client to a secret-based method (no new secret is issued)", async () => {
    const h = await open()
    const info = await registered(h, { ...WEB_METADATA, token_endpoint_auth_method: "none" })
    const response = await manage(h, info, "PUT", info.registration_access_token, { ...WEB_METADATA, client_id: info.client_id, token_endpoint_auth_method: "client_secret_basic" })
    await expectError(response, 400, "invalid_client_metadata", "secret")
  })

  it("RFC 7592 §2.2: PUT with malformed JSON -> 400 invalid_request", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    const response = await registerRequest(h, undefined, { url: info.registration_client_uri, method: "PUT", token: info.registration_access_token, raw: "{" })
    await expectError(response, 400, "invalid_request")
  })

  it("RFC 7592 §2.3: DELETE -> 204; the client, its registration access token and its authentication are gone", async () => {
    const h = await vouched()
    const info = await registered(h, { grant_types: ["client_credentials"] }, { token: IAT })
    const response = await manage(h, info, "DELETE")
    expect(response.status).toBe(204)
    expect(await response.text()).toBe("")
    expect(h.db.clients.has(info.client_id)).toBe(false)
    expect(h.events).toContainEqual(expect.objectContaining({ type: "client.deleted", clientId: info.client_id }))
    await expectError(await manage(h, info, "GET"), 401, "invalid_token")
    await expectError(await tokenRequest(h, { grant_type: "client_credentials" }, { basic: [info.client_id, info.client_secret!] }), 401, "invalid_client")
  })

  it("RFC 7592 §2.3: a deleted client's access tokens stop working at userinfo", async () => {
    const h = await open()
    const info = await registered(h, { redirect_uris: [REDIRECT_URI] })
    const auth = await authorize(h, { clientId: info.client_id, scope: "openid" })
    const t = await tokens(await exchangeCode(h, auth, asClient(info)))
    expect((await userinfo(h, t.access_token)).status).toBe(200)
    expect((await manage(h, info, "DELETE")).status).toBe(204)
    expect((await userinfo(h, t.access_token)).status).toBe(401)
  })

  it("RFC 7592 §2: POST on the client configuration endpoint -> 405 with Allow", async () => {
    const h = await open()
    const info = await registered(h, WEB_METADATA)
    const response = await manage(h, info, "POST", info.registration_access_token, WEB_METADATA)
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("GET, PUT, DELETE")
  })

  it("RFC 7662: a registered client introspects its own tokens", async () => {
    const h = await vouched()
    const info = await registered(h, { grant_types: ["client_credentials"] }, { token: IAT })
    const t = await tokens(await tokenRequest(h, { grant_type: "client_credentials" }, { basic: [info.client_id, info.client_secret!] }))
    expect((await introspection(await introspect(h, asClient(info), t.access_token)))["active"]).toBe(true)
  })
})
