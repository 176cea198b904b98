/**
 * Gatehouse under test: `createGatehouse` on memory, SQLite or Postgres storage, mounted
 * with `@gatehouse/express`'s middleware on a bare node:http server (the translation cost
 * is part of what is measured), plus a minimal host login/consent page for the full
 * authorization-code flow.
 *
 *   node servers/gatehouse.mjs --store=memory|sqlite|postgres [--db=<file>] [--pg=<url>]
 *
 * Codes are minted ahead through the public Effect API: `gh.run(...)` with the
 * `Crypto` and `AuthorizationCodeStore` ports, writing exactly the record the
 * authorization endpoint writes (interactions/request.ts `issueCode`).
 */
import { AuthorizationCodeStore, createGatehouse, Crypto } from "@gatehouse/core"
import { gatehouseMiddleware } from "@gatehouse/express"
// by module path, as core imports Effect: the "effect" barrel would load every module (~11 MB
// of RSS that is the harness's, not Gatehouse's)
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { argValue, listen, readBody, serveCommands } from "../lib/child.mjs"
import {
  API,
  CHALLENGE,
  CLIENT_ID,
  CODE_SCOPE,
  CODE_TTL_S,
  GATEHOUSE_CLIENT,
  GATEHOUSE_RESOURCES,
  REDIRECT_URI,
  USER,
  USER_CLAIMS
} from "../lib/fixtures.mjs"

// Only what the chosen storage needs is loaded (a memory deployment loads no database
// driver). The memory store and the demo accounts come from testkit's built files directly:
// its package entry also exports the conformance suite, which loads vitest.
const testkit = (file) => import(new URL(`../../packages/testkit/dist/${file}`, import.meta.url).href)
const { memoryAccounts } = await testkit("accounts.js")
const store = argValue("store", "memory")
const storage = {
  memory: async () => (await testkit("memory.js")).MemoryStorage.layer(),
  sqlite: async () => (await import("@gatehouse/drizzle")).DrizzleStorage.sqlite({ path: argValue("db"), kek: "bench-kek" }),
  postgres: async () =>
    (await import("@gatehouse/drizzle")).DrizzleStorage.postgres({ connectionString: argValue("pg"), kek: "bench-kek", max: Number(argValue("pool", "10")) })
}[store]
if (storage === undefined) throw new Error(`unknown --store=${store}`)

let handle = (_req, res) => {
  res.statusCode = 503
  res.end()
}
const { server, port } = await listen((req, res) => handle(req, res))
const issuer = `http://localhost:${port}`

const gh = createGatehouse({
  issuer,
  storage: await storage(),
  accounts: memoryAccounts([{ ...USER, claims: USER_CLAIMS }]),
  scopes: ["api"],
  resources: GATEHOUSE_RESOURCES,
  ttl: { authorizationCode: CODE_TTL_S },
  // the whole-flow scenario signs one user in from 20 connections at once; the login limit
  // counts attempts in flight (docs/security.md "Rate limits") and oidc-provider has none:
  // the same work on both sides means no login budget here (client auth stays limited)
  rateLimit: { login: { max: 1_000_000 } },
  clients: [GATEHOUSE_CLIENT],
  // GATEHOUSE_BENCH_SIGNATURES=worker|threadpool|inline: where signatures run (default: Crypto.layerDefault's choice)
  ...(process.env.GATEHOUSE_BENCH_SIGNATURES ? { crypto: Crypto.layerNode(await import("node:crypto"), { signatures: process.env.GATEHOUSE_BENCH_SIGNATURES }) } : {})
})
await gh.ready()

const page = (res, status, html) => {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
  res.end(html)
}
const seeOther = (res, location) => {
  res.writeHead(303, { location, "cache-control": "no-store" })
  res.end()
}

/** The host app's pages (DESIGN.md "Interaction hand-off"): login, then consent. */
const host = async (req, res, path) => {
  const [, , id, action] = path.split("/")
  if (req.method === "GET" && action === undefined) {
    const details = await gh.interactions.details(id)
    const step = details.prompt.includes("login") ? "login" : "consent"
    return page(res, 200, `<form method="post" action="/interaction/${encodeURIComponent(id)}/${step}"><button>${step}</button></form>`)
  }
  if (req.method === "POST" && action === "login") {
    const params = new URLSearchParams(await readBody(req))
    const accountId = await gh.accounts.authenticate(params.get("username") ?? "", params.get("password") ?? "")
    if (accountId === undefined) return page(res, 401, "wrong credentials")
    await gh.interactions.authenticate(id, { accountId, amr: ["pwd"] })
    return seeOther(res, `/interaction/${encodeURIComponent(id)}`)
  }
  if (req.method === "POST" && action === "consent") {
    await readBody(req)
    const { redirectTo } = await gh.interactions.complete(id, {})
    return seeOther(res, redirectTo)
  }
  page(res, 404, "not found")
}

const middleware = gatehouseMiddleware(gh)
handle = (req, res) => {
  const path = req.url.split("?")[0]
  if (path.startsWith("/interaction/")) {
    host(req, res, path).catch((error) => page(res, 400, String(error?._tag ?? error)))
    return
  }
  middleware(req, res, () => page(res, 404, "not found"))
}

/** `n` authorization codes for the bench client, PKCE S256, scope openid offline_access api. */
const mintCodes = (n) =>
  gh.run(Effect.gen(function*() {
    const crypto = yield* Crypto
    const codes = yield* AuthorizationCodeStore
    const now = yield* Clock.currentTimeMillis
    const out = []
    yield* Effect.forEach(
      Array.from({ length: n }),
      () =>
        Effect.gen(function*() {
          const code = yield* crypto.randomToken(32)
          yield* codes.save({
            codeDigest: yield* crypto.digest(code),
            grantId: yield* crypto.randomToken(16),
            clientId: CLIENT_ID,
            accountId: USER.id,
            redirectUri: REDIRECT_URI,
            scope: CODE_SCOPE.split(" "),
            resource: [API],
            codeChallenge: CHALLENGE,
            codeChallengeMethod: "S256",
            authTime: Math.floor(now / 1000),
            amr: ["pwd"],
            expiresAt: now + CODE_TTL_S * 1000
          })
          out.push(code)
        }),
      { concurrency: store === "postgres" ? 16 : 1, discard: true }
    )
    return out
  }))

serveCommands(`http://127.0.0.1:${port}`, { mintCodes }, async () => {
  server.closeAllConnections?.()
  server.close()
  await gh.dispose()
})
