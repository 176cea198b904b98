/**
 * The Gatehouse quickstart: an ordinary Express 5 app, with its own pages, that embeds an
 * OAuth 2.1 / OpenID Connect authorization server at its own origin.
 *
 *   npm start                      http://localhost:3000
 *   PORT=4000 npm start            http://localhost:4000
 *   ISSUER=https://auth.example.com PORT=8080 npm start   (behind your TLS proxy)
 *
 * Plain JavaScript on the built packages (`tsc -b` at the repository root), so it runs on
 * Node 20 as is. Everything Gatehouse-specific is in `createGatehouseFor` and the two
 * `app.use` lines in `createApp`, plus the protected `GET /api/me` (`createResourceServerFor`)
 * and its GNAP twin `GET /api/gnap/me` (`createGnapResourceServerFor`); the rest is the host app.
 */
import { createGatehouse } from "@gatehouse/core"
import { fetchMiddleware, gatehouseMiddleware } from "@gatehouse/express"
import { DrizzleStorage } from "@gatehouse/drizzle"
import { createResourceServer } from "@gatehouse/resource"
import { protectedResourceMetadata, requireToken } from "@gatehouse/resource/express"
import { memoryAccounts } from "@gatehouse/testkit/memory"
import { createInteractionPages } from "@gatehouse/ui"
import express from "express"
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
      email_verified: true,
      locale: "en-GB",
      zoneinfo: "Europe/London",
      website: "https://example.com/alice",
      phone_number: "+44 20 7946 0000",
      phone_number_verified: false,
      address: { street_address: "1 Rabbit Hole", locality: "Oxford", postal_code: "OX1 1AA", country: "GB" }
    }
  }
]

/**
 * Where Gatehouse keeps clients, codes, tokens, sessions and signing keys. One variable
 * chooses: `DATABASE_URL=file:/path/to/db.sqlite` (SQLite, the default being
 * `examples/quickstart/.data/gatehouse.sqlite`) or `DATABASE_URL=postgres://...` (set
 * `GATEHOUSE_KEK` too: the key that encrypts private signing keys at rest). Several
 * processes with the same ISSUER and DATABASE_URL behave as one server.
 */
export const defaultDatabaseUrl = () =>
  process.env.DATABASE_URL || `file:${fileURLToPath(new URL("./.data/gatehouse.sqlite", import.meta.url))}`

export const storage = (databaseUrl = defaultDatabaseUrl()) => DrizzleStorage.fromUrl(databaseUrl)

/**
 * The key the app's GNAP API proves itself with when it introspects tokens (RFC 9767 §3.2):
 * an ES256 key pair, fresh per process (the API and the AS share the process, so the AS
 * learns the public half from `createGatehouseFor`'s `gnap.resourceKey`).
 */
export const createGnapResourceKey = async () => {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])
  const { key_ops: _ops, ext: _ext, ...privateJwk } = await crypto.subtle.exportKey("jwk", pair.privateKey)
  const { d: _d, ...publicJwk } = privateJwk
  const labels = { kid: "quickstart-api", alg: "ES256" }
  return { privateJwk: { ...privateJwk, ...labels }, publicJwk: { ...publicJwk, ...labels } }
}

/**
 * The authorization server, at the app's own origin. `options.gnap`: `wait` (RFC 9635 §3.1,
 * seconds between continuation calls; Gatehouse's default 5) and `resourceKey` (the public
 * JWK of the app's GNAP API, allowed to introspect, RFC 9767 §3.2).
 */
export const createGatehouseFor = (issuer, databaseUrl, options = {}) =>
  createGatehouse({
    issuer,
    storage: storage(databaseUrl),
    accounts: memoryAccounts(DEMO_USERS),
    // > [!WARNING] open dynamic registration (RFC 7591): anyone can register a client. Fine
    // > for a local demo; use an initial access token (registration.initialAccessToken) elsewhere.
    registration: { open: true },
    ...(options.gnap
      ? {
        gnap: {
          ...(options.gnap.wait !== undefined ? { wait: options.gnap.wait } : {}),
          ...(options.gnap.resourceKey ? { resourceServers: [{ key: options.gnap.resourceKey, name: "quickstart-api" }] } : {})
        }
      }
      : {})
  })

/**
 * The app's own API is a resource server (RFC 6749 §1.1): it accepts the access tokens
 * Gatehouse issues for it — JWTs whose `aud` is the issuer (the default audience), verified
 * against Gatehouse's signing keys. In the same process it asks Gatehouse directly (no network
 * call); a separate API server would leave `fetch` out and reach the issuer over HTTP.
 */
