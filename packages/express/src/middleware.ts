/**
 * The Express middleware: requests for the handler's paths are translated and answered,
 * every other request goes on to the host app (`next()`), untouched and unread.
 */
import { type NodeNext, type NodeRequest, type NodeResponse, requestUrl, toFetchRequest, writeFetchResponse } from "./translate.js"

/** Anything that answers Fetch requests for some paths: a Gatehouse instance, `@gatehouse/ui`'s pages. */
export interface FetchApp {
  readonly handler: (request: Request) => Promise<Response>
  /** whether `pathname` (absolute, as the browser sent it) is served by `handler` */
  readonly handles: (pathname: string) => boolean
}

export interface FetchMiddlewareOptions {
  /** origin of the URLs the handler sees; default: from the connection and `Host` header */
  readonly origin?: string | undefined
  /**
   * Take the origin from `X-Forwarded-Proto` / `X-Forwarded-Host` (first value).
   *
   * > [!WARNING]
   * > Only behind a proxy you control that sets these headers on every request; otherwise
   * > clients choose the URL the handler sees. Default false.
   */
  readonly trustProxy?: boolean | undefined
}

export interface GatehouseMiddlewareOptions {
  /**
   * Take the request origin from `X-Forwarded-Proto` / `X-Forwarded-Host` (first value)
   * instead of the issuer's origin.
   *
   * > [!WARNING]
   * > Only behind a proxy you control that sets these headers on every request; otherwise
   * > clients choose the URL Gatehouse sees. Default false: the issuer's origin, whatever
   * > the `Host` header says.
   */
  readonly trustProxy?: boolean | undefined
}

/** The middleware's shape: Node's request/response plus Express's `next`, so it fits Express, Connect and the like. */
export type NodeMiddleware = (req: NodeRequest, res: NodeResponse, next: NodeNext) => void

/**
 * Mount any Fetch handler in an Express (or Connect) app. Paths the app does not handle
 * fall through to `next()`. Mount prefixes are kept: the handler sees `req.originalUrl`.
 */
export const fetchMiddleware = (app: FetchApp, options: FetchMiddlewareOptions = {}): NodeMiddleware =>
  function gatehouse(req, res, next) {
    let url: URL
    try {
      url = requestUrl(req, options)
    } catch {
      // no usable Host header and no configured origin: not a request we can answer
      next()
      return
    }
    if (!app.handles(url.pathname)) {
      next()
      return
    }
    const controller = new AbortController()
    const onClose = () => {
      if (!res.writableFinished) controller.abort()
    }
    res.once("close", onClose)
    // a client abort surfaces as an 'error' on the socket streams; never let it reach the host as uncaught
    req.on("error", ignore)
    res.on("error", ignore)
    let request: Request
    try {
      request = toFetchRequest(req, { ...options, signal: controller.signal }, url)
    } catch (error) {
      next(error)
      return
    }
    app.handler(request).then(
      (response) => writeFetchResponse(response, res, request.method),
      (error: unknown) => {
        if (!controller.signal.aborted) next(error)
      }
    ).catch((error: unknown) => {
      if (!controller.signal.aborted && !res.headersSent) next(error)
    })
  }

const ignore = () => {}

/**
 * Gatehouse as Express middleware. Mount it at the root of the app
 * (`app.use(gatehouseMiddleware(gh))`) so discovery is served at the issuer's
 * `/.well-known/` paths; it answers only Gatehouse's own paths and passes everything else
 * on. It may also be mounted under a prefix (`app.use("/oauth", ...)`) matching the
 * config's `basePath`; only the paths under that prefix are then reachable through it.
 *
 * The host's body parsers may run before it: a consumed body is re-serialized.
 */
export const gatehouseMiddleware = (
  gh: FetchApp & { readonly config: { readonly origin: string } },
  options: GatehouseMiddlewareOptions = {}
): NodeMiddleware => fetchMiddleware(gh, { origin: gh.config.origin, trustProxy: options.trustProxy })
