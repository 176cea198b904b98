/**
 * @gatehouse/resource — the resource-server side (RFC 6749 §1.1 steps E/F): verify the access
 * tokens an authorization server issued, refuse with RFC 6750 challenges, publish RFC 9728
 * metadata.
 *
 * Promise API: `createResourceServer(options)` -> `{ verify(request), metadataResponse() }`.
 * Effect API: the `ResourceServer` service (`ResourceServer.layer(options)`).
 * Framework forms: `@gatehouse/resource/express`, `/fastify`, `/next`.
 */
export {
  createResourceServer,
  makeResourceServer,
  requireScopes,
  ResourceServer,
  type ResourceServerInstance,
  type ResourceServerService,
  runVerify,
  type VerifiedToken,
  type VerifyOptions,
  type VerifyResult
} from "./resource-server.js"
export {
  ASYMMETRIC_ALGS,
  type IntrospectionOptions,
  type JwksOptions,
  type ResolvedOptions,
  resolveOptions,
  resourceMetadataUrlFor,
  ResourceServerConfigError,
  type ResourceServerOptions
} from "./options.js"
export { challengeResponse, type ChallengeOptions, type ResourceError } from "./challenge.js"
export { metadataResponse, type ProtectedResourceMetadata, protectedResourceMetadata } from "./metadata.js"
export { presentedToken } from "./bearer.js"
// GNAP (RFC 9635 §7.2, §9.1; RFC 9767 §3.3): `createResourceServer({ gnap: { asUri, rsKey } })`
export {
  gnapChallenge,
  type GnapResourceOptions,
  type GnapTokenInfo,
  presentedGnapToken,
  type ResolvedGnapOptions
} from "./gnap.js"
// RFC 9767 §3.4 resource set registration and the RS-first challenge with its reference (RFC 9635 §9.1); §4 token chaining
export {
  createGnapRegistration,
  type DerivedTokenRequest,
  GnapAsRefused,
  type GnapRegistration,
  type GnapRegistrationInstance,
  type GnapRegistrationOptions,
  type GnapRegistrationService,
  makeGnapRegistration
} from "./gnap-registration.js"
