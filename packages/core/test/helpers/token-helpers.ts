/**
 * Test helpers for the token endpoint and anything after it: a Gatehouse on in-memory
 * storage and a TestClock, token requests with each client authentication method, the
 * authorization code flow driven through the real endpoints (PKCE S256 -> interaction ->
 * resume -> code), and private_key_jwt assertions.
 */
import { MemoryStorage, makeMemoryDatabase, type MemoryDatabase } from "@gatehouse/testkit"
import { Clock, Effect } from "effect"
import { TestClock } from "effect/testing"
import * as jose from "jose"
import type { GatehouseOptions, StaticClient } from "../../src/config.js"
import { createGatehouse, type GatehouseInstance } from "../../src/gatehouse.js"
import type { Claims } from "../../src/ports/Accounts.js"
import type { AccessTokenRecord } from "../../src/ports/AccessTokenStore.js"
import type { KeyRecord } from "../../src/ports/KeyStore.js"
import { base64url, Crypto } from "../../src/ports/Crypto.js"
import type { GatehouseEvent } from "../../src/ports/Events.js"

export const ISSUER = "https://as.example.com"
export const TOKEN_ENDPOINT = `${ISSUER}/token`
export const API = "https://api.example.com"
export const REPORTS = "https://reports.example.com"
export const REDIRECT_URI = "https://app.example.com/callback"
/** 2025-01-01T00:00:00Z: where every test clock starts */
export const T0 = Date.UTC(2025, 0, 1)

/** The clients most tests use. */
export const CLIENTS = {
  /** confidential web app, client_secret_basic, may refresh */
  web: {
    client_id: "web",
    client_secret: "web-secret",
    token_endpoint_auth_method: "client_secret_basic",
    redirect_uris: [REDIRECT_URI],
    grant_types: ["authorization_code", "refresh_token"]
  },
  /** a second confidential app (for "issued to another client") */
  other: {
    client_id: "other",
    client_secret: "other-secret",
    token_endpoint_auth_method: "client_secret_basic",
    redirect_uris: [REDIRECT_URI],
    grant_types: ["authorization_code", "refresh_token"]
  },
  /** confidential, client_secret_post */
  post: {
    client_id: "post",
    client_secret: "post-secret",
    token_endpoint_auth_method: "client_secret_post",
    redirect_uris: [REDIRECT_URI],
    grant_types: ["authorization_code", "refresh_token", "client_credentials"]
  },
  /** public single-page app */
  spa: {
    client_id: "spa",
    token_endpoint_auth_method: "none",
    redirect_uris: [REDIRECT_URI],
    grant_types: ["authorization_code", "refresh_token"]
  },
  /** a service: client_credentials only, limited scopes */
  svc: {
    client_id: "svc",
    client_secret: "svc-secret",
    token_endpoint_auth_method: "client_secret_basic",
    redirect_uris: [],
    grant_types: ["client_credentials"],
    scope: "api:read api:write"
  },
  /** code only, no refresh */
  coder: {
    client_id: "coder",
    client_secret: "coder-secret",
    token_endpoint_auth_method: "client_secret_basic",
    redirect_uris: [REDIRECT_URI],
    grant_types: ["authorization_code"]
  }
} satisfies Record<string, StaticClient>

export interface Harness {
  readonly gh: GatehouseInstance
  readonly db: MemoryDatabase
  readonly events: Array<GatehouseEvent>
  /** the accounts the adapter knows: delete one to simulate a removed user */
  readonly accounts: Map<string, Claims>
}

export interface HarnessOptions {
  readonly clients?: ReadonlyArray<StaticClient>
  readonly options?: Partial<GatehouseOptions>
}

/**
 * Signing keys of the first harness, seeded into the next ones: generating an RSA key per
 * test is slow, and which keys sign is not what these tests are about.
 */
let signingKeys: ReadonlyArray<KeyRecord> | undefined

/**
 * A Gatehouse on MemoryStorage with a TestClock set to T0. Advance time with `advance`;
 * the handler reads the same clock.
 */
export const makeHarness = async (o: HarnessOptions = {}): Promise<Harness> => {
  const db = makeMemoryDatabase()
  for (const key of signingKeys ?? []) db.keys.set(key.kid, key)
  const events: Array<GatehouseEvent> = []
  const accounts = new Map<string, Claims>([
    ["alice", { sub: "alice", name: "Alice Liddell", email: "alice@example.com", email_verified: true }],
    ["bob", { sub: "bob", name: "Bob" }]
  ])
  const gh = createGatehouse({
    issuer: ISSUER,
    scopes: ["api:read", "api:write", "admin"],
    resources: [{ uri: API }, { uri: REPORTS }],
    ...o.options,
    clients: [...(o.clients ?? Object.values(CLIENTS))],
    storage: MemoryStorage.layer(db),
    accounts: { claims: (id) => accounts.get(id) },
    onEvent: (event) => events.push(event),
    overrides: TestClock.layer()
  })
  await gh.run(TestClock.setTime(T0))
  signingKeys ??= [...db.keys.values()]
  return { gh, db, events, accounts }
}

