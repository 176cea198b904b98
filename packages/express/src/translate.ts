/**
 * Node/Express request -> Fetch `Request`, Fetch `Response` -> Node/Express response.
 *
 * The request URL's origin is the issuer's (never the `Host` header) unless the host opts
 * into trusting its proxy's `X-Forwarded-*` headers. The body is streamed from the socket,
 * or, when one of the host's body parsers already consumed it, re-serialized from
 * `req.body` so the host can register `express.urlencoded()` / `express.json()` globally.
 */
import { abortFetchRequest, HOP_BY_HOP_HEADERS, type IncomingRequest, LazySignalRequest, nodeIncomingRequest, withRemoteAddress } from "@gatehouse/core"
import type { IncomingMessage, ServerResponse } from "node:http"
import { Readable } from "node:stream"
import { applyClientCert, type ClientCertificateSource } from "./client-cert.js"

/** What the translation reads from a request: Node's `IncomingMessage` plus Express's extras. */
export interface NodeRequest extends IncomingMessage {
  /** Express: the URL as received, before any mount prefix was stripped */
  originalUrl?: string
  /** Express body parsers: the parsed body */
  body?: unknown
  /** Express: the client's address, per the app's `trust proxy` setting */
  ip?: string | undefined
}

/** The client's address: Express's `req.ip` (its `trust proxy` decides), else the socket's. */
const addressOf = (req: NodeRequest): string | undefined => req.ip ?? req.socket?.remoteAddress

export type NodeResponse = ServerResponse

export type NodeNext = (error?: unknown) => void

export interface ToFetchRequestOptions {
  /**
   * The origin of the request URL handed to the handler, e.g. the issuer's origin. When
   * absent, it is taken from the connection (`http`/`https`) and the `Host` header.
   */
  readonly origin?: string | undefined
  /**
   * Build the origin from the first `X-Forwarded-Proto` and `X-Forwarded-Host` values
   * (falling back to the connection and `Host`), instead of `origin`. When the Express app
   * has its own `trust proxy` setting, those headers count only from a peer it trusts.
   *
   * > [!WARNING]
   * > Only when every request reaches the app through a proxy you control that sets (and
   * > overwrites) these headers: otherwise any client chooses the URL Gatehouse sees.
   */
  readonly trustProxy?: boolean | undefined
  /** aborted when the client goes away */
  readonly signal?: AbortSignal | undefined
  /** GNAP mtls (RFC 9635 §7.3.2): where `Client-Cert` comes from; default: removed (client-cert.ts) */
  readonly clientCertificate?: ClientCertificateSource
}

/** RFC 9110 §7.6.1 connection-specific fields: never forwarded. */
const HOP_BY_HOP = HOP_BY_HOP_HEADERS

/** Headers that describe the bytes on the wire; wrong once the body is re-serialized. */
const BODY_FRAMING = new Set(["content-length", "content-encoding"])

const first = (value: string | Array<string> | undefined): string | undefined => {
  const v = Array.isArray(value) ? value[0] : value
  const head = v?.split(",")[0]?.trim()
  return head === "" ? undefined : head
}

/** A host[:port] as it may appear in a URL authority (no userinfo, path or whitespace). */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_~%]+)(?::\d{1,5})?$/

const isEncrypted = (req: IncomingMessage) => (req.socket as { encrypted?: boolean } | null)?.encrypted === true

/**
 * Whether the host app's own Express `trust proxy` setting trusts the peer that sent this
 * request (the same test `req.protocol` and `req.host` use); undefined when the app has no
 * such setting (plain Node, Connect, or Express with it off).
 */
const expressTrusts = (req: NodeRequest): boolean | undefined => {
  const app = (req as { app?: { get?: (name: string) => unknown } }).app
  if (typeof app?.get !== "function" || !app.get("trust proxy")) return undefined
  const trust = app.get("trust proxy fn")
  return typeof trust === "function" ? Boolean((trust as (address: unknown, hop: number) => unknown)(req.socket?.remoteAddress, 0)) : undefined
}

