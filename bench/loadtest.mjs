/**
 * `pnpm load`: the issue 6 load test. A quickstart-like Gatehouse — `@gatehouse/express`'s
 * middleware and `@gatehouse/ui`'s default login and consent pages (CSRF-protected forms) on a
 * node:http server — runs in a child process (this file with `--serve`) on SQLite and on
 * Postgres, under high concurrency for a bounded time per scenario:
 *
 *   token endpoint, client_credentials          autocannon, `--connections` connections
 *   token endpoint, refresh_token rotation      autocannon, each answer's refresh token reused
 *   whole authorization-code flow               authorize → login page → login → consent page →
 *                                               consent → resume → token exchange, with PKCE;
 *                                               `--connections` browsers back to back, each
 *                                               signing in as its own user
 *
 * Each storage first warms up (every scenario for `--warmup` seconds), then runs each
 * scenario for `--seconds`. The server's resident set size is sampled every second from
 * /proc/<pid>/status (VmRSS), and its V8 heap after a forced GC (--expose-gc) after the
 * warm-up and after each scenario. Printed per storage: req/s, p50/p99 latency, errors
 * (non-2xx + socket errors + timeouts, or failed flows), RSS after warm-up and at the end,
 * the RSS slope (least squares, MB/min) over the measured period, and a verdict:
 * PASS when there are 0 errors and RSS grew less than `--max-growth` (default 10 %) from
 * the first to the last 5 s of the measured period. Exit code 1 on FAIL.
 *
 *   pnpm load                              60 s per scenario, SQLite then Postgres (about 8 min)
 *   pnpm load --quick                      10 s per scenario, 3 s warm-up
 *   options: --seconds N --storage sqlite|postgres|both --connections N (default 50)
 *            --warmup S (default 10) --max-growth PCT --json FILE
 *            --one-user (every browser signs in as the same user)
 *
 * Postgres: GATEHOUSE_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/test (a scratch
 * database is created and dropped). Needs the packages built (`tsc -b`, which `pnpm load` runs).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { Agent, request as httpRequest } from "node:http"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { argValue, listen, serveCommands } from "./lib/child.mjs"
import { API, BASIC, bodies, CHALLENGE, CLIENT_ID, CODE_SCOPE, GATEHOUSE_CLIENT, GATEHOUSE_RESOURCES, REDIRECT_URI, USER, USER_CLAIMS } from "./lib/fixtures.mjs"
import { cannon, flowLoop, refreshPool } from "./lib/load.mjs"
import { fmt, median, table } from "./lib/report.mjs"
import { rssOf, startTarget } from "./lib/targets.mjs"

// ---- the server (child process) ----------------------------------------------------------

/** The users the browsers sign in as: user0 .. user{n-1}, all with the bench user's password. */
const userName = (i) => `user${i}`

/**
 * Gatehouse as the quickstart mounts it: the Express adapter's middleware, then the default
 * pages, on node:http; the bench client and resources (bench/lib/fixtures.mjs).
 */
async function serve() {
  const { createGatehouse } = await import("@gatehouse/core")
  const { fetchMiddleware, gatehouseMiddleware } = await import("@gatehouse/express")
  const { DrizzleStorage } = await import("@gatehouse/drizzle")
  // testkit's and ui's built files directly (the bench package does not depend on them by name)
  const { memoryAccounts } = await import(new URL("../packages/testkit/dist/accounts.js", import.meta.url).href)
  const { createInteractionPages } = await import(new URL("../packages/ui/dist/index.js", import.meta.url).href)
  const store = argValue("store", "sqlite")
  const users = Number(argValue("users", "1"))
  const storage = store === "postgres"
    ? DrizzleStorage.postgres({ connectionString: argValue("pg"), kek: "load-kek", max: Number(argValue("pool", "10")) })
    : DrizzleStorage.sqlite({ path: argValue("db"), kek: "load-kek" })
  let handle = (_req, res) => {
    res.statusCode = 503
    res.end()
  }
  const { server, port } = await listen((req, res) => handle(req, res))
  const gh = createGatehouse({
    issuer: `http://localhost:${port}`,
    storage,
    accounts: memoryAccounts(Array.from({ length: users }, (_, i) => ({ id: `id-${i}`, username: userName(i), password: USER.password, claims: USER_CLAIMS }))),
    scopes: ["api"],
    resources: GATEHOUSE_RESOURCES,
    clients: [GATEHOUSE_CLIENT]
  })
  await gh.ready()
  const endpoints = gatehouseMiddleware(gh)
  const pages = fetchMiddleware(createInteractionPages(gh, { clientAddress: (request) => request.headers.get(BROWSER_ADDRESS) ?? undefined }), { origin: gh.config.origin })
  handle = (req, res) =>
    endpoints(req, res, () =>
      pages(req, res, () => {
        res.writeHead(404, { "content-type": "text/plain" })
        res.end("not found")
      }))
  serveCommands(`http://127.0.0.1:${port}`, {}, async () => {
    server.closeAllConnections?.()
    server.close()
    await gh.dispose()
  })
}

