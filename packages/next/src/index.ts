/**
 * @gatehouse/next: Gatehouse in a Next.js App Router app, on the Node runtime (DESIGN.md "The
 * boundary"). Route handlers for the OAuth/OIDC endpoints and for the default pages, a
 * per-process singleton, and the interaction hand-off for Server Actions.
 */
export {
  fetchRouteHandlers,
  type FetchHandler,
  type FetchRouteHandlerOptions,
  gatehouseRouteHandlers,
  type RoutableGatehouse,
  type RouteHandler,
  type RouteHandlerOptions,
  type RouteHandlers,
  type Source
} from "./route-handlers.js"
export { isNextRouterRequest, type PublicUrlOptions, publicUrl, routerFallback, toPublicRequest } from "./request.js"
export { forgetSingleton, singleton } from "./singleton.js"
export { completeInteraction, denyInteraction, getInteraction, type InteractionHost, interactionRedirect } from "./interactions.js"
