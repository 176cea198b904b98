/**
 * Registered clients (static config, RFC 7591 registration, RFC 7592 management).
 * Secrets and registration access tokens are stored only as digests (see `Crypto.digest`).
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"
import type { ClientMetadata } from "../schema/client.js"

export interface ClientRecord {
  readonly clientId: string
  /** SHA-256 digest (base64url) of the client secret; absent for public / private_key_jwt clients */
  readonly secretDigest?: string | undefined
  /** RFC 7591 §3.2.1 `client_secret_expires_at`, seconds since epoch, 0 = never */
  readonly secretExpiresAt: number
  /** digest of the RFC 7592 registration access token; absent for statically configured clients */
  readonly registrationAccessTokenDigest?: string | undefined
  /** the validated client metadata (RFC 7591 §2), with defaults applied */
  readonly metadata: ClientMetadata
  /** seconds since epoch */
  readonly issuedAt: number
}

export class ClientStore extends Context.Service<ClientStore, {
  /** The client, or undefined. */
  find(clientId: string): Effect.Effect<ClientRecord | undefined, StorageError>
  /** Insert a new client. Fails with StorageError if the id exists. */
  insert(record: ClientRecord): Effect.Effect<void, StorageError>
  /** Replace a client's record. Returns false when it does not exist. */
  update(record: ClientRecord): Effect.Effect<boolean, StorageError>
  /** Delete a client. Returns false when it did not exist. */
  delete(clientId: string): Effect.Effect<boolean, StorageError>
}>()("@gatehouse/core/ports/ClientStore") {}
