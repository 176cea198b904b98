/**
 * The authorization server this app embeds: one Gatehouse instance per process, built on
 * first use (not when `next build` imports the routes), kept across dev hot reloads.
 *
 * Everything is read from the environment when the server runs:
 *   PORT          the port `next start` listens on (default 3000)
 *   ISSUER        the public origin (default http://localhost:$PORT); discovery is at its /.well-known/ paths
 *   DATABASE_URL  file:/path/db.sqlite or postgres://... (default .data/gatehouse.sqlite in this folder)
 *   GATEHOUSE_BASE_PATH  where the OAuth endpoints are mounted (default /oauth; "" for the root)
 *   GATEHOUSE_PAGES      "own": the app's own login page (app/signin/[id]) instead of the default pages
 */
import { createGatehouse, type GatehouseInstance } from "@gatehouse/core"
import { DrizzleStorage } from "@gatehouse/drizzle"
import { singleton } from "@gatehouse/next"
import { type DemoUser, memoryAccounts } from "@gatehouse/testkit/memory"
import { createInteractionPages, type InteractionPages } from "@gatehouse/ui"
import { join } from "node:path"

/**
 * The OAuth endpoints live under /oauth (app/oauth/[...gatehouse]/route.ts); discovery stays
 * at the origin's root (app/.well-known/*). With GATEHOUSE_BASE_PATH="" they are at the root
 * (app/[...gatehouse]/route.ts).
 */
export const basePath = (): string => process.env.GATEHOUSE_BASE_PATH ?? "/oauth"

/** The demo account; the default login page checks it through the Accounts port. */
const DEMO_USERS: ReadonlyArray<DemoUser> = [
  {
    id: "alice",
    username: "alice",
    password: "wonderland",
    claims: {
      name: "Alice Liddell",
      given_name: "Alice",
      family_name: "Liddell",
      preferred_username: "alice",
      email: "alice@example.com",
      email_verified: true
    }
  }
]

export const issuer = (): string => process.env.ISSUER || `http://localhost:${process.env.PORT || "3000"}`

export const databaseUrl = (): string =>
  process.env.DATABASE_URL || `file:${join(process.cwd(), ".data", "gatehouse.sqlite")}`

export const getGatehouse = (): GatehouseInstance =>
  singleton("gatehouse", () =>
    createGatehouse({
      issuer: issuer(),
      basePath: basePath(),
      // where Gatehouse sends the browser to sign in: the default pages (app/interaction/[...id])
      // or, with GATEHOUSE_PAGES=own, the app's own (app/signin/[id]/page.tsx)
      interactionUrl: process.env.GATEHOUSE_PAGES === "own" ? "/signin/{id}" : "/interaction/{id}",
      storage: DrizzleStorage.fromUrl(databaseUrl()),
      accounts: memoryAccounts(DEMO_USERS),
      // > [!WARNING] open dynamic registration (RFC 7591): anyone can register a client. Fine
      // > for a local demo; use an initial access token (registration.initialAccessToken) elsewhere.
      registration: { open: true }
    }))

/** The default login and consent pages, at /interaction/:id (app/interaction/[...id]/route.ts). */
export const getInteractionPages = (): InteractionPages =>
  singleton("interaction-pages", () => createInteractionPages(getGatehouse(), { title: "Gatehouse × Next.js", basePath: "/interaction" }))
