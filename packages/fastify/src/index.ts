/**
 * @gatehouse/fastify: Gatehouse in a Fastify 5 app (DESIGN.md "The boundary").
 *
 * Translation only: a Fastify request becomes a Fetch `Request` (its body streamed, not
 * parsed), the handler's `Response` goes out through the reply. Gatehouse's routes live in
 * their own encapsulated context, so they neither use nor disturb the host's parsers.
 */
export {
  type FetchApp,
  fetchPlugin,
  type FetchPluginOptions,
  type GatehouseApp,
  gatehousePlugin,
  type GatehousePluginOptions
} from "./plugin.js"
export { abortFetchRequest, type OriginSource, requestUrl, sendFetchResponse, toFetchRequest, type UrlOptions } from "./translate.js"
export { gatehousePlugin as default } from "./plugin.js"
