/**
 * Starting the RO's interaction for a grant (RFC 9635 §2.5, §3.3): the InteractionStore
 * record the host's pages will work on, and the `interact` response for the start modes
 * the client offered and Gatehouse supports — `redirect` (§3.3.1), `app` (§3.3.2), `user_code` (§3.3.3),
 * `user_code_uri` (§3.3.4) — with the AS finish nonce when the client asked for a finish
 * (§3.3.5). Used by the grant request (§2) and by grant updates (§5.3).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { GatehouseConfig } from "../config.js"
import { InvalidInteraction } from "../errors.js"
import { Crypto } from "../ports/Crypto.js"
import { InteractionStore } from "../ports/InteractionStore.js"
import * as UserCode from "../user-code/index.js"
import type { InteractionState } from "./grant.js"
import { type GnapInteractionPayload, SUBJECT_CONSENT } from "./interaction.js"
import { type ClientDisplay, describeAccess, type GrantRequest, type StartMode } from "./request.js"

export interface StartInteractionInput {
  readonly grantId: string
  readonly clientId: string
  readonly request: Omit<GrantRequest, "client">
  readonly display?: ClientDisplay | undefined
}

export const startInteraction = Effect.fnUntraced(function*(input: StartInteractionInput) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const now = yield* Clock.currentTimeMillis
  // §2.5: the RO must be reached; without a usable start mode there is no way to
  const modes = input.request.interact?.start ?? []
  if (modes.length === 0) {
    return yield* new InvalidInteraction({
      description: "the resource owner must approve this request: offer a start mode this server supports (redirect, app, user_code, user_code_uri) (§2.5)"
    })
  }
  const interactionId = yield* crypto.randomToken(24)
  const expiresAt = now + config.ttl.interaction * 1000
  const rights = [...new Set((input.request.accessToken?.tokens ?? []).flatMap((t) => t.access.map(describeAccess)))]
  const payload: GnapInteractionPayload = {
    grantId: input.grantId,
    request: {
      clientId: input.clientId,
      scope: input.request.subject !== undefined ? [...rights, SUBJECT_CONSENT] : rights,
      // GNAP asks the RO every time (no remembered consent)
      prompt: ["consent"],
      uiLocales: input.request.interact?.uiLocales.join(" ") || undefined
    },
    prompt: ["login", "consent"],
    display: input.display
  }
  yield* (yield* InteractionStore).create({
    id: interactionId,
    kind: "gnap",
    state: "pending",
    clientId: input.clientId,
    // bound when a browser starts it: through the redirect start URI or a user code (§4.1)
    bindingDigest: "",
    payload: JSON.stringify(payload),
    createdAt: now,
    expiresAt
  })
  // §3.3: only modes the client asked for (and this AS supports)
  const interact: Record<string, unknown> = {}
  const has = (mode: StartMode) => modes.includes(mode)
  let redirectSecretDigest: string | undefined
  if (has("redirect")) {
    // §3.3.1: unique to this grant; nothing in it but an unguessable secret
    const secret = yield* crypto.randomToken(24)
    redirectSecretDigest = yield* crypto.digest(secret)
    interact["redirect"] = `${config.endpoints.gnapInteract}/${input.grantId}/${secret}`
  }
  let appSecretDigest: string | undefined
  if (has("app")) {
    // §3.3.2: the URI the client launches as an app; here an AS URL that leads to the same
    // interaction as `redirect`, with its own secret (each mode is answered once, §3.3)
    const secret = yield* crypto.randomToken(24)
    appSecretDigest = yield* crypto.digest(secret)
    interact["app"] = `${config.endpoints.gnapInteract}/${input.grantId}/${secret}`
  }
  const userCode = has("user_code") || has("user_code_uri")
  if (userCode) {
    const issued = yield* UserCode.issue({ interactionId, kind: "gnap", clientId: input.clientId, expiresAt })
    // §3.3.3: a string of ASCII letters (the canonical form, without the display dash)
    if (has("user_code")) interact["user_code"] = issued.code
    // §3.3.4: the code and the code-entry URI, which does not contain the code
    if (has("user_code_uri")) interact["user_code_uri"] = { code: issued.code, uri: config.userCode.verificationUri }
  }
  let asNonce: string | undefined
  if (input.request.interact?.finish !== undefined) {
    // §3.3.5: the AS's half of the interaction hash (§4.2.3)
    asNonce = yield* crypto.randomToken(16)
    interact["finish"] = asNonce
  }
  interact["expires_in"] = config.ttl.interaction
  const state: InteractionState = { id: interactionId, redirectSecretDigest, appSecretDigest, userCode, asNonce, expiresAt }
  return { state, interact }
})
