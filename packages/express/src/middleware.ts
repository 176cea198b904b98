/**
 * The Express middleware: requests for the handler's paths are translated and answered,
 * every other request goes on to the host app (`next()`), untouched and unread.
 */
import type { IncomingRequest } from "@gatehouse/core"
import {
  abortFetchRequest,
  acceptTextResponse,
  type NodeNext,
  type NodeRequest,
  type NodeResponse,
  readSmallBodyThen,
  type RequestTarget,
  requestTarget,
  serializedOrigin,
  toFetchRequest,
  toIncomingRequest,
  writeFetchResponseNow
} from "./translate.js"
import { type ClientCertificateSource, clientCertUnchanged } from "./client-cert.js"
import { inTurnBatch } from "./turn-batch.js"

/** Anything that answers Fetch requests for some paths: a Gatehouse instance, `@gatehouse/ui`'s pages. */
export interface FetchApp {
  readonly handler: (request: Request) => Promise<Response>
  /** whether `pathname` (absolute, as the browser sent it) is served by `handler` */
  readonly handles: (pathname: string) => boolean
  /**
   * The same handler over core's lighter request (a Gatehouse instance has it): used when
   * the request has no body to stream, so no Fetch `Request` is built.
   */
  readonly handleIncoming?: ((request: IncomingRequest) => Promise<Response>) | undefined
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
  /**
   * GNAP mtls (RFC 9635 §7.3.2): `"socket"` copies the TLS peer certificate into the RFC 9440
   * `Client-Cert` field; `"header"` passes on the one a TLS-terminating proxy set; default:
   * an incoming `Client-Cert` is removed. See `ClientCertificateSource` (warning on "header").
   */
  readonly clientCertificate?: ClientCertificateSource
}

export interface GatehouseMiddlewareOptions {
  /**
   * Take the request origin from `X-Forwarded-Proto` / `X-Forwarded-Host` (first value)
   * instead of the issuer's origin. When the Express app has its own `trust proxy` setting
   * (`app.set("trust proxy", "loopback")`), only requests from a peer it trusts do so; the
   * others get the issuer's origin. The issuer itself never comes from a request
   * (RFC 8414 §2, RFC 9207): this is the URL the handler sees, which `@gatehouse/ui`
   * compares with a form's `Origin`.
   *
   * > [!WARNING]
   * > Only behind a proxy you control that sets these headers on every request; otherwise
   * > clients choose the URL Gatehouse sees. Default false: the issuer's origin, whatever
   * > the `Host` header says.
   */
  readonly trustProxy?: boolean | undefined
  /** GNAP mtls (RFC 9635 §7.3.2): see `FetchMiddlewareOptions.clientCertificate` */
  readonly clientCertificate?: ClientCertificateSource
}

/** The middleware's shape: Node's request/response plus Express's `next`, so it fits Express, Connect and the like. */
export type NodeMiddleware = (req: NodeRequest, res: NodeResponse, next: NodeNext) => void

/**
 * Mount any Fetch handler in an Express (or Connect) app. Paths the app does not handle
 * fall through to `next()`. Mount prefixes are kept: the handler sees `req.originalUrl`.
 */
