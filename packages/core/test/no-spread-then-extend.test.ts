/**
 * Issue 7: no object literal on the token and introspection paths spreads an object and then
 * adds members (`{ ...record, consumedAt }`).
 *
 * On Node 20 (V8 11.3) an object made by a spread and then given a member its source lacks
 * takes a slow path: 2.2–2.6 µs for a refresh-token record (`{ ...claims, tokenDigest,
 * issuedAt, expiresAt }`), 1.1 µs for a consumed code, against ~0.02 µs with the members
 * written out and ~0.2 µs through `Object.assign`. Four such literals on the
 * authorization_code path cost it ~10–30% of its in-process CPU (bench/README, seventh round).
 *
 * So in the files below (what a token, introspection, revocation or userinfo request runs,
 * and the memory store's writes), a spread may only come last in its literal (`{ a, ...b }`)
 * or alone. Anything else fails here with its file and line. Functions that run once (key
 * generation) are listed in `RARE`.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"
import { describe, expect, it } from "vitest"

const root = new URL("../..", import.meta.url).pathname

/** Directories and files on the per-request token paths, relative to packages/. */
const HOT = [
  "core/src/tokens",
  "core/src/grants",
  "core/src/client-auth",
  "core/src/http",
  "core/src/rate-limit",
  "core/src/endpoints/token.ts",
  "core/src/endpoints/introspect.ts",
  "core/src/endpoints/revoke.ts",
  "core/src/endpoints/userinfo.ts",
  "core/src/ports/Events.ts",
  "testkit/src/memory.ts"
]

/** Functions that run once (start-up, key generation), not per request: file -> names. */
const RARE: Readonly<Record<string, ReadonlyArray<string>>> = {
  "core/src/tokens/keys.ts": ["generateKeyRecord"]
}

const sources = (path: string): Array<string> =>
  statSync(path).isDirectory()
    ? readdirSync(path, { withFileTypes: true }).flatMap((e) => sources(join(path, e.name)))
    : path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : []

const enclosingName = (node: ts.Node): string | undefined => {
  for (let parent = node.parent; parent !== undefined && !ts.isSourceFile(parent); parent = parent.parent) {
    if (ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text
    if (ts.isFunctionDeclaration(parent) && parent.name) return parent.name.text
  }
  return undefined
}

/** Literals with a spread followed by a member: "file:line". */
export const spreadThenExtend = (text: string, relative: string): Array<string> => {
  const source = ts.createSourceFile(relative, text, ts.ScriptTarget.Latest, true)
  const found: Array<string> = []
  const visit = (node: ts.Node) => {
    if (ts.isObjectLiteralExpression(node)) {
      const first = node.properties.findIndex(ts.isSpreadAssignment)
      if (first >= 0 && node.properties.slice(first + 1).some((p) => !ts.isSpreadAssignment(p))) {
        const name = enclosingName(node)
        if (!(name !== undefined && RARE[relative]?.includes(name))) {
          found.push(`${relative}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`)
        }
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

describe("issue 7: no spread followed by members on the token paths", () => {
  it("finds none in the token, introspection, revocation and userinfo code and the memory store", () => {
    const files = HOT.flatMap((p) => sources(join(root, p)))
    expect(files.length).toBeGreaterThan(30)
    const found = files.flatMap((file) => spreadThenExtend(readFileSync(file, "utf8"), file.slice(root.length)))
    expect(found).toEqual([])
  })

  it("the check itself: a spread followed by a member is found, a spread that comes last is not", () => {
    expect(spreadThenExtend("const a = { ...b, c: 1 }\nconst d = { c: 1, ...b }\nconst e = { ...b }\nconst f = { ...b, ...g }", "x.ts")).toEqual(["x.ts:1"])
    expect(spreadThenExtend("const generateKeyRecord = () => ({ ...jwk, kid })", "core/src/tokens/keys.ts")).toEqual([])
    expect(spreadThenExtend("const sign = () => ({ ...jwk, kid })", "core/src/tokens/keys.ts")).toEqual(["core/src/tokens/keys.ts:1"])
  })
})
