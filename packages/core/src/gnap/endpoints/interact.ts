/**
 * Interaction at the AS (RFC 9635 §4), through the same hand-off as /authorize: the host's
 * login and consent pages work on an InteractionStore record of kind "gnap".
 *
 * - `GET {gnapInteract}/{grant}/{secret}` — the redirect (§3.3.1, §4.1.1) or app (§3.3.2, §4.1.4) start URI: used
 *   once (§4), refused once a user code opened the interaction (§4.1), it binds the
 *   interaction to this browser and sends it to the host's pages.
 * - `GET {gnapResume}?interaction=` — back from the host (§4.2): the RO's decision is
 *   recorded on the grant and the client is told, by redirect (§4.2.1, 303 per §11.19) or
 *   push (§4.2.2), with the interaction reference and hash (§4.2.3); without a finish
 *   method the RO is asked to return to the client (§4.2).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { GatehouseConfig, type ResolvedConfig } from "../../config.js"
import { sessionCookie } from "../../endpoints/authorize.js"
import { InvalidRequest } from "../../errors.js"
import { errorPage, escapeHtml, html, redirect, setCookie } from "../../http/response.js"
import type { EndpointContext } from "../../http/router.js"
import type { InteractionOutcome } from "../../interactions/api.js"
import { Accounts } from "../../ports/Accounts.js"
import { Crypto } from "../../ports/Crypto.js"
import { Events } from "../../ports/Events.js"
import { observeEndpoint } from "../../observability/endpoint.js"
import { GnapGrantStore } from "../../ports/GnapGrantStore.js"
import { GrantStore } from "../../ports/GrantStore.js"
import { InteractionStore } from "../../ports/InteractionStore.js"
import * as UserCode from "../../user-code/index.js"
import { decodeGrant, type GrantResult, saveGrant } from "../grant.js"
import { interactionHash } from "../hash.js"
import { type GnapInteractionPayload, SUBJECT_CONSENT } from "../interaction.js"
import { pushFinish } from "../push.js"
import { type AccessRight, describeAccess, type SubjectIdentifier } from "../request.js"


const page = (title: string, message: string, status = 200) =>
  html(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
      // the same look as the other default pages (device flow, errors)
      `<title>${escapeHtml(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}</style></head>` +
      `<body><main><h1>${escapeHtml(title)}</h1><p role="status">${escapeHtml(message)}</p></main></body></html>`,
    status
  )

/** §4: problems are shown to the RO, never redirected to a client (§4.1.2). */
const refused = (description: string) => errorPage(new InvalidRequest({ description }))

const cookiePath = (config: ResolvedConfig) => config.basePath || "/"

