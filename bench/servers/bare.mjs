/** The ceiling: a bare node:http server answering every request with a fixed JSON body. */
import { listen, serveCommands } from "../lib/child.mjs"

const body = JSON.stringify({ access_token: "x".repeat(300), token_type: "Bearer", expires_in: 3600, scope: "api" })
const { server, port } = await listen((req, res) => {
  req.resume()
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "content-length": Buffer.byteLength(body) })
    res.end(body)
  })
})
serveCommands(`http://127.0.0.1:${port}`, {}, async () => server.close())
