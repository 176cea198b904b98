/**
 * Load generation: autocannon for single requests (fixed, consumable or self-renewing
 * bodies) and a small keep-alive driver for the multi-request authorization-code flow.
 */
import autocannon from "autocannon"
import { request as httpRequest, Agent } from "node:http"
import { authorizeQuery, BASIC, bodies, REDIRECT_URI, USER } from "./fixtures.mjs"

const FORM = "application/x-www-form-urlencoded"

const summary = (out) => ({
  // completed requests over the run's elapsed time (autocannon stops on a whole-second tick)
  rps: out.duration > 0 ? out.requests.total / out.duration : out.requests.average,
  p50: out.latency.p50,
  p99: out.latency.p99,
  requests: out.requests.total,
  errors: out.errors + out.timeouts + out.non2xx
})

const run = (options) =>
  new Promise((resolve, reject) => {
    const instance = autocannon({ connections: 20, ...options }, (error, out) => (error ? reject(error) : resolve(summary(out))))
    instance.on("error", reject)
  })

/**
 * One autocannon run of `scenario` against `url`: `{ method, path, headers, body }`, or
 * `next()` returning each request's body (undefined once it has none left), or `renew` for
 * bodies computed from the previous response (refresh token rotation).
 */
export const cannon = (url, scenario, { duration, amount, connections }) => {
  const { method = "POST", path, headers = {}, body, next, onResponse } = scenario
  const base = {
    url: `${url}${path}`,
    method,
    connections,
    headers: method === "POST" ? { "content-type": FORM, ...headers } : headers
  }
  // `amount`: exactly that many requests, however long they take; else `duration` seconds
  const length = amount === undefined ? { duration } : { amount }
  if (next === undefined) return run({ ...base, ...length, body })
  return run({
    ...base,
    ...length,
    requests: [{
      method,
      setupRequest: (req) => {
        const value = next()
        return value === undefined ? req : { ...req, body: value }
      },
      ...(onResponse ? { onResponse } : {})
    }]
  })
}

/**
 * A pool of refresh tokens that renews itself: each response's `refresh_token` goes back in.
 * The requests in flight when a run stops are lost with their successors: top the pool up
 * (`add`) before each run.
 */
export const refreshPool = (tokens) => {
  const pool = [...tokens]
  return {
    size: () => pool.length,
    add: (more) => pool.push(...more),
    next: () => {
      const token = pool.pop()
      return token === undefined ? undefined : bodies.refresh(token)
    },
    onResponse: (status, body) => {
      if (status !== 200) return
      try {
        const token = JSON.parse(body).refresh_token
        if (typeof token === "string") pool.unshift(token)
      } catch {
        // counted as an error by autocannon's non-2xx; nothing to renew
      }
    }
  }
}

// ---- the full authorization-code flow ------------------------------------------------

const send = (agent, url, { method = "GET", path, headers = {}, body }) =>
  new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method, agent, headers: body === undefined ? headers : { ...headers, "content-type": FORM, "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks = []
      res.on("data", (c) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end(body)
  })

class Jar {
  #cookies = new Map()
  take(res) {
    for (const c of res.headers["set-cookie"] ?? []) {
      const [pair] = c.split(";")
      const eq = pair.indexOf("=")
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      if (value === "" || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }
  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; ")
  }
}

/** Same-origin path of a Location header (absolute ones point at the server under test). */
const pathOf = (location) => (location.startsWith("/") ? location : new URL(location).pathname + new URL(location).search)

/**
 * One browser + client: authorize -> login page -> login -> consent page -> consent ->
 * (resume hops) -> redirect with code -> token exchange. Throws on anything unexpected.
 */
const oneFlow = async (agent, url, { authorizePath }, state) => {
  const jar = new Jar()
  const get = async (path) => {
    const res = await send(agent, url, { path, headers: { cookie: jar.header() } })
    jar.take(res)
    return res
  }
  const post = async (path, body) => {
    const res = await send(agent, url, { method: "POST", path, body, headers: { cookie: jar.header() } })
    jar.take(res)
    return res
  }
  let res = await get(`${authorizePath}?${authorizeQuery(state)}`)
  let code
  for (let hops = 0; hops < 12; hops++) {
    if (res.status === 200) {
      const action = /action="([^"]+)"/.exec(res.body)?.[1]
      if (action === undefined) throw new Error(`no form in ${res.body.slice(0, 200)}`)
      res = await post(action, action.endsWith("/login") ? `username=${USER.username}&password=${USER.password}` : "consent=yes")
      continue
    }
    if (res.status !== 302 && res.status !== 303) throw new Error(`unexpected ${res.status}: ${res.body.slice(0, 300)}`)
    const location = res.headers.location
    if (location.startsWith(REDIRECT_URI)) {
      const params = new URL(location).searchParams
      if (params.get("state") !== state) throw new Error("state mismatch")
      code = params.get("code")
      if (!code) throw new Error(`no code: ${location}`)
      break
    }
    res = await get(pathOf(location))
  }
  if (code === undefined) throw new Error("too many redirects")
  const token = await send(agent, url, { method: "POST", path: "/token", body: bodies.code(code), headers: { authorization: BASIC } })
  if (token.status !== 200) throw new Error(`token ${token.status}: ${token.body.slice(0, 300)}`)
  if (!JSON.parse(token.body).id_token) throw new Error("no id_token")
}

const percentile = (sorted, p) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

/**
 * `connections` workers each running `runOne(agent, worker, state)` (one whole flow) back to
 * back for `duration` seconds, on one keep-alive agent: flows per second and latency of a flow.
 * A failing flow counts as an error; when none succeeds the first error is thrown, unless
 * `throwIfNoneSucceeded` is false (a load test that reports errors rather than stopping).
 */
export const flowLoop = async (runOne, { duration, connections, throwIfNoneSucceeded = true }) => {
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const latencies = []
  let errors = 0
  let firstError
  let n = 0
  const deadline = performance.now() + duration * 1000
  const started = performance.now()
  await Promise.all(Array.from({ length: connections }, async (_, worker) => {
    while (performance.now() < deadline) {
      const t0 = performance.now()
      try {
        await runOne(agent, worker, `s${worker}-${n++}`)
        latencies.push(performance.now() - t0)
      } catch (error) {
        errors++
        firstError ??= error
      }
    }
  }))
  const elapsed = (performance.now() - started) / 1000
  agent.destroy()
  if (firstError && latencies.length === 0 && throwIfNoneSucceeded) throw firstError
  if (firstError) console.error(`  flow errors (${errors}), first: ${firstError.message}`)
  latencies.sort((a, b) => a - b)
  return {
    rps: latencies.length / elapsed,
    p50: Math.round(percentile(latencies, 50)),
    p99: Math.round(percentile(latencies, 99)),
    requests: latencies.length,
    errors
  }
}

/** `connections` browsers running whole flows back to back for `duration` seconds. */
export const flows = (url, target, { duration, connections }) =>
  flowLoop((agent, _worker, state) => oneFlow(agent, url, target, state), { duration, connections })
