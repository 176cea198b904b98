/**
 * The storage conformance suite on SQLite: every connect() opens a new better-sqlite3
 * connection to one temporary file, so the races really cross connections.
 */
import { DrizzleStorage } from "@gatehouse/drizzle"
import { storageConformance } from "@gatehouse/testkit"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gatehouse-sqlite-"))
const file = path.join(dir, "gatehouse.sqlite")

storageConformance("sqlite", {
  // no kek: the first connection creates <file>.kek and the others read it
  connect: () => DrizzleStorage.sqlite({ path: file, sweepIntervalMs: false }),
  teardown: async () => fs.rmSync(dir, { recursive: true, force: true })
})
