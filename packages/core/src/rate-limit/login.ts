/**
 * The rate-limited login check (`gatehouse.accounts.check`, @gatehouse/ui's login form): the
 * `Accounts` port's username/password check behind a failure budget per username and per
 * address (config `rateLimit.login`), counted in storage so it holds across processes.
 *
 * Passwords are low-entropy secrets, so the count is strict: every attempt is counted BEFORE
 * the password is checked (N concurrent guesses get N distinct counts, none slips past the
 * limit) and a correct password takes its own attempt back (`forgive`). A success therefore
 * leaves the earlier failures counted: an attacker's guesses are not wiped out by the real
 * user signing in between them. A refused attempt (never checked) is taken back as well.
 *
 * The price of strictness: attempts in flight count until they finish, so more than `max`
 * concurrent sign-ins of ONE username (a load test, not a person) see the extra ones refused.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { GatehouseConfig } from "../config.js"
import type { StorageError } from "../errors.js"
import { Accounts } from "../ports/Accounts.js"
import type { Crypto } from "../ports/Crypto.js"
import { RateLimiter } from "../ports/RateLimiter.js"
import { limitKey, retryAfter } from "./index.js"

export interface CredentialCheckOptions {
  /**
   * The address the attempt comes from, to limit guesses per address as well as per username.
   * > [!WARNING] Pass an address you can trust (the socket's, or your own proxy's header),
   * > never one any client can set.
   */
  readonly address?: string | undefined
}

/** What became of a username/password check. */
export type CredentialCheck =
  | { readonly outcome: "authenticated"; readonly accountId: string }
  /** wrong username or password; `attemptsLeft` before the limit (smallest among username and address) */
  | { readonly outcome: "rejected"; readonly attemptsLeft: number }
  /** the budget is spent: the password was NOT checked; try again after `retryAfter` seconds */
  | { readonly outcome: "too_many_attempts"; readonly retryAfter: number }

/**
 * The username as counted: case, surrounding spaces and Unicode compatibility forms folded,
 * so "Alice", " alice" and "ａｌｉｃｅ" share one budget whatever the host's own matching.
 */
const canonicalUsername = (username: string): string => username.normalize("NFKC").trim().toLowerCase()

/** Check a username and password against the `Accounts` port within the login limits. */
export const checkCredentials = Effect.fn("Accounts.checkCredentials")(function*(
  username: string,
  password: string,
  options: CredentialCheckOptions = {}
): Effect.fn.Return<CredentialCheck, StorageError, Accounts | RateLimiter | Crypto | GatehouseConfig> {
  const { login } = (yield* GatehouseConfig).rateLimit
  const limiter = yield* RateLimiter
  const now = yield* Clock.currentTimeMillis
  const keys = [yield* limitKey("login", "username", canonicalUsername(username))]
  if (options.address !== undefined && options.address !== "") keys.push(yield* limitKey("login", "address", options.address))
  const counts = []
  for (const key of keys) counts.push(yield* limiter.hit(key, now, login.window * 1000))
  const exceeded = counts.filter((c) => c.count > login.max)
  if (exceeded.length > 0) {
    // not checked, so not a failure: take the attempt back. The window does not move, and the
    // count stays "failures + attempts in flight", so a burst of refusals cannot keep the
    // real user out after it.
    for (const key of keys) yield* limiter.forgive(key, now)
    return { outcome: "too_many_attempts", retryAfter: retryAfter(Math.max(...exceeded.map((c) => c.resetsAt)), now) } as const
  }
  const accountId = yield* Effect.flatMap(Accounts, (accounts) => accounts.authenticate(username, password))
  if (accountId === undefined) {
    return { outcome: "rejected", attemptsLeft: Math.max(0, login.max - Math.max(...counts.map((c) => c.count))) } as const
  }
  for (const key of keys) yield* limiter.forgive(key, now)
  return { outcome: "authenticated", accountId } as const
})
