/**
 * Issue 6: OpenTelemetry-ready spans through Effect's tracer (observability/tracing.ts,
 * docs/observability.md). An in-memory `Tracer` stands in for an OpenTelemetry exporter:
 * one `gatehouse.endpoint.*` server span per request, a child span per grant workflow and
 * per port call, outcome attributes; and nothing at all when no tracer is installed.
 */
import { types } from "node:util"
import { createGatehouse, type GatehouseEvent, GatehouseHandler, type GatehouseServices } from "@gatehouse/core"
import { MemoryStorage } from "@gatehouse/testkit"
import { Effect, Layer, Option, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { traced } from "../src/observability/tracing.js"
import { AccessTokenStore } from "../src/ports/AccessTokenStore.js"
import { approvedGrant, makeGnap } from "./helpers/gnap.js"
import { freshDatabase } from "./helpers/setup.js"
import { authorize, basic, CLIENTS, exchangeCode, ISSUER, makeHarness, tokens } from "./helpers/token-helpers.js"

/** An in-memory tracer: every span Effect asks it for. */
const recordingTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  const parentOf = (span: Tracer.NativeSpan) => {
    const parent = Option.getOrUndefined(span.parent)
    return parent === undefined ? undefined : spans.find((s) => s.spanId === parent.spanId)
  }
  const named = (name: string) => {
    const found = spans.filter((s) => s.name === name)
    if (found.length !== 1) throw new Error(`expected one span ${name}, got ${found.length}: ${spans.map((s) => s.name).join(", ")}`)
    return found[0]!
  }
  return { tracer, spans, parentOf, named, layer: Layer.succeed(Tracer.Tracer, tracer) }
}

const attributes = (span: Tracer.NativeSpan) => Object.fromEntries(span.attributes)

const makeTraced = (rec: ReturnType<typeof recordingTracer>, events: Array<GatehouseEvent> = []) =>
  createGatehouse({
    issuer: ISSUER,
    scopes: ["api:read", "api:write"],
    storage: MemoryStorage.layer(freshDatabase()),
    accounts: { claims: (id) => (id === "alice" ? { name: "Alice" } : undefined) },
    clients: Object.values(CLIENTS),
    onEvent: (e) => void events.push(e),
    overrides: Layer.mergeAll(TestClock.layer(), rec.layer)
  })

