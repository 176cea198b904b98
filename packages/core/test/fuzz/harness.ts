/**
 * Property-based fuzzing of every Gatehouse endpoint through the Fetch handler (issue 6).
 *
 * Reusable by any storage backend: `fuzzSuite({ label, storage })` registers one vitest test
 * per endpoint, each running `runs` random requests (malformed methods, content types, bodies,
 * headers, query strings and paths) against ONE Gatehouse instance, and checks for every answer:
 *
 * - status < 500, and the body holds no stack frame ("    at ...") or source file path;
 * - a 4xx is in the protocol's own format: RFC 6749 §5.2 JSON `error` (token, introspection,
 *   revocation, registration, device authorization, metadata, JWKS, unknown paths), an
 *   RFC 6750 §3 `WWW-Authenticate: Bearer` challenge (userinfo, RFC 7592 client configuration),
 *   RFC 9635 §3.6 JSON `error` (GNAP endpoints), or an HTML error page with no `Location`
 *   (authorization endpoint and the other browser-facing pages, where redirecting is unsafe);
 * - a 3xx carries a `Location` that stays on the issuer, on the host's interaction page, or on
 *   a redirect URI registered by a static client (RFC 9700 §4.11: no open redirector);
 * - the answer (handler + reading the whole body) arrives within `timeoutMs` (default 10 s, a
 *   generous bound on a shared 2-core machine: a hang, not slowness, is what it catches);
 * - no unhandled promise rejection happened during the run;
 * - afterwards the data stored before the run is intact: an access token issued before still
 *   introspects as active, and a dynamically registered client still authenticates.
 *
 * Entry points: packages/core/test/fuzz.test.ts (in-memory ports),
 * packages/drizzle/test/fuzz.test.ts (SQLite on a temp file) and
 * packages/drizzle/test/fuzz-pg.test.ts (Postgres, a schema of its own). The normal test run uses a fixed
 * seed and FUZZ_RUNS default 200 per endpoint; `pnpm fuzz` sets FUZZ_RUNS=20000 and a fresh seed
 * (FUZZ_SEED overrides; the seed and counts are printed so a failure can be replayed).
 */
import { createGatehouse, type CreateGatehouseOptions, type GatehouseInstance } from "@gatehouse/core"
import fc from "fast-check"
import { TestClock } from "effect/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

export const ISSUER = "https://as.example.com"
const REDIRECT = "https://client.example.com/cb"
const SVC = { id: "svc", secret: "svc-secret-0123456789" }
/** RFC 7591 §3 initial access token (also handed to the generators) */
const IAT = "fuzz-initial-access-token-0123456789"

/** How many cases per endpoint, and the base seed (per endpoint: seed + index). */
export const fuzzRuns = (fallback = 200): number => {
  const n = Number(process.env["FUZZ_RUNS"])
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback
}
export const fuzzSeed = (fallback = 20261125): number => {
  const n = Number(process.env["FUZZ_SEED"])
  return process.env["FUZZ_SEED"] !== undefined && Number.isFinite(n) ? Math.floor(n) : fallback
}

export type FuzzStyle = "oauth" | "bearer" | "page" | "gnap"

export interface FuzzTarget {
  readonly name: string
  /** the path, or a generator of paths (prefix routes with ids) */
  readonly path: fc.Arbitrary<string>
  readonly style: FuzzStyle
  /** the methods the endpoint serves; others are fuzzed too, with lower weight */
  readonly methods: ReadonlyArray<string>
  /** whether a normalised pathname is this endpoint's (a mangled path may land elsewhere) */
  readonly matches: (pathname: string) => boolean
  /** extra query strings for this endpoint (near-valid requests), mixed with the random ones */
  readonly query?: fc.Arbitrary<string>
}

