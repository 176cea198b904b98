/**
 * Fastify request -> Fetch `Request`, Fetch `Response` -> Fastify reply.
 *
 * Nothing is buffered or copied on the way: the request body is the stream Fastify hands
 * to the (encapsulated) content-type parser, wrapped as a web stream; the response body is
 * a web stream Fastify pipes to the socket itself. Headers go through `reply.header`, so the
 * host's own `onSend` hooks (sessions, security headers) still run and every `Set-Cookie`
 * is kept next to any the host adds.
 */
import type { FastifyReply, FastifyRequest } from "fastify"
import type { IncomingMessage } from "node:http"
import { Readable } from "node:stream"

/**
 * Where the origin of the URL handed to the handler comes from:
 *
 * - `"issuer"` (default): the issuer's origin, whatever `Host` or `X-Forwarded-*` say.
 * - `"request"`: `request.protocol` and `request.host`, which Fastify takes from
 *   `X-Forwarded-Proto` / `X-Forwarded-Host` only for peers its own `trustProxy` server
 *   option trusts, and otherwise from the socket and `Host`.
 *
 * > [!WARNING]
 * > `"request"` lets the client (or, with `trustProxy`, your proxy) choose the origin the
 * > handler sees. Gatehouse's issuer never comes from a request (RFC 8414 §2, RFC 9207), but
 * > `@gatehouse/ui` compares a form's `Origin` with it. Use it only behind a proxy you
 * > control, with Fastify's `trustProxy` naming that proxy.
 */
export type OriginSource = "issuer" | "request"

export interface UrlOptions {
  /** the issuer's origin (or any fixed origin) */
  readonly origin: string
  readonly originFrom?: OriginSource | undefined
}

/** A host[:port] as it may appear in a URL authority (no userinfo, path or whitespace). */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_~%]+)(?::\d{1,5})?$/

/**
 * The absolute URL of a request: the raw request target (mount prefixes included) on the
 * chosen origin. Concatenated, not resolved, so `//evil.example/x` stays a path on our origin.
 */
export const requestUrl = (request: FastifyRequest, options: UrlOptions): URL => {
  let origin = options.origin.replace(/\/+$/, "")
  if (options.originFrom === "request") {
    const protocol = request.protocol === "https" ? "https" : "http"
    if (HOST.test(request.host)) origin = `${protocol}://${request.host}`
  }
  const target = request.raw.url ?? "/"
  if (target.startsWith("/")) return new URL(`${origin}${target}`)
  // absolute-form request target (RFC 9112 §3.2.2): keep only its path and query
  const parsed = new URL(target)
  return new URL(`${origin}${parsed.pathname}${parsed.search}`)
}

/** RFC 9110 §7.6.1 connection-specific fields: never forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "http2-settings"
])

/** Headers that describe the bytes on the wire; wrong once a host hook transformed the body stream. */
const BODY_FRAMING = new Set(["content-length", "content-encoding"])

/** RFC 9110 §6.4.1: a request has content when it declares a length > 0 or is chunked. */
const hasContent = (raw: IncomingMessage) =>
  raw.headers["transfer-encoding"] !== undefined ||
  (raw.headers["content-length"] !== undefined && raw.headers["content-length"] !== "0")

const isReadable = (value: unknown): value is Readable =>
  value instanceof Readable || (typeof value === "object" && value !== null && typeof (value as Readable).pipe === "function" && typeof (value as Readable).on === "function")

const lazyAbort = Symbol("gatehouse.lazyAbort")

/**
 * A `Request` whose `signal` exists only once the handler reads it. An `AbortSignal`
 * handed to the `Request` constructor is followed by undici (another controller, a
 * listener, a finalizer): on Node 20 that costs several times the rest of the translation
 * (about 100 µs against 30 µs per request measured here), and Gatehouse never reads it.
 */
class LazySignalRequest extends Request {
  declare [lazyAbort]: { controller?: AbortController; aborted: boolean } | undefined
}
Object.defineProperty(LazySignalRequest.prototype, "signal", {
  configurable: true,
  enumerable: true,
  get(this: LazySignalRequest): AbortSignal {
    const state = (this[lazyAbort] ??= { aborted: false })
    if (state.controller === undefined) {
      state.controller = new AbortController()
      if (state.aborted) state.controller.abort()
    }
    return state.controller.signal
  }
})

/**
 * Abort the `signal` of a request `toFetchRequest` made without one (the client went
 * away); it reads as aborted even when the handler looks only later.
 */
export const abortFetchRequest = (request: Request): void => {
  if (!(request instanceof LazySignalRequest)) return
  const state = (request[lazyAbort] ??= { aborted: false })
  state.aborted = true
  state.controller?.abort()
}

/**
 * Build the Fetch `Request` for a Fastify request whose body was left unread by the
 * pass-through content-type parser (`request.body` is the payload stream, or undefined).
 * Without `signal`, the request's own signal is made on first use and aborted by
 * `abortFetchRequest`.
 */
export const toFetchRequest = (request: FastifyRequest, url: URL, signal?: AbortSignal): Request => {
  const method = request.method.toUpperCase()
  const raw = request.raw
  let stream: Readable | undefined
  if (method !== "GET" && method !== "HEAD") {
    if (isReadable(request.body)) stream = request.body
    else if (hasContent(raw) && !raw.readableEnded) stream = raw
  }
  // a host `preParsing` hook may have replaced the stream (e.g. decompressed it)
  const transformed = stream !== undefined && stream !== raw
  const headers = new Headers()
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || name.startsWith(":") || HOP_BY_HOP.has(name)) continue
    if (transformed && BODY_FRAMING.has(name)) continue
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
  }
  const init: RequestInit & { duplex?: "half" } = { method, headers }
  if (signal) init.signal = signal
  if (stream !== undefined) {
    init.body = Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>
    init.duplex = "half"
  }
  return signal ? new Request(url, init) : new LazySignalRequest(url, init)
}

const ignore = () => {}

/**
 * Send a Fetch `Response` through a Fastify reply: status, every header (each `Set-Cookie`
 * appended separately), then the body as a stream Fastify pipes itself. HEAD gets no body.
 */
export const sendFetchResponse = (reply: FastifyReply, response: Response, method = "GET"): FastifyReply => {
  reply.code(response.status)
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") reply.header(name, value)
  }
  for (const cookie of response.headers.getSetCookie()) reply.header("set-cookie", cookie)
  if (response.body === null || method.toUpperCase() === "HEAD") {
    response.body?.cancel().catch(ignore)
    return reply.send()
  }
  return reply.send(response.body)
}
