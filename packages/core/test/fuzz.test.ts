/**
 * Fuzzing every endpoint through the Fetch handler on the in-memory ports (issue 6).
 * Normal run: fixed seed, 200 cases per endpoint; `pnpm fuzz`: FUZZ_RUNS (default 20 000) and
 * a fresh seed, printed. The generators and the property live in ./fuzz/harness.ts.
 */
import { MemoryStorage, makeMemoryDatabase } from "@gatehouse/testkit"
import { fuzzSuite } from "./fuzz/harness.js"

fuzzSuite({ label: "memory", storage: () => MemoryStorage.layer(makeMemoryDatabase()) })
