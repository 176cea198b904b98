/**
 * Token introspection for resource servers (RFC 9767 §3.3). The RS POSTs a JSON object —
 * `access_token`, `resource_server` (REQUIRED), `proof`, `access` — signed with its own key
 * (§3.2, a RFC 9635 §7.3 proof). Resource servers are configured (`gnap.resourceServers`);
 * an unknown or unproven RS gets `invalid_resource_server` (§3.5, HTTP 400).
 *
 * The answer is `{"active": false}` and nothing else (§3.3) unless the token was issued here,
 * is unrevoked and unexpired, is bound with the `proof` the RS names, and covers every right
 * in `access` — the AS must take every parameter into account and must not report a token
 * active when it cannot. An active answer carries `access`, `key` (bound tokens only, never
 * for bearer tokens), `flags`, `exp`, `iat`, `iss` (the grant endpoint), `instance_id` and
 * `sub` — never the token value. Continuation and management tokens are never active
 * (RFC 9767 §2.1.14): they are not access tokens.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { GatehouseConfig } from "../../config.js"
import { InvalidRequest, InvalidResourceServer } from "../../errors.js"
import type { EndpointContext } from "../../http/router.js"
import { observeEndpoint } from "../../observability/endpoint.js"
import { Crypto } from "../../ports/Crypto.js"
import { GnapGrantStore } from "../../ports/GnapGrantStore.js"
import { type ClientKey, keyToWire, type ProofMethod } from "../key.js"
import { gnapEndpoint, gnapJson } from "../response.js"
import { isForResourceServer, requireProvenResourceServer, sameRight } from "../rs/resource-server.js"
import { readGnapBody } from "./grant.js"

const INACTIVE = { active: false } as const

const introspect = Effect.fnUntraced(function*(ctx: EndpointContext) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const now = yield* Clock.currentTimeMillis
  const { bytes, json } = yield* readGnapBody(ctx.request, true)
  const body = json!
  // §3.2: the RS names itself and proves its key
  const rs = yield* requireProvenResourceServer(ctx, { bytes, json: body })
  // RFC 9767 §3.4: an RS configured with `introspection: false` is not offered introspection
  if (rs.config.introspection === false) {
    return yield* new InvalidResourceServer({ description: "this AS does not offer token introspection to this resource server (RFC 9767 §3.3)" })
  }
  const token = body["access_token"]
  if (typeof token !== "string" || token === "") return yield* new InvalidRequest({ description: `"access_token" is required (RFC 9767 §3.3)` })
  const proof = body["proof"]
  if (proof !== undefined && typeof proof !== "string") return yield* new InvalidRequest({ description: `"proof" must be a string` })
  const access = body["access"]
  if (access !== undefined && !Array.isArray(access)) return yield* new InvalidRequest({ description: `"access" must be an array` })

  const record = yield* (yield* GnapGrantStore).findToken(yield* crypto.digest(token))
  if (record === undefined || record.revokedAt !== undefined || record.expiresAt <= now) return gnapJson(INACTIVE)
  const bearer = record.flags.includes("bearer")
  const key = bearer
    ? undefined
    : JSON.parse(record.key ?? "{}") as { proof: ProofMethod; jwk: ClientKey["jwk"]; thumbprint?: string; cert?: string }
  // §3.3: bound with the proofing method the RS names (a bearer token is bound with none)
  if (proof !== undefined && (key === undefined || key.proof.method !== proof)) return gnapJson(INACTIVE)
  // §3.3: appropriate for every right asked about; anything not understood means not active
  const granted = JSON.parse(record.access) as Array<unknown>
  if (access !== undefined && !(access as Array<unknown>).every((a) => granted.some((g) => sameRight(a, g)))) return gnapJson(INACTIVE)
  // §3.3: "appropriate for presentation at the identified RS": an RS configured with the
  // rights it serves (`gnap.resourceServers[].access`) learns only of tokens carrying one of
  // them or a right it registered (§3.4); an RS without that list is trusted with every token
  if (rs.config.access !== undefined && !(yield* isForResourceServer(rs, granted))) return gnapJson(INACTIVE)
  return gnapJson({
    active: true,
    access: granted,
    // §3.3: REQUIRED for bound tokens, MUST NOT for bearer tokens
    // §7.1 key object (mtls: the certificate or its thumbprint)
    ...(key !== undefined ? { key: keyToWire({ ...key, thumbprint: key.thumbprint ?? record.clientKeyThumbprint }) } : {}),
    ...(record.flags.length > 0 ? { flags: record.flags } : {}),
    exp: Math.floor(record.expiresAt / 1000),
    iat: Math.floor(record.issuedAt / 1000),
    iss: config.endpoints.gnap,
    ...(record.clientInstanceId !== undefined ? { instance_id: record.clientInstanceId } : {}),
    ...(record.accountId !== undefined ? { sub: record.accountId } : {})
  })
})

/** POST {gnapIntrospect} */
export const introspectionEndpoint = (ctx: EndpointContext) => gnapEndpoint(observeEndpoint("gnap.introspect", ctx, introspect(ctx)))
