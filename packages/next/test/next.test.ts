/**
 * @gatehouse/next with real Fetch Requests shaped as Next hands them to route handlers (an
 * internal URL such as http://localhost:3000/...), a real Gatehouse on in-memory storage with
 * `basePath: "/oauth"`, and @gatehouse/ui's real pages. What is checked: the URL Gatehouse
 * sees (public origin, trust-proxy opt-in), that method/headers/body/abort pass through, that
 * Next's router requests never spend single-use state, the singleton, and the interaction
 * hand-off helpers (Next's `redirect()` error, followed back to the client).
 */
import { createGatehouse, type GatehouseInstance } from "@gatehouse/core"
import { memoryAccounts, MemoryStorage } from "@gatehouse/testkit"
import { createInteractionPages } from "@gatehouse/ui"
import { getURLFromRedirectError } from "next/dist/client/components/redirect.js"
import { isRedirectError } from "next/dist/client/components/redirect-error.js"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import {
  completeInteraction,
  denyInteraction,
  fetchRouteHandlers,
  forgetSingleton,
  gatehouseRouteHandlers,
  getInteraction,
  interactionRedirect,
  publicUrl,
  singleton,
  toPublicRequest
} from "../src/index.js"

const ISSUER = "https://app.example.com"
/** what Next gives a route handler behind a proxy */
const INTERNAL = "http://localhost:3000"
const REDIRECT = "https://client.example.com/cb"
const VERIFIER = "dBjftJeZ4CVP-mJ92K9W-QuRZSNiP1S3ZVo1f2s-SbhcKl3kBbUo"

const S256 = async (v: string) =>
  Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(v))).toString("base64url")

let gh: GatehouseInstance
beforeAll(async () => {
  gh = createGatehouse({
    issuer: ISSUER,
    basePath: "/oauth",
    storage: MemoryStorage.layer(),
    accounts: memoryAccounts([{ id: "alice", username: "alice", password: "wonderland", claims: { name: "Alice" } }]),
    clients: [{ client_id: "web", client_secret: "web-secret-0123456789", redirect_uris: [REDIRECT], client_name: "Web App" }]
  })
  await gh.ready()
}, 120_000)
afterAll(() => gh.dispose())

/** A cookie jar; requests go to a route handler at Next's internal URL. */
class Jar {
  readonly cookies = new Map<string, string>()
  async call(handler: (r: Request) => Promise<Response>, path: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers)
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "))
    const response = await handler(new Request(new URL(path, INTERNAL), { ...init, headers }))
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";").map((s) => s.trim())
      const eq = pair!.indexOf("=")
      if (attrs.some((a) => /^max-age=0$/i.test(a))) this.cookies.delete(pair!.slice(0, eq))
      else this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1))
    }
    return response
  }
}

const pathOf = (url: string) => {
  const u = new URL(url)
  expect(u.origin).toBe(ISSUER)
  return `${u.pathname}${u.search}`
}

/** GET /oauth/authorize through the route handlers; returns the interaction id Gatehouse redirected to. */
const startAuthorization = async (jar: Jar, handlers = gatehouseRouteHandlers(gh)) => {
  const q = new URLSearchParams({
    response_type: "code",
    client_id: "web",
    redirect_uri: REDIRECT,
    scope: "openid",
    state: "st4te",
    code_challenge: await S256(VERIFIER),
    code_challenge_method: "S256"
  })
  const response = await jar.call(handlers.GET, `/oauth/authorize?${q}`)
  expect(response.status).toBe(303)
  const location = response.headers.get("location")!
  // the interaction URL is on the public origin, whatever URL Next gave
  expect(location.startsWith(`${ISSUER}/interaction/`)).toBe(true)
  return decodeURIComponent(location.slice(`${ISSUER}/interaction/`.length))
}

/** A Fetch handler that answers with what it was given. */
const echo = {
  handler: async (request: Request) =>
    Response.json({
      url: request.url,
      method: request.method,
      headers: Object.fromEntries(request.headers),
      body: request.body === null ? null : await request.text()
    })
}