// ---------------------------------------------------------------------------------------------
// generators

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 })
const latin1 = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 40 })
const anyText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 20 }), printable)
const segment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
  printable.map((s) => encodeURIComponent(s)),
  fc.constantFrom("%00", "%2F", "..", ".", "%2e%2e", "%ZZ", "~", "%", "a%2", "%C0%AF", "%E2%80%AE")
)
const huge = (min: number, max: number) =>
  fc.tuple(fc.integer({ min, max }), fc.constantFrom("a", "%", "=", "&", "€", "\u0000")).map(([n, c]) => c.repeat(n))

const PARAM_NAMES = [
  "grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret", "client_assertion",
  "client_assertion_type", "refresh_token", "scope", "token", "token_type_hint", "device_code", "username",
  "password", "response_type", "response_mode", "state", "nonce", "code_challenge", "code_challenge_method",
  "prompt", "max_age", "request", "request_uri", "resource", "audience", "interaction", "user_code", "id_token_hint",
  "login_hint", "acr_values", "claims", "ui_locales", "dpop_jkt", "display", "iss", "hash", "interact_ref",
  "redirect_uris", "grant_types", "token_endpoint_auth_method", "jwks", "jwks_uri", "software_statement"
] as const

export interface Fixture {
  /** an access token issued before the run (client credentials, svc) */
  readonly accessToken: string
  /** a client registered before the run (RFC 7591) */
  readonly registered: { client_id: string; client_secret: string; registration_access_token: string }
}

const paramValue = (f: () => Fixture | undefined) =>
  fc.oneof(
    { weight: 4, arbitrary: anyText },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        "authorization_code", "refresh_token", "client_credentials", "password", "implicit",
        "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "web", "spa", "native", SVC.id, SVC.secret,
        REDIRECT, `${REDIRECT}/../evil`, "https://evil.example/cb", "javascript:alert(1)", "http://127.0.0.1:1/callback",
        "code", "token", "id_token", "code id_token", "none", "S256", "plain", "openid", "openid profile offline_access",
        "query", "fragment", "form_post", "login consent", "0", "-1", "1e309", "NaN", "access_token", "", " ",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "eyJ.eyJ.sig", "[]", "{}", "null", "true"
      )
    },
    { weight: 1, arbitrary: fc.constant(null).map(() => f()?.accessToken ?? "x") },
    { weight: 1, arbitrary: fc.constant(null).map(() => f()?.registered.client_id ?? "x") },
    { weight: 1, arbitrary: huge(1000, 20_000) }
  )

const pairs = (f: () => Fixture | undefined) =>
  fc.array(
    fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PARAM_NAMES) }, { weight: 1, arbitrary: anyText }), paramValue(f)),
    { maxLength: 12 }
  )

const encodePairs = (ps: ReadonlyArray<readonly [string, string]>) =>
  ps.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")

/** a query string: well-formed pairs (duplicates allowed), raw junk, or both */
const query = (f: () => Fixture | undefined) =>
  fc.oneof(
    fc.constant(""),
    pairs(f).map((ps) => `?${encodePairs(ps)}`),
    fc.tuple(pairs(f), fc.array(fc.constantFrom("&&", "=", "==x", "a=%", "%ZZ=1", "a", "a[]=1", "a[b]=2", "%00=%00", ";"), { maxLength: 5 }))
      .map(([ps, junk]) => `?${[encodePairs(ps), ...junk].join("&")}`),
    huge(5000, 40_000).map((s) => `?state=${encodeURIComponent(s)}`)
  )

const deeplyNested = fc.tuple(fc.integer({ min: 1, max: 30_000 }), fc.boolean()).map(([n, arr]) =>
  arr ? "[".repeat(n) + "]".repeat(n) : '{"a":'.repeat(n) + "1" + "}".repeat(n)
)

