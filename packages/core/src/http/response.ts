/**
 * The one place that turns results and errors into `Response`s: JSON with
 * `Cache-Control: no-store` (RFC 6749 §5.1), RFC 6749 §5.2 error bodies, RFC 6750 §3
 * challenges, HTML pages with security headers, redirects and the form_post response mode.
 */
import { errorCode, errorTable, type ProtocolError, publicDescription } from "../errors.js"

export const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" } as const

/**
 * The text a `TextResponse` carries. `Symbol.for` keys, so an adapter finds them without
 * importing core.
 */
export const RESPONSE_TEXT: unique symbol = Symbol.for("@gatehouse/core/response-text") as never
/**
 * Set to `true` on a `Request` by an adapter that writes to its server's own response
 * object (`@gatehouse/express`): the handler may then answer with a `TextResponse`, whose
 * body it reads from `RESPONSE_TEXT` instead of a stream.
 */
export const ACCEPTS_TEXT_RESPONSE: unique symbol = Symbol.for("@gatehouse/core/accepts-text-response") as never

/**
 * A method on core's text answers (`RESPONSE_TEXT`) giving their header fields as
 * `[lowercase name, value]` pairs, each `Set-Cookie` separately, without building a
 * `Headers` object: what an adapter writing to its server's response needs.
 */
export const RESPONSE_HEADER_LIST: unique symbol = Symbol.for("@gatehouse/core/response-header-list") as never

const state = Symbol("textResponse")
interface TextState {
  readonly text: string
  used: boolean
  stream?: ReadableStream<Uint8Array>
  readonly status: number
  readonly statusText: string
  /** the header fields as given (lowercase names), until someone reads `headers` */
  list: Array<[string, string]>
  /** `headers`, once read: from then on the one place the fields live */
  headers?: Headers
}

/**
 * A `Response` built from a string that builds nothing of Node's Fetch implementation
 * until it is used as one. Node's `Response` makes a `Headers` object (every field validated
 * and sorted on iteration) and a `ReadableStream` for every body up front, which costs more
 * than the rest of a token response; the endpoints' answers are strings and a few fields.
 * So a `TextResponse` is made without running `Response`'s constructor: `status`, `ok`,
 * `headers` (a real `Headers`, made when first read), `body` (a stream, made when first
 * read) and every body method (`text()`, `json()`, ...) are its own, answered from the
 * text. `instanceof Response` holds. Only adapters that asked for it
 * (`ACCEPTS_TEXT_RESPONSE`) receive one; the router turns it into a plain `Response` for
 * everyone else (`toPlatformResponse`), since a runtime may read a returned Response's
 * internal state.
 */
class TextResponse extends Response {
  declare [state]: TextState
  declare [RESPONSE_TEXT]: string
  declare [RESPONSE_HEADER_LIST]: () => ReadonlyArray<readonly [string, string]>
}

const encoder = new TextEncoder()
const takeText = (r: TextResponse): string => {
  const st = r[state]
  if (st.used || st.stream?.locked) throw new TypeError("Body is unusable: Body has already been read")
  st.used = true
  return st.text
}
const bodyMethod = <A>(f: (text: string) => A | Promise<A>) =>
  function(this: TextResponse): Promise<A> {
    try {
      const st = this[state]
      if (st.stream !== undefined) return new Response(st.stream).text().then(f)
      return Promise.resolve(f(takeText(this)))
    } catch (error) {
      return Promise.reject(error)
    }
  }
