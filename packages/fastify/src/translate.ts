/**
 * Fastify request -> Fetch `Request`, Fetch `Response` -> Fastify reply.
 *
 * Nothing is buffered or copied on the way: the request body is the stream Fastify hands
 * to the (encapsulated) content-type parser, wrapped as a web stream; the response body is
 * a web stream Fastify pipes to the socket itself. Headers go through `reply.header`, so the
 * host's own `onSend` hooks (sessions, security headers) still run and every `Set-Cookie`
 * is kept next to any the host adds.
 */
import { abortFetchRequest, HOP_BY_HOP_HEADERS, type IncomingRequest, LazySignalRequest, nodeIncomingRequest, withRemoteAddress } from "@gatehouse/core"
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
const HOP_BY_HOP = HOP_BY_HOP_HEADERS

/** Headers that describe the bytes on the wire; wrong once a host hook transformed the body stream. */
const BODY_FRAMING = new Set(["content-length", "content-encoding"])

/** RFC 9110 §6.4.1: a request has content when it declares a length > 0 or is chunked. */
const hasContent = (raw: IncomingMessage) =>
  raw.headers["transfer-encoding"] !== undefined ||
  (raw.headers["content-length"] !== undefined && raw.headers["content-length"] !== "0")

const isReadable = (value: unknown): value is Readable =>
  value instanceof Readable || (typeof value === "object" && value !== null && typeof (value as Readable).pipe === "function" && typeof (value as Readable).on === "function")


/** Abort the `signal` of a request `toFetchRequest` made without one (the client went away): core's `abortFetchRequest`. */
export { abortFetchRequest }

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
  // the client's address, as Fastify's `trustProxy` setting reads it
  return withRemoteAddress(signal ? new Request(url, init) : new LazySignalRequest(url, init), request.ip)
}

const EMPTY = new Uint8Array(0)

/** Bodies declaring at most this many bytes are read before the handler runs (every OAuth form). */
const SMALL_BODY = 64 * 1024

/** The whole stream, or undefined when it ends early or fails (the client went away). */
const readAll = (stream: Readable, length: number): Promise<Uint8Array | undefined> =>
  new Promise((resolve) => {
    const chunks: Array<Buffer> = []
    let total = 0
    const done = (value: Uint8Array | undefined) => {
      stream.off("data", onData)
      stream.off("end", onEnd)
      stream.off("error", onFail)
      stream.off("close", onFail)
      resolve(value)
    }
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength
      chunks.push(chunk)
    }
    const onEnd = () => done(total === length ? (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)) : undefined)
    const onFail = () => done(undefined)
    stream.on("data", onData)
    stream.on("end", onEnd)
    stream.on("error", onFail)
    stream.on("close", onFail)
  })

/**
 * The request for `handleIncoming`, when one can stand for the Fastify request: a GET or
 * HEAD, a request without content, or a small body with a declared `Content-Length` that
 * no host `preParsing` hook transformed (read here, to its end). Undefined otherwise (the
 * body is then streamed through `toFetchRequest`); `null` when the client went away mid-body.
 */
export const toIncomingRequest = async (request: FastifyRequest, url: URL): Promise<IncomingRequest | undefined | null> => {
  const method = request.method.toUpperCase()
  const raw = request.raw
  if (method === "GET" || method === "HEAD" || !hasContent(raw)) {
    if (method !== "GET" && method !== "HEAD" && isReadable(request.body) && request.body !== raw) return undefined
    return nodeIncomingRequest(method, url.href, request.headers, EMPTY, request.ip)
  }
  const declared = raw.headers["content-length"]
  if (raw.headers["transfer-encoding"] !== undefined || declared === undefined || !/^[0-9]{1,6}$/.test(declared)) return undefined
  const length = Number(declared)
  const stream = isReadable(request.body) ? request.body : raw
  // a host hook replaced the stream (e.g. decompressed it): its length is not the declared one
  if (length > SMALL_BODY || stream !== raw || raw.readableEnded) return undefined
  const bytes = await readAll(stream, length)
  return bytes === undefined ? null : nodeIncomingRequest(method, url.href, request.headers, bytes, request.ip)
}

const ignore = () => {}

/** Core's text answers (`@gatehouse/core` http/response.ts `TextResponse`): the key is `Symbol.for`, no import needed. */
const RESPONSE_TEXT = Symbol.for("@gatehouse/core/response-text")
/** its header fields as `[lowercase name, value]` pairs, without making a `Headers` */
const RESPONSE_HEADER_LIST = Symbol.for("@gatehouse/core/response-header-list")

/**
 * Send a Fetch `Response` through a Fastify reply: status, every header (each `Set-Cookie`
 * appended separately), then the body as a stream Fastify pipes itself. HEAD gets no body.
 */
export const sendFetchResponse = (reply: FastifyReply, response: Response, method = "GET"): FastifyReply => {
  reply.code(response.status)
  const list = (response as { [RESPONSE_HEADER_LIST]?: () => ReadonlyArray<readonly [string, string]> })[RESPONSE_HEADER_LIST]
  if (list === undefined) {
    for (const [name, value] of response.headers) {
      if (name !== "set-cookie") reply.header(name, value)
    }
    for (const cookie of response.headers.getSetCookie()) reply.header("set-cookie", cookie)
  } else {
    // each Set-Cookie its own field, the others once (a Headers would have joined repeats)
    for (const [name, value] of list.call(response)) reply.header(name, value)
  }
  const text = (response as { [RESPONSE_TEXT]?: unknown })[RESPONSE_TEXT]
  if (typeof text === "string" && !response.bodyUsed) {
    // a string: Fastify writes it in one go with its Content-Length
    return method.toUpperCase() === "HEAD" ? reply.send() : reply.send(text)
  }
  if (response.body === null || method.toUpperCase() === "HEAD") {
    response.body?.cancel().catch(ignore)
    return reply.send()
  }
  return reply.send(response.body)
}
