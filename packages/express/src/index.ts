/**
 * @gatehouse/express: Gatehouse in an Express 5 app (DESIGN.md "The boundary").
 *
 * Translation only: an Express request becomes a Fetch `Request`, the handler's `Response`
 * is written back. Requests for paths the handler does not serve go on to the host's own
 * routes untouched, so the middleware can be mounted at the root of an existing app.
 */
export {
  fetchMiddleware,
  type FetchApp,
  type FetchMiddlewareOptions,
  type GatehouseApp,
  gatehouseDiscovery,
  gatehouseMiddleware,
  type GatehouseMiddlewareOptions,
  type NodeMiddleware
} from "./middleware.js"
export {
  abortFetchRequest,
  acceptTextResponse,
  readSmallBody,
  requestUrl,
  toFetchRequest,
  type ToFetchRequestOptions,
  toIncomingRequest,
  writeFetchResponse
} from "./translate.js"
export type { NodeNext, NodeRequest, NodeResponse } from "./translate.js"
export { applyClientCert, type ClientCertificateSource, socketClientCert } from "./client-cert.js"
