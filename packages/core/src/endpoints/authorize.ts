/**
 * The authorization endpoint (RFC 6749 §3.1, §4.1.1; OIDC Core §3.1.2) and its resumption
 * after the host app's login/consent pages.
 *
 * Until the client and its redirect URI are verified, errors are shown as a page and never
 * redirected (RFC 6749 §4.1.2.1, no open redirector: RFC 9700 §4.11). After that, errors go
 * back to the client with `state` and `iss` (RFC 9207).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { Clients } from "../clients.js"
import { GatehouseConfig, type ResolvedConfig } from "../config.js"
import {
  AccessDenied,
  ConsentRequired,
  InvalidClient,
  InvalidRequest,
  InvalidScope,
  LoginRequired,
  type ProtocolError,
  RequestNotSupported,
  RequestUriNotSupported,
  UnauthorizedClient,
  UnsupportedResponseType
} from "../errors.js"
import { optionalParam, type Params, queryParams, readForm, splitList } from "../http/request.js"
import { errorPage, redirect, setCookie } from "../http/response.js"
import type { EndpointContext } from "../http/router.js"
import { observeEndpoint } from "../observability/endpoint.js"
import { annotate } from "../observability/tracing.js"
import { consentRequired, consumeFinished, type InteractionPayload, rememberConsent } from "../interactions/api.js"
import { type AuthorizationRequest, issueCode, respondError } from "../interactions/request.js"
import type { ClientRecord } from "../ports/ClientStore.js"
import { Crypto } from "../ports/Crypto.js"
import { Events } from "../ports/Events.js"
import { GrantStore, type SessionRecord } from "../ports/GrantStore.js"
import { InteractionStore } from "../ports/InteractionStore.js"
import { resolveAudience } from "../tokens/access_token.js"
import { parseClaimsRequest } from "../tokens/claims.js"
import { Keys } from "../tokens/keys.js"

export const sessionCookie = (config: ResolvedConfig) => `${config.cookies.name}.session`
export const interactionCookie = (config: ResolvedConfig) => `${config.cookies.name}.interaction`
const cookiePath = (config: ResolvedConfig) => config.basePath || "/"

const LOOPBACK = new Set(["127.0.0.1", "[::1]"])

/**
 * RFC 9700 §4.1.3 / RFC 6749 §3.1.2.3: exact string matching of the redirect URI, with the
 * one exception RFC 8252 §7.3 requires: any port on a loopback IP literal for native apps.
 */
export const matchRedirectUri = (registered: ReadonlyArray<string>, requested: string): boolean =>
  registered.some((r) => {
    if (r === requested) return true
    if (!r.startsWith("http://")) return false
    try {
      const a = new URL(r)
      const b = new URL(requested)
      if (!LOOPBACK.has(a.hostname) || a.hostname !== b.hostname || b.protocol !== "http:") return false
      if (a.username || b.username || a.password || b.password) return false
      a.port = ""
      b.port = ""
      return a.toString() === b.toString() && requested.startsWith(`http://${b.hostname}`)
    } catch {
      return false
    }
  })

/** RFC 7636 §4.2: code_challenge = BASE64URL(SHA256(verifier)), 43 characters for S256. */
const CODE_CHALLENGE = /^[A-Za-z0-9\-._~]{43,128}$/

const PROMPTS = new Set(["none", "login", "consent", "select_account"])

/** The client, the redirect URI and the response mode: what must hold before any redirect. */
const verifyClientAndRedirect = Effect.fnUntraced(function*(params: Params) {
  const clientId = yield* optionalParam(params, "client_id")
  if (clientId === undefined) return yield* new InvalidRequest({ description: `parameter "client_id" is required` })
  const client = yield* (yield* Clients).find(clientId)
  if (!client) return yield* new InvalidClient({ description: "the client is not registered" })
  const requested = yield* optionalParam(params, "redirect_uri")
  let redirectUri: string
  if (requested !== undefined) {
    if (!matchRedirectUri(client.metadata.redirect_uris, requested)) {
      return yield* new InvalidRequest({ description: "redirect_uri does not match any URI registered for this client" })
    }
    redirectUri = requested
  } else if (client.metadata.redirect_uris.length === 1) {
    // RFC 6749 §3.1.2.3: may be omitted when exactly one is registered
    redirectUri = client.metadata.redirect_uris[0]!
  } else {
    return yield* new InvalidRequest({ description: `parameter "redirect_uri" is required` })
  }
  const mode = params.get("response_mode")
  const responseMode = mode?.length === 1 && mode[0] === "form_post" ? "form_post" as const : "query" as const
  const stateValues = params.get("state")
  const state = stateValues?.length === 1 ? stateValues[0] : undefined
  return { client, redirectUri, redirectUriProvided: requested !== undefined, responseMode, state }
})

