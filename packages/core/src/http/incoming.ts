/**
 * The request as core reads it: method, absolute URL, header lookup, body. A Fetch `Request`
 * is one as it is (the public `handler` takes those). Adapters that own the server's request
 * object (`@gatehouse/express`, `@gatehouse/fastify`) hand core a lighter one through
 * `handleIncoming`: no undici `Request`, `Headers` or `AbortSignal` per request, the body
 * already read (within the size limit) as bytes.
 */

/** Header lookup: names are case-insensitive, a repeated field reads as its values joined by ", " (RFC 9110 §5.3). */
export interface RequestHeaders extends Iterable<[string, string]> {
  get(name: string): string | null
}

export interface IncomingRequest {
  /** the method, as sent (core upper-cases it) */
  readonly method: string
  /** the absolute URL, serialized as the URL parser does (`new URL(...).href`) */
  readonly url: string
  readonly headers: RequestHeaders
  /**
   * The whole body, already read by the adapter (which honoured `Content-Length` and its
   * own size limit): core then reads no stream and waits for no promise. Absent: the body
   * is read through `arrayBuffer()` / `body`.
   */
  readonly bodyBytes?: Uint8Array | undefined
  arrayBuffer(): Promise<ArrayBuffer>
  readonly body: ReadableStream<Uint8Array> | null
  /**
   * The client's address as the adapter knows it: `@gatehouse/express` gives Express's
   * `req.ip`, `@gatehouse/fastify` Fastify's `request.ip` (the socket's, or the proxy's
   * `X-Forwarded-For` as far as the framework's own trust-proxy setting believes it). The
   * default `rateLimit.clientAddress` reads it (RFC 6749 §10.10 budgets per address).
   * Absent on a plain Fetch `Request`.
   */
  readonly remoteAddress?: string | undefined
}

/** The client's address on a request an adapter built (`remoteAddress`), if any. */
export const remoteAddressOf = (request: IncomingRequest): string | undefined => {
  const address = request.remoteAddress
  return typeof address === "string" && address !== "" ? address : undefined
}

/**
 * For adapters that build Fetch `Request`s: give the request the client's address as a
 * `remoteAddress` property (not enumerable), so core's per-address budgets hold whichever
 * path (Fetch or `handleIncoming`) a request takes.
 */
export const withRemoteAddress = <R extends Request>(request: R, address: string | undefined): R => {
  if (address !== undefined && address !== "") Object.defineProperty(request, "remoteAddress", { value: address, enumerable: false })
  return request
}


/** Node's parsed header fields (`IncomingMessage.headers`): lower-case names; arrays for repeats. */
export type NodeHeaderFields = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/** RFC 9110 §7.6.1 connection-specific fields: never forwarded, never read by core. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "http2-settings"
])

/**
 * Node's parsed header fields read as core reads them (`RequestHeaders`): lower-case names,
 * repeated fields joined by ", ", connection-specific fields hidden — as in the `Headers` a
 * Fetch `Request` built from the same message would hold, without building one.
 */
class NodeHeaders implements RequestHeaders {
  constructor(private readonly fields: NodeHeaderFields) {}
  get(name: string): string | null {
    const key = name.toLowerCase()
    if (HOP_BY_HOP_HEADERS.has(key) || key.startsWith(":")) return null
    const value = this.fields[key]
    return value === undefined ? null : typeof value === "string" ? value : value.join(", ")
  }
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const name of Object.keys(this.fields)) {
      const value = this.get(name)
      if (value !== null) yield [name, value]
    }
  }
}

/** An `IncomingRequest` over a Node request whose body is already in hand (empty when none). */
class NodeIncomingRequest implements IncomingRequest {
  readonly headers: NodeHeaders
  constructor(
    readonly method: string,
    readonly url: string,
    fields: NodeHeaderFields,
    readonly bodyBytes: Uint8Array,
    readonly remoteAddress: string | undefined
  ) {
    this.headers = new NodeHeaders(fields)
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.bodyBytes
    return Promise.resolve(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer)
  }
  get body(): ReadableStream<Uint8Array> | null {
    if (this.bodyBytes.byteLength === 0) return null
    const bytes = this.bodyBytes
    return new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(bytes))
        controller.close()
      }
    })
  }
}
// the Node adapters write core's text answers themselves (`TextResponse`)
Object.defineProperty(NodeIncomingRequest.prototype, Symbol.for("@gatehouse/core/accepts-text-response"), { value: true })

/**
 * For adapters that own a Node request (`@gatehouse/express`, `@gatehouse/fastify`): the
 * request `handleIncoming` takes, from the method, the absolute URL, Node's parsed header
 * fields, the body bytes already read within the size limit, and the client's address
 * (see `remoteAddress`). Pure: no Node module is
 * imported here.
 */
export const nodeIncomingRequest = (
  method: string,
  url: string,
  fields: NodeHeaderFields,
  body: Uint8Array,
  remoteAddress?: string | undefined
): IncomingRequest => new NodeIncomingRequest(method, url, fields, body, remoteAddress)

const lazyAbort = Symbol("gatehouse.lazyAbort")

/**
 * For adapters that build Fetch `Request`s from a server's request: a `Request` whose
 * `signal` is created only when the handler reads it. An `AbortSignal` handed to the
 * `Request` constructor is followed by undici (another controller, a listener, a
 * finalizer): on Node 20 that costs more than the rest of the translation, and most
 * handlers never look at the signal. `abortFetchRequest` aborts it.
 */
export class LazySignalRequest extends Request {
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
 * Abort the `signal` of a `LazySignalRequest` (the client went away); it reads as aborted
 * even when the handler first looks later. Any other request is left alone.
 */
export const abortFetchRequest = (request: Request): void => {
  if (!(request instanceof LazySignalRequest)) return
  const state = (request[lazyAbort] ??= { aborted: false })
  state.aborted = true
  state.controller?.abort()
}
