/**
 * Request limits (issue 6, config `limits`): body size, parameter count and length (query
 * strings and form bodies), JSON depth and member count (registration, GNAP), header field
 * size. Every limit at its boundary — n accepted, n + 1 refused — on each kind of endpoint,
 * with the exact status and body in that endpoint's own error format: RFC 6749 §5.2 JSON,
 * RFC 6750 §3 challenge, RFC 9635 §3.6 JSON, or an HTML error page (RFC 6749 §4.1.2.1).
 */
import { GatehouseConfigError, type GatehouseInstance, resolveConfig } from "@gatehouse/core"
import { describe, expect, it } from "vitest"
import { GRANT, makeGnap, redirectRequest } from "./helpers/gnap.js"
import { authorizeUrl, defaultParams, ISSUER, makeGatehouse, REDIRECT, setTime } from "./helpers/setup.js"
import { clientNonce } from "@gatehouse/testkit"

const LIMITS = {
  maxBodyBytes: 2000,
  maxParams: 10,
  maxParamLength: 100,
  maxHeaderBytes: 3000,
  maxHeaderValueBytes: 1000,
  maxJsonDepth: 6,
  maxJsonMembers: 20
}

const SVC = { id: "svc", secret: "svc-secret-0123456789" }
const basic = `Basic ${btoa(`${SVC.id}:${SVC.secret}`)}`

