/**
 * Dynamic client registration (RFC 7591 §3) and the client configuration endpoint for
 * reading, replacing and deleting a registration (RFC 7592 §2), at
 * `<registration endpoint>/<client_id>`.
 *
 * Registration is open only when `registration.open` is set; otherwise it needs the
 * configured initial access token as a Bearer token (RFC 7591 §3). A client manages its
 * registration with the registration access token it was given (RFC 7592 §1.2). Secrets and
 * registration access tokens are stored only as digests, which shapes two answers:
 * - a read (GET) cannot return `client_secret` (it is not kept), and no new secret is ever
 *   issued by an update (PUT);
 * - every read and update issues a new registration access token and invalidates the old one
 *   (RFC 7592 §2.1, §2.2 allow it; RFC 7592 §3 requires one in each response, and the old
 *   one cannot be returned). The client MUST use the newest.
 * Statically configured clients are not manageable here (`invalid_token`).
 *
 * > [!WARNING] With open registration anyone can create clients. Such clients may not hold
 * > the `client_credentials` grant (tokens on the client's own authority, no user consent);
 * > registering one needs the initial access token.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import { ASSERTION_ALGS } from "../client-auth/index.js"
import { Clients } from "../clients.js"
import { GatehouseConfig, type ResolvedConfig } from "../config.js"
import {
  AccessDenied,
  InvalidClientMetadata,
  InvalidRedirectUri,
  InvalidRequest,
  InvalidSoftwareStatement,
  InvalidToken,
  type PayloadTooLarge
} from "../errors.js"
import { bearerToken, readJsonObject, splitList } from "../http/request.js"
import { bearerErrorResponse, json, NO_STORE, oauthErrorResponse } from "../http/response.js"
import type { EndpointContext, Endpoint } from "../http/router.js"
import { type ClientRecord, ClientStore } from "../ports/ClientStore.js"
import { Crypto } from "../ports/Crypto.js"
import { Events } from "../ports/Events.js"
import { ClientMetadata } from "../schema/client.js"
import { GRANT_TYPES_SUPPORTED } from "../grants/index.js"
import { observeEndpoint } from "../observability/endpoint.js"
import type { GatehouseServices } from "../services.js"
import type { IncomingRequest } from "../http/incoming.js"

/**
 * The request body: the RFC 7591 §2 / OIDC Registration §2 metadata of `ClientMetadata`, all
 * optional (defaults applied after validation), plus what a request may carry besides
 * (RFC 7592 §2.2 `client_id` / `client_secret` on update). Members not understood are
 * ignored (RFC 7591 §2).
 */
const RegistrationRequest = Schema.Struct({
  ...ClientMetadata.fields,
  redirect_uris: Schema.optional(ClientMetadata.fields.redirect_uris),
  token_endpoint_auth_method: Schema.optional(ClientMetadata.fields.token_endpoint_auth_method),
  grant_types: Schema.optional(ClientMetadata.fields.grant_types),
  response_types: Schema.optional(ClientMetadata.fields.response_types),
  jwks_uri: Schema.optional(Schema.String),
  software_statement: Schema.optional(Schema.String),
  client_id: Schema.optional(Schema.String),
  client_secret: Schema.optional(Schema.String)
})
type RegistrationRequest = typeof RegistrationRequest.Type

const decodeRequest = Schema.decodeUnknownEffect(RegistrationRequest)
const formatIssue = SchemaIssue.makeFormatterStandardSchemaV1()

/** `redirect_uris[0]` from ["redirect_uris", 0] */
const fieldName = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>) =>
  path
    .map((segment) => (typeof segment === "object" ? segment.key : segment))
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("")

/**
 * Decode the JSON object; the failure names the member. A `null` member is taken as omitted
 * (RFC 7592 §2.2 treats omitted and null alike).
 */
const decodeMetadata = (body: Record<string, unknown>) =>
  decodeRequest(Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null))).pipe(
    Effect.mapError((error) => {
      const first = formatIssue(error.issue).issues[0]
      const field = first ? fieldName(first.path ?? []) : ""
      const description = `${field || "client metadata"}: ${first?.message ?? "invalid"}`.slice(0, 300)
      // RFC 7591 §3.2.2: a bad redirection URI has its own code
      return field.startsWith("redirect_uris")
        ? new InvalidRedirectUri({ description })
        : new InvalidClientMetadata({ description })
    })
  )

