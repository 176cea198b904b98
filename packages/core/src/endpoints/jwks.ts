/**
 * The JWK Set (RFC 7517 §5) at `jwks_uri` (RFC 8414 §2, OIDC Discovery §3): the public
 * halves of the current, next and retired signing keys, so verifiers that cache it already
 * know a key before it starts signing and still know it while its tokens live.
 */
import * as Effect from "effect/Effect"
import { publicJson } from "../http/response.js"
import type { Endpoint } from "../http/router.js"
import { observeEndpoint } from "../observability/endpoint.js"
import type { GatehouseServices } from "../services.js"
import { Keys } from "../tokens/keys.js"

/** Public JWK members only: whatever a stored record holds, no private parameter (RFC 7518 §6) leaves here. */
const PUBLIC_MEMBERS = new Set(["kty", "kid", "alg", "use", "key_ops", "crv", "x", "y", "n", "e", "x5c", "x5t", "x5t#S256", "x5u"])

const jwks = Effect.fnUntraced(function*() {
  const { keys } = yield* (yield* Keys).jwks()
  const published = keys.map((jwk) => Object.fromEntries(Object.entries(jwk).filter(([name]) => PUBLIC_MEMBERS.has(name))))
  const response = publicJson({ keys: published })
  // RFC 7517 §8.5.1
  response.headers.set("content-type", "application/jwk-set+json; charset=utf-8")
  return response
})

export const jwksEndpoint: Endpoint<GatehouseServices> = (ctx) => observeEndpoint("jwks", ctx, jwks(), { denied: null })