const toBytes = (text: string) => encoder.encode(text)
const getter = <A>(get: (st: TextState) => A): PropertyDescriptor => ({
  configurable: true,
  enumerable: true,
  get(this: TextResponse) {
    return get(this[state])
  }
})
const headersOf = (st: TextState): Headers => (st.headers ??= new Headers(st.list))
Object.defineProperties(TextResponse.prototype, {
  status: getter((st) => st.status),
  statusText: getter((st) => st.statusText),
  ok: getter((st) => st.status >= 200 && st.status <= 299),
  headers: getter(headersOf),
  type: getter(() => "default"),
  url: getter(() => ""),
  redirected: getter(() => false),
  body: getter((st) => {
    if (st.stream === undefined) {
      if (st.used) return null
      const text = st.text
      st.stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(toBytes(text))
          controller.close()
        }
      })
    }
    return st.stream
  }),
  bodyUsed: getter((st) => st.used || (st.stream?.locked ?? false)),
  text: { configurable: true, writable: true, value: bodyMethod((text) => text) },
  json: { configurable: true, writable: true, value: bodyMethod((text) => JSON.parse(text) as unknown) },
  arrayBuffer: { configurable: true, writable: true, value: bodyMethod((text) => toBytes(text).buffer) },
  bytes: { configurable: true, writable: true, value: bodyMethod(toBytes) },
  blob: { configurable: true, writable: true, value: bodyMethod((text) => new Response(text).blob()) },
  formData: { configurable: true, writable: true, value: bodyMethod((text) => new Response(text).formData()) },
  clone: {
    configurable: true,
    writable: true,
    value(this: TextResponse) {
      const st = this[state]
      if (st.used || st.stream !== undefined) throw new TypeError("Response.clone: Body has already been consumed.")
      return textResponse(st.text, { status: st.status, statusText: st.statusText, headers: st.headers ?? st.list })
    }
  },
  [RESPONSE_HEADER_LIST]: {
    configurable: true,
    writable: true,
    value(this: TextResponse): ReadonlyArray<readonly [string, string]> {
      const st = this[state]
      return st.headers === undefined ? st.list : [...st.headers]
    }
  },
  // what Node's util.inspect (and a test runner's diff) shows: the Response's own would
  // look for the internal state this object does not have
  [Symbol.for("nodejs.util.inspect.custom")]: {
    configurable: true,
    writable: true,
    value(this: TextResponse) {
      const st = this[state]
      return { status: st.status, statusText: st.statusText, headers: Object.fromEntries(this[RESPONSE_HEADER_LIST]()), bodyUsed: this.bodyUsed }
    }
  }
})

/** `init.headers` as lowercase `[name, value]` pairs (what `new Headers(init)` would hold). */
const fieldList = (headers: HeadersInit | undefined): Array<[string, string]> => {
  if (headers === undefined) return []
  if (headers instanceof Headers) return [...headers]
  if (Array.isArray(headers)) return headers.map(([name, value]) => [name.toLowerCase(), value] as [string, string])
  const list: Array<[string, string]> = []
  for (const name in headers as Record<string, string>) list.push([name.toLowerCase(), (headers as Record<string, string>)[name]!])
  return list
}

/** A Response with a string body: a `TextResponse` (see above). */
export const textResponse = (text: string, init: ResponseInit): Response => {
  const list = fieldList(init.headers)
  // what `new Response(string)` would say when the caller did not
  if (!list.some(([name]) => name === "content-type")) list.push(["content-type", "text/plain;charset=UTF-8"])
  return textResponseOf(text, init.status ?? 200, init.statusText ?? "", list)
}

/** A `TextResponse` over a header list of its own (lowercase names, a content type among them). */
const textResponseOf = (text: string, status: number, statusText: string, list: Array<[string, string]>): Response => {
  // what Response's constructor would refuse (Fetch: "init's status is not in the range 200 to 599")
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new RangeError(`invalid response status ${status}`)
  const response = Object.create(TextResponse.prototype) as TextResponse
  response[state] = { text, used: false, status, statusText, list }
  response[RESPONSE_TEXT] = text
  return response
}

/**
 * Set a header field on a response core made: on a `TextResponse` whose `headers` nobody
 * read yet, without making them; otherwise through `headers.set` (a no-op on immutable
 * headers, e.g. `Response.redirect`'s).
 */
