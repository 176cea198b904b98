/**
 * @gatehouse/core — the protocol engine. Fetch `Request` in, `Response` out.
 *
 * Promise API: `createGatehouse(options)`. Effect API: `servicesLayer`, `Gatehouse.handlerLayer`,
 * the port services and the workflows.
 */
export * from "./errors.js"
export * from "./ports/index.js"
export * from "./config.js"
export * from "./schema/client.js"
export {
  accountsLayer,
  type AccountsAdapter,
  createGatehouse,
  type CreateGatehouseOptions,
  Gatehouse,
  GatehouseHandler,
  type GatehouseInstance,
  type GatehouseLayerOptions,
  type InteractionsApi,
  servicesLayer
} from "./gatehouse.js"
export type { GatehouseServices, StoragePorts } from "./services.js"
export { Clients } from "./clients.js"
export { Keys, type PublicJwk } from "./tokens/keys.js"
export type {
  CompleteResult,
  DenyReason,
  InteractionDetails,
  LoginResult
} from "./interactions/api.js"
export { escapeHtml, htmlHeaders } from "./http/response.js"
// what adapters hand `handleIncoming` instead of a Fetch Request
export type { IncomingRequest, RequestHeaders } from "./http/incoming.js"
export {
  abortFetchRequest,
  HOP_BY_HOP_HEADERS,
  LazySignalRequest,
  type NodeHeaderFields,
  nodeIncomingRequest,
  remoteAddressOf,
  withRemoteAddress
} from "./http/incoming.js"
// RFC 8628 device authorization grant and the user-code engine it shares with GNAP
export type { UserCodesApi } from "./gatehouse.js"
export * as UserCode from "./user-code/index.js"
export type { UserCodeSubmission, UserCodeSubmitOptions } from "./user-code/index.js"
export { DEVICE_CODE_GRANT } from "./grants/device_code.js"
// failure limits on client authentication and login (the RateLimiter port is in ./ports)
export { checkCredentials, type CredentialCheck, type CredentialCheckOptions } from "./rate-limit/login.js"
// GNAP (RFC 9635, RFC 9767): discovery documents, the interaction hash, key proofing and the
// RFC 9421 / RFC 9530 verification building blocks
export * as Gnap from "./gnap/index.js"
