/**
 * Token management (RFC 9635 §6) at `{gnapToken}/{manage id}` (the token's `manage.uri`):
 * every call presents the management token (`Authorization: GNAP`) and a proof by the key
 * the token is bound to (for bearer tokens, the client instance key) (§6).
 *
 * - POST without content: rotate (§6.1) — 200 with a new token (new value, new management
 *   URI and token, same access); the old value stops working (no `durable` tokens here).
 * - POST with a `key`: key rotation (§6.1.1) — the token is rotated and bound to the new
 *   key (by value, or a reference to a registered key, §7.1.1). The request carries two
 *   proofs (§7.3.1.1): the current key's signature (tag "gnap") covering the content, so the
 *   new key, and the new key's signature (tag "gnap-rotate") covering the old signature and
 *   its input. Bearer tokens, a changed proofing method or a failed proof → `invalid_rotation`;
 *   keys proven with jwsd/jws (nested JWS rotation, §7.3.3/§7.3.4) → `key_rotation_not_supported`.
 * - DELETE: revoke (§6.2) — 204, also for a token already revoked.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as jose from "jose"
import { GatehouseConfig } from "../../config.js"
import { InvalidClient, InvalidRequest, InvalidRotation, KeyRotationNotSupported } from "../../errors.js"
import type { EndpointContext } from "../../http/router.js"
import { Crypto } from "../../ports/Crypto.js"
import { GnapGrantStore, type GnapTokenRecord } from "../../ports/GnapGrantStore.js"
import { Events } from "../../ports/Events.js"
import { observeEndpoint } from "../../observability/endpoint.js"
import { gnapClientId, tokenBody } from "../grant.js"
import { gnapToken } from "../http.js"
import { type ClientKey, keyToWire, parseClientKey, type ProofMethod, sameProofMethod } from "../key.js"
import { verifyHttpSig } from "../proof/httpsig.js"
import { verifyProof } from "../proof/index.js"
import { type AccessRight, describeAccess } from "../request.js"
import { gnapEndpoint, gnapJson, noContent } from "../response.js"
import { readGnapBody, registeredInstances } from "./grant.js"
import type { IncomingRequest } from "../../http/incoming.js"

/** The key a managed token's calls are proven with (its latest rotation, §6.1.1). */
const keyOf = (record: GnapTokenRecord): ClientKey => {
  const stored = JSON.parse(record.key ?? "{}") as { proof: ProofMethod; jwk: ClientKey["jwk"]; thumbprint?: string; cert?: string }
  return {
    proof: stored.proof,
    jwk: stored.jwk as jose.JWK & ClientKey["jwk"],
    thumbprint: stored.thumbprint ?? record.clientKeyThumbprint,
    cert: stored.cert
  }
}

/** §6.1.1: the new key, by value (§7.1) or by reference to a registered key (§7.1.1). */
const newKeyOf = Effect.fnUntraced(function*(value: unknown) {
  if (typeof value === "string") {
    const known = (yield* registeredInstances()).find((r) => r.keyRef === value)
    if (known === undefined) return yield* new InvalidRotation({ description: "the new key reference is not known (§7.1.1)" })
    return known.key
  }
  const key = yield* Effect.promise(() => parseClientKey(value))
  if (key instanceof InvalidClient || key instanceof InvalidRequest) {
    return yield* new InvalidRotation({ description: `the new key is not acceptable: ${key.description}` })
  }
  return key
})

/**
 * RFC 9635 §6.1.1, §7.3.1.1: both keys prove possession in one request. The old key's
 * signature (tag "gnap") covers the content, and so the new key; the new key's (tag
 * "gnap-rotate") covers `"signature";key=<old>` and `"signature-input";key=<old>`. Any
 * failure is `invalid_rotation`.
 */