const start = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const grants = yield* GnapGrantStore
  const interactions = yield* InteractionStore
  const now = yield* Clock.currentTimeMillis
  const prefix = `${new URL(config.endpoints.gnapInteract).pathname}/`
  const [grantId, secret, extra] = ctx.url.pathname.slice(prefix.length).split("/")
  if (!grantId || !secret || extra !== undefined) return refused("this interaction link is not valid")
  const stored = yield* grants.find(grantId)
  const grant = stored && decodeGrant(stored)
  const interaction = grant?.data.interaction
  const digest = yield* crypto.digest(secret)
  // §3.3.1 redirect / §3.3.2 app: both start URIs lead here, each with its own secret
  const mode = interaction?.redirectSecretDigest !== undefined && crypto.equal(digest, interaction.redirectSecretDigest)
    ? "redirect" as const
    : interaction?.appSecretDigest !== undefined && crypto.equal(digest, interaction.appSecretDigest)
    ? "app" as const
    : undefined
  if (!grant || !interaction || mode === undefined) {
    return refused("this interaction link is not valid")
  }
  // §4: one-time use; §4.1: modes not used in time are rejected, and once one started the others are
  if (grant.record.state !== "pending" || grant.result !== undefined || interaction.started !== undefined) {
    return refused("this interaction link was already used")
  }
  if (interaction.expiresAt <= now) return refused("this interaction link has expired; start again from the application")
  const record = yield* interactions.find(interaction.id)
  if (!record || record.state !== "pending" || record.bindingDigest !== "" || record.expiresAt <= now) {
    return refused("this request is already being answered elsewhere")
  }
  yield* saveGrant(grant, { data: { ...grant.data, interaction: { ...interaction, started: mode } } }).pipe(
    Effect.catchTag("InvalidContinuation", () => Effect.fail(new InvalidRequest({ description: "this interaction link was already used" })))
  )
  // §4.1: the user code (if any) no longer opens this request
  if (interaction.userCode) yield* UserCode.retire(interaction.id)
  // a browser already signed in at the AS only has to consent
  let payload = JSON.parse(record.payload) as GnapInteractionPayload
  const sessionValue = ctx.cookies.get(sessionCookie(config))
  if (sessionValue) {
    const session = yield* (yield* GrantStore).findSession(yield* crypto.digest(sessionValue))
    if (session && session.expiresAt > now) {
      payload = {
        ...payload,
        prompt: ["consent"],
        session: { accountId: session.accountId, authTime: session.authTime, acr: session.acr, amr: session.amr, sessionDigest: session.sessionDigest }
      }
    }
  }
  const binding = yield* crypto.randomToken(32)
  const bound = yield* interactions.transition(record.id, ["pending"], {
    ...record,
    bindingDigest: yield* crypto.digest(binding),
    payload: JSON.stringify(payload),
    accountId: payload.session?.accountId
  })
  if (!bound) return refused("this request is already being answered elsewhere")
  const maxAge = Math.max(1, Math.floor((record.expiresAt - now) / 1000))
  return redirect(config.interactionUrl(record.id), [UserCode.bindingCookie(config, binding, maxAge)])
})

/** §2.4: does the signed-in RO match the user the client identified? */
const userMatches = Effect.fnUntraced(function*(subIds: ReadonlyArray<SubjectIdentifier>, accountId: string) {
  const config = yield* GatehouseConfig
  if (subIds.length === 0) return true
  const claims = yield* (yield* Accounts).claims(accountId)
  return subIds.some((id) =>
    (id.format === "opaque" && id["id"] === accountId) ||
    (id.format === "iss_sub" && id["iss"] === config.issuer && id["sub"] === accountId) ||
    (id.format === "email" && typeof claims?.["email"] === "string" && id["email"] === claims["email"])
  )
})

