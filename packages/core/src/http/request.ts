/**
 * Reading untrusted HTTP input: bodies with a size limit, form parameters with the
 * RFC 6749 §3.1 / §3.2 "MUST NOT be included more than once" rule, cookies, Basic auth, and
 * the request limits (config `limits`): parameter count and length, JSON depth and size,
 * header field size.
 */
import * as Effect from "effect/Effect"
import type { RequestLimits } from "../config.js"
import { HeaderFieldsTooLarge, InvalidClient, InvalidRequest, PayloadTooLarge } from "../errors.js"
import type { IncomingRequest, RequestHeaders } from "./incoming.js"

/** Parsed parameters: every value of every name, in order. */
export type Params = ReadonlyMap<string, ReadonlyArray<string>>

export interface ParsedRequest {
  readonly request: IncomingRequest
  readonly url: URL
  readonly method: string
  /** query (GET) or body (POST form) parameters, as the endpoint asked for */
  readonly params: Params
  readonly cookies: ReadonlyMap<string, string>
}

/** The limits `readForm` / `queryParams` / `readJsonObject` apply; a number is a body limit with the default rest. */
export type BodyLimits = Pick<RequestLimits, "maxBodyBytes"> & Partial<RequestLimits>

/** The defaults of config `limits` (config.ts resolves the same values). */
export const DEFAULT_LIMITS: RequestLimits = {
  maxBodyBytes: 64 * 1024,
  maxParams: 200,
  maxParamLength: 8192,
  maxHeaderBytes: 16 * 1024,
  maxHeaderValueBytes: 8 * 1024,
  maxJsonDepth: 32,
  maxJsonMembers: 1000
}

/** Parameter names are short in every spec Gatehouse implements. */
const MAX_PARAM_NAME_LENGTH = 256

const limitsOf = (limits: number | BodyLimits): BodyLimits => (typeof limits === "number" ? { maxBodyBytes: limits } : limits)

const toParams = (search: Iterable<readonly [string, string]>, limits: Partial<RequestLimits> = DEFAULT_LIMITS): Effect.Effect<Params, InvalidRequest> => {
  const maxParams = limits.maxParams ?? DEFAULT_LIMITS.maxParams
  const maxLength = limits.maxParamLength ?? DEFAULT_LIMITS.maxParamLength
  const params = new Map<string, Array<string>>()
  let count = 0
  for (const [key, value] of search) {
    if (++count > maxParams) {
      return Effect.fail(new InvalidRequest({ description: `too many parameters (more than ${maxParams})` }))
    }
    if (value.length > maxLength) {
      return Effect.fail(new InvalidRequest({ description: `parameter "${key.slice(0, 64)}" is too long (more than ${maxLength} characters)` }))
    }
    if (key.length > MAX_PARAM_NAME_LENGTH) {
      return Effect.fail(new InvalidRequest({ description: `parameter name "${key.slice(0, 64)}…" is too long (more than ${MAX_PARAM_NAME_LENGTH} characters)` }))
    }
    // RFC 6749 Appendix A: no parameter value or name holds U+0000 (nor can a Postgres text column)
    if (value.includes("\0") || key.includes("\0")) {
      return Effect.fail(new InvalidRequest({ description: `parameter "${key.slice(0, 64).replace(/\0/g, "")}" contains a NUL character` }))
    }
    const list = params.get(key)
    if (list) list.push(value)
    else params.set(key, [value])
  }
  return Effect.succeed(params)
}

/**
 * One name or value of a form (and, RFC 6749 Appendix B, of a Basic credential): `+` is a
 * space, then percent-decoded; undefined when the decoding is not plain.
 */
const formComponent = (s: string): string | undefined => {
  const spaced = s.includes("+") ? s.replace(/\+/g, " ") : s
  if (!spaced.includes("%")) return spaced
  try {
    return decodeURIComponent(spaced)
  } catch {
    return undefined
  }
}

/**
 * The name-value pairs of an `application/x-www-form-urlencoded` body (WHATWG URL §5.1),
 * in order, exactly as `URLSearchParams` parses them. Every pair whose percent-encoded
 * bytes are well-formed UTF-8 (every OAuth request) is decoded here, without Node's
 * character-by-character parser; a body with any other (a stray `%`, bytes that are not
 * UTF-8, which the standard turns into U+FFFD) goes to `URLSearchParams` whole.
 */
