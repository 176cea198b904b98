/**
 * OpenTelemetry-ready spans through Effect's tracer (docs/observability.md): one
 * `gatehouse.endpoint.*` server span per request, a child span per grant workflow and token
 * step, and a `gatehouse.port.<Port>.<method>` span per storage or accounts call.
 *
 * Spans cost nothing when nobody listens: unless a tracer other than Effect's built-in one is
 * installed (an OpenTelemetry or custom `Tracer` layer), `traced` runs the effect as it is:
 * no span object, no attribute computed (attributes are thunks), no port wrapper. Effect's
 * built-in tracer exports nothing, so nothing is lost.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Tracer from "effect/Tracer"
import { errorTable, type ProtocolError } from "../errors.js"

export type SpanAttributes = Record<string, string | number | boolean | ReadonlyArray<string> | undefined>

/** Whether spans are exported: a tracer other than Effect's built-in (non-exporting) one, and tracing enabled. */
export const isTracing = (fiber: Fiber.Fiber<unknown, unknown>): boolean => {
  const tracer = fiber.cache.tracer
  return tracer !== undefined && tracer !== Tracer.nativeTracer && fiber.cache.tracerEnabled
}

const definedOnly = (attributes: SpanAttributes): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const key in attributes) if (attributes[key] !== undefined) out[key] = attributes[key]
  return out
}

/** A failure's wire error code and HTTP status: a protocol error's row of errors.ts, else `server_error` (a defect). */
const failureOf = (cause: Cause.Cause<unknown>): { readonly code: string; readonly status: number } | undefined => {
  if (Cause.hasInterruptsOnly(cause)) return undefined
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some") {
    const tag = (error.value as { readonly _tag?: unknown } | null)?._tag
    if (typeof tag === "string" && tag in errorTable) return errorTable[tag as ProtocolError["_tag"]]
  }
  return errorTable.ServerError
}

/** The wire error code of a failure (undefined when it was only interrupted). */
export const failureCode = (cause: Cause.Cause<unknown>): string | undefined => failureOf(cause)?.code

/** The outcome attributes every Gatehouse span ends with. */
const recordOutcome = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) {
    const value = exit.value
    return Effect.annotateCurrentSpan(
      value instanceof Response
        ? { "gatehouse.outcome": value.status < 400 ? "ok" : "error", "http.response.status_code": value.status }
        : { "gatehouse.outcome": "ok" }
    )
  }
  const failure = failureOf(exit.cause)
  if (failure === undefined) return Effect.annotateCurrentSpan("gatehouse.outcome", "interrupted")
  return Effect.annotateCurrentSpan({ "gatehouse.outcome": "error", "gatehouse.error": failure.code, "http.response.status_code": failure.status })
}

/**
 * Run `self` in a span named `name` when a tracer is exporting; otherwise run it untouched.
 * `attributes` is only called when the span is made. The span ends with `gatehouse.outcome`
 * ("ok" / "error"), `gatehouse.error` (the wire error code) and, for HTTP answers,
 * `http.response.status_code`.
 */
export const traced = <A, E, R>(
  name: string,
  self: Effect.Effect<A, E, R>,
  attributes?: () => SpanAttributes,
  kind: Tracer.SpanKind = "internal"
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) =>
    isTracing(fiber)
      ? Effect.withSpan(Effect.onExit(self, recordOutcome), name, {
        attributes: attributes === undefined ? undefined : definedOnly(attributes()),
        kind,
        captureStackTrace: false
      }) as Effect.Effect<A, E, R>
      : self
  )

/** Add attributes to the current Gatehouse span (a no-op, `attributes` not called, unless tracing). */
export const annotate = (attributes: () => SpanAttributes): Effect.Effect<void> =>
  Effect.withFiber((fiber) => isTracing(fiber) ? Effect.annotateCurrentSpan(definedOnly(attributes())) : Effect.void)

/** Service keys whose calls get a span: every port of core except the tiny, hot Crypto and Events calls. */
const PORT_PREFIX = "@gatehouse/core/ports/"
const UNTRACED_PORTS: ReadonlySet<string> = new Set([`${PORT_PREFIX}Crypto`, `${PORT_PREFIX}Events`])

/** A port whose Effect-returning methods run in `gatehouse.port.<Port>.<method>` spans. */
const tracedPort = (port: string, service: object): object =>
  new Proxy(service, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof value !== "function" || typeof property !== "string") return value
      const name = `gatehouse.port.${port}.${property}`
      return (...args: Array<unknown>) => {
        const result: unknown = value.apply(target, args)
        return Effect.isEffect(result)
          ? Effect.withSpan(result, name, { kind: "client", captureStackTrace: false })
          : result
      }
    }
  })

/**
 * The ports of `layer`, with a span around each call when a tracer is exporting at the time
 * the layer is built (otherwise the services are returned as they are: no per-call cost).
 */
export const tracePorts = <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  Layer.flatMap(layer, (context) =>
    Layer.effectContext(Effect.withFiber((fiber) => {
      if (!isTracing(fiber)) return Effect.succeed(context)
      const wrapped = new Map<string, unknown>()
      for (const [key, service] of context.mapUnsafe) {
        const traceable = key.startsWith(PORT_PREFIX) && !UNTRACED_PORTS.has(key) && typeof service === "object" && service !== null
        wrapped.set(key, traceable ? tracedPort(key.slice(PORT_PREFIX.length), service as object) : service)
      }
      return Effect.succeed(Context.makeUnsafe<A>(wrapped))
    })))
