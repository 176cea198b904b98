/**
 * The adapter alone: node:http + `@gatehouse/express`'s middleware around a handler that
 * reads the form body and answers a fixed JSON body. Gatehouse's cost above this line is its
 * own.
 *
 *   node servers/fetch.mjs              the Fetch boundary: a Fetch `Request` in, a `Response` out
 *   node servers/fetch.mjs --incoming   the path Gatehouse takes on Node: `handleIncoming` with
 *                                       core's request interface (the body bytes in hand), a
 *                                       text answer written with one writeHead + end
 */
import { fetchMiddleware } from "@gatehouse/express"
import { listen, serveCommands } from "../lib/child.mjs"

const body = JSON.stringify({ access_token: "x".repeat(300), token_type: "Bearer", expires_in: 3600, scope: "api" })
const headers = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", pragma: "no-cache" }
const RESPONSE_TEXT = Symbol.for("@gatehouse/core/response-text")
const decoder = new TextDecoder()
const app = {
  handles: () => true,
  handler: async (request) => {
    await request.text()
    return new Response(body, { headers })
  },
  ...(process.argv.includes("--incoming")
    ? {
      handleIncoming: async (request) => {
        decoder.decode(request.bodyBytes)
        // what core's text answers look like to the adapter (http/response.ts `TextResponse`)
        const response = new Response(null, { headers })
        response[RESPONSE_TEXT] = body
        return response
      }
    }
    : {})
}
const middleware = fetchMiddleware(app, { origin: "http://localhost" })
const { server, port } = await listen((req, res) => middleware(req, res, () => res.end()))
serveCommands(`http://127.0.0.1:${port}`, {}, async () => server.close())