export const formPairs = (text: string): Iterable<readonly [string, string]> => {
  const pairs: Array<readonly [string, string]> = []
  let start = 0
  while (start <= text.length) {
    let end = text.indexOf("&", start)
    if (end < 0) end = text.length
    if (end > start) {
      const eq = text.indexOf("=", start)
      const split = eq >= 0 && eq < end
      const name = formComponent(text.slice(start, split ? eq : end))
      const value = split ? formComponent(text.slice(eq + 1, end)) : ""
      if (name === undefined || value === undefined) return new URLSearchParams(text)
      pairs.push([name, value])
    }
    start = end + 1
  }
  return pairs
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

const TOO_LARGE = Symbol("too large")

/** The whole body stream, or TOO_LARGE as soon as it passes `maxBytes` (then cancelled). */
const readLimited = async (body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array | typeof TOO_LARGE> => {
  const reader = body.getReader()
  const chunks: Array<Uint8Array> = []
  let total = 0
  while (true) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined)
      return TOO_LARGE
    }
    chunks.push(value)
  }
  if (chunks.length === 1) return chunks[0]!
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const c of chunks) {
    bytes.set(c, offset)
    offset += c.byteLength
  }
  return bytes
}

const tooLarge = (maxBytes: number) => new PayloadTooLarge({ description: `request body larger than ${maxBytes} bytes` })

const unreadable = () => new InvalidRequest({ description: "the request body could not be read" })

const decodeBody = (maxBytes: number) => (bytes: Uint8Array | typeof TOO_LARGE): Effect.Effect<string, PayloadTooLarge | InvalidRequest> => {
  if (bytes === TOO_LARGE || bytes.byteLength > maxBytes) return Effect.fail(tooLarge(maxBytes))
  try {
    return Effect.succeed(strictUtf8.decode(bytes))
  } catch {
    return Effect.fail(new InvalidRequest({ description: "the request body is not valid UTF-8" }))
  }
}

/**
 * Read the body as text, refusing more than `maxBytes`. A declared `Content-Length` above
 * the limit is refused unread. Within it, the body is taken whole (`arrayBuffer()`): the
 * server's message framing delivers no more than the declared length (RFC 9112 §6.2,
 * RFC 9113 §8.1.1), and the length is checked again after. Without one (chunked), the
 * stream is read with a running count and cancelled past the limit.
 */
export const readBody = (request: IncomingRequest, maxBytes: number): Effect.Effect<string, PayloadTooLarge | InvalidRequest> => {
  // read by the adapter, within its limit: checked again here, decoded without a promise
  if (request.bodyBytes !== undefined) return decodeBody(maxBytes)(request.bodyBytes)
  const declared = request.headers.get("content-length")
  if (declared !== null && /^[0-9]+$/.test(declared)) {
    if (Number(declared) > maxBytes) return Effect.fail(tooLarge(maxBytes))
    return Effect.flatMap(
      Effect.tryPromise({ try: () => request.arrayBuffer(), catch: unreadable }),
      (buffer) => decodeBody(maxBytes)(new Uint8Array(buffer))
    )
  }
  const body = request.body
  if (body === null) return Effect.succeed("")
  // one promise for the whole stream (not one effect per chunk)
  return Effect.flatMap(Effect.tryPromise({ try: () => readLimited(body, maxBytes), catch: unreadable }), decodeBody(maxBytes))
}

/**
 * The body's bytes as sent, refusing more than `maxBytes` (as `readBody`, undecoded: GNAP's
 * content digests are over these bytes, RFC 9530 §2). A declared `Content-Length` above
 * the limit is refused unread; a stream is read with a running count and cancelled past it.
 */
export const readBodyBytes = (request: IncomingRequest, maxBytes: number): Effect.Effect<Uint8Array, PayloadTooLarge | InvalidRequest> => {
  const inHand = request.bodyBytes
  if (inHand !== undefined) return inHand.byteLength > maxBytes ? Effect.fail(tooLarge(maxBytes)) : Effect.succeed(inHand)
  const declared = request.headers.get("content-length")
  if (declared !== null && /^[0-9]+$/.test(declared) && Number(declared) > maxBytes) return Effect.fail(tooLarge(maxBytes))
  const body = request.body
  if (body === null) return Effect.succeed(new Uint8Array(0))
  return Effect.flatMap(
    Effect.tryPromise({ try: () => readLimited(body, maxBytes), catch: unreadable }),
    (bytes) => bytes === TOO_LARGE ? Effect.fail(tooLarge(maxBytes)) : Effect.succeed(bytes)
  )
}

/** The media type of `Content-Type` (RFC 9110 §8.3.1: before any parameter, case-insensitive), lower-cased. */
const mediaType = (request: IncomingRequest): string => {
  const value = request.headers.get("content-type") ?? ""
  // what nearly every client sends, as it is: nothing to split, trim or lower-case
  if (value === "application/x-www-form-urlencoded" || value === "application/json") return value
  return value.split(";")[0]!.trim().toLowerCase()
}