export const fetchMiddleware = (app: FetchApp, options: FetchMiddlewareOptions = {}): NodeMiddleware => {
  // a fixed origin: plain request targets need no URL parsing (translate.ts `requestTarget`)
  const origin = options.origin !== undefined && !options.trustProxy ? serializedOrigin(options.origin) : undefined
  return function gatehouse(req, res, next) {
    let url: RequestTarget
    try {
      url = requestTarget(req, options, origin)
    } catch {
      // no usable Host header and no configured origin: not a request we can answer
      next()
      return
    }
    if (!app.handles(url.pathname)) {
      next()
      return
    }
    // the request's `signal` aborts when the client goes away (made only if the handler reads it)
    let aborted = false
    let request: Request | undefined
    const onClose = () => {
      if (res.writableFinished) return
      aborted = true
      if (request !== undefined) abortFetchRequest(request)
    }
    res.once("close", onClose)
    // a client abort surfaces as an 'error' on the socket streams; never let it reach the host as uncaught
    req.on("error", ignore)
    res.on("error", ignore)
    let method: string
    const failed = (error: unknown) => {
      if (!aborted && !res.headersSent) next(error)
    }
    const respond = (response: Response) => {
      try {
        writeFetchResponseNow(response, res, method)?.catch(failed)
      } catch (error) {
        failed(error)
      }
    }
    const refused = (error: unknown) => {
      if (!aborted) next(error)
    }
    const handle = (body?: Uint8Array) => {
      // nothing to stream: core reads the Node request directly (no Fetch Request); it asks for text answers
      const incoming = app.handleIncoming === undefined || !clientCertUnchanged(req, options.clientCertificate)
        ? undefined
        : toIncomingRequest(req, url, body)
      if (incoming !== undefined) {
        method = incoming.method
        // with the other requests this turn read (turn-batch.ts)
        inTurnBatch(() => app.handleIncoming!(incoming).then(respond, refused), refused)
        return
      }
      try {
        request = toFetchRequest(req, options, url instanceof URL ? url : new URL(url.href), body)
      } catch (error) {
        next(error)
        return
      }
      // this middleware writes the answer itself: a text answer need not become a stream first
      acceptTextResponse(request)
      method = request.method
      const fetchRequest = request
      inTurnBatch(() => app.handler(fetchRequest).then(respond, refused), refused)
    }
    // a small body (every OAuth form) is read first: no stream between Node and the Request
    const small = readSmallBodyThen(req, handle, (error) => {
      // the client went away mid-body: nobody is left to answer
      if (!aborted && !res.destroyed) next(error)
    })
    if (!small) handle()
  }
}

const ignore = () => {}

/** What the middleware uses of a Gatehouse instance (`createGatehouse(...)`). */
export type GatehouseApp = FetchApp & { readonly config: { readonly origin: string } }

/**
 * Gatehouse as Express middleware. Mounted at the root of the app
 * (`app.use(gatehouseMiddleware(gh))`) it serves every Gatehouse path, discovery at the
 * issuer's `/.well-known/` paths included, whatever the config's `basePath`; it answers
 * only Gatehouse's own paths and passes everything else on.
 *
 * It may also be mounted under the config's `basePath` (`app.use("/oauth", ...)` with
 * `basePath: "/oauth"`): it then serves the endpoints there, and `gatehouseDiscovery(gh)`
 * mounted at the root serves discovery at the origin's `/.well-known/` paths.
 *
 * The host's body parsers may run before it: a consumed body is re-serialized.
 */
export const gatehouseMiddleware = (gh: GatehouseApp, options: GatehouseMiddlewareOptions = {}): NodeMiddleware =>
  fetchMiddleware(gh, { origin: gh.config.origin, trustProxy: options.trustProxy, clientCertificate: options.clientCertificate })

/**
 * Only Gatehouse's discovery documents (its paths with a `/.well-known/` segment:
 * RFC 8414 §3, OIDC Discovery §4), for an app that mounts the endpoints under a prefix.
 * The issuer is the app's origin, so discovery belongs at the root:
 *
 *   app.use(gatehouseDiscovery(gatehouse))              // /.well-known/openid-configuration, ...
 *   app.use("/oauth", gatehouseMiddleware(gatehouse))   // basePath: "/oauth"
 */
export const gatehouseDiscovery = (gh: GatehouseApp, options: GatehouseMiddlewareOptions = {}): NodeMiddleware =>
  fetchMiddleware(
    {
      handler: gh.handler,
      handleIncoming: gh.handleIncoming,
      handles: (pathname) => pathname.includes("/.well-known/") && gh.handles(pathname)
    },
    { origin: gh.config.origin, trustProxy: options.trustProxy }
  )
