/**
 * Resource sets registered by GNAP resource servers (RFC 9767 §3.4): the access rights an
 * RS protects, under the opaque `resource_reference` the AS handed back. Clients name the
 * reference as a string access right (RFC 9635 §8.1) — typically read from the RS-first
 * challenge `WWW-Authenticate: GNAP as_uri=..., access=...` (RFC 9635 §9.1) — and the AS
 * resolves it back to the registered rights.
 *
 * `register` is idempotent and atomic: the same RS registering the same set (same
 * `setDigest`) gets the reference of its first registration back (§3.4: "the AS MAY return
 * the same resource reference value"), and of N concurrent first registrations exactly one
 * reference is stored, and every caller gets it.
 *
 * References are not secrets (an RS hands them to anyone who calls it), so they are stored
 * as they are.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

export interface GnapResourceSetRecord {
  /** the `resource_reference` (RFC 9767 §3.4), random */
  readonly reference: string
  /** the registering RS: its configured name, else its key's RFC 7638 thumbprint */
  readonly resourceServer: string
  /** digest of the canonical registration (access rights and options): one reference per RS and set */
  readonly setDigest: string
  /** JSON: the access rights registered (RFC 9635 §8), as the RS sent them */
  readonly access: string
  /** RFC 9767 §3.4 `token_introspection_required` */
  readonly introspectionRequired: boolean
  /** milliseconds since epoch */
  readonly createdAt: number
}

export class GnapResourceStore extends Context.Service<GnapResourceStore, {
  /**
   * Store `record`, unless `record.resourceServer` already registered a set with
   * `record.setDigest`: then nothing changes. Returns the stored record — `record`, or the
   * earlier one. Atomic across processes: one reference per (resourceServer, setDigest).
   */
  register(record: GnapResourceSetRecord): Effect.Effect<GnapResourceSetRecord, StorageError>
  /** The registration behind a `resource_reference`. */
  find(reference: string): Effect.Effect<GnapResourceSetRecord | undefined, StorageError>
  /** Every set one RS registered, oldest first. */
  listByResourceServer(resourceServer: string): Effect.Effect<ReadonlyArray<GnapResourceSetRecord>, StorageError>
}>()("@gatehouse/core/ports/GnapResourceStore") {}
