/**
 * Deriving a downstream token (RFC 9767 §4, "token chaining"): a resource server that must
 * call another RS on a client's behalf asks the grant endpoint for a token, "presenting the
 * existing access token's value in the `existing_access_token` field". The RS is a client
 * instance here: it "MUST identify itself with its own key in the `client` field and sign
 * the request", and "the AS MUST determine that the token being presented is appropriate
 * for use at the RS making the token chaining request" (checklist item 77).
 *
 * Gatehouse's policy:
 * - the caller is a configured RS (`gnap.resourceServers`), by name or key, proven with
 *   that key; anyone else presenting `existing_access_token` gets `invalid_request`;
 * - the existing token is active (issued here, unrevoked, unexpired) and appropriate for
 *   that RS (resource-server.ts `isForResourceServer`); otherwise `invalid_request`, one
 *   answer for every case so the AS is no oracle for tokens meant elsewhere;
 * - RS1 "has no ability to interact with the RO": no `interact`, `subject` or `user`;
 * - each derived token carries only rights of the existing token (references expanded),
 *   else `request_denied`; it is bound to the RS's key (or `bearer` if asked), for the
 *   same resource owner, and expires no later than the existing token;
 * - the answer is the access token(s) alone: the grant is finalized at once (no `continue`).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { GatehouseConfig } from "../../config.js"
import { InvalidRequest, RequestDenied } from "../../errors.js"
import type { EndpointContext } from "../../http/router.js"
import { Crypto } from "../../ports/Crypto.js"
import { type GnapGrantRecord, GnapGrantStore, type GnapTokenRecord } from "../../ports/GnapGrantStore.js"
import { type GrantData, tokenBody } from "../grant.js"
import { verifyProof } from "../proof/index.js"
import { parseClient, parseGrantRequest } from "../request.js"
import { gnapJson } from "../response.js"
import { expandResourceReferences } from "./references.js"
import { identifyResourceServer, isForResourceServer, sameRight } from "./resource-server.js"

/**
 * The grant endpoint's answer to a request carrying `existing_access_token` (RFC 9767 §4).
 * `bytes` and `json` are the request content as read by the grant endpoint.
 */
export const derivedTokenRequest = Effect.fnUntraced(function*(ctx: EndpointContext, bytes: Uint8Array<ArrayBuffer>, json: Record<string, unknown>) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const store = yield* GnapGrantStore
  const now = yield* Clock.currentTimeMillis

  // §4: the RS identifies itself in `client`, by its key or by the name the AS knows it by
  const client = parseClient(json)
  if ("description" in client) return yield* client
  const rs = yield* identifyResourceServer(client._tag === "instance" ? client.instanceId : client._tag === "key" ? { key: client.key } : undefined)
  if (rs === undefined) {
    return yield* new InvalidRequest({ description: `"existing_access_token" is for resource servers deriving a downstream token (RFC 9767 §4)` })
  }
  // §4: "sign the request just as any client instance would"
  yield* verifyProof(rs.key, { request: ctx.request, url: ctx.url, body: bytes })

  const existing = json["existing_access_token"]
  if (typeof existing !== "string" || existing === "") {
    return yield* new InvalidRequest({ description: `"existing_access_token" must be the access token's value (RFC 9767 §4)` })
  }
  for (const member of ["interact", "subject", "user"] as const) {
    if (json[member] !== undefined) {
      return yield* new InvalidRequest({ description: `a token chaining request has no "${member}": the resource server cannot interact with the resource owner (RFC 9767 §4)` })
    }
  }
  const parent = yield* store.findToken(yield* crypto.digest(existing))
  const parentAccess = parent === undefined ? [] : JSON.parse(parent.access) as Array<unknown>
  // §4 (item 77): active, and appropriate for use at this RS
  if (parent === undefined || parent.revokedAt !== undefined || parent.expiresAt <= now || !(yield* isForResourceServer(rs, parentAccess))) {
    return yield* new InvalidRequest({ description: `"existing_access_token" is not an active access token issued for this resource server (RFC 9767 §4)` })
  }

  const request = parseGrantRequest(config, yield* expandResourceReferences(json))
  if (!("client" in request)) return yield* request
  if (request.accessToken === undefined) {
    return yield* new InvalidRequest({ description: `a token chaining request asks for "access_token" (RFC 9767 §4)` })
  }
  for (const token of request.accessToken.tokens) {
    if (!token.access.every((right) => parentAccess.some((p) => sameRight(p, right)))) {
      return yield* new RequestDenied({ description: "a derived token may carry only access rights of the existing access token (RFC 9767 §4)" })
    }
  }

  const key = { proof: rs.key.proof, jwk: rs.key.jwk }
  const expiresAt = Math.min(parent.expiresAt, now + config.ttl.accessToken * 1000)
  const grantId = yield* crypto.randomToken(16)
  const data: GrantData = {
    grantEndpoint: ctx.url.href,
    request: { accessToken: request.accessToken },
    key,
    polls: 0,
    tooFast: 0
  }
  // finalized from the start: derived tokens are delivered at once and the grant is never continued
  const grant: GnapGrantRecord = {
    id: grantId,
    state: "finalized",
    version: 1,
    continueTokenDigest: yield* crypto.digest(yield* crypto.randomToken(32)),
    continueAfter: now,
    clientKeyThumbprint: rs.key.thumbprint,
    clientInstanceId: rs.name,
    request: JSON.stringify(data),
    accountId: parent.accountId,
    createdAt: now,
    updatedAt: now,
    expiresAt
  }
  yield* store.create(grant)

  const bodies: Array<Record<string, unknown>> = []
  for (const token of request.accessToken.tokens) {
    // RFC 9635 §3.2.1: token68 values; RFC 9635 §11.28: their own random pool
    const value = yield* crypto.randomToken(32)
    const manageToken = yield* crypto.randomToken(32)
    const record: GnapTokenRecord = {
      tokenDigest: yield* crypto.digest(value),
      grantId,
      manageId: yield* crypto.randomToken(16),
      manageTokenDigest: yield* crypto.digest(manageToken),
      label: token.label,
      flags: token.bearer ? ["bearer"] : [],
      access: JSON.stringify(token.access),
      key: JSON.stringify(key),
      clientKeyThumbprint: rs.key.thumbprint,
      clientInstanceId: rs.name,
      accountId: parent.accountId,
      issuedAt: now,
      expiresAt
    }
    yield* store.saveToken(record)
    bodies.push(tokenBody(config, value, manageToken, record, token.access))
  }
  return gnapJson({
    access_token: request.accessToken.multiple ? bodies : bodies[0],
    ...(rs.name !== undefined ? { instance_id: rs.name } : {})
  })
})