/**
 * RFC 6749 §3.2: POST with `application/x-www-form-urlencoded`, within the body, parameter
 * count and parameter length limits.
 */
export const readForm = (request: IncomingRequest, limits: number | BodyLimits): Effect.Effect<Params, InvalidRequest | PayloadTooLarge> => {
  const l = limitsOf(limits)
  return mediaType(request) !== "application/x-www-form-urlencoded"
    ? Effect.fail(new InvalidRequest({ description: "the request body must be application/x-www-form-urlencoded" }))
    : Effect.flatMap(readBody(request, l.maxBodyBytes), (text) => toParams(formPairs(text), l))
}

/**
 * The shape limits of a parsed JSON body: nesting depth (the root object is depth 1) and
 * object members plus array elements in total. Walks at most `maxJsonMembers` values and
 * `maxJsonDepth` levels, so the check itself is bounded.
 */
export const checkJsonShape = (value: unknown, limits: Partial<RequestLimits> = DEFAULT_LIMITS): InvalidRequest | undefined => {
  const maxDepth = limits.maxJsonDepth ?? DEFAULT_LIMITS.maxJsonDepth
  const maxMembers = limits.maxJsonMembers ?? DEFAULT_LIMITS.maxJsonMembers
  let members = 0
  let tooDeep = false
  let nul = false
  const walk = (v: unknown, depth: number): boolean => {
    if (typeof v === "string") {
      // U+0000 is in no registration or GNAP value, and no text column holds it
      if (v.includes("\0")) nul = true
      return !nul
    }
    if (typeof v !== "object" || v === null) return true
    if (depth > maxDepth) {
      tooDeep = true
      return false
    }
    if (!Array.isArray(v) && Object.keys(v).some((k) => k.includes("\0"))) {
      nul = true
      return false
    }
    const children: ReadonlyArray<unknown> = Array.isArray(v) ? v : Object.values(v)
    members += children.length
    if (members > maxMembers) return false
    for (const child of children) {
      if (!walk(child, depth + 1)) return false
    }
    return true
  }
  if (walk(value, 1)) return undefined
  if (nul) return new InvalidRequest({ description: "the JSON body contains a NUL character (U+0000)" })
  return tooDeep
    ? new InvalidRequest({ description: `the JSON body is nested too deeply (more than ${maxDepth} levels)` })
    : new InvalidRequest({ description: `the JSON body has too many members (more than ${maxMembers})` })
}

/** `value` when within the JSON shape limits (`checkJsonShape`), else `invalid_request`. */
export const jsonWithinLimits = <A>(value: A, limits: Partial<RequestLimits>): Effect.Effect<A, InvalidRequest> => {
  const refused = checkJsonShape(value, limits)
  return refused === undefined ? Effect.succeed(value) : Effect.fail(refused)
}

/** A JSON object body (RFC 7591 registration), within the body size and JSON shape limits. */
export const readJsonObject = Effect.fnUntraced(function*(
  request: IncomingRequest,
  limits: number | BodyLimits
): Effect.fn.Return<Record<string, unknown>, InvalidRequest | PayloadTooLarge> {
  const l = limitsOf(limits)
  if (mediaType(request) !== "application/json") {
    return yield* new InvalidRequest({ description: "the request body must be application/json" })
  }
  const text = yield* readBody(request, l.maxBodyBytes)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return yield* new InvalidRequest({ description: "the request body is not valid JSON" })
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return yield* new InvalidRequest({ description: "the request body must be a JSON object" })
  }
  const refused = checkJsonShape(value, l)
  if (refused !== undefined) return yield* refused
  return value as Record<string, unknown>
})

/** The query string's parameters, within the parameter count and length limits. */
export const queryParams = (url: URL, limits?: Partial<RequestLimits>): Effect.Effect<Params, InvalidRequest> =>
  toParams(url.searchParams, limits)

/**
 * Header field size (RFC 6585 §5, 431): one field's value over `maxHeaderValueBytes`
 * (`Authorization`, `DPoP`, `Signature`, ...), or all fields over `maxHeaderBytes` (name +
 * value + 4 per field, as `name: value\r\n` on the HTTP/1.1 wire). Header values are byte
 * strings (one char per byte), so string length is byte length. Undefined when within.
 */
