/**
 * GNAP (RFC 9635) and its resource-server side (RFC 9767): the routes core mounts, and the
 * building blocks Effect users may reuse (HTTP message signature verification, the
 * interaction hash).
 */
import type { ResolvedConfig } from "../config.js"
import type { Route } from "../http/router.js"
import type { GatehouseServices } from "../services.js"
import { continueEndpoint } from "./endpoints/continue.js"
import { gnapDiscoveryEndpoint, resourceServerDiscoveryEndpoint } from "./endpoints/discovery.js"
import { grantEndpoint } from "./endpoints/grant.js"
import { interactResumeEndpoint, interactStartEndpoint } from "./endpoints/interact.js"
import { introspectionEndpoint } from "./endpoints/introspect.js"
import { resourceRegistrationEndpoint } from "./rs/register.js"
import { tokenManagementEndpoint } from "./endpoints/token.js"

export { gnapDiscovery, resourceServerDiscovery } from "./endpoints/discovery.js"
export { interactionHash, type HashMethod, HASH_METHODS, sha3 } from "./hash.js"
export { parseClientKey, type ClientKey, type ProofMethod } from "./key.js"
export { verifyProof, type ProofInput } from "./proof/index.js"
// RFC 9421 / RFC 9530 building blocks (e.g. for resource servers verifying GNAP-bound tokens)
export {
  HTTP_SIGNATURE_ALGORITHMS,
  type HttpSignatureAlgorithm,
  importVerificationKey,
  JWS_ALGORITHMS,
  type JwsAlgorithm,
  REGISTRY_TO_JWS,
  verifyBase
} from "./httpsig/algorithms.js"
export { type ContentDigestResult, verifyContentDigest } from "./httpsig/content-digest.js"
export { type MessageSignature, readSignatures, SignatureBaseError, signatureBase, type SignedMessage } from "./httpsig/signature-base.js"

const path = (url: string) => new URL(url).pathname

/** The GNAP routes: exact paths, and prefixes (ending in "/") for URIs with an id. */
export const gnapRoutes = (config: ResolvedConfig) => {
  const e = config.endpoints
  const exact: Array<readonly [string, Route<GatehouseServices>]> = [
    // RFC 9635 §2 grant requests, §9 discovery
    [path(e.gnap), { style: "gnap", methods: { POST: grantEndpoint, OPTIONS: gnapDiscoveryEndpoint } }],
    [path(e.gnapResume), { style: "page", methods: { GET: interactResumeEndpoint } }],
    // RFC 9767 §3.3
    [path(e.gnapIntrospect), { style: "gnap", methods: { POST: introspectionEndpoint } }],
    // RFC 9767 §3.1
    [path(e.gnapResourceServerDiscovery), { style: "gnap", methods: { GET: resourceServerDiscoveryEndpoint } }],
    // RFC 9767 §3.4
    [path(e.gnapResourceRegistration), { style: "gnap", methods: { POST: resourceRegistrationEndpoint } }]
  ]
  const prefixes: Array<readonly [string, Route<GatehouseServices>]> = [
    // RFC 9635 §5
    [`${path(e.gnapContinue)}/`, { style: "gnap", methods: { POST: continueEndpoint, PATCH: continueEndpoint, DELETE: continueEndpoint } }],
    // RFC 9635 §6
    [`${path(e.gnapToken)}/`, { style: "gnap", methods: { POST: tokenManagementEndpoint, DELETE: tokenManagementEndpoint } }],
    // RFC 9635 §4.1.1
    [`${path(e.gnapInteract)}/`, { style: "page", methods: { GET: interactStartEndpoint } }]
  ]
  return config.gnap.enabled ? { exact, prefixes } : { exact: [], prefixes: [] }
}
