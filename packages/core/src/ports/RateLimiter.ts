/**
 * Failure counters for the credential-guessing surfaces (RFC 6749 §10.10): client
 * authentication (RFC 6749 §2.3) and the login form. Fixed windows, kept in storage so a limit holds
 * across every process that shares the database.
 *
 * Keys are opaque strings chosen by core: digests of a namespaced subject
 * (`rate_limit:client_auth:client:<client_id>`, `rate_limit:login:username:<name>`, ...), so
 * no client id, username or address is stored in clear. Implementations store them as given.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

/** A counter's state in its current window. */
export interface RateLimitCount {
  /** failures counted in the current window */
  readonly count: number
  /** milliseconds since epoch when the window (and its count) ends */
  readonly resetsAt: number
}

export class RateLimiter extends Context.Service<RateLimiter, {
  /**
   * Count one hit for `key`. A window of `windowMs` opens at the first hit; a hit at or
   * after the window's end (`resetsAt <= now`) opens a new window at 1. Returns the count
   * including this hit. One atomic step across processes: N concurrent hits of one key
   * return N distinct counts (no hit is lost, none slips past a limit).
   */
  hit(key: string, now: number, windowMs: number): Effect.Effect<RateLimitCount, StorageError>
  /**
   * The count of `key`'s current window without changing it; undefined when `key` has no
   * window or its window ended (`resetsAt <= now`). Read-only: cheap enough for every request.
   */
  peek(key: string, now: number): Effect.Effect<RateLimitCount | undefined, StorageError>
  /**
   * Take back one hit counted for `key` in its current window (the attempt it counted turned
   * out to be a success). Never below 0; nothing when the window has ended.
   */
  forgive(key: string, now: number): Effect.Effect<void, StorageError>
  /** Delete the windows that ended before `now`. Returns the number removed. */
  sweep(now: number): Effect.Effect<number, StorageError>
}>()("@gatehouse/core/ports/RateLimiter") {}
