/**
 * The grant endpoint (RFC 9635 §2, §3): a client instance asks for access tokens and/or
 * subject information, signed with its key (§7.3). Gatehouse answers with a pending grant
 * (§3.1 `continue`, §3.3 `interact`, §3.5 `instance_id`) — every grant needs the resource
 * owner, reached through the interaction modes the client offers (§2.5): `redirect`
 * (§2.5.1.1), `user_code` (§2.5.1.3) and `user_code_uri` (§2.5.1.4) through the shared
 * user-code engine. `OPTIONS` on the same URL is discovery (§9).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { GatehouseConfig } from "../../config.js"
import { InvalidClient, InvalidRequest, ServerError } from "../../errors.js"
import type { EndpointContext } from "../../http/router.js"
import { observeEndpoint } from "../../observability/endpoint.js"
import { Crypto } from "../../ports/Crypto.js"
import { GnapGrantStore, type GnapGrantRecord } from "../../ports/GnapGrantStore.js"
import { type ClientKey, parseClientKey, sameProofMethod } from "../key.js"
import { continueObject, decodeGrant, type GrantData, gnapClientId, newContinuation } from "../grant.js"
import { jsonObject, mediaType, readBytes } from "../http.js"
import { jsonWithinLimits } from "../../http/request.js"
import { verifyProof } from "../proof/index.js"
import { attachedPayload } from "../proof/jws.js"
import { type ClientDisplay, type ClientRequest, parseClient, parseGrantRequest } from "../request.js"
import { verifyUserAssertions } from "../assertions.js"
import { derivedTokenRequest } from "../rs/chain.js"
import { expandResourceReferences } from "../rs/references.js"
import { startInteraction } from "../start.js"
import { gnapEndpoint, gnapJson } from "../response.js"
import type { IncomingRequest } from "../../http/incoming.js"

/** The request content and, for `application/jose` (§7.3.4), the JWS payload it carries. */
export const readGnapBody = Effect.fnUntraced(function*(request: IncomingRequest, required: boolean) {
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
    return { bytes, json: yield* jsonWithinLimits(yield* jsonObject(payload, "the JWS payload"), config.limits) }
  }
  // §2: "Content-Type application/json"
  if (type !== "application/json") {
    return yield* new InvalidRequest({ description: "the request content must be application/json (§2)" })
  }
  // config `limits`: JSON depth and member count
  return { bytes, json: yield* jsonWithinLimits(yield* jsonObject(bytes), config.limits) }
})

/** §2.3.1: the pre-registered client instances (config `gnap.clients`), with their keys checked. */
export const registeredInstances = Effect.fnUntraced(function*() {
  const config = yield* GatehouseConfig
  const out: Array<{
    readonly instanceId: string
    readonly key: ClientKey
    /** §7.1.1: the opaque reference a client may send instead of the key */
    readonly keyRef?: string | undefined
    readonly display?: ClientDisplay | undefined
  }> = []
  for (const c of config.gnap.clients) {
    // §7.3.2: an mtls client is registered by its certificate ({ cert } or { "cert#S256" })
    const key = yield* Effect.promise(() => parseClientKey(c.proof === "mtls" ? { proof: c.proof, ...c.key } : { proof: c.proof, jwk: c.key }))
    if (key instanceof InvalidClient || key instanceof InvalidRequest) {
      return yield* new ServerError({ detail: `gnap.clients: the key of instance ${c.instanceId} is not usable: ${key.description}` })
    }
    out.push({ instanceId: c.instanceId, key, keyRef: c.keyRef, display: c.display })
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
    const key: ClientKey = { proof: grant.data.key.proof, jwk: grant.data.key.jwk, thumbprint: previous.clientKeyThumbprint, cert: grant.data.key.cert }
    return { key, instanceId: client.instanceId, display: grant.data.display }
  }
  if (client._tag === "keyRef") {
    // §7.1.1: a reference to a key the AS knows; an unknown reference is an unknown client
    const known = registered.find((r) => r.keyRef !== undefined && r.keyRef === client.ref)
    if (known === undefined) return yield* new InvalidClient({ description: "the key reference is not known to this server (§7.1.1)" })
    return { key: known.key, instanceId: known.instanceId, display: known.display ?? client.display }
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
  // RFC 9767 §4: a resource server deriving a downstream token
  if (json!["existing_access_token"] !== undefined) return yield* derivedTokenRequest(ctx, bytes, json!)
  const clientRequest = parseClient(json!)
  if ("_tag" in clientRequest && clientRequest._tag !== "key" && clientRequest._tag !== "keyRef" && clientRequest._tag !== "instance") {
    return yield* clientRequest
  }
  const requested = clientRequest as ClientRequest
  const classId = requested._tag === "instance" ? undefined : requested.classId
  if (classId !== undefined && config.gnap.unknownClassId === "reject" && !(config.gnap.classIds ?? []).includes(classId)) {
    // §2.3: a class_id the AS cannot interpret: invalid_client, or ignored (the default)
    return yield* new InvalidClient({ description: "the client's class_id is not one this server recognizes (§2.3)" })
  }
  const client = yield* resolveClient(requested)
  // §7.3: the request is proven with the client key, before anything else in it is judged
  yield* verifyProof(client.key, { request: ctx.request, url: ctx.url, body: bytes })
  // RFC 9767 §3.4: registered resource references stand for the rights registered under them
  const request = parseGrantRequest(config, yield* expandResourceReferences(json!))
  if (!("client" in request)) return yield* request

  const grantId = yield* crypto.randomToken(16)
  const clientId = gnapClientId(client.instanceId, client.key.thumbprint)
  // §2.4: assertions about the user are checked here and kept as the identifiers they establish
  const user = request.user?.assertions !== undefined
    ? { subIds: [...request.user.subIds, ...(yield* verifyUserAssertions(request.user.assertions))] }
    : request.user
  const rest = { accessToken: request.accessToken, subject: request.subject, user, interact: request.interact }
  const interaction = yield* startInteraction({ grantId, clientId, request: rest, display: client.display })
  const continuation = yield* newContinuation(true)
  const data: GrantData = {
    grantEndpoint: ctx.url.href,
    request: rest,
    key: { proof: client.key.proof, jwk: client.key.jwk, ...(client.key.cert !== undefined ? { cert: client.key.cert } : {}) },
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
export const grantEndpoint = (ctx: EndpointContext) => gnapEndpoint(observeEndpoint("gnap.grant", ctx, grantRequest(ctx)))