const SECRET_METHODS = new Set(["client_secret_basic", "client_secret_post"])
/** RFC 8252 §7.3, §8.3: loopback redirect URIs may use http. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"])
/** RFC 7517 §4 / RFC 7518 §6: members that only private or symmetric keys have. */
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

/**
 * RFC 7591 §2 `redirect_uris` (also used for OIDC `post_logout_redirect_uris`): an absolute
 * URI without a fragment (RFC 6749 §3.1.2) and without user information; https; http only
 * on a loopback host (RFC 8252 §7.3, §8.3); or, for native apps, a private-use scheme in
 * reverse-domain form (RFC 8252 §7.1, so `javascript:`, `data:` and the like never pass).
 */
const redirectUriProblem = (uri: string, native: boolean): string | undefined => {
  if (!URL.canParse(uri)) return "is not an absolute URI"
  if (uri.includes("#")) return "must not contain a fragment (RFC 6749 §3.1.2)"
  const url = new URL(uri)
  if (url.username !== "" || url.password !== "") return "must not contain user information"
  if (url.protocol === "https:") return undefined
  if (url.protocol === "http:") {
    return LOOPBACK_HOSTS.has(url.hostname) ? undefined : "must use https (http only on a loopback host, RFC 8252 §7.3)"
  }
  const scheme = url.protocol.slice(0, -1)
  if (!scheme.includes(".")) return `scheme "${scheme}" is not allowed (https, loopback http, or a reverse-domain private-use scheme, RFC 8252 §7.1)`
  if (!native) return `a private-use scheme requires application_type "native" (RFC 8252 §7.1)`
  return undefined
}

/** RFC 7591 §2 / §5: URLs shown to the user (client_uri, logo_uri, tos_uri, policy_uri) are http(s) only. */
const webUrlProblem = (uri: string): string | undefined =>
  URL.canParse(uri) && ["https:", "http:"].includes(new URL(uri).protocol) ? undefined : "must be an absolute http(s) URL"

const metadataError = (description: string) => new InvalidClientMetadata({ description })

