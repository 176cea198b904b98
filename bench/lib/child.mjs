/**
 * The server side of the harness: every server under test runs in its own child process
 * (so its RSS and CPU are its own), listens on a loopback port, and answers the
 * orchestrator's commands (mint codes, ...) over the IPC channel.
 */
import { once } from "node:events"
import { createServer } from "node:http"

/** Listen on 127.0.0.1, port 0; resolve the port. */
export const listen = async (handler) => {
  const server = createServer({ keepAliveTimeout: 60_000 }, handler)
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return { server, port: server.address().port }
}

/**
 * Tell the parent we are ready and serve its commands: `{ id, cmd, args }` ->
 * `{ id, ok, result | error }`. `stop` closes everything and exits.
 */
export const serveCommands = (url, commands, close = async () => {}) => {
  process.on("message", async (message) => {
    if (message?.cmd === undefined) return
    try {
      if (message.cmd === "stop") {
        await close()
        process.send({ id: message.id, ok: true, result: null }, () => process.exit(0))
        return
      }
      const command = message.cmd === "memoryUsage"
        ? () => (globalThis.gc?.(), process.memoryUsage())
        : commands[message.cmd]
      if (command === undefined) throw new Error(`unknown command ${message.cmd}`)
      const result = await command(...(message.args ?? []))
      process.send({ id: message.id, ok: true, result })
    } catch (error) {
      process.send({ id: message.id, ok: false, error: String(error?.stack ?? error) })
    }
  })
  process.on("disconnect", () => process.exit(0))
  process.send({ type: "ready", url, pid: process.pid })
}

export const argValue = (name, fallback) => {
  const prefix = `--${name}=`
  const arg = process.argv.find((a) => a.startsWith(prefix))
  return arg === undefined ? fallback : arg.slice(prefix.length)
}

/** Read a small request body (the host pages' forms). */
export const readBody = async (req) => {
  const chunks = []
  for await (const chunk of req) chunks.push(chunk)
  return Buffer.concat(chunks).toString("utf8")
}