const jsonObjectText = (f: () => Fixture | undefined) =>
  fc.oneof(
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.dictionary(fc.constantFrom(...PARAM_NAMES), fc.oneof(paramValue(f), fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<unknown>))
      .map((o) => JSON.stringify(o)),
    // RFC 9635 §2 shaped grant requests with random members
    fc.record({
      access_token: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.record({ access: fc.jsonValue({ maxDepth: 2 }), label: anyText, flags: fc.jsonValue({ maxDepth: 1 }) })),
      client: fc.oneof(anyText, fc.jsonValue({ maxDepth: 3 }), fc.record({ key: fc.record({ proof: fc.constantFrom("httpsig", "mtls", "jwsd", "jws", "x"), jwk: fc.jsonValue({ maxDepth: 2 }) }) })),
      interact: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.record({ start: fc.array(fc.constantFrom("redirect", "app", "user_code", "user_code_uri", "x")), finish: fc.record({ method: fc.constantFrom("redirect", "push", "x"), uri: paramValue(f), nonce: anyText }) })),
      subject: fc.jsonValue({ maxDepth: 2 }),
      user: fc.jsonValue({ maxDepth: 2 }),
      interact_ref: anyText
    }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
    // duplicate keys: JSON.parse keeps the last one
    fc.tuple(fc.constantFrom(...PARAM_NAMES), paramValue(f), paramValue(f)).map(([k, a, b]) =>
      `{${JSON.stringify(k)}:${JSON.stringify(a)},${JSON.stringify(k)}:${JSON.stringify(b)}}`
    ),
    deeplyNested,
    fc.constantFrom("{", "[", '{"a":', "nul", '"\\ud800"', "1e999999", "-", '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{}}}')
  )

interface Body {
  readonly kind: "none" | "form" | "json" | "binary" | "text" | "huge"
  readonly bytes?: Uint8Array | string
}

const body = (f: () => Fixture | undefined): fc.Arbitrary<Body> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant<Body>({ kind: "none" }) },
    { weight: 5, arbitrary: pairs(f).map((ps): Body => ({ kind: "form", bytes: encodePairs(ps) })) },
    { weight: 4, arbitrary: jsonObjectText(f).map((s): Body => ({ kind: "json", bytes: s })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }).map((b): Body => ({ kind: "binary", bytes: b })) },
    { weight: 1, arbitrary: anyText.map((s): Body => ({ kind: "text", bytes: s })) },
    { weight: 1, arbitrary: huge(60_000, 300_000).map((s): Body => ({ kind: "huge", bytes: `token=${s}` })) }
  )

const contentType = fc.oneof(
  fc.constantFrom(
    undefined, "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8",
    "application/x-www-form-urlencoded; charset=utf-16", "application/json", "application/json; charset=utf-8",
    "application/jose", "application/jwt", "text/plain", "multipart/form-data; boundary=xyz", "application/octet-stream",
    "", ";", "application/json;;;", "APPLICATION/JSON", "application/x-www-form-urlencoded, application/json"
  ),
  latin1
)

const base64 = (s: string) => btoa(Array.from(new TextEncoder().encode(s), (b) => String.fromCharCode(b)).join(""))

const authorization = (f: () => Fixture | undefined) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.tuple(anyText, anyText).map(([u, p]) => `Basic ${base64(`${u}:${p}`)}`) },
    { weight: 1, arbitrary: fc.constant(null).map(() => `Basic ${base64(`${SVC.id}:${SVC.secret}`)}`) },
    { weight: 1, arbitrary: fc.constant(null).map(() => { const r = f()?.registered; return `Basic ${base64(`${r?.client_id}:${r?.client_secret}`)}` }) },
    { weight: 1, arbitrary: fc.tuple(anyText, anyText).map(([u, p]) => `Basic ${base64(`${encodeURIComponent(u)}:${encodeURIComponent(p)}`)}`) },
    { weight: 1, arbitrary: printable.map((s) => `Basic ${s}`) },
    { weight: 2, arbitrary: printable.map((s) => `Bearer ${s}`) },
    { weight: 1, arbitrary: fc.constant(null).map(() => `Bearer ${f()?.accessToken}`) },
    { weight: 1, arbitrary: fc.constant(null).map(() => `Bearer ${f()?.registered.registration_access_token}`) },
    { weight: 1, arbitrary: fc.constant(`Bearer ${IAT}`) },
    { weight: 1, arbitrary: printable.map((s) => `GNAP ${s}`) },
    { weight: 1, arbitrary: printable.map((s) => `DPoP ${s}`) },
    { weight: 1, arbitrary: latin1 },
    { weight: 1, arbitrary: fc.constantFrom("Basic", "Bearer", "Bearer ", "basic Og==", "Basic Og==", "Bearer a b c", "Basic ====", "Negotiate x") },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("Bearer ", "Basic ", "GNAP "), huge(8_000, 100_000)).map(([s, v]) => s + v.replace(/[^\x20-\x7e]/g, "a")) }
  )

