/**
 * Issue 7 (peak RSS): core imports Effect by module path (`effect/Effect`, `effect/Layer`,
 * ...), never from the `effect` barrel, which loads all of Effect's modules (about 15 MB of
 * idle RSS more). One barrel import anywhere in core (or in the memory store the benchmarks
 * load) brings them all back; this test names the file.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const sources = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [])

const root = new URL("../..", import.meta.url).pathname

describe("Effect is imported by module path (issue 7, idle RSS)", () => {
  it("no value import from the \"effect\" barrel in packages/core/src or the testkit memory store", () => {
    const files = [
      ...sources(join(root, "core/src")),
      ...["memory.ts", "accounts.ts", "rate-limiter.ts"].map((f) => join(root, "testkit/src", f))
    ]
    // `import type { ... } from "effect"` is erased; anything else loads the barrel
    const offenders = files.filter((f) => /^import (?!type\b)[^"]*from "effect"$/m.test(readFileSync(f, "utf8")))
    expect(offenders.map((f) => f.slice(root.length)), "use `import * as Effect from \"effect/Effect\"` (one line per module)").toEqual([])
  })
})
