/**
 * The Fastify example in a real browser (headless Chromium): a client on another loopback
 * port registers itself, sends alice to the example's login and consent pages, and gets back
 * either tokens — whose access token the example's `GET /api/me` accepts — or
 * `access_denied`. Every page is saved as a screenshot under test-results/fastify/.
 */
import { browserFlowSuite } from "@gatehouse/testkit/browser"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { startExample } from "../server.mjs"

browserFlowSuite({
  name: "the Fastify example",
  artifacts: fileURLToPath(new URL("../../../test-results/fastify/", import.meta.url)),
  // in process, on a free port, SQLite in a temporary folder
  start: () => startExample({ port: 0, databaseUrl: `file:${join(mkdtempSync(join(tmpdir(), "gatehouse-browser-")), "gatehouse.sqlite")}` })
})