const extraHeaders = fc.array(
  fc.tuple(
    fc.oneof(
      fc.constantFrom("cookie", "signature", "signature-input", "content-digest", "dpop", "origin", "accept", "x-forwarded-for",
        "x-forwarded-proto", "host", "content-encoding", "transfer-encoding-x", "accept-language", "referer", "detached-jws"),
      fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/)
    ),
    fc.oneof(latin1, fc.constantFrom("gatehouse=x", "gatehouse=; gatehouse=2", "sig1=:AAAA:", 'sig1=("@method");created=1', "sha-256=:x:", "gzip", "*/*", "text/html"))
  ),
  { maxLength: 4 }
)

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"] as const
const method = (served: ReadonlyArray<string>) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...served) },
    { weight: 2, arbitrary: fc.constantFrom(...METHODS) },
    { weight: 1, arbitrary: fc.constantFrom("get", "post", "Post", "PROPFIND", "FOO", "M-SEARCH", "QUERY") }
  )

export interface RequestSpec {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly contentType: string | undefined
  readonly authorization: string | undefined
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: Body
}

export const requestSpec = (target: FuzzTarget, f: () => Fixture | undefined): fc.Arbitrary<RequestSpec> =>
  fc.record({
    method: method(target.methods),
    path: target.path,
    query: target.query ? fc.oneof(query(f), target.query) : query(f),
    contentType,
    authorization: authorization(f),
    headers: extraHeaders,
    body: body(f)
  })

export const toRequest = (spec: RequestSpec): Request => {
  const headers = new Headers()
  for (const [k, v] of spec.headers) headers.append(k, v)
  if (spec.contentType !== undefined) headers.set("content-type", spec.contentType)
  if (spec.authorization !== undefined) headers.set("authorization", spec.authorization)
  const canHaveBody = spec.method.toUpperCase() !== "GET" && spec.method.toUpperCase() !== "HEAD"
  const init: RequestInit = { method: spec.method, headers, redirect: "manual" }
  if (canHaveBody && spec.body.bytes !== undefined) init.body = spec.body.bytes as BodyInit
  return new Request(`${ISSUER}${spec.path}${spec.query}`, init)
}

// ---------------------------------------------------------------------------------------------
// targets

const id = fc.oneof(segment, fc.constant(""))
const exact = (p: string) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(p) },
    { weight: 1, arbitrary: fc.constant(`${p}/`) },
    { weight: 1, arbitrary: fc.constantFrom(p.toUpperCase(), `${p}//`, `/${p}`, `${p}%2F`, `${p}/..${p}`, `${p};x`) }
  )

/**
 * Near-valid authorization requests (RFC 6749 §4.1.1): a good request for a static client, with
 * some parameters dropped, duplicated or replaced — so the fuzz also reaches the redirects
 * (to the interaction page, or errors to the verified redirect URI) and checks where they go.
 */
