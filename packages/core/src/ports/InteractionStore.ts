/**
 * Pending user interactions (login, consent; later user-code entry and GNAP) handed to
 * the host app and back. The payload is opaque JSON owned by the workflow that created it.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

export type InteractionState = "pending" | "authenticated" | "completed" | "denied" | "consumed"

export interface InteractionRecord {
  /** random, unguessable id; appears in the login URL */
  readonly id: string
  /** who started it: /authorize, a device code (RFC 8628), a GNAP grant (RFC 9635) */
  readonly kind: "authorize" | "device" | "gnap"
  readonly state: InteractionState
  readonly clientId: string
  /** digest of the browser-binding cookie set when the interaction started */
  readonly bindingDigest: string
  /** JSON: the validated request that started it */
  readonly payload: string
  /** JSON: what the host said (account, granted scopes, denial) */
  readonly result?: string | undefined
  readonly accountId?: string | undefined
  /** milliseconds since epoch */
  readonly createdAt: number
  /** milliseconds since epoch */
  readonly expiresAt: number
}

export class InteractionStore extends Context.Service<InteractionStore, {
  create(record: InteractionRecord): Effect.Effect<void, StorageError>
  find(id: string): Effect.Effect<InteractionRecord | undefined, StorageError>
  /**
   * Compare-and-set: store `next` only if the stored state is one of `from`.
   * Returns false when the state moved on (a concurrent completion, a replay).
   */
  transition(
    id: string,
    from: ReadonlyArray<InteractionState>,
    next: InteractionRecord
  ): Effect.Effect<boolean, StorageError>
  sweep(now: number): Effect.Effect<number, StorageError>
}>()("@gatehouse/core/ports/InteractionStore") {}
