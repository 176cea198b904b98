/**
 * Continuation (RFC 9635 §5) at `{gnapContinue}/{grant}`: every call presents the current
 * continuation token (`Authorization: GNAP`) and a proof by the grant's key (§5: both MUST);
 * the URI and the token together identify the grant, else `invalid_continuation`. The
 * token is rotated on every successful call (§5 SHOULD), `wait` is enforced (`too_fast`).
 *
 * - POST `{"interact_ref"}` after a finish (§5.1): used once, else `too_many_attempts` and
 *   the grant is finalized; wrong → `invalid_interaction`.
 * - POST without content: polling (§5.2) — pending: a new `continue` with `wait`, never
 *   tokens; decided: the tokens and subject (§3.2, §3.4).
 * - PATCH: modify the grant (§5.3) — back to processing and re-evaluated.
 * - DELETE: revoke the grant (§5.4) — 204, finalized, its tokens revoked.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { GatehouseConfig } from "../../config.js"
import {
  InvalidContinuation,
  InvalidInteraction,
  InvalidRequest,
  RequestDenied,
  TooFast,
  TooManyAttempts,
  UnknownUser,
  UserDenied
} from "../../errors.js"
import type { EndpointContext } from "../../http/router.js"
import { Crypto } from "../../ports/Crypto.js"
import { GnapGrantStore } from "../../ports/GnapGrantStore.js"
import { Events, type GrantRevocationReason } from "../../ports/Events.js"
import { observeEndpoint } from "../../observability/endpoint.js"
import { InteractionStore } from "../../ports/InteractionStore.js"
import {
  clientKeyOf,
  continueObject,
  decodeGrant,
  type Grant,
  type GrantResult,
  gnapClientId,
  issueToken,
  newContinuation,
  saveGrant,
  subjectFor
} from "../grant.js"
import { gnapToken } from "../http.js"
import { verifyProof } from "../proof/index.js"
import { describeAccess, parseGrantUpdate } from "../request.js"
import { gnapEndpoint, gnapErrorResponse, gnapJson, noContent } from "../response.js"
import { expandResourceReferences } from "../rs/references.js"
import { startInteraction } from "../start.js"
import { readGnapBody } from "./grant.js"

/** Extra wait per `too_fast` after the first few (§11.27: back off clients that poll too fast). */
const BACKOFF_MS = 5000
const TOLERATED_TOO_FAST = 3

const noGrant = (description = "no grant matches this continuation URI and token (§5)") => new InvalidContinuation({ description })

/** The error a finalized grant answers with: the RO's refusal, once decided, else `invalid_continuation`. */
const finalizedError = (result: GrantResult | undefined) => {
  if (result?.outcome === "denied") {
    const fields = { description: result.description }
    return result.code === "unknown_user" ? new UnknownUser(fields) : result.code === "request_denied" ? new RequestDenied(fields) : new UserDenied(fields)
  }
  return noGrant("the grant is finalized and cannot be continued (§1.5)")
}

/** §5.4 / §5.1: finalize the grant, revoke its tokens, and close its interaction. */
const finalize = Effect.fnUntraced(function*(grant: Grant, reason: GrantRevocationReason = "finalized") {
  const now = yield* Clock.currentTimeMillis
  const saved = yield* saveGrant(grant, { state: "finalized", interactRefDigest: null })
  yield* (yield* GnapGrantStore).revokeTokensByGrant(grant.record.id, now)
  yield* (yield* Events).emit({ type: "grant.revoked", grantId: grant.record.id, clientId: gnapClientId(grant.record.clientInstanceId, grant.record.clientKeyThumbprint), reason })
  return saved
})

/** §3.2 / §3.4: deliver what the RO approved; the grant becomes `approved` and stays continuable (§5.3, §5.4). */
const approve = Effect.fnUntraced(function*(grant: Grant, result: Extract<GrantResult, { outcome: "approved" }>) {
  const config = yield* GatehouseConfig
  const continuation = yield* newContinuation(true)
  const approved = yield* saveGrant(grant, {
    state: "approved",
    continueTokenDigest: continuation.digest,
    continueAfter: continuation.continueAfter,
    interactRefDigest: null,
    data: { ...grant.data, polls: 0, tooFast: 0 }
  })
  const body: Record<string, unknown> = {}
  const request = grant.data.request.accessToken
  if (request !== undefined) {
    const tokens: Array<Record<string, unknown>> = []
    for (const [i, t] of request.tokens.entries()) {
      const access = result.access[i] ?? []
      // §3.2.2: refused tokens are left out
      if (access.length === 0) continue
      const issued = yield* issueToken(approved, { access, label: t.label, bearer: t.bearer, accountId: result.accountId })
      tokens.push(issued.body)
      yield* (yield* Events).emit({
        type: "token.issued",
        grantType: "gnap",
        clientId: gnapClientId(grant.record.clientInstanceId, grant.record.clientKeyThumbprint),
        accountId: result.accountId,
        grantId: grant.record.id,
        scope: access.map(describeAccess)
      })
    }
    // §3.2.1/§3.2.2: an object for a single-token request, an array for a multiple-token request
    if (request.multiple) body["access_token"] = tokens
    else if (tokens[0] !== undefined) body["access_token"] = tokens[0]
  }
  if (result.subject) {
    const subject = yield* subjectFor(approved, result.accountId, result.authTime)
    if (subject !== undefined) body["subject"] = subject
  }
  body["continue"] = continueObject(config, grant.record.id, continuation)
  return gnapJson(body)
})