/** Validate decoded metadata and apply the RFC 7591 §2 defaults: what gets stored. */
export const validateMetadata = Effect.fnUntraced(function*(
  input: RegistrationRequest,
  config: ResolvedConfig,
  /** may the client hold the client_credentials grant (see `mayUseClientCredentials`) */
  clientCredentialsAllowed: boolean
): Effect.fn.Return<ClientMetadata, InvalidClientMetadata | InvalidRedirectUri | InvalidSoftwareStatement> {
  // RFC 7591 §2.3: no software statements here (it would carry metadata we would have to trust)
  if (input.software_statement !== undefined) {
    return yield* new InvalidSoftwareStatement({ description: "software statements are not supported" })
  }
  // RFC 7591 §2: defaults
  const method = input.token_endpoint_auth_method ?? "client_secret_basic"
  const grantTypes = [...new Set(input.grant_types ?? ["authorization_code"])]
  for (const g of grantTypes) {
    if (!GRANT_TYPES_SUPPORTED.includes(g)) {
      return yield* metadataError(`grant_types: "${g.slice(0, 64)}" is not supported (${GRANT_TYPES_SUPPORTED.join(", ")})`)
    }
  }
  // without the authorization_code grant there is no response type to default to
  const responseTypes = [...new Set(input.response_types ?? (grantTypes.includes("authorization_code") ? ["code"] : []))]
  for (const r of responseTypes) {
    if (r !== "code") return yield* metadataError(`response_types: "${r.slice(0, 64)}" is not supported (code)`)
  }
  // RFC 7591 §2.1: response_types and grant_types must agree
  if (responseTypes.includes("code") !== grantTypes.includes("authorization_code")) {
    return yield* metadataError(`response_types "code" and grant_types "authorization_code" go together (RFC 7591 §2.1)`)
  }
  // RFC 6749 §4.4: the client credentials grant is for confidential clients only
  if (grantTypes.includes("client_credentials") && method === "none") {
    return yield* metadataError(`grant_types "client_credentials" requires client authentication (token_endpoint_auth_method other than "none")`)
  }
  if (grantTypes.includes("client_credentials") && !clientCredentialsAllowed) {
    return yield* metadataError(`grant_types "client_credentials" is not available through open registration; register with the initial access token`)
  }
  const native = input.application_type === "native"
  const redirectUris = [...new Set(input.redirect_uris ?? [])]
  // RFC 7591 §2: redirection-based grants need redirect URIs
  if (grantTypes.includes("authorization_code") && redirectUris.length === 0) {
    return yield* new InvalidRedirectUri({ description: "redirect_uris is required for the authorization_code grant" })
  }
  for (const [i, uri] of redirectUris.entries()) {
    const problem = redirectUriProblem(uri, native)
    if (problem) return yield* new InvalidRedirectUri({ description: `redirect_uris[${i}]: ${problem}` })
  }
  for (const [i, uri] of (input.post_logout_redirect_uris ?? []).entries()) {
    const problem = redirectUriProblem(uri, native)
    if (problem) return yield* metadataError(`post_logout_redirect_uris[${i}]: ${problem}`)
  }
  for (const name of ["client_uri", "logo_uri", "tos_uri", "policy_uri"] as const) {
    const value = input[name]
    const problem = value === undefined ? undefined : webUrlProblem(value)
    if (problem) return yield* metadataError(`${name}: ${problem}`)
  }
  // RFC 7591 §2: scope values the server offers
  if (input.scope !== undefined) {
    for (const s of splitList(input.scope)) {
      if (!config.scopes.includes(s)) return yield* metadataError(`scope: "${s.slice(0, 64)}" is not offered by this server`)
    }
  }
  // RFC 7591 §2: keys by value only
  if (input.jwks_uri !== undefined) {
    return yield* metadataError("jwks_uri is not supported; register the public keys by value in jwks")
  }
  if (input.jwks !== undefined) {
    for (const [i, key] of input.jwks.keys.entries()) {
      if (key["kty"] !== "RSA" && key["kty"] !== "EC" && key["kty"] !== "OKP") {
        return yield* metadataError(`jwks.keys[${i}]: kty must be RSA, EC or OKP (an asymmetric public key)`)
      }
      const leaked = PRIVATE_JWK_MEMBERS.find((m) => key[m] !== undefined)
      if (leaked) return yield* metadataError(`jwks.keys[${i}]: contains the private member "${leaked}"; register public keys only`)
    }
  }
  // RFC 7523 §2.2 / RFC 7591 §2: private_key_jwt needs the client's public keys
  if (method === "private_key_jwt" && (input.jwks === undefined || input.jwks.keys.length === 0)) {
    return yield* metadataError("jwks is required for token_endpoint_auth_method private_key_jwt")
  }
  if (input.token_endpoint_auth_signing_alg !== undefined && !ASSERTION_ALGS.includes(input.token_endpoint_auth_signing_alg)) {
    return yield* metadataError(`token_endpoint_auth_signing_alg: "${input.token_endpoint_auth_signing_alg.slice(0, 32)}" is not supported (${ASSERTION_ALGS.join(", ")})`)
  }
  // OIDC Registration §2: algs the server can sign with
  if (input.id_token_signed_response_alg !== undefined && !(config.idTokenAlgs as ReadonlyArray<string>).includes(input.id_token_signed_response_alg)) {
    return yield* metadataError(`id_token_signed_response_alg: "${input.id_token_signed_response_alg.slice(0, 32)}" is not supported (${config.idTokenAlgs.join(", ")})`)
  }
  if (input.userinfo_signed_response_alg !== undefined) {
    return yield* metadataError("userinfo_signed_response_alg is not supported: UserInfo responses are plain JSON")
  }
  if (input.default_max_age !== undefined && !(Number.isSafeInteger(input.default_max_age) && input.default_max_age >= 0)) {
    return yield* metadataError("default_max_age: must be a non-negative integer (seconds)")
  }
  const {
    jwks_uri: _jwksUri,
    software_statement: _statement,
    client_id: _clientId,
    client_secret: _clientSecret,
    ...rest
  } = input
  const metadata: ClientMetadata = {
    ...rest,
    redirect_uris: redirectUris,
    token_endpoint_auth_method: method,
    grant_types: grantTypes,
    response_types: responseTypes
  }
  // no undefined members in what is stored and returned
  return Object.fromEntries(Object.entries(metadata).filter(([, v]) => v !== undefined)) as ClientMetadata
})

/** RFC 7591 §3.2.1 / RFC 7592 §3: the client information response. */
const clientInformation = (
  config: ResolvedConfig,
  record: ClientRecord,
  issued: { readonly registrationAccessToken: string; readonly clientSecret?: string | undefined }
) => ({
  ...record.metadata,
  client_id: record.clientId,
  ...(issued.clientSecret !== undefined ? { client_secret: issued.clientSecret } : {}),
  client_id_issued_at: record.issuedAt,
  // REQUIRED when the client has a secret; 0 = never expires
  ...(record.secretDigest !== undefined ? { client_secret_expires_at: record.secretExpiresAt } : {}),
  registration_access_token: issued.registrationAccessToken,
  registration_client_uri: `${config.endpoints.registration}/${encodeURIComponent(record.clientId)}`
})

