/**
 * The Fetch boundary alone: node:http + `@gatehouse/express`'s translation (Fetch `Request`
 * in, `Response` out) around a handler that reads the form body and answers a fixed JSON
 * body. Gatehouse's cost above this line is its own; below it is Node's Fetch objects.
 */
import { fetchMiddleware } from "@gatehouse/express"
import { listen, serveCommands } from "../lib/child.mjs"

const body = JSON.stringify({ access_token: "x".repeat(300), token_type: "Bearer", expires_in: 3600, scope: "api" })
const app = {
  handles: () => true,
  handler: async (request) => {
    await request.text()
    return new Response(body, { headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", pragma: "no-cache" } })
  }
}
const middleware = fetchMiddleware(app, { origin: "http://localhost" })
const { server, port } = await listen((req, res) => middleware(req, res, () => res.end()))
serveCommands(`http://127.0.0.1:${port}`, {}, async () => server.close())
