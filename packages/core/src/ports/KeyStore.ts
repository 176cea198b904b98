/**
 * Signing keys with rotation: `current` signs, `next` is published ahead, `retired` stays
 * published until tokens signed with it have expired. Implementations encrypt `privateJwk`
 * at rest.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

export type KeyStatus = "current" | "next" | "retired"

export interface KeyRecord {
  readonly kid: string
  /** JWS alg: ES256, EdDSA, RS256, PS256 */
  readonly alg: string
  readonly status: KeyStatus
  /** JSON of the public JWK */
  readonly publicJwk: string
  /** JSON of the private JWK (stored encrypted by the adapter) */
  readonly privateJwk: string
  /** milliseconds since epoch */
  readonly createdAt: number
  /** milliseconds since epoch: when it stopped being current */
  readonly retiredAt?: number | undefined
}

export class KeyStore extends Context.Service<KeyStore, {
  list(): Effect.Effect<ReadonlyArray<KeyRecord>, StorageError>
  /**
   * Atomically insert `initial` when the store holds no key for their algs, then return
   * every stored key. Of several processes starting at once, the first creates the keys and
   * the others load them.
   */
  initialize(initial: ReadonlyArray<KeyRecord>): Effect.Effect<ReadonlyArray<KeyRecord>, StorageError>
  /**
   * Atomically, for `alg`: current -> retired (at `now`), next -> current, insert `next`.
   */
  rotate(alg: string, next: KeyRecord, now: number): Effect.Effect<ReadonlyArray<KeyRecord>, StorageError>
  /** Drop retired keys retired before `before`. */
  prune(before: number): Effect.Effect<number, StorageError>
}>()("@gatehouse/core/ports/KeyStore") {}
