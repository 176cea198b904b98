/**
 * Assembly: config + ports -> one Fetch handler `(Request) => Promise<Response>` and the
 * host-facing operations (interactions, clients, keys). The Promise API (`createGatehouse`)
 * and the Effect API (`Gatehouse.layer`, `handle`) are the same code.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Clients } from "./clients.js"
import { GatehouseConfig, type GatehouseOptions, resolveConfig, type ResolvedConfig } from "./config.js"
import type { ProtocolError } from "./errors.js"
import { authorizeEndpoint, resumeEndpoint } from "./endpoints/authorize.js"
import { deviceAuthorizationEndpoint, deviceResumeEndpoint } from "./endpoints/device_authorization.js"
import { introspectEndpoint } from "./endpoints/introspect.js"
import { jwksEndpoint } from "./endpoints/jwks.js"
import { authorizationServerMetadataEndpoint, openidConfigurationEndpoint } from "./endpoints/metadata.js"
import { clientConfigurationEndpoint, registerEndpoint } from "./endpoints/register.js"
import { revokeEndpoint } from "./endpoints/revoke.js"
import { tokenEndpoint } from "./endpoints/token.js"
import { userinfoEndpoint } from "./endpoints/userinfo.js"
import type { IncomingRequest } from "./http/incoming.js"
import { makeRouter, type Route } from "./http/router.js"
import * as InteractionApi from "./interactions/api.js"
import { Accounts, type Claims } from "./ports/Accounts.js"
import { checkCredentials, type CredentialCheck, type CredentialCheckOptions } from "./rate-limit/login.js"
import { Crypto } from "./ports/Crypto.js"
import { Events, type GatehouseEvent } from "./ports/Events.js"
import { gnapRoutes } from "./gnap/index.js"
import { tracePorts } from "./observability/tracing.js"
import type { GatehouseServices, StoragePorts } from "./services.js"
import { Keys } from "./tokens/keys.js"
import * as UserCode from "./user-code/index.js"
import type { UserCodeSubmission, UserCodeSubmitOptions } from "./user-code/index.js"

/** The route table, keyed by absolute pathname. */
export const routes = (config: ResolvedConfig) => {
  const p = (url: string) => new URL(url).pathname
  const issuerPath = new URL(config.issuer).pathname.replace(/\/$/, "")
  const table = new Map<string, Route<GatehouseServices>>([
    [p(config.endpoints.authorization), { style: "page", methods: { GET: authorizeEndpoint, POST: authorizeEndpoint } }],
    [p(config.endpoints.resume), { style: "page", methods: { GET: resumeEndpoint } }],
    [p(config.endpoints.token), { style: "oauth", cors: true, methods: { POST: tokenEndpoint } }],
    [p(config.endpoints.userinfo), { style: "bearer", cors: true, methods: { GET: userinfoEndpoint, POST: userinfoEndpoint } }],
    [p(config.endpoints.jwks), { style: "oauth", cors: true, methods: { GET: jwksEndpoint } }],
    [p(config.endpoints.introspection), { style: "oauth", methods: { POST: introspectEndpoint } }],
    [p(config.endpoints.revocation), { style: "oauth", cors: true, methods: { POST: revokeEndpoint } }],
    [p(config.endpoints.registration), { style: "oauth", methods: { POST: registerEndpoint } }],
    // RFC 8628 §3.1 device authorization, and the end of the user's side (§3.3)
    [p(config.endpoints.deviceAuthorization), { style: "oauth", cors: true, methods: { POST: deviceAuthorizationEndpoint } }],
    [p(config.endpoints.deviceResume), { style: "page", methods: { GET: deviceResumeEndpoint } }],
    // RFC 8414 §3: /.well-known/oauth-authorization-server inserted before the issuer's path
    [`/.well-known/oauth-authorization-server${issuerPath}`, { style: "oauth", cors: true, methods: { GET: authorizationServerMetadataEndpoint } }],
    // OIDC Discovery §4: issuer + /.well-known/openid-configuration
    [`${issuerPath}/.well-known/openid-configuration`, { style: "oauth", cors: true, methods: { GET: openidConfigurationEndpoint } }]
  ])
  const prefixes: Array<readonly [string, Route<GatehouseServices>]> = [
    [`${p(config.endpoints.registration)}/`, { style: "bearer", methods: { GET: clientConfigurationEndpoint, PUT: clientConfigurationEndpoint, DELETE: clientConfigurationEndpoint } }]
  ]
  // RFC 9635 GNAP (grant, continuation, token management, interaction) and RFC 9767 §3.1
  const gnap = gnapRoutes(config)
  for (const [path, route] of gnap.exact) table.set(path, route)
  prefixes.push(...gnap.prefixes)
  return { table, prefixes }
}

/** The handler as an Effect, for Effect users: `yield* GatehouseHandler` then `handle(request)`. */
export class GatehouseHandler extends Context.Service<GatehouseHandler, {
  /** a Fetch `Request`, or an adapter's lighter `IncomingRequest` (http/incoming.ts) */
  handle(request: IncomingRequest): Effect.Effect<Response>
}>()("@gatehouse/core/GatehouseHandler") {}

