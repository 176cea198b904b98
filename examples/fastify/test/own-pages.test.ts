/**
 * The README's "your own login page" code, run: a Fastify app that serves
 * `/interaction/:id` itself (no `@gatehouse/ui`) and hands the result back with
 * `interactions.details / authenticate / complete / deny`.
 */
import formbody from "@fastify/formbody"
import { createGatehouse, type InteractionDetails } from "@gatehouse/core"
import { gatehousePlugin } from "@gatehouse/fastify"
import { ADAPTER_SUITE_REDIRECT_URI, adapterSuiteAccounts, adapterSuiteStorage, FormBrowser } from "@gatehouse/testkit"
import Fastify, { type FastifyInstance } from "fastify"
import { once } from "node:events"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const myUsers = { check: async (username: string, password: string) => (username === "bob" && password === "builder" ? "bob" : undefined) }
const myLoginPage = (details: InteractionDetails, error = "") =>
  `<!doctype html><title>Sign in</title><p>${details.clientId} asks for ${details.scope.join(" ")}</p><p>${error}</p>` +
  `<form method="post"><input name="username"><input name="password" type="password">` +
  `<button name="action" value="allow">Sign in and allow</button><button name="action" value="deny">Deny</button></form>`

describe("examples/fastify README: the app's own login page", () => {
  let app: FastifyInstance
  let origin: string
  let gatehouse: ReturnType<typeof createGatehouse>
  let server: Server

  beforeAll(async () => {
    // the issuer names the port: listen first, then hand the server to Fastify
    let dispatch: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
      res.writeHead(503).end()
    }
    server = createServer((req, res) => dispatch(req, res))
    server.listen(0, "127.0.0.1")
    await once(server, "listening")
    origin = `http://localhost:${(server.address() as AddressInfo).port}`
    app = Fastify({
      serverFactory: (handler) => {
        dispatch = handler
        return server
      }
    })
    await app.register(formbody)
    gatehouse = createGatehouse({
      issuer: origin,
      storage: adapterSuiteStorage(),
      accounts: adapterSuiteAccounts(),
      clients: [{ client_id: "web", client_secret: "web-secret-0123456789", redirect_uris: [ADAPTER_SUITE_REDIRECT_URI] }]
    })

    // --- as in the README ---
    await app.register(gatehousePlugin, { gatehouse }) // no `pages`: /interaction/:id is yours

    app.get<{ Params: { id: string } }>("/interaction/:id", async (request, reply) => {
      const details = await gatehouse.interactions.details(request.params.id) // client, scopes, prompt
      return reply.type("text/html").send(myLoginPage(details)) // your page, your look
    })

    app.post<{ Params: { id: string }; Body: Record<string, string> }>("/interaction/:id", async (request, reply) => {
      const { id } = request.params
      if (request.body.action === "deny") {
        const { redirectTo } = await gatehouse.interactions.deny(id) // the client gets access_denied
        return reply.redirect(redirectTo, 303)
      }
      const accountId = await myUsers.check(request.body.username ?? "", request.body.password ?? "") // your sign-in
      if (accountId === undefined) return reply.code(401).type("text/html").send(myLoginPage(await gatehouse.interactions.details(id), "Try again"))
      await gatehouse.interactions.authenticate(id, { accountId, amr: ["pwd"] })
      const { scope } = await gatehouse.interactions.details(id)
      const { redirectTo } = await gatehouse.interactions.complete(id, { grantedScopes: scope })
      return reply.redirect(redirectTo, 303)
    })
    // --- end ---

    await app.ready()
  }, 60_000)

  afterAll(async () => {
    await app?.close()
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    await gatehouse?.dispose()
  })

  const start = async (browser: FormBrowser) => {
    const response = await browser.go(`/authorize?${new URLSearchParams({
      response_type: "code",
      client_id: "web",
      redirect_uri: ADAPTER_SUITE_REDIRECT_URI,
      scope: "openid profile",
      state: "st",
      // RFC 7636 Appendix B
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256"
    })}`)
    expect(response.status).toBe(303)
    const page = new URL(response.headers.get("location")!)
    expect(page.pathname).toMatch(/^\/interaction\//)
    const html = await (await browser.go(page)).text()
    expect(html).toContain("web asks for openid profile")
    return page
  }

  const follow = async (browser: FormBrowser, response: Response) => {
    expect(response.status).toBe(303)
    const resume = await browser.go(response.headers.get("location")!)
    expect(resume.status).toBe(303)
    return new URL(resume.headers.get("location")!)
  }

  it("signs the user in the app's way and completes: a code for the account the app named", async () => {
    const browser = new FormBrowser(origin)
    const page = await start(browser)
    const wrong = await browser.go(page, { method: "POST", body: new URLSearchParams({ username: "bob", password: "nope", action: "allow" }) })
    expect(wrong.status).toBe(401)
    const ok = await browser.go(page, { method: "POST", body: new URLSearchParams({ username: "bob", password: "builder", action: "allow" }) })
    const callback = await follow(browser, ok)
    expect(callback.searchParams.get("state")).toBe("st")
    const code = callback.searchParams.get("code")!
    const token = await fetch(`${origin}/token`, {
      method: "POST",
      headers: { authorization: `Basic ${btoa("web:web-secret-0123456789")}` },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: ADAPTER_SUITE_REDIRECT_URI,
        code_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
      })
    })
    const tokens = await token.json() as { id_token: string }
    expect(token.status, JSON.stringify(tokens)).toBe(200)
    const claims = JSON.parse(Buffer.from(tokens.id_token.split(".")[1]!, "base64url").toString()) as Record<string, unknown>
    expect(claims["sub"]).toBe("bob")
    expect(claims["amr"]).toEqual(["pwd"])
  }, 60_000)

  it("deny: the client receives access_denied", async () => {
    const browser = new FormBrowser(origin)
    const page = await start(browser)
    const denied = await browser.go(page, { method: "POST", body: new URLSearchParams({ action: "deny" }) })
    const callback = await follow(browser, denied)
    expect(callback.searchParams.get("error")).toBe("access_denied")
  }, 60_000)
})