type VerifiedClientRedirect = Effect.Success<ReturnType<typeof verifyClientAndRedirect>>

/** Every other rule of the request; failures here are redirected to the client. */
const validateRequest = Effect.fnUntraced(function*(
  params: Params,
  client: ClientRecord,
  base: { redirectUri: string; redirectUriProvided: boolean; responseMode: "query" | "form_post"; state: string | undefined }
) {
  const config = yield* GatehouseConfig
  // RFC 6749 §3.1: no parameter twice (state, response_mode checked here too)
  for (const [name, values] of params) {
    if (values.length > 1 && name !== "resource") {
      return yield* new InvalidRequest({ description: `parameter "${name}" is included more than once` })
    }
  }
  // OIDC Core §6: request objects are not supported
  if (params.has("request")) return yield* new RequestNotSupported({ description: "the request parameter is not supported" })
  if (params.has("request_uri")) return yield* new RequestUriNotSupported({ description: "the request_uri parameter is not supported" })
  const responseMode = yield* optionalParam(params, "response_mode")
  if (responseMode !== undefined && responseMode !== "query" && responseMode !== "form_post") {
    return yield* new InvalidRequest({ description: `response_mode "${responseMode}" is not supported (query, form_post)` })
  }
  // RFC 6749 §3.1.1: response_type is required; only "code" is offered (no implicit or hybrid: RFC 9700 §2.1.2)
  const responseType = yield* optionalParam(params, "response_type")
  if (responseType === undefined) return yield* new InvalidRequest({ description: `parameter "response_type" is required` })
  if (responseType !== "code") {
    return yield* new UnsupportedResponseType({ description: `response_type "${responseType}" is not supported; use "code"` })
  }
  if (!client.metadata.response_types.includes("code") || !client.metadata.grant_types.includes("authorization_code")) {
    return yield* new UnauthorizedClient({ description: "the client is not allowed the authorization code grant" })
  }
  // RFC 6749 §3.3: scope
  const scope = splitList(yield* optionalParam(params, "scope"))
  const allowed = client.metadata.scope === undefined ? undefined : splitList(client.metadata.scope)
  for (const s of scope) {
    if (!config.scopes.includes(s) || (allowed !== undefined && !allowed.includes(s))) {
      return yield* new InvalidScope({ description: `scope "${s}" is not available to this client` })
    }
  }
  // OIDC Core §3.1.2.1: redirect_uri is REQUIRED in OpenID requests
  if (scope.includes("openid") && !base.redirectUriProvided) {
    return yield* new InvalidRequest({ description: `parameter "redirect_uri" is required for OpenID Connect requests` })
  }
  // RFC 7636 §4.3, §4.4.1; RFC 9700 §2.1.1: PKCE with S256, required for public clients and by default for all
  const codeChallenge = yield* optionalParam(params, "code_challenge")
  const method = yield* optionalParam(params, "code_challenge_method")
  const pkceRequired = config.pkceRequired === "all" || client.metadata.token_endpoint_auth_method === "none"
  if (codeChallenge === undefined) {
    if (method !== undefined) return yield* new InvalidRequest({ description: `parameter "code_challenge" is required with code_challenge_method` })
    if (pkceRequired) return yield* new InvalidRequest({ description: "PKCE is required: send code_challenge with code_challenge_method=S256" })
  } else {
    if (method !== "S256") {
      return yield* new InvalidRequest({
        description: method === undefined || method === "plain"
          ? "code_challenge_method must be S256 (plain is not accepted)"
          : `code_challenge_method "${method}" is not supported; use S256`
      })
    }
    if (!CODE_CHALLENGE.test(codeChallenge)) {
      return yield* new InvalidRequest({ description: "code_challenge must be 43-128 characters of [A-Z a-z 0-9 - . _ ~] (RFC 7636 §4.2)" })
    }
  }
  // RFC 8707 §2: resource may repeat
  const resource = params.get("resource") ?? []
  yield* resolveAudience(config, resource)
  // OIDC Core §3.1.2.1: prompt, max_age, id_token_hint, claims
  const prompt = splitList(yield* optionalParam(params, "prompt"))
  for (const p of prompt) {
    if (!PROMPTS.has(p)) return yield* new InvalidRequest({ description: `prompt value "${p}" is not supported` })
  }
  if (prompt.includes("none") && prompt.length > 1) {
    return yield* new InvalidRequest({ description: `prompt "none" must not be combined with other values` })
  }
  const maxAgeParam = yield* optionalParam(params, "max_age")
  if (maxAgeParam !== undefined && !/^\d{1,10}$/.test(maxAgeParam)) {
    return yield* new InvalidRequest({ description: "max_age must be a non-negative integer" })
  }
  const maxAge = maxAgeParam === undefined
    ? client.metadata.default_max_age
    : Number(maxAgeParam)
  const claims = yield* optionalParam(params, "claims")
  if (parseClaimsRequest(claims) === "invalid") {
    return yield* new InvalidRequest({ description: "claims must be a JSON object with userinfo and/or id_token members (OIDC Core §5.5)" })
  }
  const idTokenHint = yield* optionalParam(params, "id_token_hint")
  let idTokenHintSub: string | undefined
  if (idTokenHint !== undefined) {
    const keys = yield* Keys
    // OIDC Core §3.1.2.1: an expired hint is still acceptable; it must be ours, for this client
    const verified = yield* keys.verify(idTokenHint, { issuer: config.issuer, currentDate: new Date(0) }).pipe(
      Effect.catchTag("JoseError", () => Effect.succeed(undefined))
    )
    const aud = verified?.payload.aud
    if (!verified || typeof verified.payload.sub !== "string" || !(aud === client.clientId || (Array.isArray(aud) && aud.includes(client.clientId)))) {
      return yield* new InvalidRequest({ description: "id_token_hint is not a valid ID token issued to this client" })
    }
    idTokenHintSub = verified.payload.sub
  }
  const request: AuthorizationRequest = {
    clientId: client.clientId,
    redirectUri: base.redirectUri,
    redirectUriProvided: base.redirectUriProvided,
    responseMode: base.responseMode,
    state: yield* optionalParam(params, "state"),
    scope,
    codeChallenge,
    codeChallengeMethod: codeChallenge === undefined ? undefined : "S256",
    resource,
    nonce: yield* optionalParam(params, "nonce"),
    prompt,
    maxAge,
    loginHint: yield* optionalParam(params, "login_hint"),
    idTokenHintSub,
    acrValues: splitList(yield* optionalParam(params, "acr_values")),
    claims,
    uiLocales: yield* optionalParam(params, "ui_locales")
  }
  return request
})

