/**
 * Scaling (`pnpm bench --scaling`, or `node bench/scaling.mjs [--quick]` after `tsc -b`):
 *
 * 1. Lookup latency with 10k, 100k and 1M stored tokens, on SQLite and on Postgres: the
 *    access_tokens and refresh_tokens tables are filled with rows inserted directly (random
 *    digests), then real tokens issued through the API are introspected (a lookup by
 *    digest) and refresh tokens rotated (a lookup, a conditional update and an insert).
 *    Every lookup is by the primary key on the digest, so latency must stay flat; the query
 *    plans are printed as the proof.
 * 2. Two Gatehouse processes on one Postgres against one process, same total connections.
 *
 * Postgres: GATEHOUSE_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/test (a scratch
 * database is created and dropped).
 */
import Database from "better-sqlite3"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { BASIC, bodies } from "./lib/fixtures.mjs"
import { cannon, refreshPool } from "./lib/load.mjs"
import { fmt, median, table } from "./lib/report.mjs"
import { startTarget } from "./lib/targets.mjs"

const PG = process.env.GATEHOUSE_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const SIZES = [10_000, 100_000, 1_000_000]
const LOOKUP_CONNECTIONS = 4

const post = (url, path, body) =>
  fetch(`${url}${path}`, { method: "POST", headers: { authorization: BASIC, "content-type": "application/x-www-form-urlencoded" }, body })
    .then(async (res) => {
      const json = await res.json()
      if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`)
      return json
    })

// ---- bulk fill ------------------------------------------------------------------------

const AT_COLUMNS = "token_digest, format, grant_id, client_id, account_id, scope, audience, issued_at, expires_at, revoked_at, extra"
const RT_COLUMNS = "token_digest, grant_id, client_id, account_id, scope, resource, auth_time, acr, amr, session_id, issued_at, expires_at, consumed_at, revoked_at"
const SCOPE = JSON.stringify(["api"])
const AUDIENCE = JSON.stringify(["https://api.example/"])

/** Add rows `from`..`to` (exclusive) to both token tables of the SQLite file, random digests. */
const fillSqlite = (path, from, to, now) => {
  const db = new Database(path)
  db.pragma("busy_timeout = 30000")
  const at = db.prepare(`INSERT INTO access_tokens (${AT_COLUMNS}) VALUES (?, 'opaque', ?, 'filler', NULL, ?, ?, ?, ?, NULL, NULL)`)
  const rt = db.prepare(`INSERT INTO refresh_tokens (${RT_COLUMNS}) VALUES (?, ?, 'filler', 'alice', ?, ?, ?, NULL, NULL, NULL, ?, ?, NULL, NULL)`)
  // random digests, each batch inserted in key order (B-tree locality: a faster fill, same lookups)
  const digests = (n) => {
    const random = randomBytes(32 * n)
    return Array.from({ length: n }, (_, i) => random.subarray(32 * i, 32 * i + 32).toString("base64url")).sort()
  }
  const batch = db.transaction((start, end) => {
    const a = digests(end - start)
    const r = digests(end - start)
    for (let i = start; i < end; i++) {
      at.run(a[i - start], `filler-${i}`, SCOPE, AUDIENCE, now, now + 86_400_000)
      rt.run(r[i - start], `filler-${i}`, SCOPE, AUDIENCE, Math.floor(now / 1000), now, now + 86_400_000)
    }
  })
  for (let s = from; s < to; s += 50_000) batch(s, Math.min(to, s + 50_000))
  db.pragma("optimize")
  db.close()
}

const fillPostgres = async (url, from, to, now) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  for (let s = from; s < to; s += 100_000) {
    const e = Math.min(to, s + 100_000) - 1
    await client.query(
      `INSERT INTO access_tokens (${AT_COLUMNS})
       SELECT encode(sha256(('at-' || g || '-' || random())::bytea), 'base64'), 'opaque', 'filler-' || g, 'filler', NULL, $1, $2, $3::bigint, $4::bigint, NULL, NULL
       FROM generate_series($5::bigint, $6::bigint) g ORDER BY 1`,
      [SCOPE, AUDIENCE, now, now + 86_400_000, s, e]
    )
    await client.query(
      `INSERT INTO refresh_tokens (${RT_COLUMNS})
       SELECT encode(sha256(('rt-' || g || '-' || random())::bytea), 'base64'), 'filler-' || g, 'filler', 'alice', $1, $2, $3::bigint, NULL, NULL, NULL, $4::bigint, $5::bigint, NULL, NULL
       FROM generate_series($6::bigint, $7::bigint) g ORDER BY 1`,
      [SCOPE, AUDIENCE, Math.floor(now / 1000), now, now + 86_400_000, s, e]
    )
  }
  await client.query("ANALYZE access_tokens, refresh_tokens")
  await client.end()
}

const plans = async (store, location) => {
  const lookup = "SELECT * FROM access_tokens WHERE token_digest = 'x'"
  const rotate = "UPDATE refresh_tokens SET consumed_at = 1 WHERE token_digest = 'x' AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > 0"
  if (store === "sqlite") {
    const db = new Database(location, { readonly: true })
    const plan = (q) => db.prepare(`EXPLAIN QUERY PLAN ${q}`).all().map((r) => r.detail).join("; ")
    const out = [plan(lookup), plan(rotate)]
    db.close()
    return out
  }
  const client = new pg.Client({ connectionString: location })
  await client.connect()
  const plan = async (q) => (await client.query(`EXPLAIN ${q}`)).rows.map((r) => r["QUERY PLAN"].trim()).join("; ")
  const out = [await plan(lookup), await plan(rotate)]
  await client.end()
  return out
}

// ---- runs -----------------------------------------------------------------------------

/** Introspection of opaque tokens and refresh rotation against one server: latency and req/s. */
const measureLookups = async (target, duration, state) => {
  state.introspect ??= await Promise.all(Array.from({ length: 100 }, () => post(target.url, "/token", bodies.clientCredentialsOpaque)))
    .then((ts) => ts.map((t) => bodies.introspect(t.access_token)))
  // LOOKUP_CONNECTIONS x 3 live refresh tokens before every run (see refreshPool)
  state.pool ??= refreshPool([])
  const missing = LOOKUP_CONNECTIONS * 3 - state.pool.size()
  if (missing > 0) {
    const codes = await target.call("mintCodes", missing)
    const tokens = []
    for (const code of codes) tokens.push((await post(target.url, "/token", bodies.code(code))).refresh_token)
    state.pool.add(tokens)
  }
  let i = 0
  const next = () => state.introspect[i++ % state.introspect.length]
  const opts = { duration, connections: LOOKUP_CONNECTIONS }
  const introspect = await cannon(target.url, { path: "/introspect", headers: { authorization: BASIC }, next }, opts)
  const rotate = await cannon(target.url, { path: "/token", headers: { authorization: BASIC }, next: state.pool.next, onResponse: state.pool.onResponse }, opts)
  return { introspect, rotate }
}

export const runScaling = async ({ quick = false, log = console.error } = {}) => {
  const duration = quick ? 2 : 5
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-scaling-"))
  const admin = new pg.Client({ connectionString: PG })
  await admin.connect()
  const dbName = `gh_scale_${process.pid}`
  await admin.query(`DROP DATABASE IF EXISTS ${dbName}`)
  await admin.query(`CREATE DATABASE ${dbName}`)
  const pgUrl = new URL(PG)
  pgUrl.pathname = `/${dbName}`
  const sqlitePath = join(dir, "scale.sqlite")
  const running = []
  try {
    const rows = []
    const planRows = []
    for (const store of ["sqlite", "postgres"]) {
      const location = store === "sqlite" ? sqlitePath : pgUrl.toString()
      const target = await startTarget(`gatehouse-${store}`, "gatehouse.mjs", [`--store=${store}`, store === "sqlite" ? `--db=${location}` : `--pg=${location}`])
      running.push(target)
      const state = {}
      let filled = 0
      await measureLookups(target, 3, state) // warm-up (JIT), and the real tokens exist before the filler
      for (const size of SIZES) {
        const t0 = performance.now()
        if (store === "sqlite") fillSqlite(location, filled, size, Date.now())
        else await fillPostgres(location, filled, size, Date.now())
        log(`scaling ${store}: ${size.toLocaleString("en-US")} rows per token table (filled in ${((performance.now() - t0) / 1000).toFixed(1)} s)`)
        filled = size
        await measureLookups(target, 2, state) // warm the caches at this size
        const { introspect, rotate } = await measureLookups(target, duration, state)
        rows.push({ store, size, introspect, rotate })
        log(`  introspect p50 ${introspect.p50} ms p99 ${introspect.p99} ms ${Math.round(introspect.rps)} req/s; rotate p50 ${rotate.p50} ms p99 ${rotate.p99} ms ${Math.round(rotate.rps)} req/s; errors ${introspect.errors + rotate.errors}`)
      }
      const [lookupPlan, rotatePlan] = await plans(store, location)
      planRows.push([store, lookupPlan, rotatePlan])
      if (store === "sqlite") {
        await target.stop()
        running.pop()
      }
    }

    // two processes on one Postgres vs one, same 20 connections in total
    const one = running[0]
    const two = await startTarget("gatehouse-postgres-2", "gatehouse.mjs", ["--store=postgres", `--pg=${pgUrl}`])
    running.push(two)
    const cc = { path: "/token", headers: { authorization: BASIC }, body: bodies.clientCredentials }
    const multi = { one: [], two: [] }
    await cannon(two.url, cc, { duration: 1, connections: 10 })
    for (let round = 0; round < (quick ? 1 : 3); round++) {
      multi.one.push((await cannon(one.url, cc, { duration, connections: 20 })).rps)
      const [a, b] = await Promise.all([cannon(one.url, cc, { duration, connections: 10 }), cannon(two.url, cc, { duration, connections: 10 })])
      multi.two.push(a.rps + b.rps)
      log(`two processes round ${round + 1}: one ${Math.round(multi.one.at(-1))} req/s, two ${Math.round(multi.two.at(-1))} req/s`)
    }

    const out = []
    out.push(`\nLookup latency by stored tokens (rows in access_tokens and in refresh_tokens), ${LOOKUP_CONNECTIONS} connections, ${duration}s each, node ${process.version}, ${cpus().length} CPUs, load ${loadavg()[0].toFixed(2)}\n`)
    const base = (store) => rows.find((r) => r.store === store && r.size === SIZES[0])
    out.push(table(
      ["store", "stored tokens", "introspect p50 ms", "introspect p99 ms", "introspect req/s", "rotate p50 ms", "rotate p99 ms", "rotate req/s", "errors", "introspect req/s vs 10k", "rotate req/s vs 10k"],
      rows.map((r) => [
        r.store,
        r.size.toLocaleString("en-US"),
        fmt.ms(r.introspect.p50),
        fmt.ms(r.introspect.p99),
        fmt.rps(r.introspect.rps),
        fmt.ms(r.rotate.p50),
        fmt.ms(r.rotate.p99),
        fmt.rps(r.rotate.rps),
        String(r.introspect.errors + r.rotate.errors),
        fmt.ratio(r.introspect.rps / base(r.store).introspect.rps),
        fmt.ratio(r.rotate.rps / base(r.store).rotate.rps)
      ])
    ))
    out.push("\nQuery plans (lookup by digest; the conditional update of a rotation):\n")
    out.push(table(["store", "SELECT ... WHERE token_digest = ?", "UPDATE refresh_tokens ... WHERE token_digest = ? AND ..."], planRows))
    out.push(`\nTwo Gatehouse processes on one Postgres (10 + 10 connections) vs one (20), client_credentials, median of ${multi.one.length}: one ${fmt.rps(median(multi.one))} req/s, two ${fmt.rps(median(multi.two))} req/s (${fmt.ratio(median(multi.two) / median(multi.one))})`)
    console.log(out.join("\n"))
  } finally {
    for (const t of running) await t.stop().catch(() => undefined)
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined)
    await admin.end()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now()
  await runScaling({
    quick: process.argv.includes("--quick"),
    log: (...args) => console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s]`, ...args)
  })
}
