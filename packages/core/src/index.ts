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