/** The browser's AS session, if valid. */
const currentSession = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const value = ctx.cookies.get(sessionCookie(config))
  if (!value) return undefined
  const digest = yield* (yield* Crypto).digest(value)
  const session = yield* (yield* GrantStore).findSession(digest)
  const now = yield* Clock.currentTimeMillis
  return session && session.expiresAt > now ? session : undefined
})

/** The authorization request past its client and redirect URI: a code now, or the host's pages. */
const decide = Effect.fnUntraced(function*(ctx: EndpointContext, params: Params, verified: VerifiedClientRedirect) {
  const request = yield* validateRequest(params, verified.client, verified)
  const session = yield* currentSession(ctx)
  const now = yield* Clock.currentTimeMillis
  const loginNeeded = !session ||
    request.prompt.includes("login") ||
    request.prompt.includes("select_account") ||
    (request.maxAge !== undefined && Math.floor(now / 1000) - session.authTime > request.maxAge) ||
    (request.idTokenHintSub !== undefined && request.idTokenHintSub !== session.accountId)
  const consentNeeded = session === undefined
    ? true
    : yield* consentRequired(session.accountId, request.clientId, request.scope, request.prompt)
  if (request.prompt.includes("none")) {
    // OIDC Core §3.1.2.6
    if (loginNeeded) return yield* new LoginRequired({ description: "the user is not signed in" })
    if (consentNeeded) return yield* new ConsentRequired({ description: "the user has not consented to the requested scopes" })
  }
  if (!loginNeeded && !consentNeeded && session) {
    return yield* issueCode(request, {
      accountId: session.accountId,
      scope: request.scope,
      authTime: session.authTime,
      acr: session.acr,
      amr: session.amr,
      sessionId: session.sessionDigest
    })
  }
  return yield* startInteraction(request, loginNeeded ? undefined : session, loginNeeded)
})

const authorize = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  // OIDC Core §3.1.2.1: GET (query) and POST (form body)
  const params = ctx.request.method.toUpperCase() === "POST"
    ? yield* readForm(ctx.request, config.limits)
    : yield* queryParams(ctx.url, config.limits)
  const verified = yield* verifyClientAndRedirect(params)
  yield* annotate(() => ({ "gatehouse.client_id": verified.client.clientId }))
  const base = { ...verified, clientId: verified.client.clientId }
  return yield* decide(ctx, params, verified).pipe(
    Effect.catch((error: ProtocolError) =>
      error._tag === "StorageError" || error._tag === "ServerError"
        ? Effect.fail(error)
        : respondError(base, error))
  )
})

