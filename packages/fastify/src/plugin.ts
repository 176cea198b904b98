/**
 * The Fastify plugins. Gatehouse's routes live in their own encapsulated context, which
 * drops every content-type parser it inherited and adds one pass-through parser: Gatehouse
 * reads its own bodies (RFC 6749 §3.2 forms, RFC 7591 JSON) from the stream, while the
 * host's parsers (`@fastify/formbody`, a custom JSON parser, ...) keep working everywhere
 * else, whether registered before or after.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyPluginOptions, FastifyReply, FastifyRequest, HTTPMethods } from "fastify"
import fp from "fastify-plugin"
import type { IncomingRequest } from "@gatehouse/core"
import { abortFetchRequest, type OriginSource, requestUrl, sendFetchResponse, toFetchRequest, toIncomingRequest, type UrlOptions } from "./translate.js"

/** Anything that answers Fetch requests for some paths: a Gatehouse instance, `@gatehouse/ui`'s pages. */
export interface FetchApp {
  readonly handler: (request: Request) => Promise<Response>
  /** whether `pathname` (absolute, as the browser sent it) is served by `handler` */
  readonly handles: (pathname: string) => boolean
  /**
   * The same handler over core's lighter request (a Gatehouse instance has it): used when
   * there is no body to stream, so no Fetch `Request` is built.
   */
  readonly handleIncoming?: ((request: IncomingRequest) => Promise<Response>) | undefined
}

/** What the Gatehouse plugin uses of a Gatehouse instance (`createGatehouse(...)`). */
export interface GatehouseApp extends FetchApp {
  readonly config: { readonly origin: string; readonly basePath: string }
  /** the exact paths and path prefixes Gatehouse serves, registered as Fastify routes */
  readonly paths: { readonly exact: ReadonlyArray<string>; readonly prefixes: ReadonlyArray<string> }
}

export interface FetchPluginOptions extends FastifyPluginOptions {
  readonly app: FetchApp
  /**
   * Origin of the URLs the handler sees, e.g. `gatehouse.config.origin`. Default: the
   * request's own (`request.protocol` and `request.host`).
   */
  readonly origin?: string | undefined
  /** see `OriginSource`; default `"issuer"` when `origin` is given */
  readonly originFrom?: OriginSource | undefined
}

export interface GatehousePluginOptions extends FastifyPluginOptions {
  readonly gatehouse: GatehouseApp
  /**
   * Where the OAuth endpoints are mounted: must be the config's `basePath` (the default).
   * Discovery (`/.well-known/...`) stays at the origin's root either way (RFC 8414 §3).
   */
  readonly prefix?: string | undefined
  /** see `OriginSource`; default `"issuer"`: the issuer's origin, whatever `Host` says */
  readonly originFrom?: OriginSource | undefined
  /**
   * The RFC 9440 `Client-Cert` field (GNAP `mtls` proofing, RFC 9635 §7.3.2, believed by core
   * only with `gnap.mtls.trustClientCertHeader`). Default: removed from every request before
   * Gatehouse sees it, so no client can claim a certificate it did not present. `"header"`:
   * passed on as the TLS-terminating proxy in front of the app set it.
   *
   * > [!WARNING]
   * > `"header"` only behind a proxy you control that removes any `Client-Cert` a client
   * > sends and sets it from the TLS handshake; otherwise any client claims any certificate.
   */
  readonly clientCertificate?: "header" | undefined
  /**
   * Pages mounted alongside, e.g. `createInteractionPages(gatehouse)` from `@gatehouse/ui`:
   * served under their `basePath` (default "/interaction") on the issuer's origin.
   */
  readonly pages?: (FetchApp & { readonly basePath: string }) | undefined
}

/** Every method a Gatehouse route may be asked for: Gatehouse itself answers 405 with `Allow`. */
const METHODS: Array<HTTPMethods> = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]

/**
 * In the current (encapsulated) context only: no inherited parser runs, and every body is
 * handed on unread as its stream (Fastify's `payload`, after any host `preParsing` hook).
 */
const passThroughBodies = (instance: FastifyInstance) => {
  instance.removeAllContentTypeParsers()
  instance.addContentTypeParser("*", (_request, payload, done) => done(null, payload))
}

