/**
 * Routing: pathname + method -> endpoint, and the rendering of every failure in the style
 * of the endpoint that failed (RFC 6749 §5.2 JSON, RFC 6750 challenge, or an HTML error page
 * where redirecting would be unsafe). Nothing escapes as a 500 with a stack: defects are
 * logged and rendered as `server_error` without detail.
 */
import { Cause, Effect } from "effect"
import { isInternal, MethodNotAllowed, NotFound, type ProtocolError, ServerError } from "../errors.js"
import { parseCookies } from "./request.js"
import { ACCEPTS_TEXT_RESPONSE, bearerErrorResponse, errorPage, oauthErrorResponse, toPlatformResponse } from "./response.js"

export interface EndpointContext {
  readonly request: Request
  readonly url: URL
  readonly cookies: ReadonlyMap<string, string>
}

export type Endpoint<R> = (ctx: EndpointContext) => Effect.Effect<Response, ProtocolError, R>

export type ErrorStyle = "oauth" | "bearer" | "page"

export interface Route<R> {
  readonly style: ErrorStyle
  readonly methods: Partial<Record<"GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS", Endpoint<R>>>
  /** answer CORS preflights and add `Access-Control-Allow-Origin: *` (token, jwks, userinfo, ...) */
  readonly cors?: boolean
}

export const render = (style: ErrorStyle, error: ProtocolError): Response =>
  style === "page" ? errorPage(error) : style === "bearer" ? bearerErrorResponse(error) : oauthErrorResponse(error)

const withCors = (response: Response): Response => {
  if (!response.headers.has("access-control-allow-origin")) {
    try {
      response.headers.set("access-control-allow-origin", "*")
    } catch {
      // immutable headers (e.g. a Response.redirect): leave as is
    }
  }
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

/** `url` and `cookies` are parsed when an endpoint first reads them. */
const endpointContext = (request: Request, href: string): EndpointContext => {
  let url: URL | undefined
  let cookies: ReadonlyMap<string, string> | undefined
  return {
    request,
    get url() {
      return (url ??= new URL(href))
    },
    get cookies() {
      return (cookies ??= parseCookies(request))
    }
  }
}

/**
 * Build the request handler effect for a route table. Unknown paths give 404 `not_found`
 * JSON; wrong methods 405 with `Allow`.
 */
export const makeRouter = <R>(
  routes: ReadonlyMap<string, Route<R>>,
  /** routes matched by path prefix ("/register/" for RFC 7592 client configuration URLs) */
  prefixRoutes: ReadonlyArray<readonly [string, Route<R>]> = []
) =>
(request: Request): Effect.Effect<Response, never, R> => Effect.map(dispatch(routes, prefixRoutes, request), finish(request))

/**
 * What leaves the router: a plain `Response`, unless the adapter that made the request
 * reads text responses itself (`ACCEPTS_TEXT_RESPONSE`, see http/response.ts).
 */
const finish = (request: Request) =>
  (request as { [ACCEPTS_TEXT_RESPONSE]?: unknown })[ACCEPTS_TEXT_RESPONSE] === true
    ? (response: Response) => response
    : toPlatformResponse

const dispatch = <R>(
  routes: ReadonlyMap<string, Route<R>>,
  prefixRoutes: ReadonlyArray<readonly [string, Route<R>]>,
  request: Request
): Effect.Effect<Response, never, R> => {
  const href = request.url
  const path = pathOf(href)
  if (path === undefined) return Effect.succeed(oauthErrorResponse(new NotFound({ description: "malformed request URL" })))
  const pathname = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path
  const route = routes.get(pathname) ?? prefixRoutes.find(([prefix]) => pathname.startsWith(prefix))?.[1]
  if (!route) {
    return Effect.succeed(oauthErrorResponse(new NotFound({ description: `no endpoint at ${pathname.slice(0, 200)}` })))
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