const clientCredentials = (secret = "svc-secret", headers: Record<string, string> = {}) =>
  new Request(`${ISSUER}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic("svc", secret), ...headers },
    body: "grant_type=client_credentials&scope=api%3Aread"
  })

describe("spans with a tracer installed", () => {
  it("token request: one server span gatehouse.endpoint.token, a child gatehouse.grant.client_credentials, port calls below it", async () => {
    const rec = recordingTracer()
    const gh = makeTraced(rec)
    await gh.ready()
    rec.spans.length = 0
    expect((await gh.handler(clientCredentials())).status).toBe(200)
    const endpoint = rec.named("gatehouse.endpoint.token")
    expect(endpoint.kind).toBe("server")
    expect(rec.parentOf(endpoint)).toBeUndefined()
    expect(attributes(endpoint)).toMatchObject({
      "http.request.method": "POST",
      "url.path": "/token",
      "gatehouse.client_id": "svc",
      "gatehouse.grant_type": "client_credentials",
      "gatehouse.outcome": "ok",
      "http.response.status_code": 200
    })
    const grant = rec.named("gatehouse.grant.client_credentials")
    expect(rec.parentOf(grant)).toBe(endpoint)
    expect(attributes(grant)).toMatchObject({ "gatehouse.client_id": "svc", "gatehouse.grant_type": "client_credentials", "gatehouse.outcome": "ok" })
    const save = rec.named("gatehouse.port.AccessTokenStore.save")
    expect(save.kind).toBe("client")
    expect(rec.parentOf(save)).toBe(grant)
    // one trace, every span ended
    expect(new Set(rec.spans.map((s) => s.traceId)).size).toBe(1)
    expect(rec.spans.every((s) => s.status._tag === "Ended")).toBe(true)
    await gh.dispose()
  })

  it("RFC 6749 §5.2: a refused token request ends its span with gatehouse.outcome error, the error code and the status", async () => {
    const rec = recordingTracer()
    const gh = makeTraced(rec)
    await gh.ready()
    rec.spans.length = 0
    expect((await gh.handler(clientCredentials("wrong"))).status).toBe(401)
    const endpoint = rec.named("gatehouse.endpoint.token")
    expect(attributes(endpoint)).toMatchObject({ "gatehouse.outcome": "error", "gatehouse.error": "invalid_client", "http.response.status_code": 401 })
    expect(endpoint.status._tag === "Ended" && endpoint.status.exit._tag).toBe("Failure")
    expect(rec.spans.some((s) => s.name.startsWith("gatehouse.grant."))).toBe(false)
    await gh.dispose()
  })

  it("authorization code flow: gatehouse.endpoint.authorize (303 to the login page) with its InteractionStore.create, the resume span with AuthorizationCodeStore.save, then the token span with the grant span", async () => {
    const rec = recordingTracer()
    // the harness helpers drive the flow on a traced instance
    const gh = makeTraced(rec)
    const traced = { gh, db: undefined as never, events: [], accounts: new Map() }
    await gh.ready()
    rec.spans.length = 0
    const auth = await authorize(traced, { clientId: "web", scope: "openid api:read" })
    const start = rec.named("gatehouse.endpoint.authorize")
    expect(start.kind).toBe("server")
    expect(attributes(start)).toMatchObject({ "http.request.method": "GET", "url.path": "/authorize", "gatehouse.client_id": "web", "gatehouse.outcome": "ok", "http.response.status_code": 303 })
    expect(rec.parentOf(rec.named("gatehouse.port.InteractionStore.create"))).toBe(start)
    const resume = rec.named("gatehouse.endpoint.authorize.resume")
    expect(rec.parentOf(rec.named("gatehouse.port.AuthorizationCodeStore.save"))).toBe(resume)
    // each request is its own trace
    expect(start.traceId).not.toBe(resume.traceId)
    await tokens(await exchangeCode(traced, auth, CLIENTS.web))
    const grant = rec.named("gatehouse.grant.authorization_code")
    expect(rec.parentOf(grant)?.name).toBe("gatehouse.endpoint.token")
    expect(rec.parentOf(rec.named("gatehouse.port.AuthorizationCodeStore.consume"))).toBe(grant)
    await gh.dispose()
  })

  it("GNAP: gatehouse.endpoint.gnap.grant and gatehouse.endpoint.gnap.continue server spans", async () => {
    const rec = recordingTracer()
    const h = await makeGnap({ overrides: Layer.mergeAll(TestClock.layer(), rec.layer) })
    await approvedGrant(h)
    expect(attributes(rec.named("gatehouse.endpoint.gnap.grant"))).toMatchObject({ "http.request.method": "POST", "gatehouse.outcome": "ok" })
    expect(rec.named("gatehouse.endpoint.gnap.continue").kind).toBe("server")
    expect(rec.spans.some((s) => s.name === "gatehouse.port.GnapGrantStore.create")).toBe(true)
  })

  it("an Effect host's own span is the parent of the endpoint span; audit events carry the trace and span ids", async () => {
    const rec = recordingTracer()
    const events: Array<GatehouseEvent> = []
    const gh = makeTraced(rec, events)
    await gh.ready()
    const handled = Effect.flatMap(GatehouseHandler, (handler) => handler.handle(clientCredentials()))
    const response = await gh.run(Effect.withSpan(handled, "host.request") as unknown as Effect.Effect<Response, never, GatehouseServices>)
    expect(response.status).toBe(200)
    const endpoint = rec.named("gatehouse.endpoint.token")
    expect(rec.parentOf(endpoint)?.name).toBe("host.request")
    const issued = events.find((e) => e.type === "token.issued")!
    expect(issued.traceId).toBe(endpoint.traceId)
    expect(issued.spanId).toBe(rec.named("gatehouse.grant.client_credentials").spanId)
    await gh.dispose()
  })
})

describe("no tracer installed: no spans, no cost", () => {
  it("Effect.withTracerEnabled(false) turns Gatehouse's spans off in a scope, with a tracer installed", async () => {
    const rec = recordingTracer()
    const gh = makeTraced(rec)
    await gh.ready()
    rec.spans.length = 0
    const handled = Effect.flatMap(GatehouseHandler, (handler) => handler.handle(clientCredentials()))
    const response = await gh.run(Effect.withTracerEnabled(handled, false) as unknown as Effect.Effect<Response, never, GatehouseServices>)
    expect(response.status).toBe(200)
    expect(rec.spans.filter((s) => s.name.startsWith("gatehouse."))).toEqual([])
    await gh.dispose()
  })

  it("traced() runs the effect as is: no span, the attributes thunk never called", async () => {
    let called = 0
    const attrs = () => {
      called++
      return {}
    }
    const inside = await Effect.runPromise(traced("gatehouse.test", Effect.option(Effect.currentSpan), attrs))
    expect(Option.isNone(inside)).toBe(true)
    expect(called).toBe(0)
    // the same with a tracer: a span, the thunk called once
    const rec = recordingTracer()
    const spanned = await Effect.runPromise(Effect.provide(traced("gatehouse.test", Effect.currentSpan, attrs), rec.layer))
    expect(spanned.name).toBe("gatehouse.test")
    expect(called).toBe(1)
  })

  it("ports are the storage's own objects without a tracer, wrapped only with one", async () => {
    const plain = createGatehouse({ issuer: ISSUER, storage: MemoryStorage.layer(freshDatabase()), accounts: { claims: () => undefined } })
    expect(types.isProxy(await plain.run(AccessTokenStore))).toBe(false)
    const rec = recordingTracer()
    const withTracer = createGatehouse({ issuer: ISSUER, storage: MemoryStorage.layer(freshDatabase()), accounts: { claims: () => undefined }, overrides: rec.layer })
    expect(types.isProxy(await withTracer.run(AccessTokenStore))).toBe(true)
    await plain.dispose()
    await withTracer.dispose()
  })

  it("events carry no trace ids without a tracer", async () => {
    const h = await makeHarness()
    await h.gh.handler(clientCredentials())
    expect(h.events.length).toBeGreaterThan(0)
    expect(h.events.every((e) => e.traceId === undefined && e.spanId === undefined)).toBe(true)
  })
})