const originOf = (req: NodeRequest, options: ToFetchRequestOptions): string => {
  if (options.origin !== undefined && !options.trustProxy) return options.origin
  // with Express's `trust proxy` set, X-Forwarded-* count only from a peer it trusts; any
  // other peer gets the configured origin
  const trusted = options.trustProxy === true ? expressTrusts(req) : undefined
  if (trusted === false && options.origin !== undefined) return options.origin
  const forwarded = options.trustProxy === true && trusted !== false
  const forwardedProto = forwarded ? first(req.headers["x-forwarded-proto"])?.toLowerCase() : undefined
  const proto = forwardedProto === "http" || forwardedProto === "https" ? forwardedProto : isEncrypted(req) ? "https" : "http"
  const forwardedHost = forwarded ? first(req.headers["x-forwarded-host"]) : undefined
  const host = [forwardedHost, req.headers.host].find((h) => h !== undefined && HOST.test(h))
  if (host !== undefined) return `${proto}://${host}`
  if (options.origin !== undefined) return options.origin
  throw new TypeError("the request has no usable Host header and no origin was configured")
}

/**
 * The absolute URL of a request: `originalUrl` (so a mount prefix is kept) on the chosen
 * origin. Concatenated, not resolved, so `//evil.example/x` stays a path on our origin.
 */
export const requestUrl = (req: NodeRequest, options: ToFetchRequestOptions = {}): URL => {
  const target = req.originalUrl ?? req.url ?? "/"
  const origin = originOf(req, options).replace(/\/+$/, "")
  if (target.startsWith("/")) return new URL(`${origin}${target}`)
  // absolute-form request target (RFC 9112 §3.2.2): keep only its path and query
  const parsed = new URL(target)
  return new URL(`${origin}${parsed.pathname}${parsed.search}`)
}

/**
 * A request target whose absolute URL is `origin + target` exactly as the URL parser would
 * serialize it (WHATWG URL §4.4): a path from `/` and a query, of characters that neither the
 * path nor the special-query percent-encode set holds; no `%` in the path (no encoded dot
 * segment), no backslash, no empty segment, no `.` or `..` segment (nothing to remove).
 */
const PLAIN_TARGET = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)*\/?(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/?%]*)?$/
const DOT_SEGMENT = /\/\.\.?(?:[/?]|$)/

/** An origin as the URL parser serializes it (lowercase scheme and host, no default port, no slash), or undefined. */
export const serializedOrigin = (origin: string): string | undefined => {
  try {
    const url = new URL(origin)
    return url.origin === origin.replace(/\/+$/, "") && url.origin !== "null" ? url.origin : undefined
  } catch {
    return undefined
  }
}

/** What the middleware needs of a request's URL: the serialized absolute URL and its path. */
export interface RequestTarget {
  readonly href: string
  readonly pathname: string
}

/**
 * `requestUrl`'s `href` and `pathname`. When the origin is fixed (`origin`, already
 * serialized: `serializedOrigin`) and the target is plain (`PLAIN_TARGET`: every OAuth
 * endpoint's path and query), they are the strings themselves, without parsing a URL;
 * anything else goes through `requestUrl`.
 */
export const requestTarget = (req: NodeRequest, options: ToFetchRequestOptions, origin: string | undefined): RequestTarget => {
  const target = req.originalUrl ?? req.url ?? "/"
  if (origin !== undefined && target.charCodeAt(0) === 0x2f && PLAIN_TARGET.test(target) && !DOT_SEGMENT.test(target)) {
    const query = target.indexOf("?")
    return { href: origin + target, pathname: query < 0 ? target : target.slice(0, query) }
  }
  return requestUrl(req, options)
}

