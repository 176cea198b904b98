/** The host app's users. Gatehouse never stores them. */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

/** OIDC Core §5.1 standard claims, plus anything else the host returns. */
export type Claims = Record<string, unknown>

export class Accounts extends Context.Service<Accounts, {
  /**
   * Claims for a subject; `sub` is the account id. Undefined when the account no longer
   * exists (tokens for it then stop working at userinfo).
   */
  claims(accountId: string): Effect.Effect<Claims | undefined, StorageError>
  /** Credential check used by the default login page (`@gatehouse/ui`). */
  authenticate(username: string, password: string): Effect.Effect<string | undefined, StorageError>
}>()("@gatehouse/core/ports/Accounts") {}
