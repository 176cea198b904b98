/**
 * Reading untrusted HTTP input: bodies with a size limit, form parameters with the
 * RFC 6749 §3.1 / §3.2 "MUST NOT be included more than once" rule, cookies, Basic auth.
 */
import { Effect } from "effect"
import { InvalidClient, InvalidRequest, PayloadTooLarge } from "../errors.js"

/** Parsed parameters: every value of every name, in order. */
export type Params = ReadonlyMap<string, ReadonlyArray<string>>

export interface ParsedRequest {
  readonly request: Request
  readonly url: URL
  readonly method: string
  /** query (GET) or body (POST form) parameters, as the endpoint asked for */
  readonly params: Params
  readonly cookies: ReadonlyMap<string, string>
}

const MAX_PARAMS = 200
const MAX_PARAM_LENGTH = 8192

const toParams = (search: URLSearchParams): Effect.Effect<Params, InvalidRequest> => {
  const params = new Map<string, Array<string>>()
  let count = 0
  for (const [key, value] of search) {
    if (++count > MAX_PARAMS) {
      return Effect.fail(new InvalidRequest({ description: `too many parameters (more than ${MAX_PARAMS})` }))
    }
    if (value.length > MAX_PARAM_LENGTH || key.length > 256) {
      return Effect.fail(new InvalidRequest({ description: `parameter "${key.slice(0, 64)}" is too long` }))
    }
    const list = params.get(key)
    if (list) list.push(value)
    else params.set(key, [value])
  }
  return Effect.succeed(params)
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
export const readBody = (request: Request, maxBytes: number): Effect.Effect<string, PayloadTooLarge | InvalidRequest> => {
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

const mediaType = (request: Request) => (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase()

/** RFC 6749 §3.2: POST with `application/x-www-form-urlencoded`. */
export const readForm = (request: Request, maxBytes: number): Effect.Effect<Params, InvalidRequest | PayloadTooLarge> =>
  mediaType(request) !== "application/x-www-form-urlencoded"
    ? Effect.fail(new InvalidRequest({ description: "the request body must be application/x-www-form-urlencoded" }))
    : Effect.flatMap(readBody(request, maxBytes), (text) => toParams(new URLSearchParams(text)))

/** A JSON object body (RFC 7591 registration). */
export const readJsonObject = (
  request: Request,
  maxBytes: number
): Effect.Effect<Record<string, unknown>, InvalidRequest | PayloadTooLarge> =>
  Effect.gen(function*() {
    if (mediaType(request) !== "application/json") {
      return yield* new InvalidRequest({ description: "the request body must be application/json" })
    }
    const text = yield* readBody(request, maxBytes)
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      return yield* new InvalidRequest({ description: "the request body is not valid JSON" })
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return yield* new InvalidRequest({ description: "the request body must be a JSON object" })
    }
    return value as Record<string, unknown>
  })

export const queryParams = (url: URL): Effect.Effect<Params, InvalidRequest> => toParams(url.searchParams)

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
  Effect.flatMap(optionalParam(params, name), (value) =>
    value === undefined
      ? Effect.fail(new InvalidRequest({ description: `parameter "${name}" is required` }))
      : Effect.succeed(value))

/** Space-delimited list (RFC 6749 §3.3), de-duplicated, order kept. */
export const splitList = (value: string | undefined): ReadonlyArray<string> =>
  value === undefined ? [] : [...new Set(value.split(" ").filter((s) => s.length > 0))]

export const parseCookies = (request: Request): ReadonlyMap<string, string> => {
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
export const parseBasicAuth = (request: Request): Effect.Effect<BasicCredentials | undefined, InvalidClient> => {
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
  try {
    return Effect.succeed({
      clientId: formDecode(decoded.slice(0, colon)),
      clientSecret: formDecode(decoded.slice(colon + 1))
    })
  } catch {
    return bad()
  }
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

/** RFC 6749 Appendix B: application/x-www-form-urlencoded decoding of one Basic credential. */
const formDecode = (s: string) => decodeURIComponent(s.includes("+") ? s.replace(/\+/g, " ") : s)

/** RFC 6750 §2.1: the Bearer token from the Authorization header. */
export const bearerToken = (request: Request): string | undefined => {
  const header = request.headers.get("authorization")
  if (header === null) return undefined
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header)
  return match?.[1]
}
