/**
 * Refresh tokens, stored by digest, grouped in families (one family per grant).
 * Rotation with reuse detection: RFC 9700 §4.14.2.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

export interface RefreshTokenRecord {
  readonly tokenDigest: string
  /** the family: every refresh token rotated from one grant shares it */
  readonly grantId: string
  readonly clientId: string
  readonly accountId: string
  readonly scope: ReadonlyArray<string>
  readonly resource: ReadonlyArray<string>
  readonly authTime: number
  readonly acr?: string | undefined
  readonly amr?: ReadonlyArray<string> | undefined
  readonly sessionId?: string | undefined
  /** milliseconds since epoch */
  readonly issuedAt: number
  /** milliseconds since epoch */
  readonly expiresAt: number
  /** milliseconds since epoch: set when rotated */
  readonly consumedAt?: number | undefined
  /** milliseconds since epoch: set when the family was revoked */
  readonly revokedAt?: number | undefined
}

export type RotateResult =
  /** the presented token was active; it is now consumed and `next` is stored */
  | { readonly _tag: "Rotated"; readonly previous: RefreshTokenRecord }
  /** the presented token was already rotated: a replay. The caller revokes the family. */
  | { readonly _tag: "Reused"; readonly previous: RefreshTokenRecord }
  /** revoked or expired */
  | { readonly _tag: "Inactive"; readonly previous: RefreshTokenRecord }
  | { readonly _tag: "NotFound" }

export class RefreshTokenStore extends Context.Service<RefreshTokenStore, {
  save(record: RefreshTokenRecord): Effect.Effect<void, StorageError>
  find(tokenDigest: string): Effect.Effect<RefreshTokenRecord | undefined, StorageError>
  /**
   * Atomically: if the token with `tokenDigest` is unconsumed, unrevoked and unexpired at
   * `now`, mark it consumed and store `next(previous)` — one transaction, so exactly one
   * of N concurrent callers (across processes) gets `Rotated`.
   */
  rotate(
    tokenDigest: string,
    now: number,
    next: (previous: RefreshTokenRecord) => RefreshTokenRecord
  ): Effect.Effect<RotateResult, StorageError>
  /** Mark every token of the family revoked. Returns how many were active. */
  revokeByGrant(grantId: string, now: number): Effect.Effect<number, StorageError>
  sweep(now: number): Effect.Effect<number, StorageError>
}>()("@gatehouse/core/ports/RefreshTokenStore") {}
