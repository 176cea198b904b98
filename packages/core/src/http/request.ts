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

/** Read the body as text, refusing more than `maxBytes`. */
export const readBody = (request: Request, maxBytes: number): Effect.Effect<string, PayloadTooLarge | InvalidRequest> =>
  Effect.gen(function*() {
    const declared = request.headers.get("content-length")
    if (declared !== null && Number(declared) > maxBytes) {
      return yield* new PayloadTooLarge({ description: `request body larger than ${maxBytes} bytes` })
    }
    if (request.body === null) return ""
    const reader = request.body.getReader()
    const chunks: Array<Uint8Array> = []
    let total = 0
    while (true) {
      const { done, value } = yield* Effect.tryPromise({
        try: () => reader.read(),
        catch: () => new InvalidRequest({ description: "the request body could not be read" })
      })
      if (done) break
      total += value.byteLength
      if (total > maxBytes) {
        yield* Effect.promise(() => reader.cancel().catch(() => undefined))
        return yield* new PayloadTooLarge({ description: `request body larger than ${maxBytes} bytes` })
      }
      chunks.push(value)
    }
    const bytes = new Uint8Array(total)
    let offset = 0
    for (const c of chunks) {
      bytes.set(c, offset)
      offset += c.byteLength
    }
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes)
    } catch {
      return yield* new InvalidRequest({ description: "the request body is not valid UTF-8" })
    }
  })

const mediaType = (request: Request) => (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase()

/** RFC 6749 §3.2: POST with `application/x-www-form-urlencoded`. */
export const readForm = (request: Request, maxBytes: number): Effect.Effect<Params, InvalidRequest | PayloadTooLarge> =>
  Effect.gen(function*() {
    if (mediaType(request) !== "application/x-www-form-urlencoded") {
      return yield* new InvalidRequest({
        description: "the request body must be application/x-www-form-urlencoded"
      })
    }
    const text = yield* readBody(request, maxBytes)
    return yield* toParams(new URLSearchParams(text))
  })

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
  const bad = new InvalidClient({ description: "malformed HTTP Basic credentials", scheme: "Basic" })
  let decoded: string
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(atob(match[1]!), (c) => c.charCodeAt(0)))
  } catch {
    return Effect.fail(bad)
  }
  const colon = decoded.indexOf(":")
  if (colon < 0) return Effect.fail(bad)
  try {
    const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, " "))
    return Effect.succeed({
      clientId: formDecode(decoded.slice(0, colon)),
      clientSecret: formDecode(decoded.slice(colon + 1))
    })
  } catch {
    return Effect.fail(bad)
  }
}

/** RFC 6750 §2.1: the Bearer token from the Authorization header. */
export const bearerToken = (request: Request): string | undefined => {
  const header = request.headers.get("authorization")
  if (header === null) return undefined
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header)
  return match?.[1]
}
