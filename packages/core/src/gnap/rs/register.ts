/**
 * Resource set registration (RFC 9767 §3.4) at `{basePath}/gnap/resource`: a configured RS
 * (`gnap.resourceServers`) POSTs the access rights it protects, signed with its own key
 * (§3.2, an RFC 9635 §7.3 proof), and gets back a `resource_reference` — an opaque string
 * it can hand to clients in its RS-first challenge (`WWW-Authenticate: GNAP as_uri=...,
 * access=...`, RFC 9635 §9.1) and that clients then request as a string access right
 * (RFC 9635 §8.1); the AS expands it back (references.ts).
 *
 * Request: `access` (REQUIRED, RFC 9635 §8), `resource_server` (REQUIRED),
 * `token_formats_supported` (the formats the RS can process: Gatehouse's GNAP tokens are
 * opaque, in no format of the GNAP Token Formats registry, so any list is one the AS does
 * not support → error), `token_introspection_required` (true from an RS configured with
 * `introspection: false` → error). Failures are §3.5 errors, HTTP 400: `invalid_request`,
 * `invalid_resource_server` (unknown or unproven RS), `invalid_access` (a right the RS may
 * not register). The same RS registering the same set gets the same reference back.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import { GatehouseConfig } from "../../config.js"
import { InvalidAccess, InvalidRequest } from "../../errors.js"
import type { EndpointContext } from "../../http/router.js"
import { Crypto } from "../../ports/Crypto.js"
import { GnapResourceStore } from "../../ports/GnapResourceStore.js"
import { readGnapBody } from "../endpoints/grant.js"
import type { AccessRight } from "../request.js"
import { observeEndpoint } from "../../observability/endpoint.js"
import { gnapEndpoint, gnapJson } from "../response.js"
import { mayRegister, requireProvenResourceServer } from "./resource-server.js"

const isRecord = (u: unknown): u is Record<string, unknown> => Predicate.isObject(u) && !Array.isArray(u)

/** RFC 9635 §8: the members of an access right object that are arrays of strings. */
const STRING_ARRAYS = ["actions", "locations", "datatypes", "privileges"] as const

/** RFC 9635 §8: one right, well-formed (a non-empty string, or an object with a `type`). */
const accessRight = (value: unknown, at: string): AccessRight | InvalidRequest => {
  const invalid = (description: string) => new InvalidRequest({ description })
  if (typeof value === "string") return value === "" ? invalid(`${at} must not be empty`) : value
  if (!isRecord(value)) return invalid(`${at} must be a string or an object (RFC 9635 §8)`)
  if (typeof value["type"] !== "string" || value["type"] === "") return invalid(`${at}.type is required and must be a string (RFC 9635 §8)`)
  for (const member of STRING_ARRAYS) {
    const v = value[member]
    if (v !== undefined && (!Array.isArray(v) || !v.every((s) => typeof s === "string"))) return invalid(`${at}.${member} must be an array of strings`)
  }
  if (value["identifier"] !== undefined && typeof value["identifier"] !== "string") return invalid(`${at}.identifier must be a string`)
  for (const [i, l] of ((value["locations"] as Array<string> | undefined) ?? []).entries()) {
    if (!URL.canParse(l)) return invalid(`${at}.locations[${i}] must be an absolute URI`)
  }
  return value as AccessRight
}

/** A stable serialization (object members sorted) for the set digest. */
const canonical = (value: unknown): string =>
  Array.isArray(value)
    ? `[${value.map(canonical).join(",")}]`
    : isRecord(value)
    ? `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`
    : JSON.stringify(value)

const register = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const now = yield* Clock.currentTimeMillis
  const { bytes, json } = yield* readGnapBody(ctx.request, true)
  const body = json!
  // §3.4: "The RS MUST identify itself with its own key and sign the request" (§3.2)
  const rs = yield* requireProvenResourceServer(ctx, { bytes, json: body })

  const access = body["access"]
  if (!Array.isArray(access) || access.length === 0) {
    return yield* new InvalidRequest({ description: `"access" is required: a non-empty array of access rights (RFC 9767 §3.4)` })
  }
  const rights: Array<AccessRight> = []
  for (const [i, a] of access.entries()) {
    const right = accessRight(a, `"access[${i}]"`)
    if (right instanceof InvalidRequest) return yield* right
    // §3.5 invalid_access: "The RS is not permitted to register ... the requested access value"
    if (!mayRegister(config, rs, right)) {
      return yield* new InvalidAccess({ description: `"access[${i}]" is not an access right this resource server may register (RFC 9767 §3.4)` })
    }
    rights.push(right)
  }

  const formats = body["token_formats_supported"]
  if (formats !== undefined) {
    if (!Array.isArray(formats) || !formats.every((f) => typeof f === "string")) {
      return yield* new InvalidRequest({ description: `"token_formats_supported" must be an array of strings (RFC 9767 §3.4)` })
    }
    // §3.4: "If the AS does not support any of the requested token formats, the AS MUST return an error"
    return yield* new InvalidRequest({
      description: "this AS issues opaque access tokens, in none of the requested token formats; omit token_formats_supported and introspect (RFC 9767 §3.4)"
    })
  }
  const introspection = body["token_introspection_required"]
  if (introspection !== undefined && typeof introspection !== "boolean") {
    return yield* new InvalidRequest({ description: `"token_introspection_required" must be a boolean (RFC 9767 §3.4)` })
  }
  // §3.4: "If the AS does not support token introspection for this RS, the AS MUST return an error"
  if (introspection === true && !rs.config.introspection) {
    return yield* new InvalidRequest({ description: "this AS does not offer token introspection to this resource server (RFC 9767 §3.4)" })
  }

  const introspectionRequired = introspection === true
  const stored = yield* (yield* GnapResourceStore).register({
    // RFC 9635 §11.28: references come from their own random pool
    reference: yield* crypto.randomToken(16),
    resourceServer: rs.id,
    setDigest: yield* crypto.digest(canonical({ access: rights, introspectionRequired })),
    access: JSON.stringify(rights),
    introspectionRequired,
    createdAt: now
  })
  return gnapJson({
    resource_reference: stored.reference,
    // §3.4: how the RS may refer to itself in later calls
    ...(rs.name !== undefined ? { instance_id: rs.name } : {}),
    ...(rs.config.introspection ? { introspection_endpoint: config.endpoints.gnapIntrospect } : {})
  })
})

/** POST {gnapResourceRegistration} */
export const resourceRegistrationEndpoint = (ctx: EndpointContext) => gnapEndpoint(observeEndpoint("gnap.rs.register", ctx, register(ctx)))
