/**
 * Fuzzing every endpoint through the Fetch handler on SQLite (a temporary file), with the
 * generators and property of packages/core/test/fuzz/harness.ts (issue 6).
 */
import { DrizzleStorage } from "@gatehouse/drizzle"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fuzzSuite } from "../../core/test/fuzz/harness.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gatehouse-fuzz-"))

fuzzSuite({
  label: "sqlite",
  storage: () => DrizzleStorage.sqlite({ path: path.join(dir, "gatehouse.sqlite"), sweepIntervalMs: false }),
  teardown: () => fs.rmSync(dir, { recursive: true, force: true })
})
