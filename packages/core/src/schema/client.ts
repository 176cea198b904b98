/**
 * Client metadata (RFC 7591 §2, OIDC Registration §2), as stored after validation with
 * defaults applied. Decoding untrusted registration requests lives in endpoints/register.ts.
 */
import * as Schema from "effect/Schema"

export const TokenEndpointAuthMethod = Schema.Literals([
  "client_secret_basic",
  "client_secret_post",
  "private_key_jwt",
  "none"
])
export type TokenEndpointAuthMethod = typeof TokenEndpointAuthMethod.Type

export const ClientMetadata = Schema.Struct({
  redirect_uris: Schema.Array(Schema.String),
  token_endpoint_auth_method: TokenEndpointAuthMethod,
  grant_types: Schema.Array(Schema.String),
  response_types: Schema.Array(Schema.String),
  client_name: Schema.optional(Schema.String),
  client_uri: Schema.optional(Schema.String),
  logo_uri: Schema.optional(Schema.String),
  /** space-separated, RFC 7591 §2 */
  scope: Schema.optional(Schema.String),
  contacts: Schema.optional(Schema.Array(Schema.String)),
  tos_uri: Schema.optional(Schema.String),
  policy_uri: Schema.optional(Schema.String),
  /** RFC 7591 §2: a JWK Set by value (private_key_jwt) */
  jwks: Schema.optional(Schema.Struct({ keys: Schema.Array(Schema.Record(Schema.String, Schema.Unknown)) })),
  software_id: Schema.optional(Schema.String),
  software_version: Schema.optional(Schema.String),
  /** OIDC Registration §2 */
  application_type: Schema.optional(Schema.Literals(["web", "native"])),
  id_token_signed_response_alg: Schema.optional(Schema.String),
  userinfo_signed_response_alg: Schema.optional(Schema.String),
  token_endpoint_auth_signing_alg: Schema.optional(Schema.String),
  default_max_age: Schema.optional(Schema.Number),
  require_auth_time: Schema.optional(Schema.Boolean),
  post_logout_redirect_uris: Schema.optional(Schema.Array(Schema.String)),
  /** Gatehouse: access token format for this client (overrides the server default) */
  access_token_format: Schema.optional(Schema.Literals(["jwt", "opaque"]))
})
export type ClientMetadata = typeof ClientMetadata.Type
