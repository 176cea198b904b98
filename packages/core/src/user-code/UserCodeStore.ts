/**
 * The storage port of the user-code engine (RFC 8628 §6.1 user codes, RFC 9635 §3.3.3 /
 * §4.1.2 GNAP user codes): which pending interaction a user code opens, and the counters
 * that limit how often a browser or an address may guess (RFC 8628 §5.1, RFC 9635 §4.1.2).
 *
 * Codes are stored only as digests of their normalised form. Every method is one atomic
 * step that holds across processes: `reserve` (one live code per digest), `claim` (one
 * browser enters a code, once), `countFailure` (a counter nobody can race past).
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

export interface UserCodeRecord {
  /** digest of the normalised user code (8 letters of the RFC 8628 §6.1 alphabet) */
  readonly userCodeDigest: string
  /** the pending interaction (InteractionStore) the code opens */
  readonly interactionId: string
  /** the interaction's kind: "device" (RFC 8628) or "gnap" (RFC 9635) */
  readonly kind: string
  readonly clientId: string
  /** milliseconds since epoch */
  readonly createdAt: number
  /** milliseconds since epoch; after it the code no longer opens anything */
  readonly expiresAt: number
  /**
   * milliseconds since epoch: when a browser entered the code (or the code was retired).
   * A claimed code never opens its interaction again (RFC 9635 §4: one-time use).
   */
  readonly claimedAt?: number | undefined
}

export type ClaimUserCodeResult =
  /** the caller is the one browser that entered this live code; `record.claimedAt` is now */
  | { readonly _tag: "Claimed"; readonly record: UserCodeRecord }
  /** entered before (by this or another browser) or retired */
  | { readonly _tag: "AlreadyClaimed"; readonly record: UserCodeRecord }
  /** unclaimed but past `expiresAt` */
  | { readonly _tag: "Expired"; readonly record: UserCodeRecord }
  | { readonly _tag: "NotFound" }

/** A failure counter after an increment or decrement. */
export interface AttemptCount {
  /** failures counted in the current window */
  readonly count: number
  /** milliseconds since epoch when the window (and its count) ends */
  readonly resetsAt: number
}

export class UserCodeStore extends Context.Service<UserCodeStore, {
  /**
   * Store `record` unless a live code (`expiresAt` > `now`) already has its digest; an
   * expired record with that digest is replaced. True when stored, false on a collision
   * with a live code (the caller draws another code). Atomic: of N concurrent reservations
   * of one digest, at most one returns true.
   */
  reserve(record: UserCodeRecord, now: number): Effect.Effect<boolean, StorageError>
  find(userCodeDigest: string): Effect.Effect<UserCodeRecord | undefined, StorageError>
  /**
   * A browser entered the code: set `claimedAt` to `now` if the code is unclaimed and
   * unexpired. Exactly one of N concurrent callers (across processes) gets `Claimed`.
   */
  claim(userCodeDigest: string, now: number): Effect.Effect<ClaimUserCodeResult, StorageError>
  /**
   * Make the unclaimed codes of an interaction unusable (claimed at `now`), e.g. once
   * another interaction start mode of the same GNAP grant completed (RFC 9635 §4.1).
   * Returns how many codes were retired.
   */
  retire(interactionId: string, now: number): Effect.Effect<number, StorageError>
  /**
   * Count one failure for `key` (a digest naming a browser, an address, ...). A window of
   * `windowMs` opens at the first failure; failures after its end start a new window at 1.
   * Returns the count including this failure. Atomic: N concurrent calls return N distinct
   * counts.
   */
  countFailure(key: string, now: number, windowMs: number): Effect.Effect<AttemptCount, StorageError>
  /**
   * Take back one failure counted for `key` in its current window (the attempt turned out
   * to be a success). Never below 0; nothing when the window has ended.
   */
  forgive(key: string, now: number): Effect.Effect<void, StorageError>
  /** Delete codes and failure windows that ended before `now`. Returns the number removed. */
  sweep(now: number): Effect.Effect<number, StorageError>
}>()("@gatehouse/core/ports/UserCodeStore") {}
