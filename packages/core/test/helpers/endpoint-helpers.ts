/**
 * Test helpers for the endpoints that take tokens back or describe the server: discovery,
 * JWKS, userinfo, introspection, revocation and registration. Built on token-helpers'
 * harness (MemoryStorage, TestClock at T0) and its real token flows.
 */
import type { StaticClient } from "../../src/config.js"
import { clientAuth, clientParams, form, type FormInput, type Harness, ISSUER, type TokenRequestOptions, basic } from "./token-helpers.js"

export const INTROSPECT = `${ISSUER}/introspect`
export const REVOKE = `${ISSUER}/revoke`
export const USERINFO = `${ISSUER}/userinfo`
export const REGISTER = `${ISSUER}/register`
export const JWKS = `${ISSUER}/jwks`

/** POST a form to `url`, authenticating per `o` (Basic) and/or the body. */
export const postForm = (h: Harness, url: string, params: FormInput, o: TokenRequestOptions = {}): Promise<Response> => {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", ...o.headers }
  if (o.basic) headers["authorization"] = basic(o.basic[0], o.basic[1])
  return h.gh.handler(new Request(url, { method: o.method ?? "POST", headers, body: o.body ?? form(params) }))
}

/** RFC 7662 §2.1 request, authenticated as the static `client`. */
export const introspect = (h: Harness, client: StaticClient, token: string | undefined, extra: FormInput = {}) =>
  postForm(h, INTROSPECT, { token, ...clientParams(client), ...extra }, clientAuth(client))

/** The §2.2 body of a 200 introspection response. */
export const introspection = async (response: Response): Promise<Record<string, unknown>> => {
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}: ${await response.text()}`)
  return await response.json() as Record<string, unknown>
}

/** RFC 7009 §2.1 request, authenticated as the static `client`. */
export const revoke = (h: Harness, client: StaticClient, token: string | undefined, extra: FormInput = {}) =>
  postForm(h, REVOKE, { token, ...clientParams(client), ...extra }, clientAuth(client))

/** OIDC Core §5.3.1: GET userinfo with the token in the Authorization header. */
export const userinfo = (h: Harness, token: string, init: RequestInit = {}) =>
  h.gh.handler(new Request(USERINFO, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers as Record<string, string> } }))

/** The parameters of an RFC 6750 §3 `WWW-Authenticate: Bearer ...` challenge. */
export const bearerChallenge = (response: Response): Record<string, string> => {
  const header = response.headers.get("www-authenticate")
  if (header === null) throw new Error(`no WWW-Authenticate header (status ${response.status})`)
  if (!/^Bearer /.test(header)) throw new Error(`not a Bearer challenge: ${header}`)
  const out: Record<string, string> = {}
  for (const m of header.slice(7).matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!.replace(/\\(.)/g, "$1")
  return out
}

export interface RegisterOptions {
  /** a Bearer token (initial or registration access token) */
  readonly token?: string
  readonly contentType?: string
  /** raw body instead of JSON of `body` */
  readonly raw?: string
  readonly method?: string
  readonly url?: string
}

/** RFC 7591 §3.1 request (or an RFC 7592 one, with `url` and `method`). */
export const registerRequest = (h: Harness, body: unknown, o: RegisterOptions = {}): Promise<Response> => {
  const headers: Record<string, string> = { "content-type": o.contentType ?? "application/json" }
  if (o.token !== undefined) headers["authorization"] = `Bearer ${o.token}`
  const method = o.method ?? "POST"
  return h.gh.handler(new Request(o.url ?? REGISTER, {
    method,
    headers,
    ...(method === "GET" || method === "DELETE" ? {} : { body: o.raw ?? JSON.stringify(body) })
  }))
}

/** What RFC 7591 §3.2.1 returns. */
export interface ClientInformation {
  readonly client_id: string
  readonly client_secret?: string
  readonly client_id_issued_at: number
  readonly client_secret_expires_at?: number
  readonly registration_access_token: string
  readonly registration_client_uri: string
  readonly redirect_uris: ReadonlyArray<string>
  readonly token_endpoint_auth_method: string
  readonly grant_types: ReadonlyArray<string>
  readonly response_types: ReadonlyArray<string>
  readonly [member: string]: unknown
}

/** Register and return the 201 body; fails the test otherwise. */
export const registered = async (h: Harness, body: unknown, o: RegisterOptions = {}): Promise<ClientInformation> => {
  const response = await registerRequest(h, body, o)
  if (response.status !== 201) throw new Error(`expected 201, got ${response.status}: ${await response.text()}`)
  return await response.json() as ClientInformation
}

/** A StaticClient-shaped view of a registered client, for the token/introspection helpers. */
export const asClient = (info: ClientInformation): StaticClient => ({
  client_id: info.client_id,
  client_secret: info.client_secret,
  token_endpoint_auth_method: info.token_endpoint_auth_method as StaticClient["token_endpoint_auth_method"],
  redirect_uris: [...info.redirect_uris],
  grant_types: [...info.grant_types]
})

export const WEB_METADATA = {
  redirect_uris: ["https://app.example.com/callback"],
  client_name: "Registered App"
} as const