const limited = async (limits: Partial<typeof LIMITS> = LIMITS): Promise<GatehouseInstance> => {
  const gh = makeGatehouse({
    limits,
    registration: { open: true },
    clients: [
      { client_id: "web", client_secret: "web-secret-0123456789", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"] },
      { client_id: SVC.id, client_secret: SVC.secret, redirect_uris: [], grant_types: ["client_credentials"], token_endpoint_auth_method: "client_secret_basic" }
    ]
  })
  await setTime(gh)
  return gh
}

const form = (pairs: ReadonlyArray<readonly [string, string]>) =>
  pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")

const token = (gh: GatehouseInstance, body: string, headers: Record<string, string> = {}) =>
  gh.handler(new Request(`${ISSUER}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic, ...headers },
    body
  }))

/** client_credentials plus `n - 1` ignored parameters (RFC 6749 §3.2: unknown parameters are ignored) */
const withParams = (n: number) => form([["grant_type", "client_credentials"], ...Array.from({ length: n - 1 }, (_, i) => [`x${i}`, "1"] as const)])

const oauthBody = async (r: Response) => ({
  status: r.status,
  contentType: r.headers.get("content-type"),
  cacheControl: r.headers.get("cache-control"),
  body: (await r.json()) as unknown
})

const oauthRefusal = (status: number, description: string) => ({
  status,
  contentType: "application/json; charset=utf-8",
  cacheControl: "no-store",
  body: { error: "invalid_request", error_description: description }
})

/** the error page's code and description (RFC 6749 §4.1.2.1: shown, not redirected) */
const pageError = async (r: Response) => {
  const text = await r.text()
  const match = /<code>([^<]*)<\/code>: ([^<]*)<\/p>/.exec(text)
  return {
    status: r.status,
    contentType: r.headers.get("content-type"),
    location: r.headers.get("location"),
    frameAncestors: /frame-ancestors 'none'/.test(r.headers.get("content-security-policy") ?? ""),
    error: match?.[1],
    description: match?.[2]?.replace(/&quot;/g, '"')
  }
}

describe("config `limits`", () => {
  it("defaults: 64 KiB body, 200 parameters of 8192 characters, 16 KiB of headers, 8 KiB per header, JSON depth 32 and 1000 members", () => {
    const c = resolveConfig({ issuer: ISSUER })
    expect(c.limits).toEqual({
      maxBodyBytes: 65536,
      maxParams: 200,
      maxParamLength: 8192,
      maxHeaderBytes: 16384,
      maxHeaderValueBytes: 8192,
      maxJsonDepth: 32,
      maxJsonMembers: 1000
    })
    expect(c.maxBodyBytes).toBe(65536)
  })

  it("the top-level maxBodyBytes still works; limits.maxBodyBytes wins over it", () => {
    expect(resolveConfig({ issuer: ISSUER, maxBodyBytes: 1234 }).limits.maxBodyBytes).toBe(1234)
    expect(resolveConfig({ issuer: ISSUER, maxBodyBytes: 1234 }).maxBodyBytes).toBe(1234)
    const both = resolveConfig({ issuer: ISSUER, maxBodyBytes: 1234, limits: { maxBodyBytes: 99 } })
    expect([both.maxBodyBytes, both.limits.maxBodyBytes]).toEqual([99, 99])
  })

  it("a limit that is not a positive integer is a config error naming the field", () => {
    expect(() => resolveConfig({ issuer: ISSUER, limits: { maxParams: 0 } })).toThrow(GatehouseConfigError)
    expect(() => resolveConfig({ issuer: ISSUER, limits: { maxHeaderBytes: 1.5 } })).toThrow(/limits\.maxHeaderBytes/)
  })
})

describe("body size (RFC 9110 §15.5.14: 413)", () => {
  it("token endpoint (RFC 6749 §5.2 JSON): 2000 bytes accepted, 2001 refused with 413 invalid_request", async () => {
    const gh = await limited({ maxBodyBytes: 2000 })
    const base = "grant_type=client_credentials&pad="
    const ok = await token(gh, base + "x".repeat(2000 - base.length))
    expect(ok.status).toBe(200)
    expect(await oauthBody(await token(gh, base + "x".repeat(2001 - base.length))))
      .toEqual(oauthRefusal(413, "request body larger than 2000 bytes"))
  })

  it("a chunked body (no Content-Length) is counted while read: 2001 bytes refused", async () => {
    const gh = await limited({ maxBodyBytes: 2000 })
    const bytes = new TextEncoder().encode(`grant_type=client_credentials&pad=${"x".repeat(2001 - 34)}`)
    expect(bytes.byteLength).toBe(2001)
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.slice(0, 1000))
        c.enqueue(bytes.slice(1000))
        c.close()
      }
    })
    const r = await gh.handler(new Request(`${ISSUER}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic },
      body: stream,
      duplex: "half"
    } as RequestInit))
    expect(await oauthBody(r)).toEqual(oauthRefusal(413, "request body larger than 2000 bytes"))
  })

  it("GNAP grant endpoint (RFC 9635 §3.6): a body over the limit -> 413 with a §3.6 error object", async () => {
    const h = await makeGnap({ limits: { maxBodyBytes: 2000 } })
    const r = await h.gh.handler(new Request(GRANT, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ pad: "x".repeat(2000) })
    }))
    expect(r.status).toBe(413)
    expect(await r.json()).toEqual({ error: { code: "invalid_request", description: "request body larger than 2000 bytes" } })
  })
})

