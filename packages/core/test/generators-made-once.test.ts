/**
 * Issue 7: no generator function is made per request.
 *
 * On Node 20 (V8 11) the first call of a freshly made generator function builds its
 * `prototype` object and a hidden class of its own. A generator made per call (an
 * `Effect.gen(function*() {...})` written inside a function that runs per request, or an
 * `Effect.fnUntraced(function*...)` defined inside another generator) costs that every
 * time, adds garbage the young generation cannot drop cheaply, and turns the inline caches
 * of Effect's generator loop megamorphic for every workflow in the process. One such
 * generator in client authentication made an opaque introspection cost 18 µs in process
 * instead of 13 (`node bench/micro.mjs --inline`).
 *
 * So a `function*` in these packages is either at module level (made once, when the module
 * loads), or inside a `Layer` constructor, a `make…` factory (a store, a resource server:
 * built once and then called), or one of the few functions below that run at start-up or on
 * a timer. Anything else fails here with its file, line and enclosing function.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"
import { describe, expect, it } from "vitest"

const sources = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [join(dir, e.name)] : [])

const root = new URL("../..", import.meta.url).pathname

/** Functions that run once (start-up) or on a timer, not per request: file -> names. */
const RARE: Readonly<Record<string, ReadonlyArray<string>>> = {
  // the sweeper's set-up and its sweep (every `sweepIntervalMs`, default 10 minutes); migrations
  "drizzle/src/DrizzleStorage.ts": ["withSweeper", "migrate"],
  "drizzle/src/sweeper.ts": ["sweepAll"]
}

const nameOf = (node: ts.Node): string | undefined => {
  if ((ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node)) && node.name) return node.name.text
  let parent = node.parent
  // `const name = Effect.fnUntraced(function*...)`: the name of what the call makes
  while (parent && ts.isCallExpression(parent)) parent = parent.parent
  if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text
  if (parent && (ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && ts.isIdentifier(parent.name)) return parent.name.text
  if (ts.isMethodDeclaration(node) && ts.isIdentifier(node.name)) return node.name.text
  return undefined
}

/** Generators made per call of their enclosing function: "file:line (in name)". */
const madePerCall = (text: string, relative: string): Array<string> => {
  const source = ts.createSourceFile(relative, text, ts.ScriptTarget.Latest, true)
  const found: Array<string> = []
  const check = (generator: ts.Node) => {
    let nearest: ts.Node | undefined
    for (let node = generator.parent; node !== undefined && !ts.isSourceFile(node); node = node.parent) {
      // inside a Layer constructor's argument: built once per layer
      if (ts.isCallExpression(node) && node.expression.getText(source).startsWith("Layer.")) return
      if (!ts.isFunctionLike(node)) continue
      nearest ??= node
      const name = nameOf(node)
      // inside a factory (a store, a resource server) or a function that runs at start-up
      if (name !== undefined && (/^make[A-Z]/.test(name) || RARE[relative]?.includes(name))) return
    }
    if (nearest === undefined) return // module level
    const { line } = source.getLineAndCharacterOfPosition(generator.getStart(source))
    found.push(`${relative}:${line + 1} (made in ${nameOf(nearest) ?? "an anonymous function"})`)
  }
  const visit = (node: ts.Node) => {
    if ((ts.isFunctionExpression(node) || ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.asteriskToken) check(node)
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

describe("generators are made once, not per request (issue 7)", () => {
  it("every function* in core, testkit's memory store, the adapters, drizzle and resource is made once", () => {
    const packages = ["core/src", "testkit/src", "express/src", "fastify/src", "next/src", "drizzle/src", "resource/src"]
    const files = packages.flatMap((p) => sources(join(root, p))).filter((f) => !f.endsWith("testkit/src/conformance.ts"))
    expect(files.length).toBeGreaterThan(100)
    const offenders = files.flatMap((f) => madePerCall(readFileSync(f, "utf8"), f.slice(root.length)))
    expect(offenders, "hoist the generator to module level (Effect.fnUntraced with the captured values as parameters)").toEqual([])
  })

  it("the check finds a generator made per call, and leaves module-level and factory ones alone", () => {
    const text = [
      "export const once = Effect.fnUntraced(function*(a: number) { return a })",
      "export const perCall = (a: number) => Effect.gen(function*() { return a })",
      "export const makeStore = () => ({ find: Effect.fnUntraced(function*(id: string) { return id }) })",
      "export const nested = Effect.fnUntraced(function*() { const inner = Effect.fnUntraced(function*() { return 1 }); return yield* inner() })",
      "export class S { static readonly layer = Layer.effect(S, Effect.gen(function*() { return { f: Effect.fnUntraced(function*() {}) } })) }"
    ].join("\n")
    expect(madePerCall(text, "probe.ts")).toEqual(["probe.ts:2 (made in perCall)", "probe.ts:4 (made in nested)"])
  })
})
