/**
 * Discovery: OAuth 2.0 Authorization Server Metadata (RFC 8414 §2, served per §3 at
 * `/.well-known/oauth-authorization-server` + issuer path) and OpenID Provider Metadata
 * (OIDC Discovery §3, served per §4 at issuer + `/.well-known/openid-configuration`). One
 * document for both (RFC 8414 §2 lets OIDC metadata appear in it). Everything advertised is
 * something the server does; what it does not do is left out rather than flagged false,
 * except where a spec defines the `false` (request objects, OIDC Discovery §3).
 */
import * as Effect from "effect/Effect"
import { GatehouseConfig, type ResolvedConfig } from "../config.js"
import { publicJsonText } from "../http/response.js"
import type { Endpoint } from "../http/router.js"
import { observeEndpoint } from "../observability/endpoint.js"
import { ASSERTION_ALGS, SUPPORTED_METHODS } from "../client-auth/index.js"
import { GRANT_TYPES_SUPPORTED } from "../grants/index.js"
import type { GatehouseServices } from "../services.js"
import { SCOPE_CLAIMS } from "../tokens/claims.js"

/** OIDC Core §3.1.2.1 `prompt` values the authorization endpoint understands. */
export const PROMPT_VALUES = ["none", "login", "consent", "select_account"] as const

/** OIDC Discovery §3 `claims_supported`: the ID token's own claims plus every scope's claims (OIDC Core §5.4). */
const CLAIMS = [
  "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash",
  ...Object.values(SCOPE_CLAIMS).flat()
]

/** The metadata document. Pure: a function of the configuration only. */
export const serverMetadata = (config: ResolvedConfig): Record<string, unknown> => {
  const e = config.endpoints
  return {
    // RFC 8414 §2 / OIDC Discovery §3 (issuer is the exact string tokens carry as `iss`, §3.3 / §4.3)
    issuer: config.issuer,
    authorization_endpoint: e.authorization,
    token_endpoint: e.token,
    jwks_uri: e.jwks,
    userinfo_endpoint: e.userinfo,
    // RFC 8414 §2: only when the server offers registration (open, or with an initial access token)
    ...(config.registration.open || config.registration.initialAccessToken !== undefined
      ? { registration_endpoint: e.registration }
      : {}),
    scopes_supported: config.scopes,
    // OAuth 2.1 / RFC 9700 §2.1.2: the code flow only (no implicit, no hybrid)
    response_types_supported: ["code"],
    // OAuth 2.0 Multiple Response Types §2.1 + Form Post Response Mode §2
    response_modes_supported: ["query", "form_post"],
    grant_types_supported: [...GRANT_TYPES_SUPPORTED],
    // one authenticateClient (client-auth/) serves token, revocation and introspection alike
    token_endpoint_auth_methods_supported: [...SUPPORTED_METHODS],
    // RFC 8414 §2: REQUIRED with private_key_jwt; "none" MUST NOT be listed
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    // RFC 8414 §2 (RFC 7009)
    revocation_endpoint: e.revocation,
    revocation_endpoint_auth_methods_supported: [...SUPPORTED_METHODS],
    revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    // RFC 8414 §2 (RFC 7662)
    introspection_endpoint: e.introspection,
    introspection_endpoint_auth_methods_supported: [...SUPPORTED_METHODS],
    introspection_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    // RFC 8628 §4 (the device_code grant type is in grant_types_supported through the registry)
    device_authorization_endpoint: e.deviceAuthorization,
    // RFC 8414 §2 / RFC 7636 §4.3: S256 only (plain refused, RFC 9700 §2.1.1)
    code_challenge_methods_supported: ["S256"],
    // RFC 9207 §3: `iss` is in every authorization response
    authorization_response_iss_parameter_supported: true,
    // OIDC Discovery §3
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: [...config.idTokenAlgs],
    claims_supported: [...new Set(CLAIMS)],
    claim_types_supported: ["normal"],
    claims_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    // OIDC Discovery §3: the default is true, which would be wrong here (no request_uri at all)
    require_request_uri_registration: false,
    // OIDC Core §3.1.2.1 (registered by Initiating User Registration via OIDC §4.1)
    prompt_values_supported: [...PROMPT_VALUES]
  }
}

/** The serialized document, built once per configuration (it is a function of it alone). */
const documents = new WeakMap<ResolvedConfig, string>()
const serialized = (config: ResolvedConfig): string => {
  let document = documents.get(config)
  if (document === undefined) {
    document = JSON.stringify(serverMetadata(config))
    documents.set(config, document)
  }
  return document
}

/** RFC 8414 §3.2: 200, application/json; cacheable, and CORS-readable by browser clients. */
export const authorizationServerMetadataEndpoint: Endpoint<GatehouseServices> = (ctx) =>
  observeEndpoint("metadata", ctx, Effect.map(GatehouseConfig, (config) => publicJsonText(serialized(config))), { denied: null })

/** OIDC Discovery §4.2: the same document. */
export const openidConfigurationEndpoint: Endpoint<GatehouseServices> = (ctx) =>
  observeEndpoint("openid_configuration", ctx, Effect.map(GatehouseConfig, (config) => publicJsonText(serialized(config))), { denied: null })
