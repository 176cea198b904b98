/**
 * Routing: pathname + method -> endpoint, and the rendering of every failure in the style
 * of the endpoint that failed (RFC 6749 §5.2 JSON, RFC 6750 challenge, or an HTML error page
 * where redirecting would be unsafe). Nothing escapes as a 500 with a stack: defects are
 * logged and rendered as `server_error` without detail.
 */
import { Cause, Effect } from "effect"
import { isInternal, MethodNotAllowed, NotFound, type ProtocolError, ServerError } from "../errors.js"
import { parseCookies } from "./request.js"
import { bearerErrorResponse, errorPage, oauthErrorResponse } from "./response.js"

export interface EndpointContext {
  readonly request: Request
  readonly url: URL
  readonly cookies: ReadonlyMap<string, string>
}

export type Endpoint<R> = (ctx: EndpointContext) => Effect.Effect<Response, ProtocolError, R>

export type ErrorStyle = "oauth" | "bearer" | "page"

export interface Route<R> {
  readonly style: ErrorStyle
  readonly methods: Partial<Record<"GET" | "POST" | "PUT" | "DELETE" | "OPTIONS", Endpoint<R>>>
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
 * Build the request handler effect for a route table. Unknown paths give 404 `not_found`
 * JSON; wrong methods 405 with `Allow`.
 */
export const makeRouter = <R>(
  routes: ReadonlyMap<string, Route<R>>,
  /** routes matched by path prefix ("/register/" for RFC 7592 client configuration URLs) */
  prefixRoutes: ReadonlyArray<readonly [string, Route<R>]> = []
) =>
(request: Request): Effect.Effect<Response, never, R> => {
  let url: URL
  try {
    url = new URL(request.url)
  } catch {
    return Effect.succeed(oauthErrorResponse(new NotFound({ description: "malformed request URL" })))
  }
  const pathname = url.pathname.length > 1 && url.pathname.endsWith("/") ? url.pathname.slice(0, -1) : url.pathname
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
  return endpoint({ request, url, cookies: parseCookies(request) }).pipe(
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
