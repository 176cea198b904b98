/**
 * Discovery. For clients: `OPTIONS` on the grant endpoint (RFC 9635 §9) — what this AS
 * supports, advisory only. For resource servers: `/.well-known/gnap-as-rs` at the origin
 * of the grant endpoint (RFC 9767 §3.1).
 */
import * as Effect from "effect/Effect"
import { GatehouseConfig, type ResolvedConfig } from "../../config.js"
import type { EndpointContext } from "../../http/router.js"
import { ASSERTION_FORMATS } from "../assertions.js"
import { SUB_ID_FORMATS } from "../grant.js"
import { PROOF_METHODS } from "../key.js"
import { FINISH_METHODS, START_MODES } from "../request.js"
import { gnapJson } from "../response.js"

/** RFC 9635 §9: the client-facing discovery document (values from their IANA registries). */
export const gnapDiscovery = (config: ResolvedConfig) => ({
  // §9: REQUIRED, the URL the client used
  grant_request_endpoint: config.endpoints.gnap,
  interaction_start_modes_supported: [...START_MODES],
  interaction_finish_methods_supported: [...FINISH_METHODS],
  // §7.3.2: mtls only when the client certificate reaches core (gnap.mtls)
  key_proofs_supported: config.gnap.mtls ? [...PROOF_METHODS, "mtls"] : [...PROOF_METHODS],
  sub_id_formats_supported: [...SUB_ID_FORMATS],
  // §2.2, §3.4.1
  assertion_formats_supported: [...ASSERTION_FORMATS],
  // §6.1.1: token key rotation is offered for httpsig keys (jwsd/jws: key_rotation_not_supported)
  key_rotation_supported: true
})

/** RFC 9767 §3.1 */
export const resourceServerDiscovery = (config: ResolvedConfig) => ({
  grant_request_endpoint: config.endpoints.gnap,
  // §3.1: REQUIRED when introspection is supported
  introspection_endpoint: config.endpoints.gnapIntrospect,
  // §3.1: REQUIRED when resource registration is supported (§3.4)
  resource_registration_endpoint: config.endpoints.gnapResourceRegistration,
  key_proofs_supported: [...PROOF_METHODS]
})

/** OPTIONS {grant endpoint} */
export const gnapDiscoveryEndpoint = (_ctx: EndpointContext) => Effect.map(GatehouseConfig, (config) => gnapJson(gnapDiscovery(config)))

/** GET /.well-known/gnap-as-rs */
export const resourceServerDiscoveryEndpoint = (_ctx: EndpointContext) =>
  Effect.map(GatehouseConfig, (config) => gnapJson(resourceServerDiscovery(config)))