/** Accounts for hosts that don't use Effect: plain async functions. */
export interface AccountsAdapter {
  /** claims for the subject (`sub` = accountId), or undefined when it no longer exists */
  claims(accountId: string): Promise<Claims | undefined> | Claims | undefined
  /** username/password check for the default login page; return the account id */
  authenticate?(username: string, password: string): Promise<string | undefined> | string | undefined
}

export const accountsLayer = (adapter: AccountsAdapter): Layer.Layer<Accounts> =>
  Layer.succeed(Accounts, Accounts.of({
    claims: (id) => Effect.promise(async () => adapter.claims(id)),
    authenticate: (u, pw) => Effect.promise(async () => adapter.authenticate ? adapter.authenticate(u, pw) : undefined)
  }))

export interface GatehouseLayerOptions {
  readonly config: ResolvedConfig
  readonly storage: Layer.Layer<StoragePorts, unknown>
  readonly accounts: Layer.Layer<Accounts, unknown>
  readonly events?: Layer.Layer<Events> | undefined
  readonly crypto?: Layer.Layer<Crypto> | undefined
}

/** Every service the workflows need, built once. */
export const servicesLayer = (o: GatehouseLayerOptions): Layer.Layer<GatehouseServices, unknown> => {
  const base = Layer.mergeAll(
    Layer.succeed(GatehouseConfig, o.config),
    // a span per port call when a tracer is installed (observability/tracing.ts)
    tracePorts(o.storage),
    tracePorts(o.accounts),
    o.events ?? Events.layerNoop,
    o.crypto ?? Crypto.layerDefault
  )
  return Layer.mergeAll(Keys.layer, Clients.layer).pipe(Layer.provideMerge(base))
}

export const Gatehouse = {
  /** The GatehouseHandler service over every Gatehouse service. */
  handlerLayer: Layer.effect(
    GatehouseHandler,
    Effect.gen(function*() {
      const config = yield* GatehouseConfig
      const context = yield* Effect.context<GatehouseServices>()
      const { table, prefixes } = routes(config)
      const route = makeRouter(table, prefixes, config.limits)
      return GatehouseHandler.of({ handle: (request) => Effect.provideContext(route(request), context) })
    })
  )
}

export interface CreateGatehouseOptions extends GatehouseOptions {
  /** storage ports: `MemoryStorage.layer()` (testkit) or `DrizzleStorage.sqlite(...)` (@gatehouse/drizzle) */
  readonly storage: Layer.Layer<StoragePorts, unknown>
  /** the host's users */
  readonly accounts: AccountsAdapter | Layer.Layer<Accounts, unknown>
  /**
   * Audit sink (docs/observability.md): a callback receiving every event, or "json" for the
   * structured log (one JSON object per line on `console.log`; `jsonLinesSink(write)` for
   * another writer).
   */
  readonly onEvent?: ((event: GatehouseEvent) => void) | "json" | undefined
  /**
   * Randomness, digests and signatures (the `Crypto` port). Default `Crypto.layerDefault`:
   * `node:crypto` on Node, ES256/EdDSA signatures on one worker thread and RSA ones on libuv's
   * threadpool (inline on a single core); `Crypto.layerNode(nodeCrypto, { signatures:
   * "threadpool" })` puts them all on the threadpool, `"inline"` keeps them on the event loop.
   */
  readonly crypto?: Layer.Layer<Crypto> | undefined
  /**
   * Extra layer merged over everything (tests: `TestClock.layer()` to control time; a
   * tracer, e.g. `OtlpTracer.layer(...)`, for Gatehouse's spans: docs/observability.md).
   */
  readonly overrides?: Layer.Layer<never> | undefined
}

export type { ProtocolError }

export interface InteractionsApi {
  /** What the pending interaction asks for (login and/or consent), for the host's pages. */
  details(id: string): Promise<InteractionApi.InteractionDetails>
  /** Record that the user signed in; tells whether consent is still needed. */
  authenticate(id: string, login: InteractionApi.LoginResult): Promise<{ readonly consentRequired: boolean }>
  /** Finish: the account and the scopes granted. Redirect the browser to `redirectTo`. */
  complete(id: string, result: InteractionApi.CompleteResult): Promise<{ readonly redirectTo: string }>
  /** The user refused (or cannot sign in). Redirect the browser to `redirectTo`. */
  deny(id: string, reason?: InteractionApi.DenyReason): Promise<{ readonly redirectTo: string }>
}

/** The user-code entry page's operations (RFC 8628 `verification_uri`, RFC 9635 §4.1.2). */
export interface UserCodesApi {
  submit(userCode: string, options: UserCodeSubmitOptions): Promise<UserCodeSubmission>
}

