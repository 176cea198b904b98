/**
 * Token management (RFC 9635 §6) at `{gnapToken}/{manage id}` (the token's `manage.uri`):
 * every call presents the management token (`Authorization: GNAP`) and a proof by the key
 * the token is bound to (for bearer tokens, the client instance key) (§6).
 *
 * - POST without content: rotate (§6.1) — 200 with a new token (new value, new management
 *   URI and token, same access); the old value stops working (no `durable` tokens here).
 * - POST with a `key`: key rotation (§6.1.1) — not offered (`key_rotation_not_supported`,
 *   as discovery says, §9).
 * - DELETE: revoke (§6.2) — 204, also for a token already revoked.
 */
import { Clock, Effect } from "effect"
import type * as jose from "jose"
import { GatehouseConfig } from "../../config.js"
import { InvalidClient, InvalidRequest, InvalidRotation, KeyRotationNotSupported } from "../../errors.js"
import type { EndpointContext } from "../../http/router.js"
import { Crypto } from "../../ports/Crypto.js"
import { GnapGrantStore, type GnapTokenRecord } from "../../ports/GnapGrantStore.js"
import { Events } from "../../ports/Events.js"
import { gnapClientId, tokenBody } from "../grant.js"
import { gnapToken } from "../http.js"
import type { ClientKey, ProofMethod } from "../key.js"
import { verifyProof } from "../proof/index.js"
import type { AccessRight } from "../request.js"
import { gnapEndpoint, gnapJson, noContent } from "../response.js"
import { readGnapBody } from "./grant.js"

/** The key a managed token's calls are proven with. */
const keyOf = (record: GnapTokenRecord): ClientKey => {
  const stored = JSON.parse(record.key ?? "{}") as { proof: ProofMethod; jwk: ClientKey["jwk"] }
  return { proof: stored.proof, jwk: stored.jwk as jose.JWK & ClientKey["jwk"], thumbprint: record.clientKeyThumbprint }
}

const manage = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const store = yield* GnapGrantStore
  const now = yield* Clock.currentTimeMillis
  const prefix = `${new URL(config.endpoints.gnapToken).pathname}/`
  const manageId = ctx.url.pathname.slice(prefix.length)
  const token = gnapToken(ctx.request)
  const unauthorized = new InvalidClient({ description: "token management requires the token's management access token as Authorization: GNAP (§6)" })
  if (token === undefined || token === "malformed") return yield* unauthorized
  const record = manageId === "" || manageId.includes("/") ? undefined : yield* store.findTokenByManageId(manageId)
  // §6: the AS identifies the token from the URI and the management token together
  if (record === undefined || !crypto.equal(yield* crypto.digest(token), record.manageTokenDigest)) return yield* unauthorized
  const { bytes, json } = yield* readGnapBody(ctx.request, false)
  // §6 / §7.3: proven with the token's key
  yield* verifyProof(keyOf(record), { request: ctx.request, url: ctx.url, body: bytes, token })
  if (ctx.request.method.toUpperCase() === "DELETE") {
    // §6.2: 204, also when the token was already revoked or has expired
    yield* store.revokeToken(manageId, now)
    yield* (yield* Events).emit({ type: "token.revoked", clientId: gnapClientId(record.clientInstanceId, record.clientKeyThumbprint), tokenType: "access_token" })
    return noContent()
  }
  if (json !== undefined && "key" in json) {
    // §6.1.1: key rotation is not offered (discovery: key_rotation_supported false)
    if (record.flags.includes("bearer")) return yield* new InvalidRotation({ description: "a bearer token has no key to rotate (§6.1.1)" })
    return yield* new KeyRotationNotSupported({ description: "this server does not rotate token keys (§6.1.1)" })
  }
  if (json !== undefined && Object.keys(json).length > 0) {
    return yield* new InvalidRequest({ description: "a token rotation request has no content (§6.1)" })
  }
  // §6.1: a new value, a new management URI and token, the same access
  const value = yield* crypto.randomToken(32)
  const nextManageId = yield* crypto.randomToken(16)
  const manageToken = yield* crypto.randomToken(32)
  const next: GnapTokenRecord = {
    ...record,
    tokenDigest: yield* crypto.digest(value),
    manageId: nextManageId,
    manageTokenDigest: yield* crypto.digest(manageToken),
    issuedAt: now,
    expiresAt: now + config.ttl.accessToken * 1000,
    revokedAt: undefined
  }
  const rotated = yield* store.rotateToken(manageId, now, () => next)
  if (rotated._tag !== "Rotated") {
    // §6.1: the AS will not rotate a revoked token; the client keeps treating it as it was
    return yield* new InvalidRotation({ description: "the token was revoked or already rotated; it cannot be rotated (§6.1)" })
  }
  const access = JSON.parse(record.access) as ReadonlyArray<AccessRight>
  return gnapJson({ access_token: tokenBody(config, value, manageToken, next, access) })
})

/** POST / DELETE {manage.uri} */
export const tokenManagementEndpoint = (ctx: EndpointContext) => gnapEndpoint(manage(ctx))
