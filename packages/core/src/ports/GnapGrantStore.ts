/**
 * GNAP grants (RFC 9635 §1.5) with their continuation state, and the access tokens issued
 * from them (§3.2) with their management state (§6).
 *
 * Every change to a grant is a compare-and-set on its `version`: exactly one of N
 * concurrent writers that read the same version wins (across processes). That single rule
 * gives the protocol's guarantees — a continuation token works once (§5: rotated on every
 * use), an `interact_ref` is accepted once (§4.2.3, §5.1), an interaction completes once
 * (§4), and a grant never leaves `finalized` (§1.5).
 *
 * Tokens and references are stored only as digests.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

/** RFC 9635 §1.5 grant states. */
export type GnapGrantState = "processing" | "pending" | "approved" | "finalized"

export interface GnapGrantRecord {
  /** random; appears in the continuation URI */
  readonly id: string
  readonly state: GnapGrantState
  /** 1 on create; every update stores `version + 1` of the version it read */
  readonly version: number
  /** digest of the current continuation access token (§3.1) */
  readonly continueTokenDigest: string
  /** milliseconds since epoch: no continuation before this (§3.1 `wait`, §5 `too_fast`) */
  readonly continueAfter: number
  /** digest of the interaction reference delivered at finish (§4.2), until it is used */
  readonly interactRefDigest?: string | undefined
  /** RFC 7638 thumbprint of the client instance's key (its latest rotation) */
  readonly clientKeyThumbprint: string
  /** RFC 9635 §3.5 `instance_id` of the client instance */
  readonly clientInstanceId?: string | undefined
  /** JSON owned by the GNAP workflows: the validated request, key, interaction state */
  readonly request: string
  /** JSON owned by the GNAP workflows: the RO's decision */
  readonly result?: string | undefined
  /** the resource owner, once known */
  readonly accountId?: string | undefined
  /** milliseconds since epoch */
  readonly createdAt: number
  /** milliseconds since epoch */
  readonly updatedAt: number
  /** milliseconds since epoch: removed by `sweep` after this */
  readonly expiresAt: number
}

export interface GnapTokenRecord {
  /** digest of the access token value */
  readonly tokenDigest: string
  readonly grantId: string
  /** random; appears in the token management URI (§3.2.1 `manage.uri`) */
  readonly manageId: string
  /** digest of the token management access token */
  readonly manageTokenDigest: string
  readonly label?: string | undefined
  /** §2.1.1 / §3.2.1 flags, e.g. ["bearer"] */
  readonly flags: ReadonlyArray<string>
  /** JSON: the access rights granted (§8), as returned to the client */
  readonly access: string
  /** JSON: the key the token is bound to (§7.1 key object); absent for bearer tokens */
  readonly key?: string | undefined
  /** RFC 7638 thumbprint of the client instance key that manages the token */
  readonly clientKeyThumbprint: string
  readonly clientInstanceId?: string | undefined
  readonly accountId?: string | undefined
  /** milliseconds since epoch */
  readonly issuedAt: number
  /** milliseconds since epoch */
  readonly expiresAt: number
  /** milliseconds since epoch: set on revocation or rotation */
  readonly revokedAt?: number | undefined
}

export type RotateGnapTokenResult =
  /** the token was unrevoked; it is now revoked and `next` is stored */
  | { readonly _tag: "Rotated"; readonly previous: GnapTokenRecord }
  /** already revoked (or rotated) */
  | { readonly _tag: "Inactive"; readonly previous: GnapTokenRecord }
  | { readonly _tag: "NotFound" }

export class GnapGrantStore extends Context.Service<GnapGrantStore, {
  /** Insert a new grant (`version` 1). Fails with StorageError if the id exists. */
  create(record: GnapGrantRecord): Effect.Effect<void, StorageError>
  find(id: string): Effect.Effect<GnapGrantRecord | undefined, StorageError>
  /**
   * Compare-and-set: store `next` (with `version: expectedVersion + 1`) only if the stored
   * grant `next.id` still has `expectedVersion`. Returns false when another writer won.
   */
  update(next: GnapGrantRecord, expectedVersion: number): Effect.Effect<boolean, StorageError>
  /** The most recently created grant of a client instance, by `instance_id` (§2.3.1). */
  findByInstance(instanceId: string): Effect.Effect<GnapGrantRecord | undefined, StorageError>
  /** The most recently created grant made with a key, by thumbprint (§2.3: same key, same instance). */
  findByKey(clientKeyThumbprint: string): Effect.Effect<GnapGrantRecord | undefined, StorageError>
  /** Delete grants that expired before `now`. */
  sweep(now: number): Effect.Effect<number, StorageError>

  /** Insert an issued token. Fails with StorageError if the digest or manage id exists. */
  saveToken(record: GnapTokenRecord): Effect.Effect<void, StorageError>
  findToken(tokenDigest: string): Effect.Effect<GnapTokenRecord | undefined, StorageError>
  findTokenByManageId(manageId: string): Effect.Effect<GnapTokenRecord | undefined, StorageError>
  /**
   * §6.1: atomically, if the token managed at `manageId` is unrevoked, mark it revoked at
   * `now` and store `next(previous)` — exactly one of N concurrent callers gets `Rotated`.
   * Expiry is the caller's concern (an expired token may be rotated).
   */
  rotateToken(
    manageId: string,
    now: number,
    next: (previous: GnapTokenRecord) => GnapTokenRecord
  ): Effect.Effect<RotateGnapTokenResult, StorageError>
  /** §6.2: mark the token revoked. False when unknown; true (and no change) when already revoked. */
  revokeToken(manageId: string, now: number): Effect.Effect<boolean, StorageError>
  /** §5.4: revoke every token of a grant. Returns how many were unrevoked. */
  revokeTokensByGrant(grantId: string, now: number): Effect.Effect<number, StorageError>
  /** Delete tokens that expired before `now`. */
  sweepTokens(now: number): Effect.Effect<number, StorageError>
}>()("@gatehouse/core/ports/GnapGrantStore") {}
