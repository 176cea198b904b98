/**
 * Failure limits on the credential-guessing surfaces (RFC 6749 §10.10: the server "MUST
 * prevent attackers from guessing ... resource owner passwords, and client credentials"), over the `RateLimiter` port: client authentication
 * (client-auth/index.ts) and the login check (./login.ts).
 *
 * Every subject (a client id, a username, an address) is counted under a key that is the
 * digest of `rate_limit:<surface>:<kind>:<subject>`: storage never holds the subject itself,
 * and the surfaces never share a budget.
 */
import * as Effect from "effect/Effect"
import type { RateLimitSetting } from "../config.js"
import type { StorageError } from "../errors.js"
import { Crypto } from "../ports/Crypto.js"
import { type RateLimitCount, RateLimiter } from "../ports/RateLimiter.js"

/** What is limited. */
export type Surface = "client_auth" | "login"

/**
 * Recently computed keys, per `Crypto` implementation: a busy client's id and address are
 * the same on every request, and their digest need not be. Bounded (oldest out first); it
 * holds the digests and the subjects they are of (client ids, usernames, addresses), which
 * this process has in memory anyway, never a secret.
 */
const KEY_CACHE_SIZE = 1024
const keyCaches = new WeakMap<Crypto["Service"], Map<string, string>>()

/** The storage key of one subject's counter: a digest, so the subject is not stored in clear. */
export const limitKey = (surface: Surface, kind: string, subject: string): Effect.Effect<string, never, Crypto> =>
  Effect.flatMap(Crypto, (crypto) => limitKeyWith(crypto, surface, kind, subject))

/** `limitKey` with the `Crypto` service in hand (an already computed key is an `Exit`: no step). */
export const limitKeyWith = (crypto: Crypto["Service"], surface: Surface, kind: string, subject: string): Effect.Effect<string> => {
  const input = `rate_limit:${surface}:${kind}:${subject}`
  let cache = keyCaches.get(crypto)
  const known = cache?.get(input)
  if (known !== undefined) return Effect.succeed(known)
  // eager: a synchronous digest is a finished effect
  return Effect.mapEager(crypto.digest(input), (key) => {
    if (cache === undefined) keyCaches.set(crypto, cache = new Map())
    if (cache.size >= KEY_CACHE_SIZE) cache.delete(cache.keys().next().value!)
    cache.set(input, key)
    return key
  })
}

/** Whole seconds until `resetsAt` (ms), at least 1: the `Retry-After` value (RFC 9110 §10.2.3). */
export const retryAfter = (resetsAt: number, now: number): number => Math.max(1, Math.ceil((resetsAt - now) / 1000))

/**
 * Whether `key` has spent its budget (`max` failures) in its current window: the seconds
 * until that window ends, or undefined. Read-only.
 */
export const lockedForKey = (
  limiter: RateLimiter["Service"],
  key: string,
  setting: RateLimitSetting,
  now: number
): Effect.Effect<number | undefined, StorageError> =>
  Effect.map(limiter.peek(key, now), (current) =>
    current !== undefined && current.count >= setting.max ? retryAfter(current.resetsAt, now) : undefined)

/** Count one failure for each of `keys` (atomically per key); returns the counts. */
export const countFailure = (
  keys: ReadonlyArray<string>,
  setting: RateLimitSetting,
  now: number
): Effect.Effect<ReadonlyArray<RateLimitCount>, StorageError, RateLimiter> =>
  Effect.flatMap(RateLimiter, (limiter) => Effect.forEach(keys, (key) => limiter.hit(key, now, setting.window * 1000)))
