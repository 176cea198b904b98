/**
 * Token issuance (client_credentials, client_secret_basic, ES256 JWT access tokens) on
 * memory vs SQLite vs Postgres storage, one run, same process shape, autocannon on loopback.
 *
 *   node bench/storage.mjs            10 s per store, 3 rounds alternating A/B/C
 *   node bench/storage.mjs --quick    3 s per store, 1 round
 *
 * Prints req/s (median of rounds), p50/p99 latency and the ratios to memory. Needs the
 * packages built (`tsc -b`) and Postgres at GATEHOUSE_BENCH_PG_URL or 127.0.0.1:5432/test.
 */
import autocannon from "autocannon"
import { createGatehouse } from "@gatehouse/core"
import { DrizzleStorage } from "@gatehouse/drizzle"
import { gatehouseMiddleware } from "@gatehouse/express"
import { memoryAccounts, MemoryStorage } from "@gatehouse/testkit/memory"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import { once } from "node:events"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"

const quick = process.argv.includes("--quick")
const duration = quick ? 3 : 10
const rounds = quick ? 1 : 3
const connections = 20
const PG = process.env.GATEHOUSE_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"

const dir = mkdtempSync(join(tmpdir(), "gatehouse-bench-"))
const pgDb = `gh_bench_${process.pid}`
const admin = new pg.Client({ connectionString: PG })
await admin.connect()
await admin.query(`CREATE DATABASE ${pgDb}`)
const pgUrl = new URL(PG)
pgUrl.pathname = `/${pgDb}`

const stores = {
  memory: () => MemoryStorage.layer(),
  sqlite: () => DrizzleStorage.sqlite({ path: join(dir, "bench.sqlite") }),
  postgres: () => DrizzleStorage.postgres({ connectionString: pgUrl.toString(), kek: "bench-kek", max: 10 })
}

const start = async (name) => {
  const server = createServer()
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const issuer = `http://localhost:${server.address().port}`
  const gh = createGatehouse({
    issuer,
    storage: stores[name](),
    accounts: memoryAccounts([]),
    scopes: ["api"],
    clients: [{ client_id: "bench", client_secret: "bench-secret-0123456789abcdef", grant_types: ["client_credentials"], redirect_uris: [], scope: "api" }]
  })
  await gh.ready()
  const mw = gatehouseMiddleware(gh)
  server.on("request", (req, res) => mw(req, res, () => { res.statusCode = 404; res.end() }))
  return { url: `http://127.0.0.1:${server.address().port}`, close: async () => { server.close(); await gh.dispose() } }
}

const load = (url) =>
  autocannon({
    url: `${url}/token`,
    method: "POST",
    connections,
    duration,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from("bench:bench-secret-0123456789abcdef").toString("base64")}`
    },
    body: "grant_type=client_credentials&scope=api"
  })

const results = Object.fromEntries(Object.keys(stores).map((k) => [k, []]))
const servers = {}
for (const name of Object.keys(stores)) servers[name] = await start(name)
for (const name of Object.keys(stores)) await load(servers[name].url).then(() => undefined) // warm-up (discarded)
for (let r = 0; r < rounds; r++) {
  for (const name of Object.keys(stores)) {
    const out = await load(servers[name].url)
    results[name].push({ rps: out.requests.average, p50: out.latency.p50, p99: out.latency.p99, errors: out.errors + out.non2xx })
  }
}
for (const s of Object.values(servers)) await s.close()
await admin.query(`DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`)
await admin.end()
rmSync(dir, { recursive: true, force: true })

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const base = median(results.memory.map((x) => x.rps))
console.log(`\ntoken issuance, client_credentials + ES256 JWT, ${connections} connections, ${duration}s x ${rounds} round(s), node ${process.version}`)
console.log("| store | req/s (median) | p50 ms | p99 ms | errors | vs memory |")
console.log("| --- | ---: | ---: | ---: | ---: | ---: |")
for (const [name, runs] of Object.entries(results)) {
  const rps = median(runs.map((x) => x.rps))
  console.log(`| ${name} | ${rps.toFixed(0)} | ${median(runs.map((x) => x.p50))} | ${median(runs.map((x) => x.p99))} | ${runs.reduce((a, x) => a + x.errors, 0)} | ${(rps / base).toFixed(2)} |`)
}