const mediaType = (req: IncomingMessage) => (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()

/** The form a parsed urlencoded body had on the wire; arrays repeat the name (RFC 6749 §3.1 duplicates stay visible). */
const toSearchParams = (body: unknown): URLSearchParams => {
  const params = new URLSearchParams()
  if (body === null || typeof body !== "object") return params
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === undefined || v === null) continue
      params.append(name, typeof v === "object" ? JSON.stringify(v) : String(v))
    }
  }
  return params
}

/** Re-serialize what a host body parser left in `req.body`, per the request's media type. */
const reserialize = (req: NodeRequest): BodyInit | null => {
  const body = req.body
  if (body === undefined || body === null) return null
  if (Buffer.isBuffer(body)) return new Uint8Array(body)
  if (typeof body === "string") return body
  const type = mediaType(req)
  if (type === "application/x-www-form-urlencoded") return toSearchParams(body).toString()
  if (type === "application/json" || type.endsWith("+json")) return JSON.stringify(body)
  // a parser we do not know turned the body into an object: an empty parse means no body
  if (typeof body === "object" && Object.keys(body).length === 0) return null
  return type.includes("json") ? JSON.stringify(body) : toSearchParams(body).toString()
}

/** body-parser's own test (`on-finished`): the body was read to its end by someone else. */
const consumed = (req: IncomingMessage) => req.readableEnded || (req.complete && !req.readable)

/** RFC 9110 §6.4.1: a request has content when it declares a length > 0 or is chunked. */
const hasContent = (req: IncomingMessage) =>
  req.headers["transfer-encoding"] !== undefined ||
  (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0")

/**
 * Bodies that declare at most this many bytes are read into memory before the handler runs
 * (`readSmallBody`): a `Request` over bytes in hand costs a fraction of one over a stream.
 */
const SMALL_BODY = 64 * 1024

/**
 * The body of a request that declares a small `Content-Length` (every OAuth form), read to
 * its end: Node's parser delivers exactly the declared bytes (RFC 9112 §6.2). Undefined when
 * the body should be streamed instead (chunked, large, none, or already consumed by a host
 * body parser). Rejects when the client goes away before the end.
 */
export const readSmallBody = (req: NodeRequest): Promise<Uint8Array> | undefined =>
  smallBody(req) ? new Promise((resolve, reject) => listen(req, resolve, reject)) : undefined

/**
 * `readSmallBody` without a promise (the middleware's own): `onBody` gets the bytes, or
 * `onError` the client's going away; false (and neither is called) when the body is to be
 * streamed instead.
 */
export const readSmallBodyThen = (req: NodeRequest, onBody: (body: Uint8Array) => void, onError: (error: Error) => void): boolean => {
  if (!smallBody(req)) return false
  listen(req, onBody, onError)
  return true
}

/** A body `readSmallBody` reads: a declared length of 1 byte to 64 KiB, not chunked, not consumed. */
const smallBody = (req: NodeRequest): boolean => {
  const method = req.method
  if (method === "GET" || method === "HEAD" || req.headers["transfer-encoding"] !== undefined || consumed(req)) return false
  const declared = req.headers["content-length"]
  if (declared === undefined || !/^[0-9]{1,6}$/.test(declared)) return false
  const length = Number(declared)
  return length !== 0 && length <= SMALL_BODY
}

const listen = (req: NodeRequest, onBody: (body: Uint8Array) => void, onFailure: (error: Error) => void) => {
  const chunks: Array<Buffer> = []
  const onData = (chunk: Buffer) => chunks.push(chunk)
  const onEnd = () => {
    cleanup()
    onBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
  }
  const onError = (error?: unknown) => {
    cleanup()
    onFailure(error instanceof Error ? error : new Error("the client went away before the end of the request body"))
  }
  const onClose = () => onError()
  const cleanup = () => {
    req.off("data", onData)
    req.off("end", onEnd)
    req.off("error", onError)
    req.off("close", onClose)
  }
  req.on("data", onData)
  req.on("end", onEnd)
  req.on("error", onError)
  req.on("close", onClose)
}

/**
 * Build the Fetch `Request` a Fetch handler expects from a Node/Express request. With
 * `body` (from `readSmallBody`) the request carries those bytes instead of a stream.
 */
export const toFetchRequest = (
  req: NodeRequest,
  options: ToFetchRequestOptions = {},
  url = requestUrl(req, options),
  body?: Uint8Array
): Request => {
  const method = (req.method ?? "GET").toUpperCase()
  // consumed by a host body parser (not by readSmallBody, whose bytes are `body`)
  const replay = body === undefined && method !== "GET" && method !== "HEAD" && consumed(req)
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(":") || HOP_BY_HOP.has(name)) continue
    if (replay && BODY_FRAMING.has(name)) continue
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
  }
  applyClientCert(headers, req, options.clientCertificate)
  const init: RequestInit & { duplex?: "half" } = { method, headers }
  if (options.signal) init.signal = options.signal
  if (body !== undefined && method !== "GET" && method !== "HEAD") {
    if (options.signal) return withRemoteAddress(new Request(url, { ...init, body: body as Uint8Array<ArrayBuffer> }), addressOf(req))
    const request = new BufferedRequest(url, init)
    request[buffered] = { bytes: body, used: false }
    return withRemoteAddress(request, addressOf(req))
  }
  if (method !== "GET" && method !== "HEAD") {
    if (replay) {
      init.body = reserialize(req)
    } else if (hasContent(req)) {
      init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>
      init.duplex = "half"
    }
  }
  return withRemoteAddress(options.signal ? new Request(url, init) : new LazySignalRequest(url, init), addressOf(req))
}