export const advance = (h: Harness, duration: Parameters<typeof TestClock.adjust>[0]) => h.gh.run(TestClock.adjust(duration))

/** Milliseconds since epoch on the harness's clock. */
export const now = (h: Harness) => h.gh.run(Clock.currentTimeMillis)

/** RFC 6749 §2.3.1 + Appendix B: form-urlencode id and secret, then base64. */
export const basic = (clientId: string, secret: string): string => {
  const form = (s: string) => new URLSearchParams([["", s]]).toString().slice(1)
  return `Basic ${btoa(`${form(clientId)}:${form(secret)}`)}`
}

export type FormInput = Record<string, string | ReadonlyArray<string> | undefined>

export const form = (params: FormInput): string => {
  const body = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue
    for (const value of typeof v === "string" ? [v] : v) body.append(k, value)
  }
  return body.toString()
}

export interface TokenRequestOptions {
  /** HTTP Basic credentials */
  readonly basic?: readonly [clientId: string, secret: string]
  readonly headers?: Record<string, string>
  readonly method?: string
  readonly body?: string
}

/** POST the token endpoint with a form body. */
export const tokenRequest = (h: Harness, params: FormInput, o: TokenRequestOptions = {}): Promise<Response> => {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", ...o.headers }
  if (o.basic) headers["authorization"] = basic(o.basic[0], o.basic[1])
  const method = o.method ?? "POST"
  return h.gh.handler(new Request(TOKEN_ENDPOINT, {
    method,
    headers,
    ...(method === "GET" || method === "HEAD" ? {} : { body: o.body ?? form(params) })
  }))
}

/** The §5.2 error of a response, with its status and headers. */
export const oauthError = async (response: Response) => {
  const body = await response.json() as { error: string; error_description?: string }
  return { status: response.status, error: body.error, description: body.error_description ?? "", headers: response.headers }
}

export interface TokenBody {
  readonly access_token: string
  readonly token_type: string
  readonly expires_in: number
  readonly refresh_token?: string
  readonly scope?: string
  readonly id_token?: string
}

/** The §5.1 body of a successful response; fails the test with the error body otherwise. */
export const tokens = async (response: Response): Promise<TokenBody> => {
  const body = await response.json() as TokenBody & { error?: string; error_description?: string }
  if (response.status !== 200) {
    throw new Error(`expected 200, got ${response.status}: ${body.error} (${body.error_description})`)
  }
  return body
}

/** RFC 7636 §4.1, §4.2: a verifier and its S256 challenge. */
export const pkce = async () => {
  const verifier = base64url(globalThis.crypto.getRandomValues(new Uint8Array(32)))
  const challenge = base64url(new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))))
  return { verifier, challenge }
}

export interface AuthorizeOptions {
  readonly clientId: string
  readonly scope?: string
  readonly accountId?: string
  readonly redirectUri?: string
  readonly resource?: ReadonlyArray<string>
  readonly nonce?: string
  readonly state?: string
}

export interface AuthorizationResult {
  readonly code: string
  readonly verifier: string
  readonly redirectUri: string
  /** the authorization response's parameters (code, state, iss) */
  readonly response: URLSearchParams
}

/**
 * Drive the authorization code flow through the real endpoints: GET /authorize (PKCE S256)
 * -> the interaction URL -> `interactions.complete` -> GET the resume URL with the browser's
 * interaction cookie -> the code from the redirect.
 */
export const authorize = async (h: Harness, o: AuthorizeOptions): Promise<AuthorizationResult> => {
  const { verifier, challenge } = await pkce()
  const redirectUri = o.redirectUri ?? REDIRECT_URI
  const url = new URL(h.gh.config.endpoints.authorization)
  url.search = form({
    response_type: "code",
    client_id: o.clientId,
    redirect_uri: redirectUri,
    scope: o.scope,
    state: o.state ?? "xyz",
    nonce: o.nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
    resource: o.resource
  })
  const start = await h.gh.handler(new Request(url))
  const interaction = start.headers.get("location")
  if (start.status !== 303 || !interaction) {
    throw new Error(`authorize: expected a redirect to the interaction, got ${start.status}: ${await start.text()}`)
  }
  const id = decodeURIComponent(new URL(interaction).pathname.split("/").pop()!)
  const cookie = start.headers.getSetCookie().map((c) => c.split(";")[0]!).join("; ")
  const { redirectTo } = await h.gh.interactions.complete(id, { accountId: o.accountId ?? "alice" })
  const resume = await h.gh.handler(new Request(redirectTo, { headers: { cookie } }))
  const location = resume.headers.get("location")
  if (resume.status !== 303 || !location) {
    throw new Error(`resume: expected a redirect to the client, got ${resume.status}: ${await resume.text()}`)
  }
  const response = new URL(location).searchParams
  const code = response.get("code")
  if (!code) throw new Error(`resume: no code in ${location}`)
  return { code, verifier, redirectUri, response }
}

