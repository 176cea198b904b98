/**
 * Audit events: every issued, denied, revoked and reuse-detected grant, for audit logs and
 * metrics (DESIGN.md "Ports"). docs/observability.md lists each event, when it is emitted,
 * its fields and its log level.
 *
 * An event names clients, accounts and grants by their identifiers and says what happened;
 * it NEVER carries a token, code, secret, password or assertion value (test/events.test.ts
 * checks every event of a full flow suite against every credential the flows handled).
 *
 * Call sites emit an `AuditEvent` (what happened); the sink receives a `GatehouseEvent`: the
 * same, stamped with `timestamp` (the Clock's, so TestClock in tests) and, when the request
 * carried one, its `requestId` and the trace it ran in.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Tracer from "effect/Tracer"

/** Which protocol flow an authorization decision belongs to. */
export type AuthorizationFlow = "authorize" | "device" | "gnap"

/** Why every token of a grant was revoked. */
export type GrantRevocationReason =
  | "code_replay"
  | "refresh_token_reuse"
  /** RFC 7009 §2.1 refresh token revocation, RFC 9635 §5.4 grant deletion */
  | "revocation"
  /** RFC 9635 §5.1, §5.2, §4.1: a GNAP grant ended by the AS (interact_ref reused, too many polls, interaction expired) */
  | "finalized"
  | "client_deleted"

/** What happened, as a call site reports it (see `GatehouseEvent` for what sinks receive). */
export type AuditEvent =
  /** Tokens issued at the token endpoint (any grant_type) or by a GNAP grant (RFC 9635 §3.2, §6.1). */
  | {
    readonly type: "token.issued"
    /** the wire grant_type; "gnap" for RFC 9635 */
    readonly grantType: string
    readonly clientId: string
    readonly accountId?: string | undefined
    readonly grantId: string
    readonly scope: ReadonlyArray<string>
    /** RFC 9635 §6.1: a rotation of an existing token, not a new grant decision */
    readonly rotation?: true | undefined
  }
  /** RFC 6749 §5.2: the token endpoint refused (every error code, RFC 8628 §3.5 polling answers included). */
  | {
    readonly type: "token.denied"
    /** the request's grant_type when it had one (truncated to 64 characters) */
    readonly grantType?: string | undefined
    /** the authenticated client; failing that, the `client_id` the request claimed */
    readonly clientId?: string | undefined
    /** the wire error code */
    readonly error: string
  }
  /** The authorization server issued a code (RFC 6749 §4.1.2), approved a device code or a GNAP grant. */
  | {
    readonly type: "authorization.granted"
    readonly flow: AuthorizationFlow
    readonly clientId: string
    readonly accountId: string
    readonly grantId?: string | undefined
    readonly scope: ReadonlyArray<string>
  }
  /** The user denied, `prompt=none` could not be honoured, or the authorization request was refused. */
  | {
    readonly type: "authorization.denied"
    readonly flow: AuthorizationFlow
    /** the client (as claimed, when the refusal is that the client or redirect URI is unknown) */
    readonly clientId?: string | undefined
    readonly accountId?: string | undefined
    readonly error: string
    /** false when the error was shown on an error page instead of being sent to the client (RFC 6749 §4.1.2.1) */
    readonly redirected?: boolean | undefined
  }
  /** RFC 6749 §4.1.2 / RFC 9700 §4.5: an authorization code presented a second time; a `grant.revoked` follows. */
  | { readonly type: "code.replayed"; readonly clientId: string; readonly accountId?: string | undefined; readonly grantId: string }
  /** RFC 9700 §4.14.2: a rotated refresh token presented again; a `grant.revoked` (its family) follows. */
  | { readonly type: "refresh_token.reused"; readonly clientId: string; readonly accountId?: string | undefined; readonly grantId: string }
  /** Every token of a grant revoked (RFC 7009 §2.1 refresh token, replay, reuse, GNAP §5.4 deletion or §5.1/§5.2 finalization). */
  | {
    readonly type: "grant.revoked"
    readonly grantId: string
    readonly clientId?: string | undefined
    readonly reason: GrantRevocationReason
  }
  /** One token revoked: RFC 7009 (access or refresh token), RFC 9635 §6.2 (GNAP token management). */
  | {
    readonly type: "token.revoked"
    readonly clientId: string
    readonly tokenType: "access_token" | "refresh_token"
    readonly grantId?: string | undefined
  }
  /** RFC 7662 / RFC 9767 §3.3: a token was introspected (whether it was active, never what it is). */
  | { readonly type: "token.introspected"; readonly clientId: string; readonly active: boolean }
  /** RFC 6749 §2.3 / §5.2 invalid_client at the token, introspection, revocation or device authorization endpoint. */
  | { readonly type: "client_auth.failed"; readonly clientId?: string | undefined; readonly method: string }
  /** RFC 7591 §3.2.1 */
  | { readonly type: "client.registered"; readonly clientId: string }
  /** RFC 7592 §2.2 */
  | { readonly type: "client.updated"; readonly clientId: string }
  /** RFC 7592 §2.3 */
  | { readonly type: "client.deleted"; readonly clientId: string }
  /** RFC 8628 §3.3 / RFC 9635 §4.1.2: a typed user code opened its interaction. */
  | { readonly type: "user_code.accepted"; readonly clientId: string; readonly kind: string }
  /** A typed user code was refused (`malformed` ones are not counted as guesses, RFC 8628 §5.1). */
  | {
    readonly type: "user_code.rejected"
    readonly reason: "malformed" | "unknown" | "expired" | "used"
    readonly attemptsLeft?: number | undefined
  }
  /** RFC 8628 §5.1 / RFC 9635 §4.1.2 too_many_attempts: a guesser's failure budget is spent. */
  | { readonly type: "user_code.too_many_attempts"; readonly retryAfter: number }
  /**
   * Any other endpoint refused the request (userinfo, introspection, revocation, registration,
   * device authorization, GNAP grant / continuation / token management, ...).
   */
  | {
    readonly type: "request.denied"
    /** the endpoint's span name without `gatehouse.endpoint.` (e.g. "userinfo", "gnap.continue") */
    readonly endpoint: string
    readonly clientId?: string | undefined
    readonly error: string
  }