const EMPTY = new Uint8Array(0)

/**
 * The request for `handleIncoming` (no Fetch `Request`), when one can stand for the Node
 * request: a GET or HEAD, a request without content, or one whose small body
 * `readSmallBody` read (`body`). Undefined when the body must be streamed or was consumed by
 * a host body parser: `toFetchRequest` handles those.
 */
export const toIncomingRequest = (req: NodeRequest, url: URL | RequestTarget, body?: Uint8Array): IncomingRequest | undefined => {
  const method = (req.method ?? "GET").toUpperCase()
  if (body === undefined && method !== "GET" && method !== "HEAD" && (hasContent(req) || consumed(req))) return undefined
  return nodeIncomingRequest(method, url.href, req.headers, method === "GET" || method === "HEAD" ? EMPTY : body ?? EMPTY, addressOf(req))
}


const buffered = Symbol("gatehouse.buffered")

/**
 * A `Request` over body bytes already in hand: constructed without a body (no
 * `ReadableStream` is built unless the handler asks for `body`), the body methods answer
 * from the bytes. Everything else (method, URL, headers, signal) is the platform's own.
 */
class BufferedRequest extends LazySignalRequest {
  declare [buffered]: { readonly bytes: Uint8Array; used: boolean; stream?: ReadableStream<Uint8Array> }
}

const take = (request: BufferedRequest): Uint8Array => {
  const state = request[buffered]
  if (state.used || state.stream?.locked) throw new TypeError("Body is unusable: Body has already been read")
  state.used = true
  return state.bytes
}
/** the body methods, on bytes: a promise rejected with TypeError once the body was used (Fetch §5 "consume body") */
const bodyMethod = <A>(f: (bytes: Uint8Array, request: BufferedRequest) => A | Promise<A>) =>
  function(this: BufferedRequest): Promise<A> {
    try {
      const state = this[buffered]
      // the stream was handed out: read through it, so what was read from it counts
      if (state.stream !== undefined) {
        return new Response(state.stream).arrayBuffer().then((b) => f(new Uint8Array(b), this))
      }
      return Promise.resolve(f(take(this), this))
    } catch (error) {
      return Promise.reject(error)
    }
  }
const copyOf = (bytes: Uint8Array) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
const utf8 = new TextDecoder()
/** a real Request over the bytes, for what the bytes alone cannot answer (FormData, Blob type) */
const realRequest = (request: BufferedRequest, bytes: Uint8Array) =>
  new Request(request.url, { method: request.method, headers: request.headers, body: bytes as Uint8Array<ArrayBuffer> })