export const checkHeaderSize = (
  headers: RequestHeaders,
  limits: Pick<RequestLimits, "maxHeaderBytes" | "maxHeaderValueBytes">
): HeaderFieldsTooLarge | undefined => {
  let total = 0
  for (const [name, value] of headers) {
    if (value.length > limits.maxHeaderValueBytes) {
      return new HeaderFieldsTooLarge({
        description: `the ${name.slice(0, 64)} header field is larger than ${limits.maxHeaderValueBytes} bytes`
      })
    }
    total += name.length + value.length + 4
  }
  if (total > limits.maxHeaderBytes) {
    return new HeaderFieldsTooLarge({ description: `the request header fields are larger than ${limits.maxHeaderBytes} bytes in total` })
  }
  return undefined
}

/**
 * One parameter's value. RFC 6749 §3.1: "Request and response parameters MUST NOT be
 * included more than once"; an empty value is treated as omitted (§3.1).
 */
export const optionalParam = (params: Params, name: string): Effect.Effect<string | undefined, InvalidRequest> => {
  const values = params.get(name)
  if (values === undefined) return Effect.succeed(undefined)
  if (values.length > 1) {
    return Effect.fail(new InvalidRequest({ description: `parameter "${name}" is included more than once` }))
  }
  return Effect.succeed(values[0] === "" ? undefined : values[0])
}

export const requiredParam = (params: Params, name: string): Effect.Effect<string, InvalidRequest> =>
  // eager: `optionalParam` answers with a finished effect
  Effect.flatMapEager(optionalParam(params, name), (value) =>
    value === undefined
      ? Effect.fail(new InvalidRequest({ description: `parameter "${name}" is required` }))
      : Effect.succeed(value))

/** Space-delimited list (RFC 6749 §3.3), de-duplicated, order kept. */
export const splitList = (value: string | undefined): ReadonlyArray<string> =>
  value === undefined ? [] : [...new Set(value.split(" ").filter((s) => s.length > 0))]

export const parseCookies = (request: IncomingRequest): ReadonlyMap<string, string> => {
  const header = request.headers.get("cookie")
  const cookies = new Map<string, string>()
  if (!header) return cookies
  for (const part of header.split(";")) {
    const eq = part.indexOf("=")
    if (eq < 0) continue
    const name = part.slice(0, eq).trim()
    if (!cookies.has(name)) {
      try {
        cookies.set(name, decodeURIComponent(part.slice(eq + 1).trim()))
      } catch {
        // ignore undecodable cookies
      }
    }
  }
  return cookies
}

export interface BasicCredentials {
  readonly clientId: string
  readonly clientSecret: string
}

/**
 * RFC 6749 §2.3.1: HTTP Basic with client_id and secret each form-urlencoded (Appendix B)
 * before base64. Undefined when there is no Basic Authorization header.
 */
export const parseBasicAuth = (request: IncomingRequest): Effect.Effect<BasicCredentials | undefined, InvalidClient> => {
  const header = request.headers.get("authorization")
  if (header === null) return Effect.succeed(undefined)
  const match = /^Basic[ ]+([A-Za-z0-9+/=_-]*)\s*$/i.exec(header)
  if (!match) return Effect.succeed(undefined)
  // built only on failure: constructing an error captures a stack trace
  const bad = () => Effect.fail(new InvalidClient({ description: "malformed HTTP Basic credentials", scheme: "Basic" }))
  let decoded: string
  try {
    decoded = latin1ToUtf8(atob(match[1]!))
  } catch {
    return bad()
  }
  const colon = decoded.indexOf(":")
  if (colon < 0) return bad()
  const clientId = formComponent(decoded.slice(0, colon))
  const clientSecret = formComponent(decoded.slice(colon + 1))
  if (clientId === undefined || clientSecret === undefined) return bad()
  // RFC 6749 Appendix A.1, A.2: client_id and client_secret are VSCHAR, never U+0000
  if (clientId.includes("\0") || clientSecret.includes("\0")) return bad()
  return Effect.succeed({ clientId, clientSecret })
}

/** The bytes `atob` returns (one char per byte) read as UTF-8; throws on invalid UTF-8. */
const latin1ToUtf8 = (binary: string): string => {
  // ASCII (every id and secret we issue) is its own UTF-8
  let ascii = true
  for (let i = 0; i < binary.length; i++) {
    if (binary.charCodeAt(i) > 0x7f) {
      ascii = false
      break
    }
  }
  if (ascii) return binary
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return strictUtf8.decode(bytes)
}

/** RFC 6750 §2.1: the Bearer token from the Authorization header. */
export const bearerToken = (request: IncomingRequest): string | undefined => {
  const header = request.headers.get("authorization")
  if (header === null) return undefined
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header)
  return match?.[1]
}
