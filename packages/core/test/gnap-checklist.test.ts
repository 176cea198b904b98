/**
 * The GNAP checklist (gnap-checklist.md §2, items 1–82) is covered by name: every item
 * number appears as "#N" in the title of a test in packages/core/test/gnap-*.test.ts
 * (76 and 77, RFC 9767 §3.4 registration and §4 token chaining, in gnap-rs-registration
 * and gnap-chaining). Also items 78 and 79 (RFC 9635 §11.28, §11.8),
 * which only a population of artifacts can show.
 */
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { beforeAll, describe, expect, it } from "vitest"
import { approvedGrant, clientNonce, type GnapHarness, makeGnap, redirectRequest } from "./helpers/gnap.js"

const HERE = dirname(fileURLToPath(import.meta.url))
/** The titles of every `it(...)` / `describe(...)` in the GNAP test files (this one's name no item but #78, #79). */
const titles = () =>
  readdirSync(HERE)
    .filter((f) => /^gnap-.*\.test\.ts$/.test(f))
    .flatMap((f) => [...readFileSync(join(HERE, f), "utf8").matchAll(/\b(?:it|describe)\(\s*(["`])((?:\\.|(?!\1).)*)\1/g)].map((m) => m[2]!))

describe("gnap-checklist.md §2 coverage", () => {
  it("every checklist item 1–82 is named \"#N\" in a GNAP test title", () => {
    const all = titles().join("\n")
    const missing: Array<number> = []
    for (let n = 1; n <= 82; n++) {
      if (!new RegExp(`#${n}(?![0-9])`).test(all)) missing.push(n)
    }
    expect(missing).toEqual([])
  })

  it("the scan reads real titles (a number that no title names is reported)", () => {
    expect(/#83(?![0-9])/.test(titles().join("\n"))).toBe(false)
    expect(titles().length).toBeGreaterThan(100)
  })
})

describe("#78 (§11.28), #79 (§11.8) random artifacts", () => {
  let h: GnapHarness
  beforeAll(async () => {
    h = await makeGnap()
  })

  it("#78, #79 tokens, management tokens, continuation tokens, interaction references, nonces and instance ids are long random values that never repeat", async () => {
    const seen = new Map<string, string>()
    const record = (kind: string, value: string, minChars: number) => {
      expect(value.length, kind).toBeGreaterThanOrEqual(minChars)
      // token68 / unreserved characters only
      expect(value, kind).toMatch(/^[A-Za-z0-9_-]+$/)
      expect(seen.get(value), `${kind} repeats a ${seen.get(value)}`).toBeUndefined()
      seen.set(value, kind)
    }
    for (let i = 0; i < 20; i++) {
      const client = await h.newClient()
      const { first, approved, interactRef } = await approvedGrant(h, redirectRequest(clientNonce()), client)
      const token = approved.accessToken()
      // 256-bit values (43 base64url characters), 128-bit references and nonces (22)
      record("access token", token.value, 43)
      record("management token", token.manage!.access_token.value, 43)
      record("continuation token", first.continue!.access_token.value, 43)
      record("continuation token", approved.continue!.access_token.value, 43)
      record("interact_ref", interactRef, 22)
      record("AS finish nonce", first.interact!["finish"], 22)
      record("instance_id", first.body["instance_id"], 27)
      record("redirect URI secret", new URL(first.interact!["redirect"]).pathname.split("/").pop()!, 32)
    }
    expect(seen.size).toBe(20 * 8)
  })
})