/** The route handler: translate, answer, or hand the request to the host's not-found handler. */
const fetchHandler = (app: FetchApp, options: UrlOptions, clientCertificate?: "header") =>
  async function gatehouse(request: FastifyRequest, reply: FastifyReply) {
    const url = requestUrl(request, options)
    if (!app.handles(url.pathname)) return reply.callNotFound()
    // RFC 9440: a `Client-Cert` is believed only from a proxy the host vouches for
    if (clientCertificate !== "header" && request.headers["client-cert"] !== undefined) delete request.headers["client-cert"]
    if (app.handleIncoming !== undefined) {
      // no body to stream: core reads the request directly (no Fetch Request); it asks for text answers
      const incoming = await toIncomingRequest(request, url)
      // the client went away mid-body: nobody is left to answer
      if (incoming === null) return reply.hijack()
      if (incoming !== undefined) return sendFetchResponse(reply, await app.handleIncoming(incoming), request.method)
    }
    const fetchRequest = toFetchRequest(request, url)
    // the request's `signal` aborts when the client goes away before the answer is out
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished) abortFetchRequest(fetchRequest)
    })
    const response = await app.handler(fetchRequest)
    return sendFetchResponse(reply, response, request.method)
  }

const trimSlashes = (path: string) => path.replace(/\/+$/, "")

/**
 * Any Fetch handler as an encapsulated Fastify plugin, answering every path under the
 * plugin's `prefix` (the prefix included) that the app `handles`; the others go to the
 * host's not-found handler. Without a prefix it takes the wildcard `/*` at the root.
 *
 *   app.register(fetchPlugin, { app: pages, prefix: pages.basePath, origin: gatehouse.config.origin })
 */
export const fetchPlugin: FastifyPluginAsync<FetchPluginOptions> = async (instance, options) => {
  if (typeof options.app?.handler !== "function" || typeof options.app?.handles !== "function") {
    throw new TypeError(`"app" must have a handler(request) and a handles(pathname) function`)
  }
  passThroughBodies(instance)
  const urlOptions: UrlOptions = options.origin === undefined
    ? { origin: "http://localhost", originFrom: "request" }
    : { origin: options.origin, originFrom: options.originFrom }
  const handler = fetchHandler(options.app, urlOptions)
  // the prefix itself ("/echo" and "/echo/"); at the root, "/" stays the host's
  if (instance.prefix !== "") instance.route({ method: METHODS, url: "/", exposeHeadRoute: false, handler })
  instance.route({ method: METHODS, url: "/*", exposeHeadRoute: false, handler })
}

const gatehouse: FastifyPluginAsync<GatehousePluginOptions> = async (fastify, options) => {
  const gh = options.gatehouse
  if (typeof gh?.handler !== "function" || typeof gh.handles !== "function" || gh.paths === undefined) {
    throw new TypeError(`"gatehouse" must be a Gatehouse instance (createGatehouse(...) from @gatehouse/core)`)
  }
  const basePath = gh.config.basePath
  if (options.prefix !== undefined && trimSlashes(options.prefix) !== basePath) {
    throw new TypeError(
      `"prefix" must be the Gatehouse config's basePath ("${basePath}"), got "${options.prefix}": the endpoint URLs Gatehouse advertises are built from basePath`
    )
  }
  // the plugin does not open its own context (fastify-plugin), so routes land at the parent's prefix
  if (fastify.prefix !== "") {
    throw new TypeError(
      `register @gatehouse/fastify at the app's root, not under "${fastify.prefix}": discovery is served at the origin's /.well-known/ paths; the "prefix" option (= basePath) places the OAuth endpoints`
    )
  }
  const urlOptions: UrlOptions = { origin: gh.config.origin, originFrom: options.originFrom }
  await fastify.register(async function gatehouseRoutes(instance) {
    passThroughBodies(instance)
    const handler = fetchHandler(gh, urlOptions, options.clientCertificate)
    for (const url of gh.paths.exact) instance.route({ method: METHODS, url, exposeHeadRoute: false, handler })
    for (const prefix of gh.paths.prefixes) {
      instance.route({ method: METHODS, url: `${trimSlashes(prefix)}/*`, exposeHeadRoute: false, handler })
    }
  })
  if (options.pages !== undefined) {
    await fastify.register(fetchPlugin, {
      app: options.pages,
      prefix: options.pages.basePath,
      origin: gh.config.origin,
      originFrom: options.originFrom
    })
  }
}

/**
 * Gatehouse as a Fastify 5 plugin. Register it at the app's root:
 *
 *   await app.register(gatehousePlugin, { gatehouse, pages: createInteractionPages(gatehouse) })
 *
 * With `basePath: "/oauth"` in the Gatehouse config the endpoints are served under
 * `/oauth` (pass `prefix: "/oauth"` to say so, or leave it out) and discovery stays at
 * `/.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.
 * Paths Gatehouse does not serve are the host's; its routes run the host's hooks
 * (sessions, `onSend`) and parse their own bodies.
 */
export const gatehousePlugin = fp(gatehouse, { fastify: "5.x", name: "@gatehouse/fastify" })