const AUTHORIZE_BASE: ReadonlyArray<readonly [string, string]> = [
  ["response_type", "code"], ["client_id", "web"], ["redirect_uri", REDIRECT], ["scope", "openid profile"],
  ["state", "st4te"], ["nonce", "n0nce"], ["code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"],
  ["code_challenge_method", "S256"]
]
const nearValidAuthorize = (f: () => Fixture | undefined) =>
  fc.tuple(
    fc.subarray([...AUTHORIZE_BASE], { minLength: 4 }),
    fc.array(fc.tuple(fc.constantFrom(...PARAM_NAMES), paramValue(f)), { maxLength: 3 }),
    fc.constantFrom("web", "spa", "native", "svc", "unknown")
  ).map(([base, extra, client]) => {
    const ps = base.map(([k, v]): [string, string] => (k === "client_id" ? [k, client] : k === "redirect_uri" && client === "native" ? [k, "http://127.0.0.1:4000/callback"] : [k, v]))
    return `?${encodePairs([...ps, ...extra])}`
  })

const is = (...paths: ReadonlyArray<string>) => (p: string) => paths.includes(p.length > 1 ? p.replace(/\/$/, "") : p)
const under = (prefix: string) => (p: string) => p.startsWith(prefix)

export const targets = (f: () => Fixture | undefined): ReadonlyArray<FuzzTarget> => [
  { name: "authorize (RFC 6749 §3.1)", path: exact("/authorize"), style: "page", methods: ["GET", "POST"], matches: is("/authorize"), query: nearValidAuthorize(f) },
  { name: "authorize/resume", path: exact("/authorize/resume"), style: "page", methods: ["GET"], matches: is("/authorize/resume") },
  { name: "token (RFC 6749 §3.2)", path: exact("/token"), style: "oauth", methods: ["POST"], matches: is("/token") },
  { name: "introspect (RFC 7662)", path: exact("/introspect"), style: "oauth", methods: ["POST"], matches: is("/introspect") },
  { name: "revoke (RFC 7009)", path: exact("/revoke"), style: "oauth", methods: ["POST"], matches: is("/revoke") },
  { name: "userinfo (OIDC Core §5.3)", path: exact("/userinfo"), style: "bearer", methods: ["GET", "POST"], matches: is("/userinfo") },
  { name: "register (RFC 7591)", path: exact("/register"), style: "oauth", methods: ["POST"], matches: is("/register") },
  {
    name: "register/{id} (RFC 7592)", matches: under("/register/"),
    path: fc.oneof(id.map((s) => `/register/${s}`), fc.constant(null).map(() => `/register/${f()?.registered.client_id}`)),
    style: "bearer",
    methods: ["GET", "PUT", "DELETE"]
  },
  { name: "jwks", path: exact("/jwks"), style: "oauth", methods: ["GET"], matches: is("/jwks") },
  {
    name: "discovery (RFC 8414, OIDC Discovery)", matches: is("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"),
    path: fc.oneof(exact("/.well-known/oauth-authorization-server"), exact("/.well-known/openid-configuration")),
    style: "oauth",
    methods: ["GET"]
  },
  { name: "device_authorization (RFC 8628 §3.1)", path: exact("/device_authorization"), style: "oauth", methods: ["POST"], matches: is("/device_authorization") },
  { name: "device/resume", path: exact("/device/resume"), style: "page", methods: ["GET"], matches: is("/device/resume") },
  { name: "gnap grant (RFC 9635 §2)", path: exact("/gnap"), style: "gnap", methods: ["POST", "OPTIONS"], matches: is("/gnap") },
  { name: "gnap continue (RFC 9635 §5)", matches: under("/gnap/continue/"), path: id.map((s) => `/gnap/continue/${s}`), style: "gnap", methods: ["POST", "PATCH", "DELETE"] },
  { name: "gnap token management (RFC 9635 §6)", matches: under("/gnap/token/"), path: id.map((s) => `/gnap/token/${s}`), style: "gnap", methods: ["POST", "DELETE"] },
  { name: "gnap interact (RFC 9635 §4.1.1)", matches: under("/gnap/interact/"), path: fc.tuple(id, id).map(([a, b]) => `/gnap/interact/${a}/${b}`), style: "page", methods: ["GET"] },
  { name: "gnap resume", path: exact("/gnap/resume"), style: "page", methods: ["GET"], matches: is("/gnap/resume") },
  { name: "gnap introspect (RFC 9767 §3.3)", path: exact("/gnap/introspect"), style: "gnap", methods: ["POST"], matches: is("/gnap/introspect") },
  { name: "gnap RS discovery (RFC 9767 §3.1)", path: exact("/.well-known/gnap-as-rs"), style: "gnap", methods: ["GET"], matches: is("/.well-known/gnap-as-rs") },
  { name: "gnap resource registration (RFC 9767 §3.4)", path: exact("/gnap/resource"), style: "gnap", methods: ["POST"], matches: is("/gnap/resource") },
  {
    name: "unknown paths", matches: () => false,
    path: fc.oneof(
      fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => `/${s.join("/")}`),
      fc.constantFrom("/", "/.well-known/", "/.well-known/x", "/authorizex", "/token/x", "/interaction/x", "/gnap/continue", "/gnap/token", "/register-x"),
      huge(2000, 10_000).map((s) => `/${encodeURIComponent(s)}`)
    ),
    style: "oauth",
    methods: ["GET", "POST"]
  }
]