/**
 * RFC 7591 §3: who may register. Registration not enabled at all fails with 403
 * `access_denied` (no token could help). Otherwise `denied` is the response to send when
 * not allowed: an RFC 6750 §3.1 challenge for a missing or wrong initial access token (this
 * route renders errors RFC 6749-style, so the challenge is built here). `vouched` tells
 * whether the request carried the valid initial access token (the operator vouches for the
 * client).
 */
const registrationAccess = Effect.fnUntraced(function*(request: IncomingRequest) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const expected = config.registration.initialAccessToken
  const presented = bearerToken(request)
  // digests of both: equal lengths, and a constant-time comparison
  const vouched = expected !== undefined && presented !== undefined &&
    crypto.equal(yield* crypto.digest(presented), yield* crypto.digest(expected))
  if (config.registration.open || vouched) return { denied: undefined, vouched }
  if (expected === undefined) return yield* new AccessDenied({ description: "dynamic client registration is not enabled" })
  if (presented === undefined) return { denied: bearerErrorResponse(undefined), vouched }
  return { denied: bearerErrorResponse(new InvalidToken({ description: "the initial access token is invalid" })), vouched }
})

/**
 * The client credentials grant gives a client tokens on its own authority, with no user to
 * consent (RFC 6749 §4.4). A client anyone could register (open registration, no initial
 * access token) must not get that: only a registration vouched for by the initial access
 * token may include it — or, on update, a client that already had it.
 */
const mayUseClientCredentials = (config: ResolvedConfig, vouched: boolean) => vouched || !config.registration.open

/** Metadata errors are RFC 7591 §3.2.2 JSON errors, also on the (Bearer-style) configuration endpoint. */
const asOauthError = <A, R>(
  effect: Effect.Effect<A, InvalidClientMetadata | InvalidRedirectUri | InvalidSoftwareStatement | InvalidRequest | PayloadTooLarge, R>
) =>
  effect.pipe(Effect.catch((error) => Effect.succeed(oauthErrorResponse(error))))

const register = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const { denied, vouched } = yield* registrationAccess(ctx.request)
  if (denied !== undefined) return denied
  const body = yield* readJsonObject(ctx.request, config.limits)
  const metadata = yield* validateMetadata(yield* decodeMetadata(body), config, mayUseClientCredentials(config, vouched))
  const crypto = yield* Crypto
  const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
  // RFC 7591 §3.2.1: a unique client_id (128 random bits), a 256-bit secret for secret-based methods
  const clientId = yield* crypto.randomToken(16)
  const clientSecret = SECRET_METHODS.has(metadata.token_endpoint_auth_method) ? yield* crypto.randomToken(32) : undefined
  const registrationAccessToken = yield* crypto.randomToken(32)
  const record: ClientRecord = {
    clientId,
    secretDigest: clientSecret === undefined ? undefined : yield* crypto.digest(clientSecret),
    secretExpiresAt: clientSecret !== undefined && config.ttl.registrationSecret > 0 ? now + config.ttl.registrationSecret : 0,
    registrationAccessTokenDigest: yield* crypto.digest(registrationAccessToken),
    metadata,
    issuedAt: now
  }
  yield* (yield* ClientStore).insert(record)
  yield* (yield* Events).emit({ type: "client.registered", clientId })
  // RFC 7591 §3.2.1: 201 Created
  return json(clientInformation(config, record, { registrationAccessToken, clientSecret }), 201)
})

export const registerEndpoint: Endpoint<GatehouseServices> = (ctx) => observeEndpoint("register", ctx, register(ctx))

/**
 * RFC 7592 §2: the registration access token, for this client. Every failure is the same
 * `invalid_token` (unknown client, static client, wrong token: RFC 7592 §2.1 "MUST respond
 * with HTTP 401"), so the endpoint does not reveal which client ids exist.
 */
