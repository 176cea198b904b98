/**
 * The authorization server's JWK Set (RFC 7517 §5), cached. Keys are picked by the token's
 * `kid`/`alg` (RFC 7515 §4.1.4). A `kid` the cache does not know means the AS rotated its
 * keys: the set is fetched again, once — concurrent requests share that one fetch — and never
 * sooner than `cooldown` after the previous fetch, so tokens with made-up `kid`s cannot make
 * this server hammer the AS. A set older than `maxAge` is re-fetched; if that fails, the
 * stale set keeps serving (the AS publishes keys long before and after they sign).
 */
import { InvalidToken, StorageError } from "@gatehouse/core"
import { Effect, Semaphore } from "effect"
import * as jose from "jose"
import { fetchJsonObject } from "./discovery.js"
import type { ResolvedOptions } from "./options.js"

interface Loaded {
  readonly select: ReturnType<typeof jose.createLocalJWKSet>
  readonly fetchedAt: number
  /** bumped on every fetch: tells a waiting caller that someone else already refreshed */
  readonly generation: number
}

export interface JwksCache {
  /** The verification key for a token with this protected header. */
  key(header: jose.JWSHeaderParameters): Effect.Effect<CryptoKey, InvalidToken | StorageError>
}

export const makeJwksCache = (
  o: ResolvedOptions,
  jwksUri: Effect.Effect<string, StorageError>,
  now: Effect.Effect<number>
): JwksCache => {
  let loaded: Loaded | undefined
  const lock = Semaphore.makeUnsafe(1)

  const fetchSet = Effect.gen(function*() {
    const uri = yield* jwksUri
    const { status, body } = yield* fetchJsonObject(o, uri)
    if (status !== 200 || body === undefined || !Array.isArray(body["keys"])) {
      return yield* new StorageError({ detail: `JWK Set at ${uri}: HTTP ${status}, not a JWK Set` })
    }
    // only signature keys (RFC 7517 §4.2 `use`) with a public part jose can import
    return jose.createLocalJWKSet({ keys: (body["keys"] as Array<jose.JWK>).filter((k) => k !== null && typeof k === "object" && (k.use === undefined || k.use === "sig")) })
  })

  /** Fetch unless another caller already did since `seen` (the generation this caller saw). */
  const refreshLocked = Effect.fnUntraced(function*(seen: number | undefined): Effect.fn.Return<Loaded, StorageError> {
    if (loaded !== undefined && loaded.generation !== seen) return loaded
    const t = yield* now
    const result = yield* Effect.result(fetchSet)
    if (result._tag === "Failure") {
      // keep serving the stale set rather than refusing every token while the AS is away
      // (and wait a cooldown before trying again)
      if (loaded === undefined) return yield* result.failure
      loaded = { ...loaded, fetchedAt: t }
      return loaded
    }
    loaded = { select: result.success, fetchedAt: t, generation: (loaded?.generation ?? 0) + 1 }
    return loaded
  })
  const refresh = (seen: number | undefined) => lock.withPermit(refreshLocked(seen))

  const select = (set: Loaded, header: jose.JWSHeaderParameters) =>
    Effect.tryPromise({
      try: () => set.select(header),
      catch: (e) => e instanceof jose.errors.JOSEError ? e : new jose.errors.JOSEError(String(e))
    })

  const key = Effect.fnUntraced(function*(header: jose.JWSHeaderParameters) {
    const t = yield* now
    let set = loaded
    if (set === undefined || t - set.fetchedAt >= o.jwksMaxAgeMs) set = yield* refresh(set?.generation)
    const first = yield* Effect.result(select(set, header))
    if (first._tag === "Success") return first.success
    if (first.failure.code === "ERR_JWKS_NO_MATCHING_KEY" && t - set.fetchedAt >= o.jwksCooldownMs) {
      // an unknown kid: the AS may have rotated since we fetched
      const fresh = yield* refresh(set.generation)
      const second = yield* Effect.result(select(fresh, header))
      if (second._tag === "Success") return second.success
      return yield* invalidKey(second.failure)
    }
    return yield* invalidKey(first.failure)
  })

  return { key }
}

const invalidKey = (e: jose.errors.JOSEError) =>
  new InvalidToken({
    description: "the access token is not signed by a key of the authorization server",
    detail: `${e.code}: ${e.message}`
  })