/** §5.2: still waiting for the RO: a new continuation, with `wait`. */
const stillPending = Effect.fnUntraced(function*(grant: Grant) {
  const config = yield* GatehouseConfig
  const continuation = yield* newContinuation(true)
  yield* saveGrant(grant, {
    continueTokenDigest: continuation.digest,
    continueAfter: continuation.continueAfter,
    data: { ...grant.data, polls: grant.data.polls + 1 }
  })
  return gnapJson({ continue: continueObject(config, grant.record.id, continuation) })
})

/**
 * §3.6: the RO denied, and the grant stays open (gnap.continueAfterDenial): `user_denied`
 * with a new `continue`, so the client may modify (§5.3: a PATCH asks the RO again) or
 * delete (§5.4) the grant.
 */
const deniedWithContinue = Effect.fnUntraced(function*(grant: Grant, result: Extract<GrantResult, { outcome: "denied" }>) {
  const config = yield* GatehouseConfig
  const continuation = yield* newContinuation(true)
  yield* saveGrant(grant, {
    continueTokenDigest: continuation.digest,
    continueAfter: continuation.continueAfter,
    interactRefDigest: null,
    data: { ...grant.data, polls: grant.data.polls + 1 }
  })
  return gnapErrorResponse(new UserDenied({ description: result.description }), continueObject(config, grant.record.id, continuation))
})

const post = Effect.fnUntraced(function*(grant: Grant, json: Record<string, unknown> | undefined) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  if (json !== undefined && "interact_ref" in json) {
    // §5.1
    const ref = json["interact_ref"]
    if (typeof ref !== "string" || ref === "") return yield* new InvalidRequest({ description: `"interact_ref" must be a string` })
    if (grant.record.state !== "pending") {
      // §5.1: an interact_ref for a grant that is no longer pending MUST be too_many_attempts; SHOULD finalize
      yield* finalize(grant)
      return yield* new TooManyAttempts({ description: "the interaction reference was already used; the grant is finalized (§5.1)" })
    }
    if (grant.record.interactRefDigest === undefined) {
      return yield* new InvalidInteraction({ description: "no interaction reference was issued for this grant (yet)" })
    }
    if (!crypto.equal(yield* crypto.digest(ref), grant.record.interactRefDigest)) {
      return yield* new InvalidInteraction({ description: "the interaction reference does not belong to this grant (§5.1)" })
    }
    if (grant.result?.outcome === "denied") return yield* deniedWithContinue(grant, grant.result)
    if (grant.result?.outcome !== "approved") return yield* finalizedError(grant.result)
    return yield* approve(grant, grant.result)
  }
  if (grant.record.state === "approved") {
    return yield* noGrant("the grant is approved and its tokens were delivered: modify it with PATCH or revoke it with DELETE (§5.3, §5.4)")
  }
  // §5.2 polling: without a finish method the RO's approval is delivered to the next poll
  if (grant.result?.outcome === "approved" && grant.data.request.interact?.finish === undefined) {
    return yield* approve(grant, grant.result)
  }
  if (grant.result?.outcome === "denied" && grant.data.request.interact?.finish === undefined && grant.data.polls + 1 <= config.gnap.maxPolls) {
    return yield* deniedWithContinue(grant, grant.result)
  }
  const now = yield* Clock.currentTimeMillis
  if (grant.result === undefined && grant.data.interaction !== undefined && grant.data.interaction.expiresAt <= now) {
    // §4.1 / §3.6: the interaction modes expired before the RO answered: the grant cannot go on
    yield* finalize(grant)
    return yield* new InvalidInteraction({ description: "the interaction expired before the resource owner answered (§4.1)" })
  }
  if (grant.data.polls + 1 > config.gnap.maxPolls) {
    // §5.2: too many polls: too_many_attempts, and the grant cannot be continued
    yield* finalize(grant)
    return yield* new TooManyAttempts({ description: "too many continuation requests; the grant is finalized (§5.2)" })
  }
  return yield* stillPending(grant)
})