describe("parameter count and length (form bodies and query strings)", () => {
  it("token endpoint form body: 10 parameters accepted, 11 refused with 400 invalid_request", async () => {
    const gh = await limited()
    expect((await token(gh, withParams(10))).status).toBe(200)
    expect(await oauthBody(await token(gh, withParams(11)))).toEqual(oauthRefusal(400, "too many parameters (more than 10)"))
  })

  it("token endpoint form body: a 100-character value accepted, 101 refused", async () => {
    const gh = await limited()
    expect((await token(gh, form([["grant_type", "client_credentials"], ["pad", "é".repeat(100)]]))).status).toBe(200)
    expect(await oauthBody(await token(gh, form([["grant_type", "client_credentials"], ["pad", "é".repeat(101)]]))))
      .toEqual(oauthRefusal(400, `parameter "pad" is too long (more than 100 characters)`))
  })

  it("a parameter name over 256 characters is refused", async () => {
    const gh = await limited({ maxParamLength: 1000 })
    expect((await token(gh, form([["grant_type", "client_credentials"], ["n".repeat(256), "1"]]))).status).toBe(200)
    const r = await oauthBody(await token(gh, form([["grant_type", "client_credentials"], ["n".repeat(257), "1"]])))
    expect(r).toEqual(oauthRefusal(400, `parameter name "${"n".repeat(64)}…" is too long (more than 256 characters)`))
  })

  it("introspection, revocation and device authorization apply the same form limits", async () => {
    const gh = await limited()
    const post = (path: string, n: number) =>
      gh.handler(new Request(`${ISSUER}${path}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic },
        body: form([["token", "abc"], ...Array.from({ length: n - 1 }, (_, i) => [`x${i}`, "1"] as const)])
      }))
    expect((await post("/introspect", 10)).status).toBe(200)
    expect(await oauthBody(await post("/introspect", 11))).toEqual(oauthRefusal(400, "too many parameters (more than 10)"))
    expect((await post("/revoke", 10)).status).toBe(200)
    expect(await oauthBody(await post("/revoke", 11))).toEqual(oauthRefusal(400, "too many parameters (more than 10)"))
    expect(await oauthBody(await post("/device_authorization", 11))).toEqual(oauthRefusal(400, "too many parameters (more than 10)"))
  })

  it("authorization endpoint query string (error page, never a redirect): 10 parameters accepted, 11 refused", async () => {
    const gh = await limited()
    // 8 parameters in a complete request, + 2 -> 10
    const params = await defaultParams()
    expect(Object.keys(params)).toHaveLength(8)
    const ok = await gh.handler(new Request(authorizeUrl({ ...params, a: "1", b: "1" }), { redirect: "manual" }))
    expect(ok.status).toBe(303)
    expect(ok.headers.get("location")).toMatch(/\/interaction\//)
    const refused = await gh.handler(new Request(authorizeUrl({ ...params, a: "1", b: "1", c: "1" }), { redirect: "manual" }))
    expect(await pageError(refused)).toEqual({
      status: 400,
      contentType: "text/html; charset=utf-8",
      location: null,
      frameAncestors: true,
      error: "invalid_request",
      description: "too many parameters (more than 10)"
    })
  })

  it("authorization endpoint: a 100-character state accepted, 101 refused on the error page", async () => {
    const gh = await limited()
    const ok = await gh.handler(new Request(authorizeUrl(await defaultParams({ state: "s".repeat(100) }))))
    expect(ok.status).toBe(303)
    const refused = await gh.handler(new Request(authorizeUrl(await defaultParams({ state: "s".repeat(101) }))))
    expect(await pageError(refused)).toMatchObject({
      status: 400,
      location: null,
      error: "invalid_request",
      description: `parameter "state" is too long (more than 100 characters)`
    })
  })

  it("authorization endpoint POST (OIDC Core §3.1.2.1): the form body has the same limits", async () => {
    const gh = await limited()
    const params = await defaultParams()
    const post = (extra: number) =>
      gh.handler(new Request(`${ISSUER}/authorize`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form([...Object.entries(params), ...Array.from({ length: extra }, (_, i) => [`x${i}`, "1"] as const)])
      }))
    expect((await post(2)).status).toBe(303)
    expect(await pageError(await post(3))).toMatchObject({ status: 400, location: null, error: "invalid_request", description: "too many parameters (more than 10)" })
  })
})

describe("JSON bodies: depth and member count", () => {
  /** `k` objects nested in one another: `{"a":{"a":...{}}}` */
  const nest = (k: number): unknown => (k === 0 ? 1 : { a: nest(k - 1) })

  const register = (gh: GatehouseInstance, body: unknown) =>
    gh.handler(new Request(`${ISSUER}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body)
    }))

  it("RFC 7591 registration: depth 6 accepted, 7 refused with 400 invalid_request", async () => {
    const gh = await limited()
    const metadata = { redirect_uris: ["https://c.example/cb"], token_endpoint_auth_method: "none" }
    // root (1) + 5 nested objects = depth 6
    expect((await register(gh, { ...metadata, ext: nest(5) })).status).toBe(201)
    expect(await oauthBody(await register(gh, { ...metadata, ext: nest(6) })))
      .toEqual(oauthRefusal(400, "the JSON body is nested too deeply (more than 6 levels)"))
  })

  it("RFC 7591 registration: 20 members and elements accepted, 21 refused", async () => {
    const gh = await limited()
    // 3 root members + 1 redirect URI + n elements of ext
    const body = (n: number) => ({ redirect_uris: ["https://c.example/cb"], token_endpoint_auth_method: "none", ext: Array.from({ length: n }, () => 0) })
    expect((await register(gh, body(16))).status).toBe(201)
    expect(await oauthBody(await register(gh, body(17))))
      .toEqual(oauthRefusal(400, "the JSON body has too many members (more than 20)"))
  })

  it("a deeply nested array (30 000 levels) is refused without a stack overflow", async () => {
    const gh = await limited({ maxBodyBytes: 100_000 })
    const r = await gh.handler(new Request(`${ISSUER}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"a":${"[".repeat(30_000)}${"]".repeat(30_000)}}`
    }))
    expect(await oauthBody(r)).toEqual(oauthRefusal(400, "the JSON body is nested too deeply (more than 32 levels)"))
  })

  /** independent count of members + elements and depth, the definitions config `limits` documents */
  const shape = (v: unknown, depth = 1): { members: number; depth: number } => {
    if (typeof v !== "object" || v === null) return { members: 0, depth: depth - 1 }
    const children = Array.isArray(v) ? v : Object.values(v)
    return children.reduce<{ members: number; depth: number }>((acc, c) => {
      const s = shape(c, depth + 1)
      return { members: acc.members + s.members, depth: Math.max(acc.depth, s.depth) }
    }, { members: children.length, depth })
  }

  it("GNAP grant request (RFC 9635 §2, §3.6): depth at the limit accepted (pending grant), one more refused", async () => {
    const h = await makeGnap({ limits: { maxJsonDepth: 8 } })
    const body = (k: number) => ({ ...redirectRequest(clientNonce()), client: { key: h.client.keyObject() }, ext: nest(k) })
    expect(shape(body(7)).depth).toBe(8)
    const ok = await h.client.request(body(7))
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    expect(ok.continue).toBeDefined()
    const refused = await h.client.request(body(8))
    expect(refused.status).toBe(400)
    expect(refused.body).toEqual({ error: { code: "invalid_request", description: "the JSON body is nested too deeply (more than 8 levels)" } })
  })

  it("GNAP grant request: members at the limit accepted, one more refused", async () => {
    const h = await makeGnap({ limits: { maxJsonMembers: 60 } })
    const body = (n: number) => ({ ...redirectRequest(clientNonce()), client: { key: h.client.keyObject() }, ext: Array.from({ length: n }, () => 0) })
    const pad = 60 - shape(body(0)).members
    expect(pad).toBeGreaterThan(0)
    expect(shape(body(pad)).members).toBe(60)
    const ok = await h.client.request(body(pad))
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    const refused = await h.client.request(body(pad + 1))
    expect(refused.status).toBe(400)
    expect(refused.body).toEqual({ error: { code: "invalid_request", description: "the JSON body has too many members (more than 60)" } })
  })
})

