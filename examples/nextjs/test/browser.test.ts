/**
 * The Next.js example in a real browser (headless Chromium), against the BUILT app (`next
 * build`, then `next start` as its own process): a client on another loopback port registers
 * itself, sends alice to the example's login and consent pages, and gets back either tokens —
 * whose access token the example's `GET /api/me` route accepts — or `access_denied`. Every
 * page is saved as a screenshot under test-results/nextjs/.
 */
import { browserFlowSuite } from "@gatehouse/testkit/browser"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { startBuiltExample } from "../test-support.mjs"

browserFlowSuite({
  name: "the Next.js example (built)",
  artifacts: fileURLToPath(new URL("../../../test-results/nextjs/", import.meta.url)),
  // builds first when .next is missing or stale (minutes on a cold machine)
  start: () => startBuiltExample({ databaseUrl: `file:${join(mkdtempSync(join(tmpdir(), "gatehouse-browser-")), "gatehouse.sqlite")}` }),
  startTimeout: 15 * 60_000
})
