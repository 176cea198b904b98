/** The demo `Accounts` layer: credential check and OIDC claims. */
import { Accounts } from "@gatehouse/core"
import { memoryAccounts } from "@gatehouse/testkit"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"

const layer = memoryAccounts([
  { id: "u-1", username: "alice", password: "correct horse", claims: { name: "Alice", email: "alice@example.com", sub: "spoofed" } },
  { id: "u-2", username: "bob", password: "battery staple", claims: {} }
])

const run = <A>(f: (accounts: Accounts["Service"]) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(Accounts.use(f).pipe(Effect.provide(layer)))

describe("memoryAccounts", () => {
  it("authenticate: the right password gives the account id", async () => {
    expect(await run((accounts) => accounts.authenticate("alice", "correct horse"))).toBe("u-1")
    expect(await run((accounts) => accounts.authenticate("bob", "battery staple"))).toBe("u-2")
  })

  it("authenticate: a wrong password, another user's password or an unknown user gives undefined", async () => {
    expect(await run((accounts) => accounts.authenticate("alice", "correct horse "))).toBeUndefined()
    expect(await run((accounts) => accounts.authenticate("alice", "correct hors"))).toBeUndefined()
    expect(await run((accounts) => accounts.authenticate("alice", ""))).toBeUndefined()
    expect(await run((accounts) => accounts.authenticate("alice", "battery staple"))).toBeUndefined()
    expect(await run((accounts) => accounts.authenticate("carol", "correct horse"))).toBeUndefined()
  })

  it("claims: sub is always the account id (OIDC Core §5.1); unknown accounts give undefined", async () => {
    expect(await run((accounts) => accounts.claims("u-1"))).toEqual({ sub: "u-1", name: "Alice", email: "alice@example.com" })
    expect(await run((accounts) => accounts.claims("u-2"))).toEqual({ sub: "u-2" })
    expect(await run((accounts) => accounts.claims("alice"))).toBeUndefined()
  })
})
