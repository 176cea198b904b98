/**
 * Authorization codes (RFC 6749 §4.1.2), stored by digest. A consumed code is kept (marked)
 * until it expires, so that a replay is recognised and the tokens issued from it revoked
 * (RFC 6749 §4.1.2: a code used twice is denied and the tokens issued from it revoked).
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

export interface AuthorizationCodeRecord {
  readonly codeDigest: string
  /** the grant (token family) every token issued from this code belongs to */
  readonly grantId: string
  readonly clientId: string
  readonly accountId: string
  readonly redirectUri: string
  readonly scope: ReadonlyArray<string>
  /** RFC 8707 resource indicators requested at the authorization endpoint */
  readonly resource: ReadonlyArray<string>
  readonly codeChallenge?: string | undefined
  readonly codeChallengeMethod?: "S256" | "plain" | undefined
  readonly nonce?: string | undefined
  /** seconds since epoch: when the user authenticated (OIDC Core §2 `auth_time`) */
  readonly authTime: number
  readonly acr?: string | undefined
  readonly amr?: ReadonlyArray<string> | undefined
  /** OIDC Core §5.5 `claims` request, as JSON, if any */
  readonly claims?: string | undefined
  readonly sessionId?: string | undefined
  /** milliseconds since epoch */
  readonly expiresAt: number
  /** milliseconds since epoch; undefined while unused */
  readonly consumedAt?: number | undefined
}

export type ConsumeCodeResult =
  | { readonly _tag: "Consumed"; readonly record: AuthorizationCodeRecord }
  | { readonly _tag: "AlreadyConsumed"; readonly record: AuthorizationCodeRecord }
  | { readonly _tag: "NotFound" }

export class AuthorizationCodeStore extends Context.Service<AuthorizationCodeStore, {
  save(record: AuthorizationCodeRecord): Effect.Effect<void, StorageError>
  /**
   * Atomically mark the code used. Exactly one of N concurrent callers (across processes)
   * gets `Consumed`; every later call gets `AlreadyConsumed` with the record, so the caller
   * can revoke what was issued from it. Expiry is the caller's check.
   */
  consume(codeDigest: string, now: number): Effect.Effect<ConsumeCodeResult, StorageError>
  /** Delete codes that expired before `now`. Returns the number removed. */
  sweep(now: number): Effect.Effect<number, StorageError>
}>()("@gatehouse/core/ports/AuthorizationCodeStore") {}
