/**
 * Gatehouse in a Fastify app: an ordinary Fastify 5 app, with its own pages and a protected
 * API route, that embeds an OAuth 2.1 / OpenID Connect authorization server at its own origin.
 *
 *   npm start                      http://localhost:3000
 *   PORT=4000 npm start            http://localhost:4000
 *   ISSUER=https://auth.example.com PORT=8080 npm start   (behind your TLS proxy)
 *
 * Plain JavaScript on the built packages (`npm start` runs `tsc -b` first), so it runs on
 * Node 20 as is. Everything Gatehouse-specific is in `createGatehouseFor`,
 * `createResourceServerFor` and the `gatehousePlugin` line of `createApp`; the rest is the host app.
 */
import formbody from "@fastify/formbody"
import { createGatehouse } from "@gatehouse/core"
import { DrizzleStorage } from "@gatehouse/drizzle"
import { gatehousePlugin } from "@gatehouse/fastify"
import { createResourceServer } from "@gatehouse/resource"
import { protectedResourceMetadata, requireToken } from "@gatehouse/resource/fastify"
import { memoryAccounts } from "@gatehouse/testkit/memory"
import { createInteractionPages } from "@gatehouse/ui"
import Fastify from "fastify"
import { once } from "node:events"
import { realpathSync } from "node:fs"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"

/** The demo account (the default login page checks these credentials through the Accounts port). */
export const DEMO_USERS = [
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

/**
 * Where Gatehouse keeps clients, codes, tokens, sessions and signing keys:
 * `DATABASE_URL=file:/path/to/db.sqlite` (SQLite; default `examples/fastify/.data/gatehouse.sqlite`)
 * or `DATABASE_URL=postgres://...` (set `GATEHOUSE_KEK` too: it encrypts the private signing keys at rest).
 */
export const defaultDatabaseUrl = () =>
  process.env.DATABASE_URL || `file:${fileURLToPath(new URL("./.data/gatehouse.sqlite", import.meta.url))}`

/** The authorization server, at the app's own origin. */
export const createGatehouseFor = (issuer, databaseUrl = defaultDatabaseUrl()) =>
  createGatehouse({
    issuer,
    storage: DrizzleStorage.fromUrl(databaseUrl),
    accounts: memoryAccounts(DEMO_USERS),
    // > [!WARNING] open dynamic registration (RFC 7591): anyone can register a client. Fine
    // > for a local demo; use an initial access token (registration.initialAccessToken) elsewhere.
    registration: { open: true }
  })

/**
 * The resource-server side for the app's own API: access tokens issued for this origin
 * (Gatehouse's default audience is the issuer). It reaches Gatehouse in-process, so it works
 * before the app listens and behind any proxy.
 */
export const createResourceServerFor = (gatehouse) =>
  createResourceServer({
    issuer: gatehouse.config.issuer,
    audience: gatehouse.config.issuer,
    fetch: (input, init) => gatehouse.handler(new Request(input, init))
  })

const escape = (s) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c])

