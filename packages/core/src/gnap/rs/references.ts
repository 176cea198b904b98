/**
 * Resource references (RFC 9767 §3.4): "The client instance can then use the
 * `resource_reference` value as a string-type access reference as defined in Section 8.1 of
 * GNAP." Before a grant request (or update, or a chaining request) is judged, every string
 * access right that is a registered reference is replaced by the rights the RS registered
 * under it — so consent pages, `accessTypes` checks, issued tokens and introspection all
 * see the real rights. Other members of the request are left as they are.
 */
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import { GatehouseConfig } from "../../config.js"
import { GnapResourceStore } from "../../ports/GnapResourceStore.js"

const isRecord = (u: unknown): u is Record<string, unknown> => Predicate.isObject(u) && !Array.isArray(u)

/** The rights of one `access` array with its registered references expanded (§3.4, RFC 9635 §8.1). */
const expandAccess = Effect.fnUntraced(function*(access: ReadonlyArray<unknown>) {
  const config = yield* GatehouseConfig
  const store = yield* GnapResourceStore
  const out: Array<unknown> = []
  for (const right of access) {
    // a reference the AS already grants by name needs no lookup
    if (typeof right !== "string" || right === "" || config.gnap.accessTypes?.includes(right)) {
      out.push(right)
      continue
    }
    const registered = yield* store.find(right)
    if (registered === undefined) out.push(right)
    else out.push(...(JSON.parse(registered.access) as Array<unknown>))
  }
  return out
})

/**
 * `body` with the references in `access_token[*].access` expanded. The same object when
 * there is nothing to expand; malformed members are left for the request parser to refuse.
 */
export const expandResourceReferences = Effect.fnUntraced(function*(body: Record<string, unknown>) {
  const tokens = body["access_token"]
  const expandToken = (token: unknown) =>
    isRecord(token) && Array.isArray(token["access"])
      ? Effect.map(expandAccess(token["access"] as Array<unknown>), (access) => ({ ...token, access }))
      : Effect.succeed(token)
  if (Array.isArray(tokens)) return { ...body, access_token: yield* Effect.forEach(tokens, expandToken) }
  if (isRecord(tokens)) return { ...body, access_token: yield* expandToken(tokens) }
  return body
})
