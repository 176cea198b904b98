/**
 * Records of issued access tokens, looked up by digest: of the token value for opaque
 * tokens, of the `jti` for JWTs. They back introspection (RFC 7662) and revocation
 * (RFC 7009) of both formats.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

export interface AccessTokenRecord {
  /** digest of the opaque token value, or of the JWT's `jti` */
  readonly tokenDigest: string
  readonly format: "jwt" | "opaque"
  readonly grantId: string
  readonly clientId: string
  /** absent for client_credentials */
  readonly accountId?: string | undefined
  readonly scope: ReadonlyArray<string>
  readonly audience: ReadonlyArray<string>
  /** milliseconds since epoch */
  readonly issuedAt: number
  /** milliseconds since epoch */
  readonly expiresAt: number
  readonly revokedAt?: number | undefined
  /** JSON of extra claims (e.g. `cnf`, `auth_time`, `acr`) to return at introspection */
  readonly extra?: string | undefined
}

export class AccessTokenStore extends Context.Service<AccessTokenStore, {
  save(record: AccessTokenRecord): Effect.Effect<void, StorageError>
  find(tokenDigest: string): Effect.Effect<AccessTokenRecord | undefined, StorageError>
  /** Mark one token revoked. Returns false when unknown. */
  revoke(tokenDigest: string, now: number): Effect.Effect<boolean, StorageError>
  /** Mark every token of a grant revoked (code replay, refresh reuse, grant revocation). */
  revokeByGrant(grantId: string, now: number): Effect.Effect<number, StorageError>
  sweep(now: number): Effect.Effect<number, StorageError>
}>()("@gatehouse/core/ports/AccessTokenStore") {}
