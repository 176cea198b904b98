/** A fixed list of demo users behind the `Accounts` port, for tests and the quickstart. */
import { Accounts, timingSafeEqual } from "@gatehouse/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export interface DemoUser {
  id: string
  username: string
  password: string
  /** OIDC Core §5.1 claims; `sub` is always the id */
  claims: Record<string, unknown>
}

/**
 * Compared against when the username is unknown, so a miss costs about as much as a
 * wrong password and the response time does not tell which usernames exist.
 */
const unknownUserPassword = "\u0000gatehouse-testkit-no-such-user\u0000"

const deepFreeze = <A>(value: A): A => {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

/** The user's claims, frozen (nested values included): shared, never changed. */
const frozenClaims = (user: DemoUser): Record<string, unknown> => deepFreeze(user.claims)

export const memoryAccounts = (users: ReadonlyArray<DemoUser>): Layer.Layer<Accounts> => {
  const byId = new Map(users.map((user) => [user.id, structuredClone(user)]))
  const byUsername = new Map(users.map((user) => [user.username, user.id]))
  return Layer.succeed(Accounts, Accounts.of({
    claims: (accountId) =>
      Effect.sync(() => {
        const user = byId.get(accountId)
        if (user === undefined) return undefined
        // OIDC Core §5.1: `sub` is the account id, whatever the claims say. A fresh object
        // per call over the user's claims, deep-frozen once (structuredClone per call cost
        // more than the rest of an ID token)
        const { sub: _ignored, ...claims } = frozenClaims(user)
        return { sub: user.id, ...claims }
      }),
    authenticate: (username, password) =>
      Effect.sync(() => {
        const id = byUsername.get(username)
        const user = id === undefined ? undefined : byId.get(id)
        const matches = timingSafeEqual(password, user?.password ?? unknownUserPassword)
        return user !== undefined && matches ? user.id : undefined
      })
  }))
}
