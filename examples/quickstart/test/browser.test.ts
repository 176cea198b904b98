/**
 * The quickstart in a real browser (headless Chromium): a client on another loopback port
 * registers itself, sends alice to the quickstart's login and consent pages, and gets back
 * either tokens — whose access token the quickstart's own `GET /api/me` accepts — or
 * `access_denied`. Every page is saved as a screenshot under test-results/quickstart/.
 */
import { browserFlowSuite } from "@gatehouse/testkit/browser"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"
import { startQuickstart } from "../server.mjs"

browserFlowSuite({
  name: "the quickstart",
  artifacts: fileURLToPath(new URL("../../../test-results/quickstart/", import.meta.url)),
  // in process, on a free port, SQLite in a temporary folder
  start: () => startQuickstart({ port: 0, databaseUrl: `file:${join(mkdtempSync(join(tmpdir(), "gatehouse-browser-")), "gatehouse.sqlite")}` }),
  resource: (body, { app, rp }) => {
    // the app's own data about its user, for the scopes the client was given
    expect(body).toEqual({ sub: "alice", client_id: rp.clientId, scope: "openid profile email", name: "Alice Liddell", email: "alice@example.com" })
    expect(app.url).toMatch(/^http:\/\/localhost:\d+$/)
  }
})