export interface GatehouseInstance {
  readonly config: ResolvedConfig
  /** The Fetch handler: mount it with an adapter or pass requests directly. */
  readonly handler: (request: Request) => Promise<Response>
  /**
   * The same handler for adapters that read their server's request themselves
   * (`@gatehouse/express`, `@gatehouse/fastify`): method, URL, headers and the body bytes
   * through `IncomingRequest`, with no Fetch `Request` built per request. A request carrying
   * `ACCEPTS_TEXT_RESPONSE` may be answered with a text response (`RESPONSE_TEXT`).
   */
  readonly handleIncoming: (request: IncomingRequest) => Promise<Response>
  readonly interactions: InteractionsApi
  /** The user-code entry page's operations (device flow, GNAP user codes). */
  readonly userCodes: UserCodesApi
  /**
   * Whether a pathname is one of Gatehouse's endpoints (adapters pass other requests on to
   * the host app).
   */
  readonly handles: (pathname: string) => boolean
  /**
   * The pathnames `handles` accepts, for adapters that register routes (Fastify): `exact`
   * paths, and `prefixes` (ending in "/") under which any path is served.
   */
  readonly paths: { readonly exact: ReadonlyArray<string>; readonly prefixes: ReadonlyArray<string> }
  /**
   * The Accounts port's credential check, for login pages (`@gatehouse/ui`), within the
   * failure limits of config `rateLimit.login` (per username, and per address when given).
   */
  readonly accounts: {
    /**
     * The account id, or undefined for wrong credentials AND while the username's budget is
     * spent (the password is then not checked). `check` tells those apart.
     */
    authenticate(username: string, password: string): Promise<string | undefined>
    /** `authenticated`, `rejected` (with `attemptsLeft`) or `too_many_attempts` (with `retryAfter` seconds). */
    check(username: string, password: string, options?: CredentialCheckOptions): Promise<CredentialCheck>
  }
  readonly keys: { rotate(alg: ResolvedConfig["accessToken"]["alg"]): Promise<void> }
  /** Run any Gatehouse effect with the instance's services (Effect users, tests). */
  readonly run: <A, E>(effect: Effect.Effect<A, E, GatehouseServices>) => Promise<A>
  /** Build the services now (keys loaded/generated) instead of on the first request. */
  ready(): Promise<void>
  dispose(): Promise<void>
}

/** Rejects with the protocol error (`_tag`, `description`) when an interaction call is refused. */
export const createGatehouse = (options: CreateGatehouseOptions): GatehouseInstance => {
  const { storage, accounts, onEvent, overrides, crypto, ...rest } = options
  const config = resolveConfig(rest)
  const services = servicesLayer({
    config,
    storage,
    crypto,
    accounts: Layer.isLayer(accounts) ? accounts as Layer.Layer<Accounts, unknown> : accountsLayer(accounts as AccountsAdapter),
    events: onEvent === "json" ? Events.layerJsonLines() : onEvent ? Events.layerCallback(onEvent) : undefined
  })
  const full = Layer.provideMerge(Gatehouse.handlerLayer, services)
  const runtime = ManagedRuntime.make(overrides ? Layer.provideMerge(full, overrides) : full)
  const { table, prefixes } = routes(config)
  const trim = (p: string) => (p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p)
  const run = <A, E>(effect: Effect.Effect<A, E, GatehouseServices>) => runtime.runPromise(effect)
  // once the services are built: the handler's effect run on their context, one fiber per
  // request and nothing else (no layer, no context lookup, no extra promise)
  let serve: ((request: IncomingRequest) => Promise<Response>) | undefined
  const start = async () => {
    const context = await runtime.context()
    // the router itself, not `GatehouseHandler.handle`: that one provides its services to
    // each request (for hosts running it elsewhere), and providing a context copies it (a
    // Map of every service, ~1.5 KB per request); here the fiber already runs on them
    const route = makeRouter(table, prefixes, config.limits)
    const runPromise = Effect.runPromiseWith(context)
    serve = (request) => runPromise(route(request))
    return serve
  }
  const handleIncoming = (request: IncomingRequest): Promise<Response> =>
    serve !== undefined ? serve(request) : start().then((s) => s(request))
  return {
    config,
    handler: handleIncoming,
    handleIncoming,
    interactions: {
      details: (id) => run(InteractionApi.details(id)),
      authenticate: (id, login) => run(InteractionApi.authenticate(id, login)),
      complete: (id, result) => run(InteractionApi.complete(id, result)),
      deny: (id, reason) => run(InteractionApi.deny(id, reason))
    },
    userCodes: { submit: (userCode, o) => run(UserCode.submitFromPage(userCode, o)) },
    handles: (pathname) => table.has(trim(pathname)) || prefixes.some(([prefix]) => pathname.startsWith(prefix)),
    paths: { exact: [...table.keys()], prefixes: prefixes.map(([prefix]) => prefix) },
    accounts: {
      authenticate: (u, p) => run(Effect.map(checkCredentials(u, p), (r) => (r.outcome === "authenticated" ? r.accountId : undefined))),
      check: (u, p, o) => run(checkCredentials(u, p, o))
    },
    keys: { rotate: (alg) => run(Effect.flatMap(Keys, (k) => k.rotate(alg))) },
    run,
    ready: () => runtime.runPromise(Effect.void.pipe(Effect.andThen(GatehouseHandler), Effect.asVoid)),
    dispose: () => {
      serve = undefined
      return runtime.dispose()
    }
  }
}