describe("the URL Gatehouse sees", () => {
  it("is Next's path and query on the issuer's origin (RFC 8414 §2: the issuer is the public origin)", () => {
    const url = publicUrl(new Request(`${INTERNAL}/oauth/token?a=1&a=2`), { origin: ISSUER })
    expect(url.href).toBe(`${ISSUER}/oauth/token?a=1&a=2`)
  })

  it("ignores the Host Next built its URL from unless the proxy is trusted", async () => {
    const request = new Request("http://evil.example/oauth/jwks", {
      headers: { "x-forwarded-proto": "http", "x-forwarded-host": "evil.example" }
    })
    expect(publicUrl(request, { origin: ISSUER }).origin).toBe(ISSUER)
    const response = await gatehouseRouteHandlers(gh).GET(new Request("http://evil.example/.well-known/openid-configuration"))
    const body = await response.json() as { issuer: string; token_endpoint: string }
    expect(body.issuer).toBe(ISSUER)
    expect(body.token_endpoint).toBe(`${ISSUER}/oauth/token`)
  })

  it("keeps a path that looks like an authority a path on the public origin", () => {
    expect(publicUrl(new Request(`${INTERNAL}//evil.example/x`), { origin: ISSUER }).href).toBe(`${ISSUER}//evil.example/x`)
  })

  it("takes X-Forwarded-Proto/Host (first values) only with trustProxy, and only when well formed", () => {
    const forwarded = (proto: string, host: string) =>
      new Request(`${INTERNAL}/oauth/jwks`, { headers: { "x-forwarded-proto": proto, "x-forwarded-host": host } })
    expect(publicUrl(forwarded("https", "auth.example.org, proxy.internal"), { origin: ISSUER, trustProxy: true }).href)
      .toBe("https://auth.example.org/oauth/jwks")
    expect(publicUrl(forwarded("https", "auth.example.org"), { origin: ISSUER }).origin).toBe(ISSUER)
    expect(publicUrl(forwarded("gopher", "auth.example.org"), { origin: ISSUER, trustProxy: true }).origin).toBe(ISSUER)
    expect(publicUrl(forwarded("https", "user@evil.example/x"), { origin: ISSUER, trustProxy: true }).origin).toBe(ISSUER)
  })

  it("passes method, headers, the streamed body and the query through unchanged", async () => {
    const handlers = fetchRouteHandlers(echo, { origin: ISSUER })
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("grant_type=client_credentials"))
        controller.enqueue(new TextEncoder().encode("&scope=a%20b"))
        controller.close()
      }
    })
    const request = new Request(`${INTERNAL}/oauth/token?x=1`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Basic d2ViOnM=" },
      body: stream,
      duplex: "half"
    } as RequestInit)
    const seen = await (await handlers.POST(request)).json() as { url: string; method: string; headers: Record<string, string>; body: string }
    expect(seen).toMatchObject({
      url: `${ISSUER}/oauth/token?x=1`,
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Basic d2ViOnM=" },
      body: "grant_type=client_credentials&scope=a%20b"
    })
    const put = await (await handlers.PUT(new Request(`${INTERNAL}/oauth/register/x`, { method: "PUT", body: "{}" }))).json() as { method: string; body: string }
    expect(put).toMatchObject({ method: "PUT", body: "{}" })
  })

  it("hands over the request as is when its URL is already the public one", async () => {
    const request = new Request(`${ISSUER}/oauth/jwks`)
    expect(toPublicRequest(request, { origin: ISSUER })).toBe(request)
  })

  it("aborts the request Gatehouse sees when the client goes away", async () => {
    const controller = new AbortController()
    let seen: AbortSignal | undefined
    const handlers = fetchRouteHandlers({
      handler: async (request) => {
        seen = request.signal
        return new Response("ok")
      }
    }, { origin: ISSUER })
    await handlers.GET(new Request(`${INTERNAL}/x`, { signal: controller.signal }))
    expect(seen!.aborted).toBe(false)
    controller.abort()
    expect(seen!.aborted).toBe(true)
  })
})