describe("header field size (RFC 6585 §5: 431)", () => {
  /** the sum the limit is defined on: name + value + 4 per field (`name: value\r\n`) */
  const headerBytes = (h: Headers) => [...h].reduce((n, [k, v]) => n + k.length + v.length + 4, 0)

  it("token endpoint: one header of 1000 bytes accepted, 1001 refused with 431 invalid_request JSON", async () => {
    const gh = await limited()
    const body = withParams(1)
    expect((await token(gh, body, { signature: "s".repeat(1000) })).status).toBe(200)
    expect(await oauthBody(await token(gh, body, { signature: "s".repeat(1001) })))
      .toEqual(oauthRefusal(431, "the signature header field is larger than 1000 bytes"))
    // the Authorization header itself
    expect(await oauthBody(await token(gh, body, { authorization: `Basic ${"A".repeat(995)}` })))
      .toEqual(oauthRefusal(431, "the authorization header field is larger than 1000 bytes"))
  })

  it("token endpoint: header fields of 3000 bytes in total accepted, 3001 refused", async () => {
    const gh = await limited()
    const request = (total: number) => {
      const headers = new Headers({ "content-type": "application/x-www-form-urlencoded", authorization: basic })
      let rest = total - headerBytes(headers)
      // spread over several fields, each within the 1000-byte field limit
      for (const name of ["x-a", "x-b", "x-c", "x-d"]) {
        const n = Math.min(1000, rest - name.length - 4)
        if (n < 0) break
        headers.set(name, "p".repeat(n))
        rest -= name.length + 4 + n
      }
      expect(headerBytes(headers)).toBe(total)
      return new Request(`${ISSUER}/token`, { method: "POST", headers, body: withParams(1) })
    }
    expect((await gh.handler(request(3000))).status).toBe(200)
    expect(await oauthBody(await gh.handler(request(3001))))
      .toEqual(oauthRefusal(431, "the request header fields are larger than 3000 bytes in total"))
  })

  it("userinfo (RFC 6750 §3): a 1000-byte Bearer header is read (invalid_token), 1001 -> 431 with an invalid_request challenge", async () => {
    const gh = await limited()
    const userinfo = (authorization: string) => gh.handler(new Request(`${ISSUER}/userinfo`, { headers: { authorization } }))
    const ok = await userinfo(`Bearer ${"t".repeat(993)}`)
    expect(ok.status).toBe(401)
    expect(ok.headers.get("www-authenticate")).toMatch(/error="invalid_token"/)
    const refused = await userinfo(`Bearer ${"t".repeat(994)}`)
    expect(refused.status).toBe(431)
    expect(refused.headers.get("www-authenticate"))
      .toBe(`Bearer realm="gatehouse", error="invalid_request", error_description="the authorization header field is larger than 1000 bytes"`)
    expect(await refused.json()).toEqual({ error: "invalid_request", error_description: "the authorization header field is larger than 1000 bytes" })
  })

  it("authorization endpoint: a 1000-byte Cookie accepted, 1001 -> 431 on the HTML error page (no redirect)", async () => {
    const gh = await limited()
    const url = authorizeUrl(await defaultParams())
    const ok = await gh.handler(new Request(url, { headers: { cookie: `other=${"c".repeat(994)}` } }))
    expect(ok.status).toBe(303)
    const refused = await gh.handler(new Request(url, { headers: { cookie: `other=${"c".repeat(995)}` } }))
    expect(await pageError(refused)).toEqual({
      status: 431,
      contentType: "text/html; charset=utf-8",
      location: null,
      frameAncestors: true,
      error: "invalid_request",
      description: "the cookie header field is larger than 1000 bytes"
    })
  })

  it("GNAP grant endpoint (RFC 9635 §3.6): a signed request with a 1000-byte header accepted, 1001 -> 431 error object", async () => {
    const h = await makeGnap({ limits: { maxHeaderValueBytes: 1000 } })
    const send = (n: number) =>
      h.client.request(redirectRequest(clientNonce()), { headers: { "x-pad": "p".repeat(n) } })
    const ok = await send(1000)
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    const refused = await send(1001)
    expect(refused.status).toBe(431)
    expect(refused.body).toEqual({ error: { code: "invalid_request", description: "the x-pad header field is larger than 1000 bytes" } })
  })

  it("GNAP: a 405 and a 431 on GNAP routes are §3.6 error objects", async () => {
    const h = await makeGnap({ limits: { maxHeaderValueBytes: 1000 } })
    const wrong = await h.gh.handler(new Request(GRANT, { method: "GET" }))
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get("allow")).toBe("POST, OPTIONS")
    expect(await wrong.json()).toEqual({ error: { code: "invalid_request", description: "method GET is not allowed here" } })
    const big = await h.gh.handler(new Request(`${ISSUER}/gnap/continue/abc`, { method: "POST", headers: { authorization: `GNAP ${"t".repeat(1000)}` } }))
    expect(big.status).toBe(431)
    expect(await big.json()).toEqual({ error: { code: "invalid_request", description: "the authorization header field is larger than 1000 bytes" } })
  })

  it("the default limits: an 8 KiB header accepted, 8 KiB + 1 refused; CORS endpoints keep Access-Control-Allow-Origin", async () => {
    const gh = await limited({})
    const body = withParams(1)
    expect((await token(gh, body, { "x-pad": "p".repeat(8192) })).status).toBe(200)
    const refused = await token(gh, body, { "x-pad": "p".repeat(8193) })
    expect(refused.headers.get("access-control-allow-origin")).toBe("*")
    expect(await oauthBody(refused)).toEqual(oauthRefusal(431, "the x-pad header field is larger than 8192 bytes"))
  })
})

