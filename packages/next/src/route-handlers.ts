/**
 * App Router route handlers (Node runtime) for Gatehouse and for any Fetch handler next to it
 * (`@gatehouse/ui`'s pages). Translation only: Next's `Request` is passed through, addressed
 * to the public origin (request.ts); the handler's `Response` is returned as is.
 *
 *   // app/oauth/[...gatehouse]/route.ts, app/.well-known/openid-configuration/route.ts, ...
 *   export const { GET, HEAD, POST, PUT, DELETE, OPTIONS } = gatehouseRouteHandlers(getGatehouse)
 */
import { isNextRouterRequest, type PublicUrlOptions, routerFallback, toPublicRequest } from "./request.js"

/** A value, or a function giving it (called per request, e.g. a singleton's getter). */
export type Source<T> = T | (() => T | Promise<T>)

/** Anything that answers Fetch requests: a Gatehouse instance, `@gatehouse/ui`'s pages. */
export interface FetchHandler {
  readonly handler: (request: Request) => Promise<Response>
  /** whether it serves `pathname` (absolute, as the browser sent it); see `notFound` */
  readonly handles?: ((pathname: string) => boolean) | undefined
}

/** What the route handlers use of a Gatehouse instance. */
export interface RoutableGatehouse extends FetchHandler {
  readonly config: { readonly origin: string }
}

/** A route handler as Next calls it (the second argument, `{ params }`, is not needed). */
export type RouteHandler = (request: Request) => Promise<Response>

/** One handler per HTTP method; export the ones the route serves. */
export interface RouteHandlers {
  readonly GET: RouteHandler
  readonly HEAD: RouteHandler
  readonly POST: RouteHandler
  readonly PUT: RouteHandler
  readonly PATCH: RouteHandler
  readonly DELETE: RouteHandler
  readonly OPTIONS: RouteHandler
}

export interface RouteHandlerOptions {
  /** See `PublicUrlOptions.trustProxy`. > [!WARNING] only behind a proxy you control. */
  readonly trustProxy?: boolean | undefined
  /**
   * The host's answer for paths the route receives but the handler does not serve (a
   * catch-all such as `app/[...gatehouse]/route.ts` receives every unknown path), e.g. the
   * app's own 404 page. Default: the handler answers them itself (Gatehouse: 404 JSON).
   */
  readonly notFound?: ((request: Request) => Response | Promise<Response>) | undefined
}

export interface FetchRouteHandlerOptions extends RouteHandlerOptions {
  /** The public origin the handler expects, e.g. `() => getGatehouse().config.origin`. */
  readonly origin: Source<string>
}

const resolve = <T>(source: Source<T>): Promise<T> =>
  Promise.resolve(typeof source === "function" ? (source as () => T | Promise<T>)() : source)

const handlersFor = (
  target: () => Promise<{ readonly app: FetchHandler; readonly origin: string }>,
  options: RouteHandlerOptions
): RouteHandlers => {
  const handle: RouteHandler = async (request) => {
    if (isNextRouterRequest(request)) return routerFallback()
    const { app, origin } = await target()
    const publicOptions: PublicUrlOptions = { origin, trustProxy: options.trustProxy }
    const publicRequest = toPublicRequest(request, publicOptions)
    if (options.notFound && app.handles && !app.handles(new URL(publicRequest.url).pathname)) return options.notFound(request)
    return app.handler(publicRequest)
  }
  return { GET: handle, HEAD: handle, POST: handle, PUT: handle, PATCH: handle, DELETE: handle, OPTIONS: handle }
}

/**
 * Route handlers for Gatehouse's endpoints. Mount them where the config puts them:
 * `app/oauth/[...gatehouse]/route.ts` for `basePath: "/oauth"` (or a root catch-all), and,
 * for an issuer that is the app's origin, `app/.well-known/openid-configuration/route.ts` and
 * `app/.well-known/oauth-authorization-server/route.ts`. Paths Gatehouse does not serve get its
 * 404 JSON, or the host's `notFound`. `gatehouse` may be a function (the per-process singleton's getter), called per
 * request, so nothing is built when Next imports the route at build time.
 */
export const gatehouseRouteHandlers = (gatehouse: Source<RoutableGatehouse>, options: RouteHandlerOptions = {}): RouteHandlers =>
  handlersFor(async () => {
    const gh = await resolve(gatehouse)
    return { app: gh, origin: gh.config.origin }
  }, options)

/**
 * Route handlers for any Fetch handler that expects public URLs, such as `@gatehouse/ui`'s
 * default pages at `app/interaction/[...id]/route.ts`.
 */
export const fetchRouteHandlers = (app: Source<FetchHandler>, options: FetchRouteHandlerOptions): RouteHandlers =>
  handlersFor(async () => {
    const [a, origin] = await Promise.all([resolve(app), resolve(options.origin)])
    return { app: a, origin }
  }, options)
