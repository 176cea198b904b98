/**
 * The one workload every server under test is configured for: the same client, secret,
 * redirect URI, user, scopes, resource indicators (RFC 8707) and PKCE verifier, so both
 * authorization servers do the same protocol work per request.
 */
import { createHash } from "node:crypto"

export const CLIENT_ID = "bench"
export const CLIENT_SECRET = "bench-secret-6f1c2d0a9b8e7f60a1b2c3d4e5f60718"
export const BASIC = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`
/** never dereferenced: the flow driver reads the code off the Location header */
export const REDIRECT_URI = "http://127.0.0.1:9/cb"
/** RFC 8707 resource served as ES256 JWT access tokens (RFC 9068) */
export const API = "https://api.example/"
/** RFC 8707 resource served as opaque access tokens */
export const OPAQUE_API = "https://opaque.example/"
export const API_SCOPE = "api"
/** authorization code / refresh token scope: OIDC + a refresh token + the API */
export const CODE_SCOPE = "openid offline_access api"
export const USER = { id: "alice", username: "alice", password: "wonderland" }
export const USER_CLAIMS = { name: "Alice Liddell", email: "alice@example.com", email_verified: true }
/** RFC 7636 §4.1 verifier (43 chars) and its S256 challenge (§4.2) */
export const VERIFIER = "bench-verifier-0123456789abcdefghijklmnopqrstuvwxyz"
export const CHALLENGE = createHash("sha256").update(VERIFIER).digest("base64url")
/** lifetime of pre-minted codes in both servers: they are minted seconds to minutes ahead */
export const CODE_TTL_S = 900

/** Gatehouse's side of the same work (`createGatehouse` options every Gatehouse bench server shares). */
export const GATEHOUSE_RESOURCES = [
  { uri: API, format: "jwt", scopes: [API_SCOPE] },
  { uri: OPAQUE_API, format: "opaque", scopes: [API_SCOPE] }
]
export const GATEHOUSE_CLIENT = {
  client_id: CLIENT_ID,
  client_secret: CLIENT_SECRET,
  token_endpoint_auth_method: "client_secret_basic",
  grant_types: ["authorization_code", "refresh_token", "client_credentials"],
  redirect_uris: [REDIRECT_URI],
  scope: CODE_SCOPE,
  id_token_signed_response_alg: "ES256"
}

export const form = (params) => new URLSearchParams(params).toString()

export const bodies = {
  clientCredentials: form({ grant_type: "client_credentials", scope: API_SCOPE, resource: API }),
  clientCredentialsOpaque: form({ grant_type: "client_credentials", scope: API_SCOPE, resource: OPAQUE_API }),
  code: (code) => form({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: VERIFIER }),
  refresh: (token) => form({ grant_type: "refresh_token", refresh_token: token }),
  introspect: (token) => form({ token })
}

/** the authorization request of the full-flow scenario (prompt=consent: OIDC Core §11 for offline_access) */
export const authorizeQuery = (state) =>
  form({
    client_id: CLIENT_ID,
    response_type: "code",
    scope: CODE_SCOPE,
    redirect_uri: REDIRECT_URI,
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
    resource: API,
    prompt: "consent",
    state
  })