export const createResourceServerFor = (gatehouse) =>
  createResourceServer({
    issuer: gatehouse.config.issuer,
    audience: gatehouse.config.accessToken.defaultAudience,
    fetch: (input, init) => gatehouse.handler(new Request(input, init)),
    resourceMetadata: { resource_name: "Gatehouse quickstart API", scopes_supported: ["openid", "profile", "email"] }
  })

/**
 * The same API for GNAP clients (RFC 9635 §7.2): key-bound tokens as `Authorization: GNAP`
 * with an HTTP Message Signature, `bearer`-flagged ones as `Authorization: Bearer`, checked
 * by Gatehouse's RS-facing introspection (RFC 9767 §3.3) signed with `privateJwk`.
 */
export const createGnapResourceServerFor = (gatehouse, privateJwk) =>
  createResourceServer({
    issuer: gatehouse.config.issuer,
    audience: gatehouse.config.accessToken.defaultAudience,
    fetch: (input, init) => gatehouse.handler(new Request(input, init)),
    gnap: { asUri: gatehouse.config.endpoints.gnap, rsKey: privateJwk, rsName: "quickstart-api" }
  })

/**
 * The Fetch request a GNAP proof covers (RFC 9421 §2.2: the target URI as the client used
 * it — the app's public origin — and every header; a GET has no content).
 */
const toSignedRequest = (req, origin) => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
  }
  return new Request(new URL(req.originalUrl, origin), { method: req.method, headers })
}

const escape = (s) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c])

