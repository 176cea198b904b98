/**
 * Node/Express request -> Fetch `Request`, Fetch `Response` -> Node/Express response.
 *
 * The request URL's origin is the issuer's (never the `Host` header) unless the host opts
 * into trusting its proxy's `X-Forwarded-*` headers. The body is streamed from the socket,
 * or, when one of the host's body parsers already consumed it, re-serialized from
 * `req.body` so the host can register `express.urlencoded()` / `express.json()` globally.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"

/** What the translation reads from a request: Node's `IncomingMessage` plus Express's extras. */
export interface NodeRequest extends IncomingMessage {
  /** Express: the URL as received, before any mount prefix was stripped */
  originalUrl?: string
  /** Express body parsers: the parsed body */
  body?: unknown
}

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
   * (falling back to the connection and `Host`), instead of `origin`.
   *
   * > [!WARNING]
   * > Only when every request reaches the app through a proxy you control that sets (and
   * > overwrites) these headers: otherwise any client chooses the URL Gatehouse sees.
   */
  readonly trustProxy?: boolean | undefined
  /** aborted when the client goes away */
  readonly signal?: AbortSignal | undefined
}

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

const originOf = (req: NodeRequest, options: ToFetchRequestOptions): string => {
  if (options.origin !== undefined && !options.trustProxy) return options.origin
  const forwardedProto = options.trustProxy ? first(req.headers["x-forwarded-proto"])?.toLowerCase() : undefined
  const proto = forwardedProto === "http" || forwardedProto === "https" ? forwardedProto : isEncrypted(req) ? "https" : "http"
  const forwardedHost = options.trustProxy ? first(req.headers["x-forwarded-host"]) : undefined
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

/** Build the Fetch `Request` a Fetch handler expects from a Node/Express request. */
export const toFetchRequest = (req: NodeRequest, options: ToFetchRequestOptions = {}, url = requestUrl(req, options)): Request => {
  const method = (req.method ?? "GET").toUpperCase()
  const replay = method !== "GET" && method !== "HEAD" && consumed(req)
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(":") || HOP_BY_HOP.has(name)) continue
    if (replay && BODY_FRAMING.has(name)) continue
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
  }
  const init: RequestInit & { duplex?: "half" } = { method, headers }
  if (options.signal) init.signal = options.signal
  if (method !== "GET" && method !== "HEAD") {
    if (replay) {
      init.body = reserialize(req)
    } else if (hasContent(req)) {
      init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>
      init.duplex = "half"
    }
  }
  return new Request(url, init)
}

const ignore = () => {}

/**
 * Write a Fetch `Response` to a Node/Express response: status, every header (each
 * `Set-Cookie` separately, after any the host already set), then the body, streamed.
 * A client that went away is not an error: the write stops quietly.
 */
export const writeFetchResponse = async (response: Response, res: NodeResponse, method = "GET"): Promise<void> => {
  if (res.headersSent || res.destroyed) {
    await response.body?.cancel().catch(ignore)
    return
  }
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
  if (response.body === null || method.toUpperCase() === "HEAD") {
    await response.body?.cancel().catch(ignore)
    res.end()
    return
  }
  // ERR_STREAM_PREMATURE_CLOSE when the client aborts: nothing left to tell anyone
  await pipeline(Readable.fromWeb(response.body as import("node:stream/web").ReadableStream), res).catch(ignore)
}
