/**
 * The device authorization endpoint (RFC 8628 §3.1, §3.2) and the resumption of the user's
 * side (§3.3) after the host's login/consent pages.
 *
 * A device authorization creates three records: a pending interaction (kind "device") for
 * the host's pages, a user code that opens it (the user-code engine, user-code/), and the
 * device code the device polls with (DeviceCodeStore; grants/device_code.ts). The user
 * opens `verification_uri`, types the code (@gatehouse/ui's page -> `UserCode.submit`),
 * signs in and consents through the same hand-off as /authorize, and comes back here:
 * the device code is approved or denied, and the user is told to return to the device.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { authenticateClient } from "../client-auth/index.js"
import { GatehouseConfig } from "../config.js"
import { InvalidRequest, InvalidScope, UnauthorizedClient } from "../errors.js"
import { DEVICE_CODE_GRANT } from "../grants/device_code.js"
import { optionalParam, readForm, splitList } from "../http/request.js"
import { escapeHtml, html, json, setCookie } from "../http/response.js"
import type { EndpointContext } from "../http/router.js"
import { consumeFinished, rememberConsent } from "../interactions/api.js"
import { Crypto } from "../ports/Crypto.js"
import { DeviceCodeStore } from "../ports/DeviceCodeStore.js"
import { Events } from "../ports/Events.js"
import { GrantStore } from "../ports/GrantStore.js"
import { InteractionStore } from "../ports/InteractionStore.js"
import { resolveAudience } from "../tokens/access_token.js"
import { observeEndpoint } from "../observability/endpoint.js"
import { annotate } from "../observability/tracing.js"
import * as UserCode from "../user-code/index.js"
import { sessionCookie } from "./authorize.js"

/** RFC 8707 §2: `resource` may repeat; nothing else may (RFC 6749 §3.2, which §3.1 follows). */
const REPEATABLE: ReadonlySet<string> = new Set(["resource"])

/**
 * What the device interaction keeps in `InteractionRecord.payload`. `request` has the
 * fields interactions/api.ts reads (scope, prompt); `prompt: ["consent"]` makes the host
 * always ask, so the user confirms the device every time (RFC 8628 §5.4 remote phishing).
 */
export interface DeviceInteractionPayload {
  readonly request: {
    readonly clientId: string
    readonly scope: ReadonlyArray<string>
    readonly resource: ReadonlyArray<string>
    readonly prompt: ReadonlyArray<string>
  }
  readonly prompt: ReadonlyArray<"login" | "consent">
  readonly device: { readonly deviceCodeDigest: string }
}

const deviceAuthorization = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  // RFC 8628 §3.1: POST, application/x-www-form-urlencoded
  const params = yield* readForm(ctx.request, config.limits)
  for (const [name, values] of params) {
    if (values.length > 1 && !REPEATABLE.has(name)) {
      return yield* new InvalidRequest({ description: `parameter "${name.slice(0, 64)}" is included more than once` })
    }
  }
  // RFC 8628 §3.1: client authentication as at the token endpoint (RFC 6749 §3.2.1); public clients send client_id
  const client = yield* authenticateClient({ request: ctx.request, params, endpoint: config.endpoints.deviceAuthorization })
  yield* annotate(() => ({ "gatehouse.client_id": client.clientId }))
  // RFC 6749 §5.2 unauthorized_client: not allowed this grant type (RFC 7591 §2 grant_types)
  if (!client.metadata.grant_types.includes(DEVICE_CODE_GRANT)) {
    return yield* new UnauthorizedClient({ description: "the client is not allowed the device authorization grant" })
  }
  // RFC 8628 §3.1 / RFC 6749 §3.3: scope
  const scope = splitList(yield* optionalParam(params, "scope"))
  const allowed = client.metadata.scope === undefined ? undefined : splitList(client.metadata.scope)
  for (const s of scope) {
    if (!config.scopes.includes(s) || (allowed !== undefined && !allowed.includes(s))) {
      return yield* new InvalidScope({ description: `scope "${s.slice(0, 64)}" is not available to this client` })
    }
  }
  // RFC 8707 §2: resource indicators, checked now and bound to the device code
  const resource = params.get("resource") ?? []
  yield* resolveAudience(config, resource)

  const now = yield* Clock.currentTimeMillis
  const expiresAt = now + config.ttl.deviceCode * 1000
  // RFC 8628 §5.2: the device code is a high-entropy credential (256 bits), stored as a digest
  const deviceCode = yield* crypto.randomToken(32)
  const deviceCodeDigest = yield* crypto.digest(deviceCode)
  const interactionId = yield* crypto.randomToken(24)
  const payload: DeviceInteractionPayload = {
    request: { clientId: client.clientId, scope, resource, prompt: ["consent"] },
    prompt: ["login", "consent"],
    device: { deviceCodeDigest }
  }
  yield* (yield* InteractionStore).create({
    id: interactionId,
    kind: "device",
    state: "pending",
    clientId: client.clientId,
    // bound to a browser only when someone enters the user code (UserCode.submit)
    bindingDigest: yield* crypto.digest(yield* crypto.randomToken(32)),
    payload: JSON.stringify(payload),
    createdAt: now,
    expiresAt
  })
  const issued = yield* UserCode.issue({ interactionId, kind: "device", clientId: client.clientId, expiresAt })
  yield* (yield* DeviceCodeStore).save({
    deviceCodeDigest,
    userCodeDigest: issued.digest,
    grantId: yield* crypto.randomToken(16),
    clientId: client.clientId,
    scope,
    resource,
    state: "pending",
    interval: config.deviceFlow.interval,
    createdAt: now,
    expiresAt
  })
  // RFC 8628 §3.3.1: the code in the URI, for QR codes and links (the user still confirms it)
  const complete = new URL(config.userCode.verificationUri)
  complete.searchParams.set("user_code", issued.userCode)
  // RFC 8628 §3.2
  return json({
    device_code: deviceCode,
    user_code: issued.userCode,
    verification_uri: config.userCode.verificationUri,
    verification_uri_complete: complete.toString(),
    expires_in: config.ttl.deviceCode,
    interval: config.deviceFlow.interval
  })
})

