/**
 * The middleware hands requests to the handler once per turn of the event loop
 * (src/turn-batch.ts): every request a turn read, then every answer, instead of one request's
 * whole path after the other's.
 */
import { once } from "node:events"
import { createServer, request as httpRequest, type Server } from "node:http"
import { connect } from "node:net"
import { afterEach, describe, expect, it, vi } from "vitest"
import { type FetchApp, fetchMiddleware } from "../src/index.js"
import { inTurnBatch } from "../src/turn-batch.js"

const servers: Array<Server> = []
afterEach(async () => {
  vi.useRealTimers()
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    s.close()
  }
})

/** A node:http server running the middleware, logging each request's arrival and the end of its answer. */
const serve = async (app: FetchApp, log: Array<string>) => {
  const middleware = fetchMiddleware(app, { origin: "http://localhost" })
  const server = createServer((req, res) => {
    log.push(`arrive ${req.url}`)
    const end = res.end.bind(res) as (...args: Array<unknown>) => unknown
    res.end = ((...args: Array<unknown>) => {
      log.push(`answer ${req.url}`)
      return end(...args)
    }) as typeof res.end
    middleware(req, res, (error?: unknown) => {
      log.push(`host ${req.url} ${error instanceof Error ? error.message : ""}`)
      res.statusCode = 500
      res.end("host")
    })
  })
  servers.push(server)
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return (server.address() as { port: number }).port
}

/** Three GETs pipelined in one write: node:http reads them in one callback, in one turn. */
const pipelined = (port: number, paths: Array<string>) =>
  new Promise<string>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1")
    let text = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      text += chunk
      if (text.split("HTTP/1.1 ").length - 1 === paths.length && text.endsWith(paths.at(-1)!)) {
        socket.end()
        resolve(text)
      }
    })
    socket.on("error", reject)
    socket.write(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: localhost\r\n\r\n`).join(""))
  })

const echoApp = (log: Array<string>): FetchApp => ({
  handles: () => true,
  handler: async (request) => {
    const path = new URL(request.url).pathname
    log.push(`handle ${path}`)
    return new Response(path)
  }
})

describe("requests read in one turn are handled together, then answered together", () => {
  it("three pipelined requests: all arrive, then all are handled, then all are answered, in order", async () => {
    const log: Array<string> = []
    const port = await serve(echoApp(log), log)
    const text = await pipelined(port, ["/a", "/b", "/c"])
    expect(text.match(/HTTP\/1\.1 200/g)).toHaveLength(3)
    expect(log).toEqual([
      "arrive /a",
      "arrive /b",
      "arrive /c",
      "handle /a",
      "handle /b",
      "handle /c",
      "answer /a",
      "answer /b",
      "answer /c"
    ])
  })

  it("a handler that throws instead of rejecting goes to the host's error path; the others in its turn are answered", async () => {
    const log: Array<string> = []
    const app: FetchApp = {
      handles: () => true,
      handler: (request) => {
        const path = new URL(request.url).pathname
        log.push(`handle ${path}`)
        if (path === "/b") throw new Error("thrown")
        return Promise.resolve(new Response(path))
      }
    }
    const port = await serve(app, log)
    const text = await pipelined(port, ["/a", "/b", "/c"])
    expect(text).toContain("\r\n\r\n/a")
    expect(text).toContain("\r\n\r\nhost")
    expect(text).toContain("\r\n\r\n/c")
    expect(log).toContain("host /b thrown")
    expect(log.filter((l) => l.startsWith("handle"))).toEqual(["handle /a", "handle /b", "handle /c"])
  })

  it("fake timers installed after the adapter loaded do not hold requests back", async () => {
    const log: Array<string> = []
    const port = await serve(echoApp(log), log)
    vi.useFakeTimers()
    const body = await new Promise<string>((resolve, reject) => {
      httpRequest({ host: "127.0.0.1", port, path: "/x" }, (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (c: string) => (text += c))
        res.on("end", () => resolve(text))
      }).on("error", reject).end()
    })
    expect(body).toBe("/x")
  })
})

describe("inTurnBatch", () => {
  it("runs the jobs after the current turn's callback, in the order queued, all in one immediate", async () => {
    const order: Array<string> = []
    inTurnBatch(() => order.push("1"), () => order.push("threw"))
    inTurnBatch(() => order.push("2"), () => order.push("threw"))
    queueMicrotask(() => order.push("microtask"))
    order.push("sync")
    await new Promise((resolve) => setImmediate(resolve))
    expect(order).toEqual(["sync", "microtask", "1", "2"])
  })

  it("a job that throws is handed to its own onThrow, and the later jobs still run", async () => {
    const order: Array<string> = []
    inTurnBatch(() => order.push("1"), (e) => order.push(`onThrow 1 ${String(e)}`))
    inTurnBatch(() => {
      throw new Error("boom")
    }, (e) => order.push(`onThrow 2 ${(e as Error).message}`))
    inTurnBatch(() => order.push("3"), (e) => order.push(`onThrow 3 ${String(e)}`))
    await new Promise((resolve) => setImmediate(resolve))
    expect(order).toEqual(["1", "onThrow 2 boom", "3"])
  })

  it("a job queued while a batch runs goes into the next batch, after the current one", async () => {
    const order: Array<string> = []
    inTurnBatch(() => {
      order.push("1")
      inTurnBatch(() => order.push("later"), () => {})
    }, () => {})
    inTurnBatch(() => order.push("2"), () => {})
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    expect(order).toEqual(["1", "2", "later"])
  })
})