const resume = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const interactions = yield* InteractionStore
  const now = yield* Clock.currentTimeMillis
  const id = ctx.url.searchParams.get("interaction")
  if (!id || ctx.url.searchParams.getAll("interaction").length > 1) return refused("missing interaction")
  const record = yield* interactions.find(id)
  if (!record || record.kind !== "gnap" || record.expiresAt <= now) return refused("this request has expired; start again from the application")
  if (!(yield* UserCode.isBound(ctx.cookies, record))) return refused("this request was started in another browser")
  if (record.state !== "completed" && record.state !== "denied") {
    return refused(record.state === "consumed" ? "this request was already answered" : "this request is not answered yet")
  }
  if (!(yield* interactions.transition(id, [record.state], { ...record, state: "consumed" }))) {
    return refused("this request was already answered")
  }
  const payload = JSON.parse(record.payload) as GnapInteractionPayload
  const outcome = JSON.parse(record.result ?? "{}") as InteractionOutcome
  const stored = yield* (yield* GnapGrantStore).find(payload.grantId)
  if (!stored) return refused("the application's request no longer exists")
  const grant = decodeGrant(stored)
  if (grant.record.state !== "pending" || grant.result !== undefined) return refused("the application's request was already answered")
  const headers: Array<[string, string]> = [UserCode.clearBindingCookie(config)]

  let result: GrantResult
  if (outcome.outcome === "completed") {
    const granted = new Set(outcome.scope)
    const access = (grant.data.request.accessToken?.tokens ?? []).map((t) => t.access.filter((a: AccessRight) => granted.has(describeAccess(a))))
    const subject = grant.data.request.subject !== undefined && granted.has(SUBJECT_CONSENT)
    if (!(yield* userMatches(grant.data.request.user?.subIds ?? [], outcome.accountId))) {
      // §2.4: the RO is not the user the client named
      result = { outcome: "denied", code: "unknown_user", description: "the signed-in user is not the user the client identified (§2.4)" }
    } else if (access.every((a) => a.length === 0) && !subject) {
      result = { outcome: "denied", code: "user_denied", description: "the resource owner granted nothing" }
    } else {
      result = { outcome: "approved", accountId: outcome.accountId, access, subject, authTime: outcome.authTime }
    }
    if (outcome.newLogin) {
      // a new AS session for this browser, as after /authorize
      const value = yield* crypto.randomToken(32)
      const sessionDigest = yield* crypto.digest(value)
      yield* (yield* GrantStore).saveSession({
        sessionDigest,
        accountId: outcome.accountId,
        authTime: outcome.authTime,
        acr: outcome.acr,
        amr: outcome.amr,
        expiresAt: now + config.ttl.session * 1000
      })
      headers.push(setCookie(sessionCookie(config), value, { secure: config.cookies.secure, path: cookiePath(config), maxAge: config.ttl.session }))
    }
  } else {
    result = { outcome: "denied", code: "user_denied", description: outcome.outcome === "denied" ? outcome.description : "The resource owner denied the request" }
  }

  const clientId = record.clientId
  yield* (yield* Events).emit(
    result.outcome === "approved"
      ? { type: "authorization.granted", flow: "gnap", clientId, accountId: result.accountId, grantId: grant.record.id, scope: result.access.flat().map(describeAccess) }
      : { type: "authorization.denied", flow: "gnap", clientId, error: result.code }
  )
  const finish = grant.data.request.interact?.finish
  // §3.6: a denial ends the grant, unless the client may renegotiate it (gnap.continueAfterDenial)
  const denied = result.outcome === "denied" && !(config.gnap.continueAfterDenial && result.code === "user_denied")
  if (finish === undefined) {
    yield* saveGrant(grant, { result, state: denied ? "finalized" : "pending", accountId: result.outcome === "approved" ? result.accountId : undefined })
      .pipe(Effect.catchTag("InvalidContinuation", () => Effect.fail(new InvalidRequest({ description: "the application's request was already answered" }))))
    // §4.2: no finish method: tell the RO to return to the client
    return result.outcome === "denied"
      ? withHeaders(page("Request denied", "You can close this window and return to your device or application."), headers)
      : withHeaders(page("You're all set", "Return to your device or application to continue."), headers)
  }
  // §4.2: an interaction reference, unreserved characters, random, used once
  const interactRef = yield* crypto.randomToken(16)
  yield* saveGrant(grant, {
    result,
    state: denied ? "finalized" : "pending",
    interactRefDigest: yield* crypto.digest(interactRef),
    accountId: result.outcome === "approved" ? result.accountId : undefined
  }).pipe(Effect.catchTag("InvalidContinuation", () => Effect.fail(new InvalidRequest({ description: "the application's request was already answered" }))))
  // §4.2.3
  const hash = yield* Effect.promise(() =>
    interactionHash({
      clientNonce: finish.nonce,
      asNonce: grant.data.interaction?.asNonce ?? "",
      interactRef,
      grantEndpoint: grant.data.grantEndpoint
    }, finish.hashMethod)
  )
  if (finish.method === "redirect") {
    // §4.2.1: the finish URI with hash and interact_ref added to its query
    const url = new URL(finish.uri)
    url.searchParams.set("hash", hash)
    url.searchParams.set("interact_ref", interactRef)
    return redirect(url.toString(), headers)
  }
  // §4.2.2
  const delivered = yield* pushFinish(finish.uri, { hash, interact_ref: interactRef })
  return withHeaders(
    delivered
      ? page("You're all set", "Return to your device or application to continue.")
      : page("The application could not be told", "Your answer was recorded, but the application could not be reached. Return to it and try again.", 502),
    headers
  )
})

const withHeaders = (response: Response, headers: ReadonlyArray<[string, string]>) => {
  for (const [k, v] of headers) response.headers.append(k, v)
  return response
}

export const interactStartEndpoint = (ctx: EndpointContext) => observeEndpoint("gnap.interact", ctx, start(ctx))
export const interactResumeEndpoint = (ctx: EndpointContext) => observeEndpoint("gnap.interact.resume", ctx, resume(ctx))
