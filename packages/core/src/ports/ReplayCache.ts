/** One-time values (`jti` of private_key_jwt assertions, DPoP proofs, GNAP nonces). */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

export class ReplayCache extends Context.Service<ReplayCache, {
  /**
   * Record `key` as used until `expiresAt` (ms since epoch). Returns true when this is the
   * first use; false when it was seen before. Atomic across processes.
   */
  use(key: string, expiresAt: number): Effect.Effect<boolean, StorageError>
  sweep(now: number): Effect.Effect<number, StorageError>
}>()("@gatehouse/core/ports/ReplayCache") {}