/** Exchange a code at the token endpoint, authenticating as the named static client. */
export const exchangeCode = (
  h: Harness,
  auth: AuthorizationResult,
  client: StaticClient,
  extra: FormInput = {}
): Promise<Response> =>
  tokenRequest(h, {
    grant_type: "authorization_code",
    code: auth.code,
    redirect_uri: auth.redirectUri,
    code_verifier: auth.verifier,
    ...clientParams(client),
    ...extra
  }, clientAuth(client))

/** Body parameters a static client authenticates with (post, none). */
export const clientParams = (client: StaticClient): FormInput =>
  client.token_endpoint_auth_method === "client_secret_post"
    ? { client_id: client.client_id, client_secret: client.client_secret }
    : client.token_endpoint_auth_method === "none"
    ? { client_id: client.client_id }
    : {}

/** Request options a static client authenticates with (basic). */
export const clientAuth = (client: StaticClient): TokenRequestOptions =>
  client.token_endpoint_auth_method === "client_secret_basic" || client.token_endpoint_auth_method === undefined
    ? { basic: [client.client_id, client.client_secret ?? ""] }
    : {}

/** Authorize and exchange: the first token response of a grant. */
export const obtainTokens = async (h: Harness, client: StaticClient, o: Omit<AuthorizeOptions, "clientId"> = {}) => {
  const auth = await authorize(h, { ...o, clientId: client.client_id })
  return { auth, tokens: await tokens(await exchangeCode(h, auth, client, { resource: o.resource })) }
}

/** Refresh at the token endpoint, authenticating as `client`. */
export const refresh = (h: Harness, client: StaticClient, refreshToken: string, extra: FormInput = {}): Promise<Response> =>
  tokenRequest(h, { grant_type: "refresh_token", refresh_token: refreshToken, ...clientParams(client), ...extra }, clientAuth(client))

/** SHA-256 base64url, as the stores key records. */
export const digest = (h: Harness, value: string) => h.gh.run(Effect.flatMap(Crypto, (c) => c.digest(value)))

/** The stored record of an access token (JWT: by its `jti`; opaque: by its value). */
export const accessTokenRecord = async (h: Harness, token: string): Promise<AccessTokenRecord | undefined> => {
  const key = token.split(".").length === 3 ? `jti:${jose.decodeJwt(token).jti}` : token
  return h.db.accessTokens.get(await digest(h, key))
}

// ---- private_key_jwt (RFC 7523) ----

export interface ClientKey {
  readonly privateKey: CryptoKey
  readonly publicJwk: jose.JWK
  readonly kid: string
}

export const generateClientKey = async (alg = "ES256"): Promise<ClientKey> => {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true })
  const jwk = await jose.exportJWK(publicKey)
  const kid = await jose.calculateJwkThumbprint(jwk)
  return { privateKey: privateKey as CryptoKey, publicJwk: { ...jwk, kid, alg, use: "sig" }, kid }
}

/** A static private_key_jwt client registering `key`'s public JWK. */
export const jwtClient = (clientId: string, key: ClientKey, extra: Partial<StaticClient> = {}): StaticClient => ({
  client_id: clientId,
  token_endpoint_auth_method: "private_key_jwt",
  redirect_uris: [REDIRECT_URI],
  grant_types: ["authorization_code", "refresh_token", "client_credentials"],
  jwks: { keys: [key.publicJwk as Record<string, unknown>] },
  ...extra
})

/**
 * RFC 7523 §3 assertion for `clientId`, valid at `nowMs` for 60 s by default. Claims given
 * as `undefined` are left out (to test missing claims).
 */
export const signAssertion = async (
  key: ClientKey,
  clientId: string,
  nowMs: number,
  claims: Record<string, unknown> = {},
  header: Partial<jose.JWTHeaderParameters> = {}
): Promise<string> => {
  const iat = Math.floor(nowMs / 1000)
  const payload: Record<string, unknown> = {
    iss: clientId,
    sub: clientId,
    aud: TOKEN_ENDPOINT,
    iat,
    exp: iat + 60,
    jti: globalThis.crypto.randomUUID(),
    ...claims
  }
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k]
  return new jose.SignJWT(payload).setProtectedHeader({ alg: "ES256", kid: key.kid, ...header }).sign(key.privateKey)
}

/** An unsecured JWT (`alg: none`, RFC 7519 §6). */
export const unsecuredAssertion = (clientId: string, nowMs: number): string => {
  const iat = Math.floor(nowMs / 1000)
  return new jose.UnsecuredJWT({ iss: clientId, sub: clientId, aud: TOKEN_ENDPOINT, iat, exp: iat + 60, jti: "unsecured-1" }).encode()
}

export const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/** Form parameters of a private_key_jwt authentication. */
export const assertionParams = (assertion: string): FormInput => ({
  client_assertion_type: JWT_BEARER,
  client_assertion: assertion
})