const authenticateRegistration = Effect.fnUntraced(function*(ctx: EndpointContext, token: string) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const prefix = `${new URL(config.endpoints.registration).pathname}/`
  let clientId: string
  try {
    clientId = decodeURIComponent(ctx.url.pathname.slice(prefix.length).replace(/\/$/, ""))
  } catch {
    clientId = ""
  }
  const presented = yield* crypto.digest(token)
  const invalid = new InvalidToken({ description: "the registration access token is invalid" })
  if (clientId === "" || (yield* Clients).isStatic(clientId)) return yield* invalid
  const record = yield* (yield* ClientStore).find(clientId)
  const matches = crypto.equal(presented, record?.registrationAccessTokenDigest ?? "")
  if (record === undefined || record.registrationAccessTokenDigest === undefined || !matches) return yield* invalid
  return record
})

/** A new registration access token for `record` (see the header: rotated on every read and update). */
const storeWithNewToken = Effect.fnUntraced(function*(record: Omit<ClientRecord, "registrationAccessTokenDigest">) {
  const crypto = yield* Crypto
  const registrationAccessToken = yield* crypto.randomToken(32)
  const updated: ClientRecord = { ...record, registrationAccessTokenDigest: yield* crypto.digest(registrationAccessToken) }
  // a concurrent DELETE won: the client is gone
  if (!(yield* (yield* ClientStore).update(updated))) {
    return yield* new InvalidToken({ description: "the registration access token is invalid" })
  }
  return { record: updated, registrationAccessToken }
})

/** RFC 7592 §2.2: the request replaces the metadata; `client_id` must be the client's own, a `client_secret` its current one. */
const replaceMetadata = Effect.fnUntraced(function*(ctx: EndpointContext, record: ClientRecord) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const body = yield* readJsonObject(ctx.request, config.limits)
  // server-issued members sent back (registration_access_token, registration_client_uri,
  // client_id_issued_at, client_secret_expires_at) are not metadata: dropped by the decoder
  const input = yield* decodeMetadata(body)
  if (input.client_id === undefined) return yield* new InvalidRequest({ description: `"client_id" is required in an update (RFC 7592 §2.2)` })
  if (input.client_id !== record.clientId) return yield* new InvalidRequest({ description: `"client_id" does not match the client being updated` })
  if (input.client_secret !== undefined) {
    const matches = crypto.equal(yield* crypto.digest(input.client_secret), record.secretDigest ?? "")
    if (!matches) {
      return yield* new InvalidRequest({ description: `"client_secret" does not match the current secret; it cannot be chosen by the client (RFC 7592 §2.2)` })
    }
  }
  const hadClientCredentials = record.metadata.grant_types.includes("client_credentials")
  const metadata = yield* validateMetadata(input, config, hadClientCredentials || mayUseClientCredentials(config, false))
  const secretBased = SECRET_METHODS.has(metadata.token_endpoint_auth_method)
  if (secretBased && record.secretDigest === undefined) {
    return yield* metadataError(`token_endpoint_auth_method "${metadata.token_endpoint_auth_method}" needs a client secret, which an update does not issue; register a new client`)
  }
  return {
    ...record,
    metadata,
    // a client leaving the secret-based methods leaves its secret behind
    secretDigest: secretBased ? record.secretDigest : undefined,
    secretExpiresAt: secretBased ? record.secretExpiresAt : 0
  } satisfies ClientRecord
})

const configure = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const token = bearerToken(ctx.request)
  // RFC 6750 §3.1: no token -> a bare challenge
  if (token === undefined) return bearerErrorResponse(undefined)
  const record = yield* authenticateRegistration(ctx, token)
  switch (ctx.request.method.toUpperCase()) {
    case "DELETE": {
      // RFC 7592 §2.3: 204; the client and its registration access token are gone
      yield* (yield* ClientStore).delete(record.clientId)
      yield* (yield* Events).emit({ type: "client.deleted", clientId: record.clientId })
      return new Response(null, { status: 204, headers: NO_STORE })
    }
    case "PUT": {
      const replaced = yield* asOauthError(replaceMetadata(ctx, record))
      if (replaced instanceof Response) return replaced
      const { record: updated, registrationAccessToken } = yield* storeWithNewToken(replaced)
      yield* (yield* Events).emit({ type: "client.updated", clientId: updated.clientId })
      return json(clientInformation(config, updated, { registrationAccessToken }))
    }
    default: {
      // RFC 7592 §2.1: GET reads the current registration (no client_secret: only its digest is kept)
      const { record: current, registrationAccessToken } = yield* storeWithNewToken(record)
      return json(clientInformation(config, current, { registrationAccessToken }))
    }
  }
})

export const clientConfigurationEndpoint: Endpoint<GatehouseServices> = (ctx) => observeEndpoint("register.configure", ctx, configure(ctx))