// ---------------------------------------------------------------------------------------------
// the property

const STACK = /\n\s+at |\bat [^\s]+ \(|file:\/\/|node_modules|\/work\/|[\w-]+\.(?:ts|js|mjs):\d+/

/** Where a redirect may go: the issuer, the host's interaction page, static clients' redirect URIs. */
const SAFE_REDIRECT = [ISSUER, REDIRECT, "https://client.example.com/cb2", "http://127.0.0.1"]

const isJsonError = (text: string, gnap: boolean): boolean => {
  try {
    const body = JSON.parse(text) as { error?: unknown }
    if (typeof body.error === "string") return body.error.length > 0
    // RFC 9635 §3.6: an object with a `code`
    return gnap && typeof body.error === "object" && body.error !== null && typeof (body.error as { code?: unknown }).code === "string"
  } catch {
    return false
  }
}

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

/** Returns a description of what is wrong with the answer, or undefined when it is fine. */
export const judge = (target: FuzzTarget, spec: RequestSpec, answer: Answer): string | undefined => {
  const { status, headers, text } = answer
  if (status >= 500) return `status ${status}: ${text.slice(0, 300)}`
  if (STACK.test(text)) return `stack trace or file path in body: ${text.slice(0, 300)}`
  if (status >= 300 && status < 400) {
    const location = headers.get("location")
    if (!location) return `redirect ${status} without Location`
    const absolute = new URL(location, ISSUER).toString()
    if (!SAFE_REDIRECT.some((p) => absolute.startsWith(p))) return `redirect to an unregistered place: ${location}`
    return undefined
  }
  if (status < 400) return undefined
  const ct = headers.get("content-type") ?? ""
  const pathname = new URL(`${ISSUER}${spec.path}${spec.query}`).pathname
  if (!target.matches(pathname)) {
    // the path was normalised onto another endpoint (or none): any protocol error format will do
    if (ct.startsWith("text/html")) return headers.has("location") ? "error page with a Location" : undefined
    if (/^Bearer\b/.test(headers.get("www-authenticate") ?? "")) return undefined
    return isJsonError(text, true) ? undefined : `error ${status} in no protocol format: ${ct} ${text.slice(0, 200)}`
  }
  if (target.style === "page" && status !== 404) {
    // browser-facing page: an HTML error page, no redirect (RFC 6749 §4.1.2.1)
    if (!ct.startsWith("text/html")) return `page error ${status} not HTML: ${ct} ${text.slice(0, 200)}`
    if (headers.has("location")) return `page error ${status} with a Location`
    return undefined
  }
  if (target.style === "bearer") {
    // RFC 6750 §3: a challenge on 401; other errors carry one or are JSON (405 from the router)
    const challenge = headers.get("www-authenticate") ?? ""
    if (status === 401 && !/^Bearer\b/.test(challenge)) return `401 without a Bearer challenge (RFC 6750 §3): ${challenge}`
    if (/^Bearer\b/.test(challenge) || isJsonError(text, false)) return undefined
    return `bearer-style error without challenge or JSON error: ${status} ${text.slice(0, 200)}`
  }
  if (!ct.includes("json")) return `error ${status} not JSON: ${ct} ${text.slice(0, 200)}`
  if (!isJsonError(text, target.style === "gnap")) return `error ${status} without an error code: ${text.slice(0, 200)}`
  return undefined
}

class Timeout extends Error {}

export const answer = async (gh: GatehouseInstance, request: Request, timeoutMs: number): Promise<Answer> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`no answer within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    return await Promise.race([
      (async () => {
        const response = await gh.handler(request)
        return { status: response.status, headers: response.headers, text: await response.text() }
      })(),
      hang
    ])
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------------------------------------
// the suite

export interface FuzzSuiteOptions {
  readonly label: string
  /** the storage layer for the Gatehouse under test (a fresh one per suite) */
  readonly storage: () => CreateGatehouseOptions["storage"]
  readonly runs?: number
  readonly seed?: number
  /** per-request bound (ms) on handler + body; default 10 000 */
  readonly timeoutMs?: number
  readonly teardown?: () => Promise<void> | void
  /** only these targets (by name substring); default all */
  readonly only?: ReadonlyArray<string>
}

const form = (params: Record<string, string>) => new URLSearchParams(params).toString()

export const makeFuzzGatehouse = (storage: CreateGatehouseOptions["storage"]): GatehouseInstance =>
  createGatehouse({
    issuer: ISSUER,
    storage,
    accounts: {
      claims: (id) => (id === "alice" ? { name: "Alice" } : undefined),
      authenticate: (u, p) => (u === "alice" && p === "alice-password" ? "alice" : undefined)
    },
    registration: { open: true, initialAccessToken: IAT },
    clients: [
      { client_id: "web", client_secret: "web-secret-0123456789", redirect_uris: [REDIRECT, "https://client.example.com/cb2?x=1"], grant_types: ["authorization_code", "refresh_token"] },
      { client_id: "spa", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] },
      { client_id: "native", redirect_uris: ["http://127.0.0.1/callback"], token_endpoint_auth_method: "none" },
      { client_id: SVC.id, client_secret: SVC.secret, redirect_uris: [], grant_types: ["client_credentials"], token_endpoint_auth_method: "client_secret_basic" }
    ],
    overrides: TestClock.layer()
  })

const basic = (id: string, secret: string) => `Basic ${base64(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`

const clientCredentials = (gh: GatehouseInstance, id: string, secret: string) =>
  gh.handler(new Request(`${ISSUER}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(id, secret) },
    body: form({ grant_type: "client_credentials" })
  }))