/** Hand the user to the host app's pages, bound to this browser by a cookie. */
const startInteraction = Effect.fnUntraced(function*(
  request: AuthorizationRequest,
  session: SessionRecord | undefined,
  loginNeeded: boolean
) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const now = yield* Clock.currentTimeMillis
  const id = yield* crypto.randomToken(24)
  const binding = yield* crypto.randomToken(32)
  const payload: InteractionPayload = {
    request,
    prompt: loginNeeded ? ["login", "consent"] : ["consent"],
    session: session && {
      accountId: session.accountId,
      authTime: session.authTime,
      acr: session.acr,
      amr: session.amr,
      sessionDigest: session.sessionDigest
    }
  }
  yield* (yield* InteractionStore).create({
    id,
    kind: "authorize",
    state: "pending",
    clientId: request.clientId,
    bindingDigest: yield* crypto.digest(binding),
    payload: JSON.stringify(payload),
    accountId: session?.accountId,
    createdAt: now,
    expiresAt: now + config.ttl.interaction * 1000
  })
  return redirect(config.interactionUrl(id), [
    setCookie(interactionCookie(config), binding, { secure: config.cookies.secure, path: cookiePath(config), maxAge: config.ttl.interaction })
  ])
})

/** The client a refused request claimed to be (GET only: a POST body is already read). */
const claimedClient = (ctx: EndpointContext): string | undefined =>
  ctx.request.method.toUpperCase() === "GET" ? ctx.url.searchParams.get("client_id")?.slice(0, 128) : undefined

export const authorizeEndpoint = (ctx: EndpointContext) =>
  observeEndpoint("authorize", ctx, authorize(ctx), {
    // errors that reach here are shown on an error page, never redirected (RFC 6749 §4.1.2.1)
    denied: (error) => ({ type: "authorization.denied", flow: "authorize", clientId: claimedClient(ctx), error, redirected: false })
  })

/**
 * Back from the host app: the interaction must be finished, unused, and started by this same
 * browser (the binding cookie) — otherwise an error page, never a redirect.
 */
const resume = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const store = yield* InteractionStore
  const id = ctx.url.searchParams.get("interaction")
  const invalid = (description: string) =>
    Effect.as(
      Effect.flatMap(Events, (events) => events.emit({ type: "request.denied", endpoint: "authorize.resume", error: "invalid_request" })),
      errorPage(new InvalidRequest({ description }))
    )
  if (!id || ctx.url.searchParams.getAll("interaction").length > 1) return yield* invalid("missing interaction")
  const record = yield* store.find(id)
  const now = yield* Clock.currentTimeMillis
  if (!record || record.kind !== "authorize" || record.expiresAt <= now) return yield* invalid("this sign-in has expired; start again from the application")
  const binding = ctx.cookies.get(interactionCookie(config))
  if (!binding || !crypto.equal(yield* crypto.digest(binding), record.bindingDigest)) {
    return yield* invalid("this sign-in was started in another browser")
  }
  const outcome = yield* consumeFinished(record)
  if (outcome === "used") return yield* invalid("this sign-in was already used")
  if (outcome === "unfinished") return yield* invalid("this sign-in is not finished")
  const payload = JSON.parse(record.payload) as InteractionPayload
  const headers: Array<[string, string]> = [
    setCookie(interactionCookie(config), "", { secure: config.cookies.secure, path: cookiePath(config), maxAge: 0 })
  ]
  if (outcome.outcome !== "completed") {
    const description = outcome.outcome === "denied" ? outcome.description : "The resource owner denied the request"
    return yield* respondError(payload.request, new AccessDenied({ description }), headers)
  }
  const grants = yield* GrantStore
  let sessionDigest = payload.session?.sessionDigest
  if (outcome.newLogin) {
    // a new AS session for this browser (OIDC `auth_time`, SSO, prompt=none)
    const value = yield* crypto.randomToken(32)
    sessionDigest = yield* crypto.digest(value)
    yield* grants.saveSession({
      sessionDigest,
      accountId: outcome.accountId,
      authTime: outcome.authTime,
      acr: outcome.acr,
      amr: outcome.amr,
      expiresAt: now + config.ttl.session * 1000
    })
    headers.push(setCookie(sessionCookie(config), value, { secure: config.cookies.secure, path: cookiePath(config), maxAge: config.ttl.session }))
  }
  yield* rememberConsent(outcome.accountId, record.clientId, outcome.scope, now)
  return yield* issueCode(payload.request, {
    accountId: outcome.accountId,
    scope: outcome.scope,
    authTime: outcome.authTime,
    acr: outcome.acr,
    amr: outcome.amr,
    sessionId: sessionDigest
  }, headers)
})

export const resumeEndpoint = (ctx: EndpointContext) => observeEndpoint("authorize.resume", ctx, resume(ctx))