// ---- options ---------------------------------------------------------------------------

const args = process.argv.slice(2)
/** `--name value` or `--name=value` */
const option = (name, fallback) => {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`))
  if (i < 0) return fallback
  const arg = args[i]
  if (arg.includes("=")) return arg.slice(arg.indexOf("=") + 1)
  const next = args[i + 1]
  return next === undefined || next.startsWith("--") ? fallback : next
}
const quick = args.includes("--quick")
const seconds = Number(option("seconds", quick ? 10 : 60))
const warmup = Number(option("warmup", quick ? 3 : 10))
const connections = Number(option("connections", 50))
const maxGrowth = Number(option("max-growth", 10))
/** one user per browser (the realistic case), or `--one-user` */
const users = args.includes("--one-user") ? 1 : connections
const storageArg = option("storage", "both")
const storages = storageArg === "both" ? ["sqlite", "postgres"] : [storageArg]
for (const s of storages) if (s !== "sqlite" && s !== "postgres") throw new Error(`--storage must be sqlite, postgres or both, got "${s}"`)
for (const [name, v] of Object.entries({ seconds, warmup, connections, maxGrowth })) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`)
}
const PG = process.env.GATEHOUSE_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"

const started = performance.now()
const log = (...a) => console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s]`, ...a)

// ---- the whole flow through the default pages ------------------------------------------------

const FORM = "application/x-www-form-urlencoded"

const send = (agent, url, { method = "GET", path, headers = {}, body }) =>
  new Promise((resolve, reject) => {
    const h = body === undefined ? headers : { ...headers, "content-type": FORM, "content-length": Buffer.byteLength(body) }
    const req = httpRequest(`${url}${path}`, { method, agent, headers: h }, (res) => {
      const chunks = []
      res.on("data", (c) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end(body)
  })

/** A browser's cookies (one origin), by name. */
class Jar {
  cookies = new Map()
  take(res) {
    for (const c of res.headers["set-cookie"] ?? []) {
      const [pair] = c.split(";")
      const eq = pair.indexOf("=")
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      if (value === "" || /max-age=0/i.test(c)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ")
  }
}

const unescape = (s) => s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">")

/** The page's form: its action and hidden fields (the csrf token). */
const formOf = (html) => {
  const form = /<form\b[^>]*method="post"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html)
  if (!form) throw new Error(`no form in ${html.slice(0, 200)}`)
  const fields = {}
  for (const m of form[2].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]] = unescape(m[2])
  return { action: unescape(form[1]), fields }
}

const pathOf = (location) => (location.startsWith("/") ? location : new URL(location).pathname + new URL(location).search)

/**
 * One browser: authorize → login page → login (as `username`) → consent page → allow →
 * resume → redirect with the code → token exchange. Returns the token response; throws on
 * anything unexpected.
 */
/**
 * Each simulated browser has an address of its own, as 50 people signing in would: the login
 * page's per-address budget (docs/security.md "Rate limits": 10 attempts in flight or failed
 * per address) would otherwise refuse the 11th of 50 concurrent sign-ins from 127.0.0.1. The
 * harness tells the address in this header, which only this test server trusts.
 */
const BROWSER_ADDRESS = "x-load-browser-address"

const oneFlow = async (agent, url, username, state) => {
  const jar = new Jar()
  const step = async (o) => {
    const res = await send(agent, url, { ...o, headers: { ...o.headers, cookie: jar.header(), [BROWSER_ADDRESS]: `browser-${username}` } })
    jar.take(res)
    return res
  }
  const expect = (res, status, what) => {
    if (res.status !== status) throw new Error(`${what}: ${res.status} ${res.body.replace(/<style>[\s\S]*<\/style>/, "").slice(0, 300)}`)
    return res
  }
  const query = new URLSearchParams({
    client_id: CLIENT_ID, response_type: "code", scope: CODE_SCOPE, redirect_uri: REDIRECT_URI,
    code_challenge: CHALLENGE, code_challenge_method: "S256", resource: API, prompt: "consent", state
  })
  const start = expect(await step({ path: `/authorize?${query}` }), 303, "authorize")
  const interaction = pathOf(start.headers.location)
  const login = formOf(expect(await step({ path: interaction }), 200, "login page").body)
  const signedIn = expect(await step({
    method: "POST",
    path: login.action,
    body: new URLSearchParams({ ...login.fields, username, password: USER.password }).toString()
  }), 303, "login")
  const consent = formOf(expect(await step({ path: pathOf(signedIn.headers.location) }), 200, "consent page").body)
  let res = expect(await step({ method: "POST", path: consent.action, body: new URLSearchParams({ ...consent.fields, action: "allow" }).toString() }), 303, "consent")
  for (let hops = 0; !res.headers.location.startsWith(REDIRECT_URI); hops++) {
    if (hops > 4) throw new Error("too many redirects")
    res = expect(await step({ path: pathOf(res.headers.location) }), 303, "resume")
  }
  const params = new URL(res.headers.location).searchParams
  if (params.get("state") !== state || !params.get("code")) throw new Error(`bad redirect: ${res.headers.location}`)
  const token = await send(agent, url, { method: "POST", path: "/token", body: bodies.code(params.get("code")), headers: { authorization: BASIC } })
  if (token.status !== 200) throw new Error(`token ${token.status}: ${token.body.slice(0, 300)}`)
  const tokens = JSON.parse(token.body)
  if (!tokens.id_token || !tokens.refresh_token) throw new Error("no id_token or refresh_token")
  return tokens
}

/** `connections` browsers running whole flows back to back for `duration` seconds; browser i signs in as user i. */
const flows = (url, { duration, connections, users }) =>
  flowLoop((agent, worker, state) => oneFlow(agent, url, userName(worker % users), state), { duration, connections, throwIfNoneSucceeded: false })

/** `n` refresh tokens, each from a whole flow (10 browsers at a time): set-up, not measured. */
const refreshTokens = async (url, n, users) => {
  const agent = new Agent({ keepAlive: true, maxSockets: 10 })
  const out = []
  try {
    for (let i = 0; i < n; i += 10) {
      const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => oneFlow(agent, url, userName((i + j) % users), `setup-${i + j}`)))
      out.push(...batch.map((t) => t.refresh_token))
    }
  } finally {
    agent.destroy()
  }
  return out
}

// ---- scenarios ---------------------------------------------------------------------------

const SCENARIOS = [
  {
    id: "client_credentials",
    label: "token: client_credentials",
    run: (target, _state, duration) =>
      cannon(target.url, { path: "/token", headers: { authorization: BASIC }, body: bodies.clientCredentials }, { duration, connections })
  },
  {
    id: "refresh_token",
    label: "token: refresh_token rotation",
    run: async (target, state, duration) => {
      // 3 live refresh tokens per connection before every run (the requests in flight when
      // a run stops take their successors with them)
      state.pool ??= refreshPool([])
      const missing = connections * 3 - state.pool.size()
      if (missing > 0) state.pool.add(await refreshTokens(target.url, missing, users))
      return cannon(target.url, { path: "/token", headers: { authorization: BASIC }, next: state.pool.next, onResponse: state.pool.onResponse }, { duration, connections })
    }
  },
  {
    id: "flow",
    label: "whole authorization-code flow (per flow)",
    run: (target, _state, duration) => flows(target.url, { duration, connections, users })
  }
]

// ---- one storage -------------------------------------------------------------------------

/** Least-squares slope of `points` ([seconds, bytes]) in MB per minute. */
const slopeMbPerMin = (points) => {
  if (points.length < 2) return NaN
  const n = points.length
  const mx = points.reduce((a, [x]) => a + x, 0) / n
  const my = points.reduce((a, [, y]) => a + y, 0) / n
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0)
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  return sxx === 0 ? NaN : (sxy / sxx) * 60 / 1024 / 1024
}

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1)

const runStorage = async (store, dir) => {
  let admin
  let db
  const serverArgs = ["--serve", `--store=${store}`, `--users=${users}`]
  if (store === "sqlite") serverArgs.push(`--db=${join(dir, `load-${process.pid}.sqlite`)}`)
  if (store === "postgres") {
    admin = new pg.Client({ connectionString: PG })
    await admin.connect()
    db = `gh_load_${process.pid}`
    await admin.query(`DROP DATABASE IF EXISTS ${db}`)
    await admin.query(`CREATE DATABASE ${db}`)
    const url = new URL(PG)
    url.pathname = `/${db}`
    serverArgs.push(`--pg=${url}`, "--pool=10")
  }
  const target = await startTarget(`gatehouse-${store}`, fileURLToPath(import.meta.url), serverArgs, { execArgv: ["--expose-gc"] })
  log(`${store}: server pid ${target.pid} at ${target.url}`)
  const t0 = performance.now()
  /** RSS every second: { t (s since start), rss, phase } */
  const samples = []
  let phase = "start"
  const timer = setInterval(() => {
    const rss = rssOf(target.pid)
    if (rss !== undefined) samples.push({ t: (performance.now() - t0) / 1000, rss, phase })
  }, 1000)
  const heapAfterGc = async () => (await target.call("memoryUsage")).heapUsed
  const results = []
  const heaps = []
  try {
    const states = Object.fromEntries(SCENARIOS.map((s) => [s.id, {}]))
    for (const s of SCENARIOS) {
      phase = `warm-up ${s.id}`
      log(`${store}: warm-up ${s.id} (${warmup}s)`)
      const w = await s.run(target, states[s.id], warmup)
      if (w.errors > 0) log(`${store}: warm-up ${s.id}: ${w.errors} errors`)
    }
    heaps.push({ after: "warm-up", heap: await heapAfterGc() })
    for (const s of SCENARIOS) {
      phase = s.id
      const load = loadavg()[0]
      log(`${store}: ${s.id} for ${seconds}s at ${connections} connections (load ${load.toFixed(2)})`)
      const out = await s.run(target, states[s.id], seconds)
      const inPhase = samples.filter((x) => x.phase === s.id)
      results.push({ ...out, id: s.id, label: s.label, load, rssStart: inPhase[0]?.rss, rssEnd: inPhase.at(-1)?.rss })
      heaps.push({ after: s.id, heap: await heapAfterGc() })
      log(`${store}: ${s.id}: ${Math.round(out.rps)}/s, p50 ${out.p50} ms, p99 ${out.p99} ms, ${out.requests} done, errors ${out.errors}, RSS ${mb(inPhase[0]?.rss ?? 0)} → ${mb(inPhase.at(-1)?.rss ?? 0)} MB`)
    }
  } finally {
    clearInterval(timer)
    await target.stop().catch(() => undefined)
    if (admin) {
      await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined)
      await admin.end().catch(() => undefined)
    }
  }
  // RSS after warm-up vs at the end: the median of the first and of the last 5 samples of
  // the measured period (single samples move with GC timing)
  const measured = samples.filter((x) => SCENARIOS.some((s) => s.id === x.phase))
  const afterWarmup = median(measured.slice(0, 5).map((x) => x.rss))
  const atEnd = median(measured.slice(-5).map((x) => x.rss))
  const growth = ((atEnd - afterWarmup) / afterWarmup) * 100
  const slope = slopeMbPerMin(measured.map((x) => [x.t, x.rss]))
  const errors = results.reduce((a, r) => a + r.errors, 0)
  const pass = errors === 0 && growth < maxGrowth
  return { store, results, samples, heaps, afterWarmup, atEnd, growth, slope, peak: Math.max(...samples.map((x) => x.rss)), errors, pass }
}

// ---- main --------------------------------------------------------------------------------

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-load-"))
  const header = `pnpm load: node ${process.version}, ${cpus().length} CPUs, load before ${loadavg().map((x) => x.toFixed(2)).join(" ")}; ` +
    `${seconds}s per scenario after ${warmup}s warm-up each, ${connections} connections, ${users} user${users === 1 ? "" : "s"}, storage ${storages.join(" + ")}`
  log(header)
  const reports = []
  try {
    for (const store of storages) reports.push(await runStorage(store, dir))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }

  console.log(`\n${header}\n`)
  const rows = reports.flatMap((r) =>
    r.results.map((x) => [
      r.store,
      x.label,
      fmt.rps(x.requests),
      fmt.rps(x.rps),
      fmt.ms(x.p50),
      fmt.ms(x.p99),
      String(x.errors),
      `${mb(x.rssStart ?? 0)} → ${mb(x.rssEnd ?? 0)}`,
      x.load.toFixed(2)
    ])
  )
  console.log(table(["storage", "scenario", "done", "per s", "p50 ms", "p99 ms", "errors", "RSS MB (start → end)", "load avg"], rows))
  console.log("")
  console.log(table(
    ["storage", "verdict", "errors", `RSS after warm-up → end (MB)`, "growth", "slope MB/min", "peak RSS MB", "V8 heap after GC (MB): warm-up → each scenario"],
    reports.map((r) => [
      r.store,
      r.pass ? "PASS" : "FAIL",
      String(r.errors),
      `${mb(r.afterWarmup)} → ${mb(r.atEnd)}`,
      `${r.growth >= 0 ? "+" : ""}${r.growth.toFixed(1)}%`,
      `${r.slope >= 0 ? "+" : ""}${r.slope.toFixed(2)}`,
      mb(r.peak),
      r.heaps.map((h) => mb(h.heap)).join(" → ")
    ])
  ))
  const pass = reports.every((r) => r.pass)
  console.log(`\n${pass ? "PASS" : "FAIL"}: 0 errors and RSS growth < ${maxGrowth}% after warm-up required on every storage`)
  const json = option("json", undefined)
  if (json) writeFileSync(json, JSON.stringify({ header, reports }, null, 2))
  log("done")
  process.exit(pass ? 0 : 1)
}

if (process.argv.includes("--serve")) await serve()
else await main()
