/**
 * Who is calling the RS-facing API (RFC 9767 §3.2): a resource server configured in
 * `gnap.resourceServers`, named in `resource_server` by its name (an instance identifier)
 * or by its key by value, and — when it acts as a client (token chaining, §4) — in `client`
 * the same two ways. And which access rights belong to it: what it may register (§3.4,
 * `invalid_access` otherwise) and which tokens are "appropriate for use at" it (§3.3, §4).
 */
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import { GatehouseConfig, type ResolvedConfig } from "../../config.js"
import { InvalidClient, InvalidRequest, InvalidResourceServer, type StorageError } from "../../errors.js"
import { GnapResourceStore } from "../../ports/GnapResourceStore.js"
import type { IncomingRequest } from "../../http/incoming.js"
import { type ClientKey, parseClientKey } from "../key.js"
import { verifyProof } from "../proof/index.js"
import type { AccessRight } from "../request.js"

export interface ConfiguredResourceServer {
  /** how registrations are filed: its name, else its key's thumbprint */
  readonly id: string
  readonly name?: string | undefined
  readonly key: ClientKey
  readonly config: ResolvedConfig["gnap"]["resourceServers"][number]
}

/** Parsed once per (immutable) config: keys are imported and thumbprinted on first use. */
const parsed = new WeakMap<ResolvedConfig["gnap"]["resourceServers"], ReadonlyArray<ConfiguredResourceServer>>()

/** The configured resource servers whose keys are usable. */
export const configuredResourceServers = Effect.fnUntraced(function*() {
  const config = yield* GatehouseConfig
  const cached = parsed.get(config.gnap.resourceServers)
  if (cached !== undefined) return cached
  const out: Array<ConfiguredResourceServer> = []
  for (const rs of config.gnap.resourceServers) {
    const key = yield* Effect.promise(() => parseClientKey({ proof: rs.proof, jwk: rs.key }))
    if (key instanceof InvalidClient || key instanceof InvalidRequest) continue
    out.push({ id: rs.name ?? key.thumbprint, name: rs.name, key, config: rs })
  }
  parsed.set(config.gnap.resourceServers, out)
  return out as ReadonlyArray<ConfiguredResourceServer>
})

/**
 * RFC 9767 §3.2: the RS a `resource_server` (or, §4, `client`) value names — a string is
 * its configured name, an object carries its `key` by value. Unknown: `undefined`.
 */
export const identifyResourceServer = Effect.fnUntraced(function*(value: unknown) {
  const known = yield* configuredResourceServers()
  if (typeof value === "string") return known.find((rs) => rs.name === value)
  if (Predicate.isObject(value) && !Array.isArray(value) && "key" in value) {
    const presented = yield* Effect.promise(() => parseClientKey((value as { key: unknown }).key))
    if (presented instanceof InvalidClient || presented instanceof InvalidRequest) return undefined
    return known.find((rs) => rs.key.thumbprint === presented.thumbprint && rs.key.proof.method === presented.proof.method)
  }
  return undefined
})

/** §3.2 for the RS-facing endpoints: the RS, or `invalid_request` / `invalid_resource_server`. */
export const requireResourceServer = Effect.fnUntraced(function*(value: unknown) {
  if (value === undefined) {
    return yield* new InvalidRequest({ description: `"resource_server" is required: the RS's name or an object with its key (RFC 9767 §3.2)` })
  }
  const rs = yield* identifyResourceServer(value)
  if (rs === undefined) return yield* new InvalidResourceServer({ description: "the resource server is not known to this AS (RFC 9767 §3.2)" })
  return rs
})

/**
 * RFC 9767 §3.2 for the RS-facing endpoints (introspection §3.3, registration §3.4): the RS
 * the signed JSON body names, having proven its key over this request — or
 * `invalid_request` / `invalid_resource_server`.
 */
export const requireProvenResourceServer = Effect.fnUntraced(function*(
  ctx: { readonly request: IncomingRequest; readonly url: URL },
  body: { readonly bytes: Uint8Array<ArrayBuffer>; readonly json: Record<string, unknown> }
) {
  const rs = yield* requireResourceServer(body.json["resource_server"])
  yield* verifyProof(rs.key, { request: ctx.request, url: ctx.url, body: body.bytes }).pipe(
    Effect.catchTag("InvalidClient", (e) => Effect.fail(new InvalidResourceServer({ description: e.description })))
  )
  return rs
})

/** RFC 9635 §8: what a right is compared by — its `type`, or the string itself. */
export const rightName = (right: unknown): string | undefined =>
  typeof right === "string" ? right : Predicate.isObject(right) && typeof (right as { type?: unknown }).type === "string" ? (right as { type: string }).type : undefined

/** RFC 9767 §3.4: may `rs` register (and so protect) `right`? Within `accessTypes` and its own `access`. */
export const mayRegister = (config: ResolvedConfig, rs: ConfiguredResourceServer, right: AccessRight): boolean => {
  const name = rightName(right)!
  if (config.gnap.accessTypes !== undefined && !config.gnap.accessTypes.includes(name)) return false
  return rs.config.access === undefined || rs.config.access.includes(name)
}

/** Two access rights are the same right when they serialize the same (RFC 9635 §8). */
export const sameRight = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

/**
 * RFC 9767 §3.3, §4: is a token with `access` appropriate for use at `rs`? When one of its
 * rights belongs to the RS: its type (or string) is in the RS's configured `access`, or the
 * RS registered that very right (§3.4). An RS with neither is appropriate for no token.
 */
export const isForResourceServer = Effect.fnUntraced(function*(
  rs: ConfiguredResourceServer,
  access: ReadonlyArray<unknown>
): Effect.fn.Return<boolean, StorageError, GnapResourceStore> {
  const configured = rs.config.access
  if (configured !== undefined && access.some((right) => configured.includes(rightName(right) ?? ""))) return true
  const registered = (yield* (yield* GnapResourceStore).listByResourceServer(rs.id))
    .flatMap((set) => JSON.parse(set.access) as Array<unknown>)
  return access.some((right) => registered.some((r) => sameRight(r, right)))
})