export const setResponseHeader = (response: Response, name: string, value: string): void => {
  if (response instanceof TextResponse) {
    const st = response[state]
    if (st.headers === undefined) {
      const lower = name.toLowerCase()
      const i = st.list.findIndex(([n]) => n === lower)
      if (i >= 0) st.list[i] = [lower, value]
      else st.list.push([lower, value])
      return
    }
  }
  try {
    response.headers.set(name, value)
  } catch {
    // immutable headers: leave as they are
  }
}

/** Whether a response core made has a header field (without making a `TextResponse`'s `headers`). */
export const hasResponseHeader = (response: Response, name: string): boolean => {
  if (response instanceof TextResponse && response[state].headers === undefined) {
    const lower = name.toLowerCase()
    return response[state].list.some(([n]) => n === lower)
  }
  return response.headers.has(name)
}

/** A plain `Response` for what leaves core (see `TextResponse`); other responses as they are. */
export const toPlatformResponse = (response: Response): Response => {
  if (!(response instanceof TextResponse)) return response
  const st = response[state]
  const init = { status: st.status, statusText: st.statusText, headers: st.headers ?? st.list }
  if (st.stream !== undefined) return new Response(st.stream, init)
  return new Response(st.used ? null : st.text, init)
}

/** The fields of every JSON answer (RFC 6749 §5.1: no-store), as `textResponse` would list them. */
const JSON_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ["content-type", "application/json; charset=utf-8"],
  ["cache-control", NO_STORE["cache-control"]],
  ["pragma", NO_STORE.pragma]
].map((pair) => Object.freeze(pair as [string, string]))

export const json = (body: unknown, status = 200, headers?: Record<string, string>): Response =>
  headers === undefined
    // a fresh list (a response's fields may still be set), of the shared pairs (frozen: replaced, never changed)
    ? textResponseOf(JSON.stringify(body), status, "", JSON_FIELDS.slice() as Array<[string, string]>)
    : textResponse(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json; charset=utf-8", ...NO_STORE, ...headers }
    })

/** JSON that may be cached (discovery, JWKS). */
export const publicJson = (body: unknown, maxAge = 300): Response => publicJsonText(JSON.stringify(body), maxAge)

/** `publicJson` of an already serialized document. */
export const publicJsonText = (text: string, maxAge = 300): Response =>
  textResponse(text, {
    status: 200,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": `public, max-age=${maxAge}`,
      "access-control-allow-origin": "*"
    }
  })

// RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E: no quote, no backslash
const quote = (s: string) => s.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "")

/** RFC 6749 §5.2 error response (token, introspection, revocation, registration). */
export const oauthErrorResponse = (error: ProtocolError): Response => {
  const { status } = errorTable[error._tag]
  const headers: Record<string, string> = {}
  if (error._tag === "InvalidClient" && error.scheme) {
    // RFC 6749 §5.2: the client tried HTTP authentication -> 401 with a matching challenge.
    headers["www-authenticate"] = `${error.scheme} realm="gatehouse"`
  }
  if (error._tag === "MethodNotAllowed") headers["allow"] = error.allow.join(", ")
  // RFC 6585 §4: a 429 may say how long to wait
  if (error._tag === "ClientAuthRateLimited") headers["retry-after"] = String(error.retryAfter)
  return json({ error: errorCode(error), error_description: publicDescription(error) }, status, headers)
}

/**
 * RFC 6750 §3: a Bearer challenge. With `error === undefined` (no token presented at all,
 * §3.1) the challenge carries no error code.
 */
export const bearerErrorResponse = (error: ProtocolError | undefined, realm = "gatehouse"): Response => {
  if (error === undefined) {
    return new Response(null, { status: 401, headers: { "www-authenticate": `Bearer realm="${realm}"`, ...NO_STORE } })
  }
  const code = errorCode(error)
  const status = errorTable[error._tag].status
  let challenge = `Bearer realm="${realm}", error="${code}", error_description="${quote(publicDescription(error))}"`
  if (error._tag === "InsufficientScope" && error.scope) challenge += `, scope="${quote(error.scope)}"`
  const headers: Record<string, string> = { "www-authenticate": challenge }
  if (error._tag === "MethodNotAllowed") headers["allow"] = error.allow.join(", ")
  return json({ error: code, error_description: publicDescription(error) }, status, headers)
}

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!)