describe("gatehouseRouteHandlers", () => {
  it("serves discovery at the origin root and the endpoints under basePath (RFC 8414 §3, OIDC Discovery §4)", async () => {
    const handlers = gatehouseRouteHandlers(gh)
    const oidc = await handlers.GET(new Request(`${INTERNAL}/.well-known/openid-configuration`))
    expect(oidc.status).toBe(200)
    const metadata = await oidc.json() as Record<string, string>
    expect(metadata.issuer).toBe(ISSUER)
    expect(metadata.jwks_uri).toBe(`${ISSUER}/oauth/jwks`)
    const as = await handlers.GET(new Request(`${INTERNAL}/.well-known/oauth-authorization-server`))
    expect((await as.json() as Record<string, string>).authorization_endpoint).toBe(`${ISSUER}/oauth/authorize`)
    const jwks = await handlers.GET(new Request(`${INTERNAL}${pathOf(metadata.jwks_uri!)}`))
    expect((await jwks.json() as { keys: Array<unknown> }).keys.length).toBeGreaterThan(0)
  })

  it("answers CORS preflights and wrong methods as Gatehouse does", async () => {
    const handlers = gatehouseRouteHandlers(gh)
    const preflight = await handlers.OPTIONS(new Request(`${INTERNAL}/oauth/token`, { method: "OPTIONS" }))
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*")
    const wrong = await handlers.DELETE(new Request(`${INTERNAL}/oauth/token`, { method: "DELETE" }))
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get("allow")).toBe("POST")
    const unknown = await handlers.GET(new Request(`${INTERNAL}/oauth/nothing-here`))
    expect(unknown.status).toBe(404)
  })

  it("hands paths Gatehouse does not serve to the host's notFound, when given (a root catch-all route)", async () => {
    const notFound = vi.fn(async (request: Request) => new Response(`host 404 for ${new URL(request.url).pathname}`, { status: 404 }))
    const handlers = gatehouseRouteHandlers(gh, { notFound })
    const unknown = await handlers.GET(new Request(`${INTERNAL}/oauth/nowhere`))
    expect(unknown.status).toBe(404)
    expect(await unknown.text()).toBe("host 404 for /oauth/nowhere")
    // under the basePath only: the root paths of the endpoints are not Gatehouse's
    expect((await handlers.POST(new Request(`${INTERNAL}/token`, { method: "POST" }))).status).toBe(404)
    expect(notFound).toHaveBeenCalledTimes(2)
    const token = await handlers.POST(new Request(`${INTERNAL}/oauth/token`, { method: "POST" }))
    expect(token.status).toBe(400)
    expect((await token.json() as { error: string }).error).toBe("invalid_request")
    expect(notFound).toHaveBeenCalledTimes(2)
  })

  it("takes a getter, sync or async, called per request (nothing built at import)", async () => {
    const getter = vi.fn(() => gh)
    const handlers = gatehouseRouteHandlers(getter)
    expect(getter).not.toHaveBeenCalled()
    await handlers.GET(new Request(`${INTERNAL}/oauth/jwks`))
    await gatehouseRouteHandlers(async () => gh).GET(new Request(`${INTERNAL}/oauth/jwks`))
    expect(getter).toHaveBeenCalledTimes(1)
  })

  it("never runs Gatehouse for Next's router (RSC: 1): the resume step is not spent, the real navigation gets the code", async () => {
    const jar = new Jar()
    const handlers = gatehouseRouteHandlers(gh)
    const id = await startAuthorization(jar, handlers)
    const { redirectTo } = await gh.interactions.complete(id, { accountId: "alice" })
    // what Next does after a Server Action's redirect(): fetch the target as a React payload
    const router = await jar.call(handlers.GET, pathOf(redirectTo), { headers: { rsc: "1", "next-router-state-tree": "%5B%5D" } })
    expect(router.status).toBe(204)
    expect(router.headers.get("content-type")).toBeNull()
    expect(router.headers.get("location")).toBeNull()
    // ...then, finding no React payload, a full-page navigation: Gatehouse answers it (RFC 6749 §4.1.2)
    const real = await jar.call(handlers.GET, pathOf(redirectTo))
    expect(real.status).toBe(303)
    const back = new URL(real.headers.get("location")!)
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT)
    expect(back.searchParams.get("code")).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(back.searchParams.get("iss")).toBe(ISSUER)
  })
})

describe("fetchRouteHandlers with @gatehouse/ui's pages", () => {
  it("serves the login page and accepts its form sent from the public origin (the pages' Origin check sees the public URL)", async () => {
    const jar = new Jar()
    const id = await startAuthorization(jar)
    const pages = fetchRouteHandlers(() => createInteractionPages(gh), { origin: () => gh.config.origin })
    const page = await jar.call(pages.GET, `/interaction/${encodeURIComponent(id)}`)
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toMatch(/<input[^>]+name="username"/)
    expect(html).toMatch(/<input[^>]+name="password"/)
    const action = /<form method="post" action="([^"]+)">/.exec(html)![1]!
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!
    const login = await jar.call(pages.POST, action.replace(/&amp;/g, "&"), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ISSUER, "sec-fetch-site": "same-origin" },
      body: new URLSearchParams({ csrf, username: "alice", password: "wonderland" })
    })
    expect(login.status).toBe(303)
    // on to the consent page, or (consent remembered from an earlier test) straight back to Gatehouse
    expect([`/interaction/${encodeURIComponent(id)}`, `${ISSUER}/oauth/authorize/resume?interaction=${encodeURIComponent(id)}`])
      .toContain(login.headers.get("location"))
    // a form posted from another origin is still refused
    const forged = await jar.call(pages.POST, action.replace(/&amp;/g, "&"), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
      body: new URLSearchParams({ csrf, username: "alice", password: "wonderland" })
    })
    expect(forged.status).toBe(403)
  })
})