Object.defineProperties(BufferedRequest.prototype, {
  body: {
    configurable: true,
    enumerable: true,
    get(this: BufferedRequest) {
      const state = this[buffered]
      if (state.stream === undefined) {
        if (state.used) return null
        const bytes = state.bytes
        state.stream = new ReadableStream<Uint8Array>({
          type: "bytes",
          start(controller) {
            controller.enqueue(new Uint8Array(bytes))
            controller.close()
          }
        })
      }
      return state.stream
    }
  },
  bodyUsed: {
    configurable: true,
    enumerable: true,
    get(this: BufferedRequest) {
      const state = this[buffered]
      return state.used || (state.stream?.locked ?? false)
    }
  },
  arrayBuffer: { configurable: true, writable: true, value: bodyMethod((bytes) => copyOf(bytes)) },
  bytes: { configurable: true, writable: true, value: bodyMethod((bytes) => new Uint8Array(bytes)) },
  text: { configurable: true, writable: true, value: bodyMethod((bytes) => utf8.decode(bytes)) },
  json: { configurable: true, writable: true, value: bodyMethod((bytes) => JSON.parse(utf8.decode(bytes)) as unknown) },
  blob: { configurable: true, writable: true, value: bodyMethod((bytes, request) => realRequest(request, bytes).blob()) },
  formData: { configurable: true, writable: true, value: bodyMethod((bytes, request) => realRequest(request, bytes).formData()) },
  clone: {
    configurable: true,
    writable: true,
    value(this: BufferedRequest) {
      const state = this[buffered]
      if (state.used || state.stream !== undefined) throw new TypeError("Body has already been consumed.")
      const copy = new BufferedRequest(this.url, { method: this.method, headers: this.headers })
      copy[buffered] = { bytes: state.bytes, used: false }
      return copy
    }
  }
})

/** Abort the `signal` of a request `toFetchRequest` made without one (the client went away): core's `abortFetchRequest`. */
export { abortFetchRequest }

const ignore = () => {}

/** Core's text answers (`@gatehouse/core` http/response.ts `TextResponse`): the keys are `Symbol.for`, no import needed. */
const RESPONSE_TEXT = Symbol.for("@gatehouse/core/response-text")
/** its header fields as `[lowercase name, value]` pairs, without making a `Headers` */
const RESPONSE_HEADER_LIST = Symbol.for("@gatehouse/core/response-header-list")
const ACCEPTS_TEXT_RESPONSE = Symbol.for("@gatehouse/core/accepts-text-response")

/**
 * Tell the handler that `writeFetchResponse` will write its answer: Gatehouse may then
 * answer with a Response whose body is a string it has not turned into a stream.
 */
export const acceptTextResponse = (request: Request): void => {
  ;(request as { [ACCEPTS_TEXT_RESPONSE]?: boolean })[ACCEPTS_TEXT_RESPONSE] = true
}

/**
 * Write a Fetch `Response` to a Node/Express response: status, every header (each
 * `Set-Cookie` separately, after any the host already set), then the body, streamed.
 * A client that went away is not an error: the write stops quietly.
 */
export const writeFetchResponse = async (response: Response, res: NodeResponse, method = "GET"): Promise<void> => {
  await writeFetchResponseNow(response, res, method)
}

/**
 * `writeFetchResponse`, done before it returns (undefined) for a text answer, which is
 * written in one go: no promise for what needs none (the middleware's own).
 */
export const writeFetchResponseNow = (response: Response, res: NodeResponse, method = "GET"): Promise<void> | undefined => {
  const text = (response as { [RESPONSE_TEXT]?: unknown })[RESPONSE_TEXT]
  if (res.headersSent || res.destroyed) return response.body?.cancel().catch(ignore)
  if (typeof text === "string" && !response.bodyUsed && method.toUpperCase() !== "HEAD") {
    writeText(response, text, res)
    return undefined
  }
  return writeStreamed(response, res, method, text)
}