describe("U+0000 in values (RFC 6749 Appendix A: VSCHAR, NQCHAR; Postgres text refuses it)", () => {
  it("a %00 anywhere in the URL: 400 invalid_request in the endpoint's format (page, RFC 6750, RFC 9635 §3.6), never a storage error", async () => {
    const gh = await limited()
    const page = await gh.handler(new Request(authorizeUrl(await defaultParams({ client_id: "web\u0000" }))))
    expect(await pageError(page)).toMatchObject({ status: 400, location: null, error: "invalid_request", description: "the request URL contains a NUL character (%00)" })
    const resume = await gh.handler(new Request(`${ISSUER}/authorize/resume?interaction=%00`))
    expect(await pageError(resume)).toMatchObject({ status: 400, error: "invalid_request" })
    const configuration = await gh.handler(new Request(`${ISSUER}/register/%00`, { headers: { authorization: "Bearer x" } }))
    expect(configuration.status).toBe(400)
    expect(configuration.headers.get("www-authenticate")).toBe(`Bearer realm="gatehouse", error="invalid_request", error_description="the request URL contains a NUL character (%00)"`)
    const h = await makeGnap()
    const gnap = await h.gh.handler(new Request(`${ISSUER}/gnap/continue/%00`, { method: "POST" }))
    expect(gnap.status).toBe(400)
    expect(await gnap.json()).toEqual({ error: { code: "invalid_request", description: "the request URL contains a NUL character (%00)" } })
  })

  it("a NUL in a form parameter -> 400; in Basic credentials -> 401 invalid_client", async () => {
    const gh = await limited()
    expect(await oauthBody(await token(gh, form([["grant_type", "client_credentials"], ["scope", "a\u0000"]]))))
      .toEqual(oauthRefusal(400, `parameter "scope" contains a NUL character`))
    const r = await token(gh, withParams(1), { authorization: `Basic ${btoa("svc%00:x")}` })
    expect(r.status).toBe(401)
    expect(await r.json()).toEqual({ error: "invalid_client", error_description: "malformed HTTP Basic credentials" })
  })

  it("a NUL in a JSON string or member name -> 400 invalid_request (registration, GNAP)", async () => {
    const gh = await limited()
    const register = (body: string) =>
      gh.handler(new Request(`${ISSUER}/register`, { method: "POST", headers: { "content-type": "application/json" }, body }))
    expect(await oauthBody(await register(`{"redirect_uris":["https://c.example/cb"],"client_name":"a\\u0000"}`)))
      .toEqual(oauthRefusal(400, "the JSON body contains a NUL character (U+0000)"))
    expect(await oauthBody(await register(`{"redirect_uris":["https://c.example/cb"],"x\\u0000":1}`)))
      .toEqual(oauthRefusal(400, "the JSON body contains a NUL character (U+0000)"))
    const h = await makeGnap()
    const refused = await h.client.request({ ...redirectRequest(clientNonce()), client: "instance\u0000" })
    expect(refused.status).toBe(400)
    expect(refused.body).toEqual({ error: { code: "invalid_request", description: "the JSON body contains a NUL character (U+0000)" } })
  })
})
