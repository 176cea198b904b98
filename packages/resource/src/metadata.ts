/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728): the document a resource server publishes
 * at `/.well-known/oauth-protected-resource` (§3) so clients learn which authorization
 * server issues its tokens and how to present them.
 */
import type { ResolvedOptions } from "./options.js"

/** RFC 9728 §2 members. */
export interface ProtectedResourceMetadata {
  /** REQUIRED: the resource identifier (an https URL, or http for local development) */
  readonly resource: string
  readonly authorization_servers: ReadonlyArray<string>
  /** the resource server's OWN keys (for signed responses), not the authorization server's */
  readonly jwks_uri: string
  readonly scopes_supported: ReadonlyArray<string>
  readonly bearer_methods_supported: ReadonlyArray<"header" | "body" | "query">
  readonly resource_signing_alg_values_supported: ReadonlyArray<string>
  readonly resource_name: string
  readonly resource_documentation: string
  readonly resource_policy_uri: string
  readonly resource_tos_uri: string
  readonly tls_client_certificate_bound_access_tokens: boolean
  readonly authorization_details_types_supported: ReadonlyArray<string>
  readonly dpop_signing_alg_values_supported: ReadonlyArray<string>
  readonly dpop_bound_access_tokens_required: boolean
  readonly signed_metadata: string
  /** further members (RFC 9728 §8.2 registry, or the host's own) */
  readonly [member: string]: unknown
}

/**
 * The document: the resource, this AS, and the one way tokens are accepted here — the
 * Authorization header (RFC 6750 §2.1; the query form, §2.3, is refused, RFC 9700 §4.3.2),
 * with the host's members over these.
 */
export const protectedResourceMetadata = (o: ResolvedOptions): Record<string, unknown> => ({
  resource: o.resource,
  authorization_servers: [o.issuer],
  bearer_methods_supported: ["header"],
  ...o.resourceMetadata
})

/** RFC 9728 §3.2: 200 with `application/json`; public, cacheable, readable cross-origin. */
export const metadataResponse = (document: Record<string, unknown>): Response =>
  new Response(JSON.stringify(document), {
    status: 200,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "public, max-age=300",
      "access-control-allow-origin": "*"
    }
  })