const homePage = (issuer) => {
  const e = escape
  const discovery = `${issuer}/.well-known/openid-configuration`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse on Fastify</title>
<style>
body{font:16px/1.6 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1.25rem;color:#1b1f24}
code,pre{background:#f2f4f7;border-radius:4px}code{padding:.1rem .3rem}pre{padding:1rem;overflow-x:auto}
a{color:#1f4fd1}h1{line-height:1.2}
</style>
</head>
<body>
<main>
<h1>Gatehouse on Fastify</h1>
<p>This is an ordinary Fastify app with its own pages (like this one) and its own API. It also
embeds <strong>Gatehouse</strong>, an OAuth 2.1 and OpenID Connect authorization server, at its
own origin: the issuer is <code>${e(issuer)}</code>.</p>
<h2>Endpoints</h2>
<ul>
<li>OpenID Connect discovery: <a href="${e(discovery)}">${e(discovery)}</a></li>
<li>OAuth server metadata: <a href="${e(issuer)}/.well-known/oauth-authorization-server">/.well-known/oauth-authorization-server</a></li>
<li>The app's protected API: <code>GET ${e(issuer)}/api/me</code> with <code>Authorization: Bearer &lt;access token&gt;</code>
(its <a href="${e(issuer)}/.well-known/oauth-protected-resource">resource metadata</a>)</li>
</ul>
<h2>Try it</h2>
<p>Register a client (dynamic registration is open in this demo):</p>
<pre>curl -s ${e(issuer)}/register -H 'content-type: application/json' \\
  -d '{"redirect_uris":["http://localhost:8080/callback"],"client_name":"My app"}'</pre>
<p>Point any OpenID Connect client library at the issuer above, start the authorization code flow
with PKCE, and sign in with the demo account: username <code>alice</code>, password <code>wonderland</code>.
Then call <code>/api/me</code> with the access token.</p>
</main>
</body>
</html>
`
}

/**
 * The host app: its own routes, plus Gatehouse and its default pages. `options` are
 * Fastify's (the server is passed in by `startExample`). Call `ready()` or `listen()` on it.
 */
export const createApp = async (gatehouse, resourceServer = createResourceServerFor(gatehouse), options = {}) => {
  const app = Fastify(options)
  // the host's own form parser, app-wide: Gatehouse parses its own bodies in its own context
  await app.register(formbody)

  // Gatehouse: endpoints and discovery, plus the default login and consent pages at /interaction/:id
  await app.register(gatehousePlugin, {
    gatehouse,
    pages: createInteractionPages(gatehouse, { title: "Gatehouse on Fastify" })
  })

  app.get("/", async (_request, reply) =>
    reply
      .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
      .header("x-content-type-options", "nosniff")
      .type("text/html; charset=utf-8")
      .send(homePage(gatehouse.config.issuer)))

  // the protected API (RFC 6750): who is calling, for a valid access token
  app.get("/api/me", { preHandler: requireToken(resourceServer) }, async (request) => ({
    sub: request.auth.sub,
    client_id: request.auth.clientId,
    scope: request.auth.scope.join(" ")
  }))
  // RFC 9728: what the API accepts and which authorization server issues its tokens
  app.get(resourceServer.metadataPath, protectedResourceMetadata(resourceServer))
  return app
}

/**
 * Start the app: `{ port = 3000, issuer, host, databaseUrl }`. `port: 0` picks a free port;
 * the issuer is `http://localhost:<port>` unless `issuer` is given. Resolves once it is
 * listening with its signing keys ready, to `{ url, port, gatehouse, close() }`.
 */
export const startExample = async (options = {}) => {
  const port = options.port ?? 3000
  // listen first (the issuer may name the port), answer 503 until the app is built
  let dispatch = (_req, res) => {
    res.statusCode = 503
    res.end("starting")
  }
  const server = createServer((req, res) => dispatch(req, res))
  server.listen(port, options.host)
  await once(server, "listening")
  const actualPort = server.address().port
  const issuer = options.issuer ?? `http://localhost:${actualPort}`
  let gatehouse
  let app
  try {
    gatehouse = createGatehouseFor(issuer, options.databaseUrl)
    // keys generated (or loaded) now rather than on the first request
    await gatehouse.ready()
    app = await createApp(gatehouse, createResourceServerFor(gatehouse), {
      serverFactory: (handler) => {
        dispatch = handler
        return server
      }
    })
    await app.ready()
  } catch (error) {
    server.close()
    await gatehouse?.dispose()
    throw error
  }
  return {
    url: issuer,
    port: actualPort,
    gatehouse,
    close: async () => {
      await app.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(() => resolve()))
      await gatehouse.dispose()
    }
  }
}

const isMain = () => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isMain()) {
  const app = await startExample({
    port: process.env.PORT === undefined ? 3000 : Number(process.env.PORT),
    issuer: process.env.ISSUER || undefined,
    host: process.env.HOST || undefined
  })
  console.log(`Gatehouse on Fastify running at ${app.url} (port ${app.port})`)
  console.log(`  discovery:    ${app.url}/.well-known/openid-configuration`)
  console.log(`  protected:    ${app.url}/api/me`)
  console.log(`  demo account: username "alice", password "wonderland"`)
  const db = defaultDatabaseUrl()
  console.log(`  storage:      ${db.startsWith("file:") ? db : db.replace(/\/\/[^@/]*@/, "//***@")}`)
  const stop = () => {
    app.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
}