/** What every event carries besides what happened. */
export interface EventStamp {
  /** milliseconds since the epoch, from Effect's Clock */
  readonly timestamp: number
  /** the request's `X-Request-Id` (or `Request-Id`), when it had a well-formed one */
  readonly requestId?: string | undefined
  /** the OpenTelemetry trace the request ran in, when a tracer is installed */
  readonly traceId?: string | undefined
  readonly spanId?: string | undefined
}

/** What an Events sink receives: the event, stamped. */
export type GatehouseEvent = AuditEvent & EventStamp

export type EventType = GatehouseEvent["type"]

export type EventLevel = "info" | "warn" | "error"

/** Error codes that mean "our fault", not the request's (errors.ts: StorageError, ServerError). */
const INTERNAL_ERRORS: ReadonlySet<string> = new Set(["server_error", "temporarily_unavailable"])
/** RFC 8628 §3.5: a device polling on time is told to wait; not a warning. */
const PENDING_ERRORS: ReadonlySet<string> = new Set(["authorization_pending", "slow_down"])

/** The log level of an event: issued/granted/revoked are info, denials/reuse/replay warn, our own failures error. */
export const eventLevel = (event: AuditEvent): EventLevel => {
  switch (event.type) {
    case "token.denied":
    case "request.denied":
    case "authorization.denied":
      return INTERNAL_ERRORS.has(event.error) ? "error" : PENDING_ERRORS.has(event.error) ? "info" : "warn"
    case "code.replayed":
    case "refresh_token.reused":
    case "client_auth.failed":
    case "user_code.rejected":
    case "user_code.too_many_attempts":
      return "warn"
    case "grant.revoked":
      return event.reason === "code_replay" || event.reason === "refresh_token_reuse" ? "warn" : "info"
    default:
      return "info"
  }
}

/**
 * The request id events are stamped with, provided per request by the endpoint wrapper
 * (observability/endpoint.ts) from the `X-Request-Id` header.
 */
export const CurrentRequestId = Context.Reference<string | undefined>("@gatehouse/core/ports/Events/CurrentRequestId", {
  defaultValue: () => undefined
})

/** Stamp an event: Clock time, request id, and the current span when a tracer is exporting. */
const stamp = (event: AuditEvent): Effect.Effect<GatehouseEvent> =>
  Effect.withFiber((fiber) => {
    // Object.assign, not `{ ...event, timestamp }`: a spread followed by a new member is a
    // slow path on Node 20's V8, and every token request emits an event
    const stamped: { -readonly [K in keyof EventStamp]: EventStamp[K] } & AuditEvent = Object.assign({}, event, {
      timestamp: fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
    })
    const requestId = fiber.getRef(CurrentRequestId)
    if (requestId !== undefined) stamped.requestId = requestId
    const tracer = fiber.cache.tracer
    const span = fiber.cache.span
    if (tracer !== undefined && tracer !== Tracer.nativeTracer && span !== undefined) {
      stamped.traceId = span.traceId
      stamped.spanId = span.spanId
    }
    return Effect.succeed(stamped as GatehouseEvent)
  })

/** One line of the structured log: `ts` (ISO 8601), `level`, `event`, then the event's fields. */
export const toJsonLine = (event: GatehouseEvent): string => {
  const { type, timestamp, ...fields } = event
  return JSON.stringify({ ts: new Date(timestamp).toISOString(), level: eventLevel(event), event: type, ...fields })
}

/**
 * A sink writing one JSON object per line (see `toJsonLine`), for `onEvent` in the Promise
 * API. `write` defaults to `console.log` (core imports no Node module: pass
 * `(line) => process.stdout.write(line + "\n")` or your logger's method).
 */
export const jsonLinesSink = (write: (line: string) => void = console.log) => (event: GatehouseEvent): void =>
  write(toJsonLine(event))

export class Events extends Context.Service<Events, {
  /** Record that something happened. Never fails: an audit sink must not break the protocol. */
  emit(event: AuditEvent): Effect.Effect<void>
}>()("@gatehouse/core/ports/Events") {
  /** An Events service that stamps each event (`GatehouseEvent`) and hands it to `sink`. */
  static readonly make = (sink: (event: GatehouseEvent) => Effect.Effect<void>): Events["Service"] =>
    Events.of({ emit: (event) => Effect.flatMap(stamp(event), sink) })
  /** Discards events. */
  static readonly layerNoop = Layer.succeed(Events, Events.of({ emit: () => Effect.void }))
  /** Calls a plain callback with each stamped event (errors in it are swallowed). */
  static readonly layerCallback = (fn: (event: GatehouseEvent) => void) =>
    Layer.succeed(
      Events,
      Events.make((event) =>
        Effect.sync(() => {
          try {
            fn(event)
          } catch {
            // an audit sink must not break the protocol
          }
        })
      )
    )
  /**
   * The structured-log sink: one JSON object per line, `{"ts","level","event",...fields}`,
   * handed to `write` (default `console.log`).
   */
  static readonly layerJsonLines = (write?: (line: string) => void) => Events.layerCallback(jsonLinesSink(write))
}
