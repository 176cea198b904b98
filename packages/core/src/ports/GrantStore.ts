/**
 * Consent (an account's grant of scopes to a client), remembered per account, client and
 * scopes; and browser sessions at the AS (OIDC `auth_time`, `prompt=none`, `max_age`).
 * GNAP grants live here too once GNAP lands.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

export interface ConsentRecord {
  readonly accountId: string
  readonly clientId: string
  readonly scope: ReadonlyArray<string>
  /** milliseconds since epoch */
  readonly updatedAt: number
}

export interface SessionRecord {
  /** digest of the session cookie value */
  readonly sessionDigest: string
  readonly accountId: string
  /** seconds since epoch */
  readonly authTime: number
  readonly acr?: string | undefined
  readonly amr?: ReadonlyArray<string> | undefined
  /** milliseconds since epoch */
  readonly expiresAt: number
}

export class GrantStore extends Context.Service<GrantStore, {
  findConsent(accountId: string, clientId: string): Effect.Effect<ConsentRecord | undefined, StorageError>
  /** Upsert: the scope set replaces the previous one (callers merge). */
  saveConsent(record: ConsentRecord): Effect.Effect<void, StorageError>
  revokeConsent(accountId: string, clientId: string): Effect.Effect<boolean, StorageError>
  saveSession(record: SessionRecord): Effect.Effect<void, StorageError>
  findSession(sessionDigest: string): Effect.Effect<SessionRecord | undefined, StorageError>
  deleteSession(sessionDigest: string): Effect.Effect<boolean, StorageError>
  sweep(now: number): Effect.Effect<number, StorageError>
}>()("@gatehouse/core/ports/GrantStore") {}
