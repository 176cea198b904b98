/**
 * For tests: start the BUILT example (`next start`) on a port, as its own process.
 *
 *   const app = await startBuiltExample({ issuer, databaseUrl })   // port: a free one
 *   await fetch(`${app.url}/.well-known/openid-configuration`)
 *   await app.close()
 *
 * The first call in a process builds the example when `.next` is missing or stale
 * (scripts/build.mjs: `tsc -b` of the workspace packages, then `next build` only if its
 * inputs changed; safe to call from several test processes at once).
 */
import { spawn } from "node:child_process"
import { once } from "node:events"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = dirname(fileURLToPath(import.meta.url))
const require = createRequire(join(root, "package.json"))

/** A port nobody listens on right now. */
export const freePort = async () => {
  const server = createServer()
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const port = server.address().port
  await new Promise((resolve) => server.close(resolve))
  return port
}

const collect = (child) => {
  let out = ""
  child.stdout?.on("data", (d) => (out += d))
  child.stderr?.on("data", (d) => (out += d))
  return () => out
}

let building

/** Build the example if needed (once per process); rejects with the build's output when it fails. */
export const ensureBuilt = () => {
  building ??= (async () => {
    const started = Date.now()
    const child = spawn(process.execPath, [join(root, "scripts", "build.mjs")], {
      cwd: root,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const output = collect(child)
    const [code, signal] = await once(child, "exit")
    if (code !== 0) throw new Error(`building examples/nextjs failed (${code ?? signal}):\n${output()}`)
    return { seconds: (Date.now() - started) / 1000, output: output() }
  })()
  building.catch(() => (building = undefined))
  return building
}

/**
 * Start `next start` for the built example. Options: `port` (default: a free one), `issuer`
 * (default `http://localhost:<port>`), `databaseUrl` (default: the example's own
 * `.data/gatehouse.sqlite`; tests should pass a temporary file), `basePath` (where the OAuth
 * endpoints are; default "/oauth", "" for the root), `env` (more environment variables).
 * Resolves once it is listening to `{ url, port, close(), output() }`; `url` is the issuer.
 */
export const startBuiltExample = async (options = {}) => {
  await ensureBuilt()
  const port = options.port ?? (await freePort())
  const url = (options.issuer ?? `http://localhost:${port}`).replace(/\/+$/, "")
  const env = {
    ...process.env,
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    PORT: String(port),
    ISSUER: url,
    ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
    ...(options.basePath === undefined ? {} : { GATEHOUSE_BASE_PATH: options.basePath }),
    ...options.env
  }
  const child = spawn(process.execPath, [require.resolve("next/dist/bin/next"), "start", "--port", String(port), "--hostname", "127.0.0.1"], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"]
  })
  const output = collect(child)
  const exited = once(child, "exit")
  await new Promise((resolve, reject) => {
    const onData = () => {
      if (/Ready in/.test(output())) {
        child.stdout.off("data", onData)
        resolve()
      }
    }
    child.stdout.on("data", onData)
    exited.then(([code, signal]) => reject(new Error(`next start exited (${code ?? signal}) before it was ready:\n${output()}`)))
  })
  return {
    url,
    port,
    output,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        await exited
      }
    }
  }
}