describe("singleton", () => {
  it("builds once per process, across re-evaluations of the module (dev hot reload)", async () => {
    const create = vi.fn(() => ({ built: Symbol("instance") }))
    const first = singleton("test-a", create)
    vi.resetModules()
    const reloaded = await import("../src/singleton.js?reload" as string) as typeof import("../src/singleton.js")
    expect(reloaded.singleton("test-a", create)).toBe(first)
    expect(singleton("test-a", create)).toBe(first)
    expect(create).toHaveBeenCalledTimes(1)
    expect(forgetSingleton("test-a")).toBe(first)
    expect(singleton("test-a", create)).not.toBe(first)
    expect(create).toHaveBeenCalledTimes(2)
    forgetSingleton("test-a")
  })

  it("stores nothing when create() throws, so the next call tries again", () => {
    expect(() => singleton("test-b", () => {
      throw new Error("database down")
    })).toThrow("database down")
    expect(singleton("test-b", () => 42)).toBe(42)
    forgetSingleton("test-b")
  })
})

describe("the interaction hand-off from Server Actions", () => {
  const redirectOf = async (promise: Promise<unknown>): Promise<string> => {
    const error = await promise.then(() => undefined, (e: unknown) => e)
    expect(isRedirectError(error)).toBe(true)
    return getURLFromRedirectError(error as never)!
  }

  it("getInteraction: the details of a pending interaction; undefined for an unknown, empty or finished one", async () => {
    const jar = new Jar()
    const id = await startAuthorization(jar)
    const details = await getInteraction(() => gh, id)
    expect(details).toMatchObject({ id, clientId: "web", clientName: "Web App", scope: ["openid"], prompt: ["login", "consent"] })
    expect(await getInteraction(gh, "no-such-interaction")).toBeUndefined()
    expect(await getInteraction(gh, "")).toBeUndefined()
    expect(await getInteraction(gh, undefined)).toBeUndefined()
    await gh.interactions.deny(id)
    expect(await getInteraction(gh, id)).toBeUndefined()
  })

  it("getInteraction rejects on internal failures instead of hiding them", async () => {
    const broken = { interactions: { ...gh.interactions, details: () => Promise.reject(Object.assign(new Error("db"), { _tag: "StorageError" })) } }
    await expect(getInteraction(broken, "x")).rejects.toThrow("db")
  })

  it("completeInteraction redirects (Next's redirect()) to Gatehouse, which sends the client its code", async () => {
    const jar = new Jar()
    const id = await startAuthorization(jar)
    const to = await redirectOf(completeInteraction(() => gh, id, { accountId: "alice", amr: ["pwd"] }))
    expect(to).toBe(`${ISSUER}/oauth/authorize/resume?interaction=${encodeURIComponent(id)}`)
    const back = await jar.call(gatehouseRouteHandlers(gh).GET, pathOf(to))
    expect(back.status).toBe(303)
    expect(new URL(back.headers.get("location")!).searchParams.get("state")).toBe("st4te")
    expect(new URL(back.headers.get("location")!).searchParams.get("code")).toBeTruthy()
    // finished: a second completion is refused with core's error, not a redirect
    await expect(completeInteraction(gh, id, { accountId: "alice" })).rejects.toMatchObject({ _tag: "InvalidRequest" })
  })

  it("denyInteraction redirects to Gatehouse, which sends the client access_denied (RFC 6749 §4.1.2.1)", async () => {
    const jar = new Jar()
    const id = await startAuthorization(jar)
    const to = await redirectOf(denyInteraction(gh, id, { description: "not today" }))
    const back = await jar.call(gatehouseRouteHandlers(gh).GET, pathOf(to))
    const location = new URL(back.headers.get("location")!)
    expect(location.searchParams.get("error")).toBe("access_denied")
    expect(location.searchParams.get("error_description")).toBe("not today")
    expect(location.searchParams.get("state")).toBe("st4te")
  })

  it("interactionRedirect: a 303 for route handlers, not stored, no Referer", () => {
    const response = interactionRedirect(`${ISSUER}/oauth/authorize/resume?interaction=x`)
    expect(response.status).toBe(303)
    expect(response.headers.get("location")).toBe(`${ISSUER}/oauth/authorize/resume?interaction=x`)
    expect(response.headers.get("cache-control")).toBe("no-store")
    expect(response.headers.get("referrer-policy")).toBe("no-referrer")
  })
})