const homePage = (issuer) => {
  const e = escape
  const discovery = `${issuer}/.well-known/openid-configuration`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse quickstart</title>
<style>
body{font:16px/1.6 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1.25rem;color:#1b1f24}
code,pre{background:#f2f4f7;border-radius:4px}code{padding:.1rem .3rem}pre{padding:1rem;overflow-x:auto}
a{color:#1f4fd1}h1{line-height:1.2}
</style>
</head>
<body>
<main>
<h1>Gatehouse quickstart</h1>
<p>This is an ordinary Express app with its own pages (like this one). It also embeds
<strong>Gatehouse</strong>, an OAuth 2.1 and OpenID Connect authorization server, at its own origin:
the issuer is <code>${e(issuer)}</code>.</p>
<h2>Endpoints</h2>
<ul>
<li>OpenID Connect discovery: <a href="${e(discovery)}">${e(discovery)}</a></li>
<li>OAuth server metadata: <a href="${e(issuer)}/.well-known/oauth-authorization-server">/.well-known/oauth-authorization-server</a></li>
<li>Signing keys: <a href="${e(issuer)}/jwks">/jwks</a></li>
<li>The protected API: <code>GET ${e(issuer)}/api/me</code> with <code>Authorization: Bearer &lt;access token&gt;</code>
(its metadata: <a href="${e(issuer)}/.well-known/oauth-protected-resource">/.well-known/oauth-protected-resource</a>)</li>
</ul>
<h2>Try it</h2>
<p>Register a client (dynamic registration is open in this demo):</p>
<pre>curl -s ${e(issuer)}/register -H 'content-type: application/json' \\
  -d '{"redirect_uris":["http://localhost:8080/callback"],"client_name":"My app"}'</pre>
<p>Point any OpenID Connect client library at the issuer above, start the authorization code flow
with PKCE, and sign in with the demo account: username <code>alice</code>, password <code>wonderland</code>.</p>
<p>Or by hand. Make a PKCE pair (RFC 7636):</p>
<pre>node -e 'const c=require("crypto"),v=c.randomBytes(32).toString("base64url");console.log("verifier ",v);console.log("challenge",c.createHash("sha256").update(v).digest("base64url"))'</pre>
<p>Open this in a browser (your <code>client_id</code> and <code>challenge</code> in place), sign in, allow:</p>
<pre>${e(issuer)}/authorize?response_type=code&amp;client_id=CLIENT_ID&amp;redirect_uri=http://localhost:8080/callback&amp;scope=openid%20profile&amp;state=s1&amp;code_challenge=CHALLENGE&amp;code_challenge_method=S256</pre>
<p>The browser lands on <code>http://localhost:8080/callback?code=…</code> (nothing listens there: copy
the <code>code</code> from the address bar; it is valid for 60 seconds) and exchange it:</p>
<pre>curl -s ${e(issuer)}/token -u CLIENT_ID:CLIENT_SECRET \\
  -d grant_type=authorization_code -d code=CODE -d code_verifier=VERIFIER \\
  -d redirect_uri=http://localhost:8080/callback</pre>
<p>Then call the API with the <code>access_token</code>:
<code>curl -s ${e(issuer)}/api/me -H 'authorization: Bearer ACCESS_TOKEN'</code></p>
</main>
</body>
</html>
`
}

/**
 * The host app: its own routes, plus Gatehouse and its default pages. With
 * `options.gnapResourceKey` (a private JWK the AS knows, see `createGnapResourceKey`), also
 * `GET /api/gnap/me` for GNAP access tokens.
 */
export const createApp = (gatehouse, options = {}) => {
  const app = express()
  app.disable("x-powered-by")
  // the host's own body parsers, app-wide: Gatehouse copes with bodies already parsed
  app.use(express.urlencoded({ extended: false }))
  app.use(express.json())

  // Gatehouse: its endpoints at the root (discovery at the issuer's /.well-known/ paths)...
  app.use(gatehouseMiddleware(gatehouse))
  // ...and the default login and consent pages at /interaction/:id
  app.use(fetchMiddleware(createInteractionPages(gatehouse, { title: "Gatehouse quickstart" }), { origin: gatehouse.config.origin }))

  // The protected API: GET /api/me for a valid access token (RFC 6750), and its RFC 9728
  // metadata at /.well-known/oauth-protected-resource
  const api = createResourceServerFor(gatehouse)
  app.get(api.metadataPath, protectedResourceMetadata(api))
  app.get("/api/me", requireToken(api), (req, res) => {
    const { sub, clientId, scope } = req.auth
    // the app's own data about the caller: its user, or nothing more for a client acting for itself
    const user = DEMO_USERS.find((u) => u.id === sub)
    res.set("cache-control", "no-store")
    res.json({
      sub,
      client_id: clientId,
      scope: scope.join(" "),
      ...(user ? { name: user.claims.name, ...(scope.includes("email") ? { email: user.claims.email } : {}) } : {})
    })
  })

  if (options.gnapResourceKey) {
    // GET /api/gnap/me: the caller as a GNAP-bound (or bearer-flagged) token says (RFC 9635 §7.2).
    // Only GET: a proof covering content would need the raw body, which express.json() consumed.
    const gnapApi = createGnapResourceServerFor(gatehouse, options.gnapResourceKey)
    app.get("/api/gnap/me", (req, res, next) => {
      gnapApi.verify(toSignedRequest(req, gatehouse.config.origin)).then(async (result) => {
        if (!result.ok) {
          res.status(result.response.status)
          result.response.headers.forEach((value, name) => res.setHeader(name, value))
          res.send(await result.response.text())
          return
        }
        const { sub, clientId, gnap } = result.token
        const user = DEMO_USERS.find((u) => u.id === sub)
        res.set("cache-control", "no-store")
        res.json({ sub, instance_id: clientId || undefined, access: gnap?.access ?? [], bound: gnap?.bound ?? false, ...(user ? { name: user.claims.name } : {}) })
      }).catch(next)
    })
  }

  app.get("/", (_req, res) => {
    res.set({
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
      "x-content-type-options": "nosniff"
    })
    res.type("html").send(homePage(gatehouse.config.issuer))
  })
  return app
}

/**
 * Start the app: `{ port = 3000, issuer, host, databaseUrl, gnapWait }`. `port: 0` picks a free port; the issuer
 * is `http://localhost:<port>` unless `issuer` is given. Resolves once it is listening
 * with its signing keys ready, to `{ url, port, gatehouse, close() }`.
 */
export const startQuickstart = async (options = {}) => {
  const port = options.port ?? 3000
  let handle = (_req, res) => {
    res.statusCode = 503
    res.end("starting")
  }
  const server = createServer((req, res) => handle(req, res))
  server.listen(port, options.host)
  await once(server, "listening")
  const actualPort = server.address().port
  const issuer = options.issuer ?? `http://localhost:${actualPort}`
  let gatehouse
  let gnapKey
  try {
    gnapKey = await createGnapResourceKey()
    gatehouse = createGatehouseFor(issuer, options.databaseUrl, { gnap: { wait: options.gnapWait, resourceKey: gnapKey.publicJwk } })
    // keys generated now rather than on the first request
    await gatehouse.ready()
  } catch (error) {
    server.close()
    throw error
  }
  handle = createApp(gatehouse, { gnapResourceKey: gnapKey.privateJwk })
  return {
    url: issuer,
    port: actualPort,
    gatehouse,
    close: async () => {
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
  const app = await startQuickstart({
    port: process.env.PORT === undefined ? 3000 : Number(process.env.PORT),
    issuer: process.env.ISSUER || undefined,
    host: process.env.HOST || undefined
  })
  console.log(`Gatehouse quickstart running at ${app.url} (port ${app.port})`)
  console.log(`  discovery:    ${app.url}/.well-known/openid-configuration`)
  console.log(`  demo account: username "alice", password "wonderland"`)
  const db = defaultDatabaseUrl()
  console.log(`  storage:      ${db.startsWith("file:") ? db : db.replace(/\/\/[^@/]*@/, "//***@")}`)
  const stop = () => {
    app.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
}
