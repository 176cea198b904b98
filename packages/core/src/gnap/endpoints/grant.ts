/**
 * The grant endpoint (RFC 9635 §2, §3): a client instance asks for access tokens and/or
 * subject information, signed with its key (§7.3). Gatehouse answers with a pending grant
 * (§3.1 `continue`, §3.3 `interact`, §3.5 `instance_id`) — every grant needs the resource
 * owner, reached through the interaction modes the client offers (§2.5): `redirect`
 * (§2.5.1.1), `user_code` (§2.5.1.3) and `user_code_uri` (§2.5.1.4) through the shared
 * user-code engine. `OPTIONS` on the same URL is discovery (§9).
 */
import { Clock, Effect } from "effect"
import { GatehouseConfig } from "../../config.js"
import { InvalidClient, InvalidRequest, ServerError } from "../../errors.js"
import type { EndpointContext } from "../../http/router.js"
import { Crypto } from "../../ports/Crypto.js"
import { GnapGrantStore, type GnapGrantRecord } from "../../ports/GnapGrantStore.js"
import { type ClientKey, parseClientKey, sameProofMethod } from "../key.js"
import { continueObject, decodeGrant, type GrantData, gnapClientId, newContinuation } from "../grant.js"
import { jsonObject, mediaType, readBytes } from "../http.js"
import { verifyProof } from "../proof/index.js"
import { attachedPayload } from "../proof/jws.js"
import { type ClientDisplay, type ClientRequest, parseClient, parseGrantRequest } from "../request.js"
import { startInteraction } from "../start.js"
import { gnapEndpoint, gnapJson } from "../response.js"

/** The request content and, for `application/jose` (§7.3.4), the JWS payload it carries. */
export const readGnapBody = Effect.fnUntraced(function*(request: Request, required: boolean) {
  const config = yield* GatehouseConfig
  const bytes = yield* readBytes(request, config.maxBodyBytes)
  if (bytes.byteLength === 0) {
    if (required) return yield* new InvalidRequest({ description: "the request must have a JSON object as content (§2)" })
    return { bytes, json: undefined }
  }
  const type = mediaType(request)
  if (type === "application/jose") {
    const payload = attachedPayload(new TextDecoder().decode(bytes).trim())
    if (payload === undefined) return yield* new InvalidRequest({ description: "application/jose content must be a compact JWS (§7.3.4)" })
    return { bytes, json: yield* jsonObject(payload, "the JWS payload") }
  }
  // §2: "Content-Type application/json"
  if (type !== "application/json") {
    return yield* new InvalidRequest({ description: "the request content must be application/json (§2)" })
  }
  return { bytes, json: yield* jsonObject(bytes) }
})

/** §2.3.1: the pre-registered client instances (config `gnap.clients`), with their keys checked. */
const registeredInstances = Effect.fnUntraced(function*() {
  const config = yield* GatehouseConfig
  const out: Array<{ readonly instanceId: string; readonly key: ClientKey; readonly display?: ClientDisplay | undefined }> = []
  for (const c of config.gnap.clients) {
    const key = yield* Effect.promise(() => parseClientKey({ proof: c.proof, jwk: c.key }))
    if (key instanceof InvalidClient || key instanceof InvalidRequest) {
      return yield* new ServerError({ detail: `gnap.clients: the key of instance ${c.instanceId} is not usable: ${key.description}` })
    }
    out.push({ instanceId: c.instanceId, key, display: c.display })
  }
  return out
})

/** §2.3: the client's key, by value or through its instance identifier (§2.3.1). */
const resolveClient = Effect.fnUntraced(function*(client: ClientRequest) {
  const store = yield* GnapGrantStore
  const registered = yield* registeredInstances()
  if (client._tag === "instance") {
    const known = registered.find((r) => r.instanceId === client.instanceId)
    if (known !== undefined) return known
    // §2.3.1: "If the AS does not recognize the instance identifier, the request MUST be rejected"
    const previous = yield* store.findByInstance(client.instanceId)
    if (previous === undefined) return yield* new InvalidClient({ description: "the client instance identifier is not known (§2.3.1)" })
    const grant = decodeGrant(previous)
    const key: ClientKey = { proof: grant.data.key.proof, jwk: grant.data.key.jwk, thumbprint: previous.clientKeyThumbprint }
    return { key, instanceId: client.instanceId, display: grant.data.display }
  }
  const key = yield* Effect.promise(() => parseClientKey(client.key))
  if (key instanceof InvalidClient || key instanceof InvalidRequest) return yield* key
  // §2.3: a pre-registered key is that instance; its registered display takes precedence
  const known = registered.find((r) => r.key.thumbprint === key.thumbprint)
  if (known !== undefined) {
    if (!sameProofMethod(known.key.proof, key.proof)) return yield* new InvalidClient({ description: "the key is registered with another proofing method" })
    return { key: known.key, instanceId: known.instanceId, display: known.display ?? client.display }
  }
  // §2.3 / §3.5: the same key is the same client instance
  const previous = yield* store.findByKey(key.thumbprint)
  const instanceId = previous?.clientInstanceId ?? (yield* (yield* Crypto).randomToken(20))
  return { key, instanceId, display: client.display }
})

const grantRequest = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const now = yield* Clock.currentTimeMillis
  const { bytes, json } = yield* readGnapBody(ctx.request, true)
  const clientRequest = parseClient(json!)
  if ("_tag" in clientRequest && clientRequest._tag !== "key" && clientRequest._tag !== "instance") return yield* clientRequest
  const client = yield* resolveClient(clientRequest as ClientRequest)
  // §7.3: the request is proven with the client key, before anything else in it is judged
  yield* verifyProof(client.key, { request: ctx.request, url: ctx.url, body: bytes })
  const request = parseGrantRequest(config, json!)
  if (!("client" in request)) return yield* request

  const grantId = yield* crypto.randomToken(16)
  const clientId = gnapClientId(client.instanceId, client.key.thumbprint)
  const rest = { accessToken: request.accessToken, subject: request.subject, user: request.user, interact: request.interact }
  const interaction = yield* startInteraction({ grantId, clientId, request: rest, display: client.display })
  const continuation = yield* newContinuation(true)
  const data: GrantData = {
    grantEndpoint: ctx.url.href,
    request: rest,
    key: { proof: client.key.proof, jwk: client.key.jwk },
    display: client.display,
    interaction: interaction.state,
    polls: 0,
    tooFast: 0
  }
  const record: GnapGrantRecord = {
    id: grantId,
    state: "pending",
    version: 1,
    continueTokenDigest: continuation.digest,
    continueAfter: continuation.continueAfter,
    clientKeyThumbprint: client.key.thumbprint,
    clientInstanceId: client.instanceId,
    request: JSON.stringify(data),
    createdAt: now,
    updatedAt: now,
    expiresAt: interaction.state.expiresAt
  }
  yield* (yield* GnapGrantStore).create(record)
  // §3: continue, interact, instance_id
  return gnapJson({
    continue: continueObject(config, grantId, continuation),
    interact: interaction.interact,
    instance_id: client.instanceId
  })
})

/** POST {grant endpoint} */
export const grantEndpoint = (ctx: EndpointContext) => gnapEndpoint(grantRequest(ctx))