const introspectActive = async (gh: GatehouseInstance, token: string) => {
  const response = await gh.handler(new Request(`${ISSUER}/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(SVC.id, SVC.secret) },
    body: form({ token })
  }))
  return ((await response.json()) as { active?: boolean }).active
}

const makeFixture = async (gh: GatehouseInstance, name: string): Promise<Fixture> => {
  const issued = await clientCredentials(gh, SVC.id, SVC.secret)
  expect(issued.status).toBe(200)
  const accessToken = ((await issued.json()) as { access_token: string }).access_token
  const reg = await gh.handler(new Request(`${ISSUER}/register`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${IAT}` },
    body: JSON.stringify({ grant_types: ["client_credentials"], token_endpoint_auth_method: "client_secret_basic", client_name: name })
  }))
  if (reg.status !== 201) throw new Error(`registration failed: ${reg.status} ${await reg.text()}`)
  return { accessToken, registered: (await reg.json()) as Fixture["registered"] }
}

export const fuzzSuite = (o: FuzzSuiteOptions) => {
  const runs = o.runs ?? fuzzRuns()
  const seed = o.seed ?? fuzzSeed()
  const timeoutMs = o.timeoutMs ?? 10_000
  let gh: GatehouseInstance
  let fixture: Fixture | undefined
  let kept: Fixture | undefined
  const rejections: Array<unknown> = []
  const onRejection = (reason: unknown) => rejections.push(reason)

  describe(`fuzz: every endpoint through the Fetch handler (${o.label})`, () => {
    beforeAll(async () => {
      process.on("unhandledRejection", onRejection)
      gh = makeFuzzGatehouse(o.storage())
      await gh.run(TestClock.setTime(Date.parse("2026-11-25T12:00:00Z")))
      // two sets: `fixture` is handed to the generators (the fuzz may legitimately revoke or
      // delete it), `kept` is never shown to them and must survive the run intact
      fixture = await makeFixture(gh, "fuzz playground")
      kept = await makeFixture(gh, "fuzz kept")
      console.log(`[fuzz ${o.label}] seed=${seed} runs per endpoint=${runs} timeout per request=${timeoutMs} ms`)
    })

    afterAll(async () => {
      process.off("unhandledRejection", onRejection)
      await gh?.dispose()
      await o.teardown?.()
    })

    const all = targets(() => fixture)
    all.forEach((target, index) => {
      if (o.only && !o.only.some((n) => target.name.includes(n))) return
      it(`${target.name}: every answer < 500, in the protocol's error format, no stack, no hang`, async () => {
        const started = Date.now()
        let cases = 0
        const statuses = new Map<number, number>()
        const details = await fc.check(
          fc.asyncProperty(requestSpec(target, () => fixture), async (spec) => {
            cases++
            let request: Request
            try {
              request = toRequest(spec)
            } catch {
              return // not expressible as a Fetch Request (e.g. a forbidden method): nothing to send
            }
            const a = await answer(gh, request, timeoutMs)
            statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1)
            const problem = judge(target, spec, a)
            if (problem) throw new Error(`${spec.method} ${spec.path.slice(0, 200)}${spec.query.slice(0, 200)}: ${problem}`)
          }),
          { numRuns: runs, seed: seed + index, endOnFailure: true }
        )
        if (details.failed) {
          const example = JSON.stringify(details.counterexample, (_, v) => (typeof v === "string" && v.length > 300 ? `${v.slice(0, 300)}…(${v.length} chars)` : v))
          throw new Error(`fuzz ${target.name} failed (seed ${seed + index}, path ${details.counterexamplePath}): ${String((details.errorInstance as Error | undefined)?.message ?? details.errorInstance).slice(0, 1500)}\ncounterexample: ${example?.slice(0, 3000)}`)
        }
        const summary = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(" ")
        console.log(`[fuzz ${o.label}] ${target.name}: ${cases} cases, seed ${seed + index}, ${Date.now() - started} ms; ${summary}`)
        expect(rejections).toEqual([])
      }, Math.max(60_000, runs * 200))
    })

    it("the data stored before the run is intact: the token is active, the registered client authenticates", async () => {
      expect(kept).toBeDefined()
      expect(await introspectActive(gh, kept!.accessToken)).toBe(true)
      const again = await clientCredentials(gh, kept!.registered.client_id, kept!.registered.client_secret)
      expect(again.status).toBe(200)
      // RFC 7592 §2.1
      const read = await gh.handler(new Request(`${ISSUER}/register/${kept!.registered.client_id}`, {
        headers: { authorization: `Bearer ${kept!.registered.registration_access_token}` }
      }))
      expect(read.status).toBe(200)
      expect(rejections).toEqual([])
    })
  })
}
