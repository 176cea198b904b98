/**
 * The peer: oidc-provider (panva/node-oidc-provider) configured to the same work as
 * Gatehouse (lib/fixtures.mjs): client_secret_basic, RFC 8707 resource indicators whose
 * resource server gets ES256-signed JWT access tokens (`accessTokenFormat: 'jwt'`, RFC
 * 9068 `at+jwt`) or opaque ones, ES256 ID tokens, PKCE S256 required, refresh token
 * rotation, introspection, client credentials. Served by its own Koa app on node:http,
 * with the same minimal host login/consent pages as the Gatehouse server.
 *
 * Storage: oidc-provider's own MemoryAdapter class over an unbounded map. Its default
 * store is an LRU of 1,000 entries, which would evict codes minted ahead of a run (and
 * hold less than Gatehouse's memory storage does); the adapter logic is unchanged.
 */
import { generateKeyPairSync } from "node:crypto"
import Provider from "oidc-provider"
import MemoryAdapter from "oidc-provider/lib/adapters/memory_adapter.js"
import { listen, readBody, serveCommands } from "../lib/child.mjs"
import {
  API,
  API_SCOPE,
  CHALLENGE,
  CLIENT_ID,
  CLIENT_SECRET,
  CODE_SCOPE,
  CODE_TTL_S,
  OPAQUE_API,
  REDIRECT_URI,
  USER,
  USER_CLAIMS
} from "../lib/fixtures.mjs"

/** The store interface MemoryAdapter uses (get / set with maxAge / delete), without a size bound. */
class UnboundedStore {
  #map = new Map()
  get(key) {
    const entry = this.#map.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.#map.delete(key)
      return undefined
    }
    return entry.value
  }
  set(key, value, options) {
    this.#map.set(key, { value, expiresAt: options?.maxAge === undefined ? undefined : Date.now() + options.maxAge })
  }
  delete(key) {
    return this.#map.delete(key)
  }
}
const store = new UnboundedStore()

const jwk = (type, options, kid, alg) => ({ ...generateKeyPairSync(type, options).privateKey.export({ format: "jwk" }), kid, alg, use: "sig" })
const jwks = {
  keys: [
    jwk("ec", { namedCurve: "P-256" }, "es256", "ES256"),
    jwk("rsa", { modulusLength: 2048 }, "rs256", "RS256")
  ]
}

let handle = (_req, res) => {
  res.statusCode = 503
  res.end()
}
const { server, port } = await listen((req, res) => handle(req, res))
const issuer = `http://localhost:${port}`

const provider = new Provider(issuer, {
  adapter: (name) => new MemoryAdapter(name, store),
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    token_endpoint_auth_method: "client_secret_basic",
    grant_types: ["authorization_code", "refresh_token", "client_credentials"],
    response_types: ["code"],
    redirect_uris: [REDIRECT_URI],
    scope: CODE_SCOPE,
    id_token_signed_response_alg: "ES256"
  }],
  jwks,
  cookies: { keys: ["bench-cookie-key-0123456789abcdef"] },
  scopes: ["openid", "offline_access", API_SCOPE],
  claims: { openid: ["sub"], profile: ["name"], email: ["email", "email_verified"] },
  findAccount: (_ctx, sub) =>
    sub === USER.id ? { accountId: sub, claims: () => ({ sub, ...USER_CLAIMS }) } : undefined,
  pkce: { required: () => true },
  rotateRefreshToken: true,
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    AccessToken: 3600,
    ClientCredentials: 3600,
    AuthorizationCode: CODE_TTL_S,
    IdToken: 3600,
    RefreshToken: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
    Interaction: 600,
    Session: 14 * 24 * 3600
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => API,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== API && resource !== OPAQUE_API) throw new Provider.errors.InvalidTarget()
        return {
          scope: API_SCOPE,
          audience: resource,
          accessTokenTTL: 3600,
          accessTokenFormat: resource === API ? "jwt" : "opaque",
          ...(resource === API ? { jwt: { sign: { alg: "ES256" } } } : {})
        }
      }
    }
  }
})
provider.on("server_error", (_ctx, error) => console.error("oidc-provider server_error", error))

const page = (res, status, html) => {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
  res.end(html)
}

/** The host app's pages: login, then consent (oidc-provider's documented interaction API). */
const host = async (req, res, path) => {
  const [, , uid, action] = path.split("/")
  if (req.method === "GET" && action === undefined) {
    const details = await provider.interactionDetails(req, res)
    const step = details.prompt.name === "login" ? "login" : "consent"
    return page(res, 200, `<form method="post" action="/interaction/${encodeURIComponent(uid)}/${step}"><button>${step}</button></form>`)
  }
  if (req.method === "POST" && action === "login") {
    const params = new URLSearchParams(await readBody(req))
    await provider.interactionDetails(req, res)
    if (params.get("username") !== USER.username || params.get("password") !== USER.password) return page(res, 401, "wrong credentials")
    return provider.interactionFinished(req, res, { login: { accountId: USER.id, amr: ["pwd"] } }, { mergeWithLastSubmission: false })
  }
  if (req.method === "POST" && action === "consent") {
    await readBody(req)
    const details = await provider.interactionDetails(req, res)
    const { prompt: { details: missing }, params, session: { accountId } } = details
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: params.client_id })
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "))
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims)
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(" "))
    const grantId = await grant.save()
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true })
  }
  page(res, 404, "not found")
}

const callback = provider.callback()
handle = (req, res) => {
  const path = req.url.split("?")[0]
  if (path.startsWith("/interaction/")) {
    host(req, res, path).catch((error) => page(res, 400, String(error?.message ?? error)))
    return
  }
  callback(req, res)
}

/** `n` codes for the bench client, each with its own grant, as the interaction would leave them. */
const mintCodes = async (n) => {
  const client = await provider.Client.find(CLIENT_ID)
  const authTime = Math.floor(Date.now() / 1000)
  const out = []
  for (let i = 0; i < n; i++) {
    const grant = new provider.Grant({ accountId: USER.id, clientId: CLIENT_ID })
    grant.addOIDCScope("openid offline_access")
    grant.addResourceScope(API, API_SCOPE)
    const grantId = await grant.save()
    const code = new provider.AuthorizationCode({
      accountId: USER.id,
      client,
      grantId,
      redirectUri: REDIRECT_URI,
      scope: CODE_SCOPE,
      resource: API,
      codeChallenge: CHALLENGE,
      codeChallengeMethod: "S256",
      authTime,
      amr: ["pwd"],
      expiresWithSession: false
    })
    out.push(await code.save())
  }
  return out
}

serveCommands(`http://127.0.0.1:${port}`, { mintCodes }, async () => {
  server.closeAllConnections?.()
  server.close()
})