/** §5.3 */
const patch = Effect.fnUntraced(function*(grant: Grant, json: Record<string, unknown> | undefined) {
  const config = yield* GatehouseConfig
  if (json === undefined) return yield* new InvalidRequest({ description: "a grant update must have a JSON object as content (§5.3)" })
  // RFC 9767 §3.4: registered resource references stand for the rights registered under them
  const update = parseGrantUpdate(config, yield* expandResourceReferences(json))
  if ("_tag" in update) return yield* update
  const request = {
    accessToken: update.accessToken ?? grant.data.request.accessToken,
    subject: update.subject ?? grant.data.request.subject,
    user: update.user ?? grant.data.request.user,
    interact: update.interact ?? grant.data.request.interact
  }
  // re-evaluation (§5.3): what the same RO already approved on this grant needs no new interaction
  if (grant.result?.outcome === "approved") {
    const granted = new Set(grant.result.access.flat().map((a) => JSON.stringify(a)))
    const covered = (request.accessToken?.tokens ?? []).every((t) => t.access.every((a) => granted.has(JSON.stringify(a))))
    if (covered && (request.subject === undefined || grant.result.subject)) {
      const result: GrantResult = {
        ...grant.result,
        access: (request.accessToken?.tokens ?? []).map((t) => t.access),
        subject: request.subject !== undefined && grant.result.subject
      }
      const processing = yield* saveGrant(grant, { state: "processing", data: { ...grant.data, request }, result })
      return yield* approve(processing, result)
    }
  }
  // otherwise the RO is asked again: a new interaction; earlier tokens are left as they are (§5.3)
  const clientId = gnapClientId(grant.record.clientInstanceId, grant.record.clientKeyThumbprint)
  const interaction = yield* startInteraction({ grantId: grant.record.id, clientId, request, display: grant.data.display })
  const continuation = yield* newContinuation(true)
  yield* saveGrant(grant, {
    state: "pending",
    result: undefined,
    interactRefDigest: null,
    continueTokenDigest: continuation.digest,
    continueAfter: continuation.continueAfter,
    data: { ...grant.data, request, interaction: interaction.state, polls: 0, tooFast: 0 }
  })
  if (grant.data.interaction !== undefined) {
    // the earlier interaction (if still open) must not complete this grant any more
    const interactions = yield* InteractionStore
    const previous = yield* interactions.find(grant.data.interaction.id)
    if (previous !== undefined) yield* interactions.transition(previous.id, ["pending", "authenticated", "completed", "denied"], { ...previous, state: "consumed" })
  }
  return gnapJson({ continue: continueObject(config, grant.record.id, continuation), interact: interaction.interact })
})

const continuation = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const now = yield* Clock.currentTimeMillis
  const prefix = `${new URL(config.endpoints.gnapContinue).pathname}/`
  const grantId = ctx.url.pathname.slice(prefix.length)
  // §5: the continuation token in the Authorization header, GNAP scheme
  const token = gnapToken(ctx.request)
  if (token === undefined || token === "malformed") {
    return yield* noGrant("continuation requests must present the continuation access token as Authorization: GNAP (§5)")
  }
  if (grantId === "" || grantId.includes("/")) return yield* noGrant()
  const stored = yield* (yield* GnapGrantStore).find(grantId)
  if (stored === undefined || !crypto.equal(yield* crypto.digest(token), stored.continueTokenDigest)) return yield* noGrant()
  const grant = decodeGrant(stored)
  const method = ctx.request.method.toUpperCase()
  const { bytes, json } = yield* readGnapBody(ctx.request, false)
  // §5: signed with the grant's key (its latest rotation), covering the token
  yield* verifyProof(clientKeyOf(grant), { request: ctx.request, url: ctx.url, body: bytes, token })
  if (stored.expiresAt <= now) {
    if (stored.state !== "pending" || stored.result !== undefined) return yield* noGrant("the grant has expired")
    // §3.6 invalid_interaction: the interaction modes expired before the RO answered; the grant ends
    yield* finalize(grant)
    return yield* new InvalidInteraction({ description: "the interaction expired before the resource owner answered (§4.1)" })
  }
  if (stored.state === "finalized") return yield* finalizedError(grant.result)
  if (now < stored.continueAfter) {
    // §5: a client that does not respect `wait` gets too_fast; the token stays valid
    const tooFast = grant.data.tooFast + 1
    const delay = tooFast > TOLERATED_TOO_FAST ? BACKOFF_MS : 0
    yield* saveGrant(grant, { data: { ...grant.data, tooFast }, continueAfter: stored.continueAfter + delay }).pipe(
      Effect.catchTag("InvalidContinuation", () => Effect.void)
    )
    return yield* new TooFast({
      description: `wait ${Math.ceil((stored.continueAfter + delay - now) / 1000)} s before continuing (the continue.wait of the last response, §5)`
    })
  }
  if (method === "DELETE") {
    // §5.4
    yield* finalize(grant, "revocation")
    return noContent()
  }
  if (method === "PATCH") return yield* patch(grant, json)
  return yield* post(grant, json)
})

/** POST / PATCH / DELETE {continue.uri} */
export const continueEndpoint = (ctx: EndpointContext) => gnapEndpoint(observeEndpoint("gnap.continue", ctx, continuation(ctx)))