const proveRotation = Effect.fnUntraced(function*(
  oldKey: ClientKey,
  newKey: ClientKey,
  input: { readonly request: IncomingRequest; readonly url: URL; readonly body: Uint8Array<ArrayBuffer>; readonly token: string }
) {
  const asRotation = (which: string) => <E extends { readonly _tag: string }>(e: E | InvalidClient) =>
    e._tag === "InvalidClient" ? new InvalidRotation({ description: `${which}: ${(e as InvalidClient).description}` }) : e as E
  const oldLabel = yield* verifyHttpSig(oldKey, input).pipe(Effect.mapError(asRotation("the current key's proof")))
  yield* verifyHttpSig(newKey, {
    ...input,
    tag: "gnap-rotate",
    cover: [`"signature";key=${JSON.stringify(oldLabel)}`, `"signature-input";key=${JSON.stringify(oldLabel)}`],
    skipLabels: [oldLabel]
  }).pipe(Effect.mapError(asRotation("the new key's proof")))
})

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
  const isDelete = ctx.request.method.toUpperCase() === "DELETE"
  const currentKey = keyOf(record)
  if (!isDelete && json !== undefined && "key" in json) {
    // §6.1.1
    if (record.flags.includes("bearer") || currentKey.proof.method !== "httpsig") {
      // the call is still proven with the key that manages the token (§6) before it is answered
      yield* verifyProof(currentKey, { request: ctx.request, url: ctx.url, body: bytes, token })
      if (record.flags.includes("bearer")) return yield* new InvalidRotation({ description: "a bearer token has no key to rotate (§6.1.1)" })
      return yield* new KeyRotationNotSupported({ description: `keys proven with ${currentKey.proof.method} are not rotated by this server (§6.1.1)` })
    }
    if (Object.keys(json).some((k) => k !== "key")) return yield* new InvalidRequest({ description: `a key rotation request has only "key" (§6.1.1)` })
    const newKey = yield* newKeyOf(json["key"])
    // §6.1.1: "the same proofing method and parameters"
    if (!sameProofMethod(currentKey.proof, newKey.proof)) {
      return yield* new InvalidRotation({ description: "the new key must use the same proofing method and parameters (§6.1.1)" })
    }
    if (newKey.thumbprint === currentKey.thumbprint) return yield* new InvalidRotation({ description: "the new key is the current key (§6.1.1)" })
    yield* proveRotation(currentKey, newKey, { request: ctx.request, url: ctx.url, body: bytes, token })
    return yield* rotate(record, newKey)
  }
  // §6 / §7.3: proven with the token's key
  yield* verifyProof(currentKey, { request: ctx.request, url: ctx.url, body: bytes, token })
  if (isDelete) {
    // §6.2: 204, also when the token was already revoked or has expired
    yield* store.revokeToken(manageId, now)
    yield* (yield* Events).emit({ type: "token.revoked", clientId: gnapClientId(record.clientInstanceId, record.clientKeyThumbprint), tokenType: "access_token", grantId: record.grantId })
    return noContent()
  }
  if (json !== undefined && Object.keys(json).length > 0) {
    return yield* new InvalidRequest({ description: "a token rotation request has no content (§6.1)" })
  }
  return yield* rotate(record, undefined)
})

/** §6.1 (and §6.1.1 with `newKey`): a new value, a new management URI and token, the same access. */
const rotate = Effect.fnUntraced(function*(record: GnapTokenRecord, newKey: ClientKey | undefined) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const store = yield* GnapGrantStore
  const now = yield* Clock.currentTimeMillis
  const manageId = record.manageId
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
    revokedAt: undefined,
    // §6.1.1: bound to the new key from now on (and managed with it)
    ...(newKey !== undefined ? { key: JSON.stringify({ proof: newKey.proof, jwk: newKey.jwk, thumbprint: newKey.thumbprint }) } : {})
  }
  const rotated = yield* store.rotateToken(manageId, now, () => next)
  if (rotated._tag !== "Rotated") {
    // §6.1: the AS will not rotate a revoked token; the client keeps treating it as it was
    return yield* new InvalidRotation({ description: "the token was revoked or already rotated; it cannot be rotated (§6.1)" })
  }
  const access = JSON.parse(record.access) as ReadonlyArray<AccessRight>
  yield* (yield* Events).emit({ type: "token.issued", grantType: "gnap", rotation: true, clientId: gnapClientId(record.clientInstanceId, record.clientKeyThumbprint), accountId: record.accountId, grantId: record.grantId, scope: access.map(describeAccess) })
  const body = tokenBody(config, value, manageToken, next, access)
  // §3.2.1 `key`: the token is bound to a key other than the client instance's presented key
  if (newKey !== undefined) body["key"] = keyToWire(newKey)
  return gnapJson({ access_token: body })
})

/** POST / DELETE {manage.uri} */
export const tokenManagementEndpoint = (ctx: EndpointContext) => gnapEndpoint(observeEndpoint("gnap.token", ctx, manage(ctx)))