/** Security headers for every HTML page (clickjacking, referrer leakage: RFC 9700 §4.2.4, §4.16). */
export const htmlHeaders = (csp = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'") => ({
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": csp,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  ...NO_STORE
})

export const html = (body: string, status = 200, headers: Record<string, string> = {}): Response =>
  textResponse(body, { status, headers: { ...htmlHeaders(), ...headers } })

const page = (title: string, content: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>` +
  `<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}code{background:#f2f2f2;padding:.1rem .3rem}</style></head>` +
  `<body><main>${content}</main></body></html>`

/**
 * RFC 6749 §4.1.2.1: when the client or redirect URI is not verified, the error is shown to
 * the user instead of redirecting (no open redirector, RFC 9700 §4.11).
 */
export const errorPage = (error: ProtocolError): Response =>
  html(
    page(
      "Authorization error",
      `<h1>Authorization error</h1><p>The request could not be completed.</p>` +
        `<p><code>${escapeHtml(errorCode(error))}</code>: ${escapeHtml(publicDescription(error))}</p>`
    ),
    // 401 would call for an authentication challenge the browser cannot answer
    errorTable[error._tag].status === 401 ? 400 : errorTable[error._tag].status,
    error._tag === "MethodNotAllowed" ? { allow: error.allow.join(", ") } : {}
  )

export const redirect = (location: string, headers: Record<string, string> | Array<[string, string]> = {}): Response => {
  const h = new Headers(headers)
  h.set("location", location)
  h.set("cache-control", "no-store")
  // RFC 9700 §4.2.4 / §4.16: no Referer leakage of the code
  h.set("referrer-policy", "no-referrer")
  return new Response(null, { status: 303, headers: h })
}

/** The inline script of the form_post page; its hash is pinned in the CSP. */
export const FORM_POST_SCRIPT = "document.forms[0].submit()"
export const FORM_POST_SCRIPT_HASH = "sha256-ePniVEkSivX/c7XWBGafqh8tSpiRrKiqYeqbG7N1TOE="

/** OAuth 2.0 Form Post Response Mode §2: an auto-submitting form to the client. */
export const formPost = (action: string, params: Record<string, string>, headers: Array<[string, string]> = []): Response => {
  const inputs = Object.entries(params)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join("")
  const body = page(
    "Submitting…",
    `<form method="post" action="${escapeHtml(action)}">${inputs}<noscript><button type="submit">Continue</button></noscript></form>` +
      `<script>${FORM_POST_SCRIPT}</script>`
  )
  const origin = new URL(action).origin
  const h = new Headers(htmlHeaders(
    `default-src 'none'; style-src 'unsafe-inline'; script-src '${FORM_POST_SCRIPT_HASH}'; form-action ${origin}; frame-ancestors 'none'; base-uri 'none'`
  ))
  for (const [k, v] of headers) h.append(k, v)
  return textResponse(body, { status: 200, headers: h })
}

export interface CookieOptions {
  readonly maxAge?: number
  readonly secure: boolean
  readonly path?: string
  readonly httpOnly?: boolean
  readonly sameSite?: "Lax" | "Strict" | "None"
}

export const setCookie = (name: string, value: string, o: CookieOptions): [string, string] => {
  let c = `${name}=${encodeURIComponent(value)}; Path=${o.path ?? "/"}; SameSite=${o.sameSite ?? "Lax"}`
  if (o.httpOnly ?? true) c += "; HttpOnly"
  if (o.secure) c += "; Secure"
  if (o.maxAge !== undefined) c += `; Max-Age=${o.maxAge}`
  return ["set-cookie", c]
}
