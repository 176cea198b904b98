#!/usr/bin/env node
/**
 * Build this example: the workspace packages it uses (`tsc -b`), then `next build`, but only
 * when something `next build` reads changed since the last build: the app's sources and
 * config, the built packages (dist), and the Next.js version. The inputs' digest is kept in
 * `.next/gatehouse-build.json`; a missing or different one means `next build` runs again.
 *
 * Several processes may call it at once (tests in parallel): the check and the build run
 * under an exclusive lock (`flock`), so one builds and the others find it fresh.
 *
 *   node scripts/build.mjs            build if stale
 *   node scripts/build.mjs --force    always run `next build`
 *   GATEHOUSE_SKIP_TSC=1              skip `tsc -b`: use the packages' dist as it is
 */
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const workspace = join(root, "..", "..")
const require = createRequire(join(root, "package.json"))
const force = process.argv.includes("--force")

/** The workspace packages this app imports, in build order for `tsc -b`. */
const PACKAGES = ["core", "testkit", "drizzle", "ui", "resource", "next"]

const run = (command, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: "inherit", ...options })
    child.once("error", reject)
    child.once("exit", (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${[command, ...args].join(" ")} failed (${code ?? signal})`)))
  })

const hasFlock = () => {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, "flock"))) return true
  }
  return false
}

// Take the lock by running this script again under `flock` (released when that process ends).
if (process.env.GATEHOUSE_NEXT_BUILD_LOCKED !== "1" && hasFlock()) {
  const lockDir = join(root, "node_modules", ".cache")
  mkdirSync(lockDir, { recursive: true })
  await run("flock", [join(lockDir, "gatehouse-next-build.lock"), process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    env: { ...process.env, GATEHOUSE_NEXT_BUILD_LOCKED: "1" }
  })
  process.exit(0)
}

// 1. the workspace packages (incremental: a no-op when their dist is current).
// GATEHOUSE_SKIP_TSC=1 uses their dist as it is (while one of them does not compile).
if (process.env.GATEHOUSE_SKIP_TSC !== "1") {
  const tsc = require.resolve("typescript/bin/tsc")
  await run(process.execPath, [tsc, "-b", ...PACKAGES.map((p) => join(workspace, "packages", p))])
}

// 2. the digest of what `next build` reads
const SKIP = new Set(["node_modules", ".next", ".data", "test", "scripts"])
const files = []
const walk = (dir, skip) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) walk(path, skip)
    else if (entry.isFile()) files.push(path)
  }
}
walk(root, new Set([...SKIP, "README.md", "test-support.mjs", "test-support.d.mts", "next-env.d.ts"]))
for (const p of PACKAGES) walk(join(workspace, "packages", p, "dist"), new Set())
files.push(join(workspace, "pnpm-lock.yaml"))
files.sort()
const hash = createHash("sha256")
hash.update(`next ${require("next/package.json").version}\n`)
for (const file of files) {
  hash.update(`${relative(workspace, file)}\n`)
  hash.update(readFileSync(file))
}
const digest = hash.digest("hex")

const stampFile = join(root, ".next", "gatehouse-build.json")
const stamp = () => {
  try {
    return JSON.parse(readFileSync(stampFile, "utf8")).digest
  } catch {
    return undefined
  }
}
if (!force && stamp() === digest && existsSync(join(root, ".next", "BUILD_ID"))) {
  console.log("next build: up to date")
  process.exit(0)
}

// 3. next build
const started = Date.now()
const next = require.resolve("next/dist/bin/next")
await run(process.execPath, [next, "build", "--webpack"], { env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } })
writeFileSync(stampFile, JSON.stringify({ digest, builtAt: new Date().toISOString(), seconds: (Date.now() - started) / 1000 }, null, 2))
console.log(`next build: ${((Date.now() - started) / 1000).toFixed(1)} s`)
