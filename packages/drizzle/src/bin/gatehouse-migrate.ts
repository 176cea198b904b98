#!/usr/bin/env node
/**
 * gatehouse-migrate <DATABASE_URL> [--schema <name>]
 *
 * Applies the pending Gatehouse migrations to the database the URL names (file:/path,
 * a bare path, or postgres://...), prints what it applied, exits non-zero on failure.
 */
import { Cause, Effect, Exit } from "effect"
import { DrizzleStorage } from "../DrizzleStorage.js"

const usage = "usage: gatehouse-migrate <DATABASE_URL> [--schema <name>]"

const parse = (argv: ReadonlyArray<string>) => {
  let url: string | undefined
  let schema: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--schema") schema = argv[++i]
    else if (arg.startsWith("--schema=")) schema = arg.slice("--schema=".length)
    else if (arg === "-h" || arg === "--help") return undefined
    else if (url === undefined) url = arg
    else return undefined
  }
  url ??= process.env["DATABASE_URL"]
  return url === undefined ? undefined : { url, schema }
}

const args = parse(process.argv.slice(2))
if (args === undefined) {
  console.error(usage)
  process.exit(2)
}

const exit = await Effect.runPromiseExit(DrizzleStorage.migrate(args.url, { schema: args.schema }))
if (Exit.isSuccess(exit)) {
  console.log(exit.value.length === 0 ? "gatehouse-migrate: up to date" : `gatehouse-migrate: applied ${exit.value.join(", ")}`)
} else {
  const error = Cause.squash(exit.cause) as { detail?: string; message?: string }
  console.error(`gatehouse-migrate: ${error.detail ?? error.message ?? Cause.pretty(exit.cause)}`)
  process.exitCode = 1
}