/** Everything but a text answer written in one go: headers one by one, then the body streamed. */
const writeStreamed = async (response: Response, res: NodeResponse, method: string, text: unknown): Promise<void> => {
  res.statusCode = response.status
  if (response.statusText) res.statusMessage = response.statusText
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") res.setHeader(name, value)
  }
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) {
    const existing = res.getHeader("set-cookie")
    const before = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]
    res.setHeader("set-cookie", [...before, ...cookies])
  }
  if (typeof text === "string" && !response.bodyUsed) {
    // HEAD: the headers only
    res.end()
    return
  }
  if (response.body === null || method.toUpperCase() === "HEAD") {
    await response.body?.cancel().catch(ignore)
    res.end()
    return
  }
  await writeBody(response.body, res)
}

/**
 * A text answer (core's `TextResponse`): status and headers in one `writeHead`, with the
 * `Content-Length`, then the text in one `end`: one write on the socket. Headers the host
 * set before stay (ours win), its `Set-Cookie`s come first.
 */
const writeText = (response: Response, text: string, res: NodeResponse): void => {
  const headers: Record<string, string | Array<string>> = {}
  const list = (response as { [RESPONSE_HEADER_LIST]?: () => ReadonlyArray<readonly [string, string]> })[RESPONSE_HEADER_LIST]
  const cookies: Array<string> = []
  for (const [name, value] of list === undefined ? response.headers : list.call(response)) {
    if (name === "set-cookie") cookies.push(value)
    else headers[name] = value
  }
  if (cookies.length > 0) {
    const existing = res.getHeader("set-cookie")
    headers["set-cookie"] = existing === undefined ? cookies : [...(Array.isArray(existing) ? existing : [String(existing)]), ...cookies]
  }
  headers["content-length"] = String(Buffer.byteLength(text))
  if (response.statusText) res.writeHead(response.status, response.statusText, headers)
  else res.writeHead(response.status, headers)
  res.end(text)
}

/**
 * The body, chunk by chunk with backpressure. A body of one chunk (every JSON or HTML answer
 * built from a string) goes out in one write with its `Content-Length`, headers included,
 * instead of chunked framing. A client that went away cancels the body; a body that fails
 * mid-way destroys the response (the client sees a truncated message, not a complete one).
 */
const writeBody = async (body: ReadableStream<Uint8Array>, res: NodeResponse): Promise<void> => {
  const reader = body.getReader()
  const stop = () => reader.cancel().catch(ignore)
  // the client went away while the body waits for a chunk: cancel it (its source learns)
  const onClose = () => {
    if (!res.writableFinished) void stop()
  }
  res.once("close", onClose)
  try {
    const first = await reader.read()
    if (first.done) {
      if (!res.destroyed) res.end()
      return
    }
    let chunk = first.value
    let read = reader.read()
    // a body built from a string ends right after its one chunk; a streamed one may wait
    // for its next chunk indefinitely, and the first must not wait with it
    const soon = await Promise.race([read, nextTurn()])
    if (soon !== NOT_YET && soon.done) {
      // the whole body in `end`: one write, with its Content-Length
      if (!res.destroyed) res.end(chunk)
      return
    }
    while (true) {
      if (res.destroyed) return void (await stop())
      if (!res.write(chunk)) await drained(res)
      const next = await read
      if (next.done) {
        if (!res.destroyed) res.end()
        return
      }
      chunk = next.value
      read = reader.read()
    }
  } catch {
    await stop()
    res.destroy()
  } finally {
    res.off("close", onClose)
  }
}

const NOT_YET = Symbol("not yet")
const nextTurn = () => new Promise<typeof NOT_YET>((resolve) => setImmediate(resolve, NOT_YET))

/** Resolves when the response can take more data, or is closed. */
const drained = (res: NodeResponse) =>
  new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done)
      res.off("close", done)
      resolve()
    }
    res.on("drain", done)
    res.on("close", done)
  })
