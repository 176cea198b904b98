/**
 * What every endpoint gets around it: the `gatehouse.endpoint.<name>` server span, the
 * request id its audit events carry (`X-Request-Id`), and an audit event when it refuses the
 * request (`request.denied`, or the endpoint's own, e.g. `token.denied`).
 */
import * as Effect from "effect/Effect"
import type { EndpointContext } from "../http/router.js"
import { type AuditEvent, CurrentRequestId, Events } from "../ports/Events.js"
import { failureCode, type SpanAttributes, traced } from "./tracing.js"

/**
 * A request id worth logging: printable, no spaces or quotes, at most 128 characters. Any
 * other value (the header is untrusted input) is ignored rather than cleaned.
 */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/

/** The request's `X-Request-Id`, when well-formed. */
export const requestIdOf = (request: { readonly headers: { get(name: string): string | null } }): string | undefined => {
  const value = request.headers.get("x-request-id")
  return value !== null && REQUEST_ID.test(value) ? value : undefined
}

export interface ObserveOptions {
  /**
   * The audit event for a refused request, given the wire error code. Default: a
   * `request.denied` naming the endpoint. `null`: the endpoint emits its own events.
   */
  readonly denied?: ((error: string) => AuditEvent) | null | undefined
  /** more span attributes, computed only when a tracer is exporting */
  readonly attributes?: (() => SpanAttributes) | undefined
}

/**
 * Observe one endpoint's handling of `ctx`: `self` runs in the span
 * `gatehouse.endpoint.<name>` (kind server, with `http.request.method` and `url.path`),
 * its refusal is an audit event, and everything inside sees the request id.
 */
export const observeEndpoint = <A, E, R>(
  name: string,
  ctx: EndpointContext,
  self: Effect.Effect<A, E, R>,
  options: ObserveOptions = {}
): Effect.Effect<A, E, R | Events> => {
  const denied = options.denied
  const audited = denied === null ? self : Effect.tapCause(self, (cause) => {
    const error = failureCode(cause)
    if (error === undefined) return Effect.void
    return Effect.flatMap(Events, (events) =>
      events.emit(denied === undefined ? { type: "request.denied", endpoint: name, error } : denied(error)))
  })
  const spanned = traced(`gatehouse.endpoint.${name}`, audited, () => ({
    "http.request.method": ctx.request.method,
    "url.path": ctx.url.pathname,
    ...options.attributes?.()
  }), "server")
  const requestId = requestIdOf(ctx.request)
  return requestId === undefined ? spanned : Effect.provideService(spanned, CurrentRequestId, requestId)
}
