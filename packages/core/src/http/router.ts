/**
 * Routing: pathname + method -> endpoint, and the rendering of every failure in the style
 * of the endpoint that failed (RFC 6749 §5.2 JSON, RFC 6750 challenge, or an HTML error page
 * where redirecting would be unsafe). Nothing escapes as a 500 with a stack: defects are
 * logged and rendered as `server_error` without detail.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { RequestLimits } from "../config.js"
import { InvalidRequest, isInternal, MethodNotAllowed, NotFound, type ProtocolError, ServerError } from "../errors.js"
import { gnapErrorResponse } from "../gnap/response.js"
import type { IncomingRequest } from "./incoming.js"
import { checkHeaderSize, DEFAULT_LIMITS, parseCookies } from "./request.js"
import {
  ACCEPTS_TEXT_RESPONSE,
  bearerErrorResponse,
  errorPage,
  hasResponseHeader,
  oauthErrorResponse,
  setResponseHeader,
  toPlatformResponse
} from "./response.js"

export interface EndpointContext {
  /** a Fetch `Request`, or an adapter's lighter request (http/incoming.ts) */
  readonly request: IncomingRequest
  readonly url: URL
  readonly cookies: ReadonlyMap<string, string>
}

export type Endpoint<R> = (ctx: EndpointContext) => Effect.Effect<Response, ProtocolError, R>

/** RFC 6749 §5.2 JSON, RFC 6750 §3 challenge, HTML error page, or RFC 9635 §3.6 JSON. */
export type ErrorStyle = "oauth" | "bearer" | "page" | "gnap"

export interface Route<R> {
  readonly style: ErrorStyle
  readonly methods: Partial<Record<"GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS", Endpoint<R>>>
  /** answer CORS preflights and add `Access-Control-Allow-Origin: *` (token, jwks, userinfo, ...) */
  readonly cors?: boolean
}

export const render = (style: ErrorStyle, error: ProtocolError): Response =>
  style === "page"
    ? errorPage(error)
    : style === "bearer"
    ? bearerErrorResponse(error)
    : style === "gnap"
    ? gnapErrorResponse(error)
    : oauthErrorResponse(error)

const withCors = (response: Response): Response => {
  if (!hasResponseHeader(response, "access-control-allow-origin")) setResponseHeader(response, "access-control-allow-origin", "*")
  return response
}

/**
 * The path of an absolute URL as a `Request` serializes it (already parsed and normalised by
 * the URL parser when the Request was built): what routing needs, without parsing it again.
 */
const pathOf = (href: string): string | undefined => {
  const scheme = href.indexOf("://")
  if (scheme < 0) return undefined
  const start = href.indexOf("/", scheme + 3)
  if (start < 0) return "/"
  let end = href.length
  const query = href.indexOf("?", start)
  if (query >= 0) end = query
  const fragment = href.indexOf("#", start)
  if (fragment >= 0 && fragment < end) end = fragment
  return href.slice(start, end)
}

/**
 * `url` and `cookies` are parsed when an endpoint first reads them. A class: an object
 * literal with accessors costs V8 a slow-mode object per request.
 */
class LazyEndpointContext implements EndpointContext {
  private parsedUrl: URL | undefined
  private parsedCookies: ReadonlyMap<string, string> | undefined
  constructor(readonly request: IncomingRequest, private readonly href: string) {}
  get url(): URL {
    return (this.parsedUrl ??= new URL(this.href))
  }
  get cookies(): ReadonlyMap<string, string> {
    return (this.parsedCookies ??= parseCookies(this.request))
  }
}
const endpointContext = (request: IncomingRequest, href: string): EndpointContext => new LazyEndpointContext(request, href)

/** The limits the router checks itself, once per request (body and parameter limits are the endpoints'). */
export type HeaderLimits = Pick<RequestLimits, "maxHeaderBytes" | "maxHeaderValueBytes">

/**
 * Build the request handler effect for a route table. Unknown paths give 404 `not_found`
 * JSON; wrong methods 405 with `Allow`; oversized header fields 431 (config `limits`).
 */
export const makeRouter = <R>(
  routes: ReadonlyMap<string, Route<R>>,
  /** routes matched by path prefix ("/register/" for RFC 7592 client configuration URLs) */
  prefixRoutes: ReadonlyArray<readonly [string, Route<R>]> = [],
  limits: HeaderLimits = DEFAULT_LIMITS
) =>
(request: IncomingRequest): Effect.Effect<Response, never, R> =>
  Effect.map(dispatch(routes, prefixRoutes, request, limits), finish(request))

/**
 * What leaves the router: a plain `Response`, unless the adapter that made the request
 * reads text responses itself (`ACCEPTS_TEXT_RESPONSE`, see http/response.ts).
 */
const finish = (request: IncomingRequest) =>
  (request as { [ACCEPTS_TEXT_RESPONSE]?: unknown })[ACCEPTS_TEXT_RESPONSE] === true
    ? (response: Response) => response
    : toPlatformResponse

const dispatch = <R>(
  routes: ReadonlyMap<string, Route<R>>,
  prefixRoutes: ReadonlyArray<readonly [string, Route<R>]>,
  request: IncomingRequest,
  limits: HeaderLimits
): Effect.Effect<Response, never, R> => {
  const href = request.url
  const path = pathOf(href)
  if (path === undefined) return Effect.succeed(oauthErrorResponse(new NotFound({ description: "malformed request URL" })))
  const pathname = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path
  const route = routes.get(pathname) ?? prefixRoutes.find(([prefix]) => pathname.startsWith(prefix))?.[1]
  if (!route) {
    return Effect.succeed(oauthErrorResponse(new NotFound({ description: `no endpoint at ${pathname.slice(0, 200)}` })))
  }
  // RFC 6585 §5: header fields too large, answered in the endpoint's own error format; and
  // no U+0000 in the URL (path ids, query values): no OAuth or GNAP value may hold one
  // (RFC 6749 Appendix A: VSCHAR / NQCHAR / UNICODECHARNOCRLF all exclude it), and a text
  // column cannot (Postgres refuses it in any text parameter)
  const refused = checkHeaderSize(request.headers, limits) ??
    (href.includes("%00") ? new InvalidRequest({ description: "the request URL contains a NUL character (%00)" }) : undefined)
  if (refused !== undefined) {
    const response = render(route.style, refused)
    return Effect.succeed(route.cors ? withCors(response) : response)
  }
  const method = request.method.toUpperCase()
  if (route.cors && method === "OPTIONS" && !route.methods.OPTIONS) {
    return Effect.succeed(new Response(null, {
      status: 204,
      headers: {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": Object.keys(route.methods).join(", "),
        "access-control-allow-headers": "authorization, content-type, dpop",
        "access-control-max-age": "600"
      }
    }))
  }
  const endpoint = route.methods[method as keyof Route<R>["methods"]]
  if (!endpoint) {
    return Effect.succeed(render(route.style, new MethodNotAllowed({
      description: `method ${method.slice(0, 16)} is not allowed here`,
      allow: Object.keys(route.methods)
    })))
  }
  return endpoint(endpointContext(request, href)).pipe(
    Effect.catchCause((cause) => {
      const failure = Cause.findErrorOption(cause)
      const error: ProtocolError = failure._tag === "Some"
        ? failure.value
        : new ServerError({ detail: "unexpected defect", cause: Cause.squash(cause) })
      const log = isInternal(error)
        ? Effect.logError("gatehouse: internal error", error.detail ?? "", Cause.pretty(cause))
        : Effect.void
      return Effect.as(log, render(route.style, error))
    }),
    Effect.map((response) => (route.cors ? withCors(response) : response))
  )
}
