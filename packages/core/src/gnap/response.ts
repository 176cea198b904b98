/**
 * GNAP responses (RFC 9635 §3): JSON objects with `Cache-Control: no-store` (§3 MUST), and
 * errors (§3.6) as `{"error": {"code", "description"}}` — nothing else, except a `continue`
 * while the grant is pending. Internal failures never reach the wire in detail.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { errorCode, errorTable, isInternal, type ProtocolError, publicDescription, ServerError } from "../errors.js"

// Pragma for HTTP/1.0 caches, as RFC 6749 §5.1 does for token responses
const HEADERS = { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache" } as const

/** RFC 9635 §3: a JSON response. */
export const gnapJson = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { ...HEADERS, ...headers } })

/** RFC 9635 §5.4 / §6.2: 204, no content. */
export const noContent = (): Response => new Response(null, { status: 204, headers: { "cache-control": "no-store", pragma: "no-cache" } })

/** RFC 9635 §3.6 */
export const gnapErrorResponse = (error: ProtocolError, continuation?: Record<string, unknown>): Response => {
  const body: Record<string, unknown> = {
    error: { code: errorCode(error), description: publicDescription(error) }
  }
  if (continuation !== undefined) body["continue"] = continuation
  const headers: Record<string, string> = {}
  if (error._tag === "InvalidClient") headers["www-authenticate"] = "GNAP"
  if (error._tag === "MethodNotAllowed") headers["allow"] = error.allow.join(", ")
  return gnapJson(body, errorTable[error._tag].status, headers)
}

/**
 * Run a GNAP endpoint: every failure, expected or not, becomes a §3.6 error response (a
 * defect is logged and answered as a server error without detail).
 */
export const gnapEndpoint = <R>(effect: Effect.Effect<Response, ProtocolError, R>): Effect.Effect<Response, never, R> =>
  effect.pipe(
    Effect.catchCause((cause) => {
      const failure = Cause.findErrorOption(cause)
      const error: ProtocolError = failure._tag === "Some"
        ? failure.value
        : new ServerError({ detail: "unexpected defect", cause: Cause.squash(cause) })
      const log = isInternal(error)
        ? Effect.logError("gatehouse gnap: internal error", error.detail ?? "", Cause.pretty(cause))
        : Effect.void
      return Effect.as(log, gnapErrorResponse(error))
    })
  )
