/**
 * Next's `Request` -> the `Request` Gatehouse expects.
 *
 * A route handler's `request.url` is built by Next from the address it listens on and the
 * `Host` header (behind a proxy: an internal URL such as `http://localhost:3000`). Gatehouse
 * compares URLs with its issuer (RFC 8414 §2, RFC 9207 `iss`, the default pages' `Origin`
 * check), so the request is re-addressed to the public origin: the issuer's, or, only when the
 * host opts in, the one its proxy names in `X-Forwarded-Proto` / `X-Forwarded-Host`.
 */

export interface PublicUrlOptions {
  /** The public origin, e.g. the issuer's (`gatehouse.config.origin`). */
  readonly origin: string
  /**
   * Take the origin from the first `X-Forwarded-Proto` / `X-Forwarded-Host` values instead of
   * `origin` (falling back to `origin` when they are missing or malformed).
   *
   * > [!WARNING]
   * > Only when every request reaches the app through a proxy you control that sets (and
   * > overwrites) these headers: otherwise any client chooses the URL Gatehouse sees.
   * > Default false: always `origin`, whatever `Host` says.
   */
  readonly trustProxy?: boolean | undefined
}

/** A host[:port] as it may appear in a URL authority (no userinfo, path or whitespace). */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_~%]+)(?::\d{1,5})?$/

const firstValue = (value: string | null): string | undefined => {
  const head = value?.split(",")[0]?.trim()
  return head === "" ? undefined : head
}

const originOf = (request: Request, options: PublicUrlOptions): string => {
  const configured = new URL(options.origin).origin
  if (!options.trustProxy) return configured
  const proto = firstValue(request.headers.get("x-forwarded-proto"))?.toLowerCase()
  const host = firstValue(request.headers.get("x-forwarded-host"))
  if ((proto !== "http" && proto !== "https") || host === undefined || !HOST.test(host)) return configured
  return `${proto}://${host}`
}

/**
 * The request's URL on the public origin: path and query as Next received them, origin from
 * `options`. Concatenated, not resolved, so a path such as `//evil.example/x` stays a path.
 */
export const publicUrl = (request: Request, options: PublicUrlOptions): URL => {
  const received = new URL(request.url)
  return new URL(`${originOf(request, options)}${received.pathname}${received.search}`)
}

/**
 * The same request (method, headers, body stream, abort signal) addressed to the public URL.
 * Returned as is when its URL is already the public one.
 */
export const toPublicRequest = (request: Request, options: PublicUrlOptions): Request => {
  const url = publicUrl(request, options)
  if (url.href === request.url) return request
  const method = request.method.toUpperCase()
  const init: RequestInit & { duplex?: "half" } = { method, headers: request.headers, signal: request.signal, redirect: "manual" }
  if (method !== "GET" && method !== "HEAD" && request.body !== null) {
    init.body = request.body
    init.duplex = "half"
  }
  return new Request(url, init)
}

/**
 * Whether Next's own router sent this request (`RSC: 1`): a client-side navigation or
 * prefetch, or the server following a Server Action's `redirect()` to fetch the target's
 * React payload. Gatehouse's pages are not React routes, and running them then would spend
 * single-use state (an interaction resumed, a code issued) on a request whose answer Next
 * throws away.
 */
export const isNextRouterRequest = (request: Request): boolean => request.headers.get("rsc") === "1"

/**
 * The answer to a router request: not a React payload, so Next falls back to a full-page
 * navigation, and the browser then makes the real request.
 */
export const routerFallback = (): Response =>
  new Response(null, { status: 204, headers: { "cache-control": "no-store", vary: "rsc" } })
