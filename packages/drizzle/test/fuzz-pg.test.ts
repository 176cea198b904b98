/**
 * Fuzzing every endpoint through the Fetch handler on Postgres (issue 6), in a schema of its
 * own (dropped afterwards), with the generators and property of
 * packages/core/test/fuzz/harness.ts. Normal run: the same fixed seed and 200 cases per
 * endpoint as memory and SQLite; `pnpm fuzz`: FUZZ_RUNS and a fresh seed, printed. An
 * unreachable server fails the suite; it never skips.
 */
import { DrizzleStorage } from "@gatehouse/drizzle"
import { randomBytes } from "node:crypto"
import { fuzzSuite } from "../../core/test/fuzz/harness.js"
import { dropSchema, freshSchema, PG_URL } from "./pg.js"

const schema = freshSchema()

fuzzSuite({
  label: "postgres",
  storage: () =>
    DrizzleStorage.postgres({ connectionString: PG_URL, schema, kek: randomBytes(32).toString("base64url"), max: 5, sweepIntervalMs: false }),
  teardown: () => dropSchema(schema)
})
