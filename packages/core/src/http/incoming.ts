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
}