export const deviceAuthorizationEndpoint = (ctx: EndpointContext) => observeEndpoint("device_authorization", ctx, deviceAuthorization(ctx))

// ---- back from the host's pages ------------------------------------------------------

const page = (title: string, message: string, status: number, headers: Array<[string, string]> = []): Response => {
  const response = html(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
      `<title>${escapeHtml(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}</style></head>` +
      `<body><main><h1>${escapeHtml(title)}</h1><p role="status">${escapeHtml(message)}</p></main></body></html>`,
    status
  )
  for (const [name, value] of headers) response.headers.append(name, value)
  return response
}

const cookiePath = (basePath: string) => basePath || "/"

/**
 * The user's side ends here: the interaction must be finished, of kind "device", and come
 * from the browser that entered the user code. The device code is then approved (with
 * what the user granted) or denied, consent remembered, and the user told to go back to
 * the device. Never a redirect: the device, not this browser, gets the tokens.
 */
const deviceResume = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const store = yield* InteractionStore
  const invalid = (message: string) =>
    Effect.as(
      Effect.flatMap(Events, (events) => events.emit({ type: "request.denied", endpoint: "device.resume", error: "invalid_request" })),
      page("This request cannot continue", message, 400)
    )
  const id = ctx.url.searchParams.get("interaction")
  if (!id || ctx.url.searchParams.getAll("interaction").length > 1) return yield* invalid("The request is missing its interaction.")
  const record = yield* store.find(id)
  const now = yield* Clock.currentTimeMillis
  if (!record || record.kind !== "device" || record.expiresAt <= now) {
    return yield* invalid("This device request has expired. Start again on your device.")
  }
  if (!(yield* UserCode.isBound(ctx.cookies, record))) {
    return yield* invalid("This device request was started in another browser.")
  }
  const outcome = yield* consumeFinished(record)
  if (outcome === "used") return yield* invalid("This device request was already answered.")
  if (outcome === "unfinished") return yield* invalid("This device request is not finished.")
  const payload = JSON.parse(record.payload) as DeviceInteractionPayload
  const devices = yield* DeviceCodeStore
  const events = yield* Events
  const headers: Array<[string, string]> = [UserCode.clearBindingCookie(config)]
  if (outcome.outcome !== "completed") {
    // RFC 8628 §3.5: the device's next poll gets access_denied
    yield* devices.deny(payload.device.deviceCodeDigest)
    yield* events.emit({ type: "authorization.denied", flow: "device", clientId: record.clientId, accountId: outcome.outcome === "authenticated" ? outcome.accountId : undefined, error: "access_denied" })
    return page("Access denied", "You denied the request. The device will not be connected.", 200, headers)
  }
  const approved = yield* devices.approve(payload.device.deviceCodeDigest, {
    accountId: outcome.accountId,
    scope: outcome.scope,
    authTime: outcome.authTime,
    acr: outcome.acr,
    amr: outcome.amr
  })
  if (!approved) return yield* invalid("This device request is no longer pending. Start again on your device.")
  const grants = yield* GrantStore
  if (outcome.newLogin) {
    // a new AS session for this browser, as after /authorize (OIDC auth_time, SSO)
    const value = yield* crypto.randomToken(32)
    yield* grants.saveSession({
      sessionDigest: yield* crypto.digest(value),
      accountId: outcome.accountId,
      authTime: outcome.authTime,
      acr: outcome.acr,
      amr: outcome.amr,
      expiresAt: now + config.ttl.session * 1000
    })
    headers.push(setCookie(sessionCookie(config), value, { secure: config.cookies.secure, path: cookiePath(config.basePath), maxAge: config.ttl.session }))
  }
  yield* rememberConsent(outcome.accountId, record.clientId, outcome.scope, now)
  yield* events.emit({ type: "authorization.granted", flow: "device", clientId: record.clientId, accountId: outcome.accountId, scope: outcome.scope })
  return page("Device connected", "You can close this page and return to your device.", 200, headers)
})

export const deviceResumeEndpoint = (ctx: EndpointContext) => observeEndpoint("device.resume", ctx, deviceResume(ctx))
