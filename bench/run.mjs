/**
 * `pnpm bench`: Gatehouse side by side with oidc-provider and a bare node:http server, one
 * run, same machine, each server in its own child process, autocannon on loopback.
 *
 *   pnpm bench                 5 s runs, 3 rounds alternating targets (A/B/A/B), 2 s warm-up each
 *   pnpm bench --quick         2 s runs, 1 round, 1 s warm-up (under two minutes)
 *   pnpm bench --scaling       also: lookup latency with 10k / 100k / 1M stored tokens
 *                              (SQLite, Postgres) and two Gatehouse processes on one Postgres
 *   options: --duration=S --rounds=N --warmup=S --connections=N --only=a,b --targets=a,b
 *            --profile (write --cpu-prof profiles of the Gatehouse servers to bench/.profiles)
 *            --no-equal-work (skip the memory comparison at equal work that follows the runs)
 *            --json=FILE (raw results)
 *            --threads (after each run: CPU µs per request of each server thread, user + kernel,
 *            and of the load generator: which thread is the bottleneck)
 *            --before=<checkout> [--before-label=TEXT] (that checkout's Gatehouse on memory storage,
 *            alternated with the others: a before/after in one run)
 *
 * Postgres: GATEHOUSE_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/test (a scratch
 * database is created and dropped). Needs the packages built (`tsc -b`, which `pnpm bench` runs).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { loadavg, cpus, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { API, BASIC, bodies } from "./lib/fixtures.mjs"
import { cannon, flows, refreshPool } from "./lib/load.mjs"
import { fmt, median, table } from "./lib/report.mjs"
import { startTarget } from "./lib/targets.mjs"

const flag = (name) => process.argv.includes(`--${name}`)
const option = (name, fallback) => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`))
  return arg === undefined ? fallback : arg.slice(name.length + 3)
}
const quick = flag("quick")
const duration = Number(option("duration", quick ? 2 : 5))
const rounds = Number(option("rounds", quick ? 1 : 3))
const warmup = Number(option("warmup", quick ? 1 : 2))
const connections = Number(option("connections", 20))
const only = option("only", undefined)?.split(",")
const PG = process.env.GATEHOUSE_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const started = performance.now()
const log = (...args) => console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s]`, ...args)

// ---- targets -------------------------------------------------------------------------

const GATEHOUSE_PATHS = { authorizePath: "/authorize", introspectPath: "/introspect", kind: "gatehouse" }
const TARGETS = {
  bare: { script: "bare.mjs", label: "bare node:http", kind: "bare" },
  "fetch-floor": { script: "fetch.mjs", label: "node:http + Fetch translation, fixed JSON", kind: "bare" },
  "adapter-floor": { script: "fetch.mjs", args: ["--incoming"], label: "node:http + @gatehouse/express (no Fetch objects), fixed JSON", kind: "bare" },
  "oidc-provider": { script: "oidc-provider.mjs", label: "oidc-provider 9.13.3 (memory)", authorizePath: "/auth", introspectPath: "/token/introspection", kind: "peer" },
  "gatehouse-memory": { script: "gatehouse.mjs", args: ["--store=memory"], label: "Gatehouse (memory)", store: "memory", ...GATEHOUSE_PATHS },
  "gatehouse-sqlite": { script: "gatehouse.mjs", args: ["--store=sqlite"], label: "Gatehouse (SQLite)", store: "sqlite", ...GATEHOUSE_PATHS },
  "gatehouse-postgres": { script: "gatehouse.mjs", args: ["--store=postgres"], label: "Gatehouse (Postgres)", store: "postgres", ...GATEHOUSE_PATHS }
}
// --before=<checkout>: also Gatehouse (memory) as built in another checkout of the repository
// (its bench/ a copy of this one), alternated with the others: before/after in one run
const before = option("before", undefined)
if (before) {
  TARGETS["gatehouse-before"] = {
    script: join(resolve(before), "bench/servers/gatehouse.mjs"),
    args: ["--store=memory"],
    label: `Gatehouse before (memory, ${option("before-label", before)})`,
    store: "memory",
    ...GATEHOUSE_PATHS,
    kind: "before"
  }
}
const selectedTargets = option("targets", undefined)?.split(",") ?? Object.keys(TARGETS).filter((n) => !(quick && (n === "fetch-floor" || n === "adapter-floor")))
const PEER = "oidc-provider"

// ---- scenarios -----------------------------------------------------------------------

/** A token request over HTTP, 10 at a time: set-up, not measured. */
const tokenRequests = async (url, bodyList) => {
  const out = []
  for (let i = 0; i < bodyList.length; i += 10) {
    out.push(...await Promise.all(bodyList.slice(i, i + 10).map(async (body) => {
      const res = await fetch(`${url}/token`, { method: "POST", headers: { authorization: BASIC, "content-type": "application/x-www-form-urlencoded" }, body })
      const json = await res.json()
      if (!res.ok) throw new Error(`token request failed: ${JSON.stringify(json)}`)
      return json
    })))
  }
  return out
}

/** Tokens issued over HTTP before a run: what introspection looks up. */
const issueTokens = (url, body, n) => tokenRequests(url, Array.from({ length: n }, () => body))

/** Round-robin over a fixed list of bodies. */
const cycle = (items) => {
  let i = 0
  return () => items[i++ % items.length]
}

const SCENARIOS = [
  {
    id: "client_credentials",
    label: "client_credentials (Basic, ES256 JWT AT)",
    withBare: true,
    request: () => ({ path: "/token", headers: { authorization: BASIC }, body: bodies.clientCredentials })
  },
  {
    id: "authorization_code",
    label: "authorization_code + PKCE (AT + RT + ID token)",
    consumable: true,
    // one code per request, minted ahead: `count` of them when given (a run of a fixed number
    // of requests), else enough for `seconds` at twice the last rate seen (at least 2,000/s).
    // A timed run lasts `seconds` whatever happens; one that used up its codes is not counted
    // but run again with twice as many (`once` below)
    request: async (target, state, seconds, count) => {
      const rate = Math.max(2000, state.rate ?? 0)
      const codes = await target.call("mintCodes", count ?? Math.ceil(rate * seconds * 2) + connections)
      const request = {
        path: "/token",
        headers: { authorization: BASIC },
        exhausted: false,
        next: () => {
          const c = codes.pop()
          if (c === undefined) request.exhausted = true
          return c && bodies.code(c)
        }
      }
      return request
    }
  },
  {
    id: "refresh_token",
    label: "refresh_token rotation (AT + RT + ID token)",
    request: async (target, state) => {
      // connections x 3 live refresh tokens before every run (a run ends with up to
      // `connections` rotations whose successors never came back)
      state.pool ??= refreshPool([])
      const missing = connections * 3 - state.pool.size()
      if (missing > 0) {
        const codes = await target.call("mintCodes", missing)
        const issued = await tokenRequests(target.url, codes.map(bodies.code))
        if (issued.some((t) => !t.refresh_token)) throw new Error(`no refresh token from ${target.name}`)
        state.pool.add(issued.map((t) => t.refresh_token))
      }
      return { path: "/token", headers: { authorization: BASIC }, next: state.pool.next, onResponse: state.pool.onResponse }
    }
  },
  {
    id: "introspect_opaque",
    label: "introspection, opaque access token",
    request: async (target, state) => {
      state.bodies ??= (await issueTokens(target.url, bodies.clientCredentialsOpaque, 100)).map((t) => bodies.introspect(t.access_token))
      return { path: target.introspectPath, headers: { authorization: BASIC }, next: cycle(state.bodies) }
    }
  },
  {
    id: "introspect_jwt",
    label: "introspection, JWT access token",
    // oidc-provider answers 400 unsupported_token_type ("Structured JWT Tokens cannot be
    // introspected"): Gatehouse is compared with its introspection of opaque tokens
    peerFrom: "introspect_opaque",
    request: async (target, state) => {
      state.bodies ??= (await issueTokens(target.url, bodies.clientCredentials, 100)).map((t) => bodies.introspect(t.access_token))
      return { path: target.introspectPath, headers: { authorization: BASIC }, next: cycle(state.bodies) }
    }
  },
  {
    id: "discovery",
    label: "discovery document",
    request: () => ({ method: "GET", path: "/.well-known/openid-configuration" })
  },
  {
    id: "flow",
    label: "whole code flow (authorize→login→consent→token); per flow",
    flow: true
  }
].filter((s) => only === undefined || only.includes(s.id))

// ---- set-up --------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), "gatehouse-bench-"))
let admin
let pgUrl
if (selectedTargets.includes("gatehouse-postgres")) {
  admin = new pg.Client({ connectionString: PG })
  await admin.connect()
  const db = `gh_bench_${process.pid}`
  await admin.query(`DROP DATABASE IF EXISTS ${db}`)
  await admin.query(`CREATE DATABASE ${db}`)
  pgUrl = new URL(PG)
  pgUrl.pathname = `/${db}`
}
const profileDir = fileURLToPath(new URL("./.profiles/", import.meta.url))
if (flag("profile")) mkdirSync(profileDir, { recursive: true })

const running = {}
const cleanup = async () => {
  for (const t of Object.values(running)) await t.stop().catch(() => undefined)
  if (admin) {
    await admin.query(`DROP DATABASE IF EXISTS ${pgUrl.pathname.slice(1)} WITH (FORCE)`).catch(() => undefined)
    await admin.end().catch(() => undefined)
  }
  rmSync(dir, { recursive: true, force: true })
}
process.on("SIGINT", () => cleanup().finally(() => process.exit(130)))

log(`node ${process.version}, ${cpus().length} CPUs, load ${loadavg().map((x) => x.toFixed(2)).join(" ")}; ${duration}s x ${rounds} round(s), warm-up ${warmup}s, ${connections} connections`)
for (const name of selectedTargets) {
  const spec = TARGETS[name]
  const args = [...(spec.args ?? [])]
  if (spec.store === "sqlite") args.push(`--db=${join(dir, "bench.sqlite")}`)
  if (spec.store === "postgres") args.push(`--pg=${pgUrl}`)
  const execArgv = flag("profile") ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`] : []
  running[name] = Object.assign(await startTarget(name, spec.script, args, { execArgv }), spec)
  log(`started ${name} at ${running[name].url} (pid ${running[name].pid})`)
}

// ---- runs ----------------------------------------------------------------------------

/** results[scenario][target] = [{ rps, p50, p99, errors }] and the peak RSS during them */
const results = {}
const peakRss = {}

/**
 * One run of `scenario` against `target` for `seconds`; `measure` wraps the load itself
 * (set-up such as minting codes happens before it). A run of a consumable scenario that ran
 * out of its pre-minted bodies is discarded and run again with twice the rate's worth.
 */
const once = async (scenario, target, state, seconds, measure = (load) => load()) => {
  if (scenario.flow) return measure(() => flows(target.url, target, { duration: seconds, connections }))
  if (target.kind === "bare") return measure(() => cannon(target.url, { path: "/token", body: bodies.clientCredentials }, { duration: seconds, connections }))
  for (let attempt = 1; ; attempt++) {
    const request = typeof scenario.request === "function" ? await scenario.request(target, state, seconds) : scenario.request
    const out = await measure(() => cannon(target.url, request, { duration: seconds, connections }))
    if (!scenario.consumable) return out
    state.rate = Math.max(state.rate ?? 0, out.rps)
    if (!request.exhausted) return out
    if (attempt === 3) throw new Error(`${scenario.id}: ${target.name ?? "target"} used up its pre-minted codes three times`)
    log(`${scenario.id}: codes used up before the end of the run; again with more`)
    state.rate = out.rps * 2
  }
}

/** `--threads`: each server thread's CPU µs per request (user + kernel) and its share of the run, busiest first. */
const logThreads = (target, measured, generator, machine) => {
  const n = Math.max(1, measured.requests)
  const seconds = measured.requests / Math.max(1, measured.rps)
  const busy = (us) => `${Math.round((100 * us) / 1e6 / seconds)}%`
  const parts = target.threadsUsed()
    .filter((t) => t.user + t.system > 0)
    .sort((a, b) => b.user + b.system - (a.user + a.system))
    .map((t) => `${t.tid === target.pid ? "event loop" : `${t.name} ${t.tid}`} ${((t.user + t.system) / n).toFixed(1)} (${(t.system / n).toFixed(1)} kernel, ${busy(t.user + t.system)} busy, ${busy(t.waited)} waiting for a CPU)`)
  log(`  threads, µs/req: ${parts.join("; ")}; load generator ${((generator.user + generator.system) / n).toFixed(1)} (${busy(generator.user + generator.system)})`)
  // the whole machine over the run, as shares of all its CPUs' time (/proc/stat)
  const all = machine.reduce((a, b) => a + b, 0) || 1
  const share = (i) => `${Math.round((100 * machine[i]) / all)}%`
  log(`  machine: user ${share(0)}, nice ${share(1)}, system ${share(2)}, idle ${share(3)}, iowait ${share(4)}, irq ${share(5)}, softirq ${share(6)}, steal ${share(7)}`)
}

/** The first line of /proc/stat: CPU time of all CPUs by state (user, nice, system, idle, iowait, irq, softirq, steal). */
const machineCpu = () => readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number)

for (const scenario of SCENARIOS) {
  const names = selectedTargets.filter((n) =>
    (TARGETS[n].kind !== "bare" || scenario.withBare) && !(scenario.peerFrom && n === PEER))
  const states = Object.fromEntries(names.map((n) => [n, {}]))
  results[scenario.id] = Object.fromEntries(names.map((n) => [n, []]))
  peakRss[scenario.id] = {}
  for (const name of names) {
    log(`${scenario.id}: warm-up ${name}`)
    await once(scenario, running[name], states[name], warmup)
  }
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      const target = running[name]
      // minting / token set-up happens before the load starts (inside `once`, outside `measure`)
      const out = await once(scenario, target, states[name], duration, async (load) => {
        target.startLoad()
        const generatorStart = process.cpuUsage()
        const machineStart = flag("threads") ? machineCpu() : undefined
        const measured = await load()
        const generator = process.cpuUsage(generatorStart)
        const machine = machineStart === undefined ? undefined : machineCpu().map((v, i) => v - machineStart[i])
        target.stopLoad()
        if (flag("threads")) logThreads(target, measured, generator, machine)
        // server CPU per request: robust when other processes share the machine
        measured.cpuPerRequest = target.cpuUsed() / Math.max(1, measured.requests)
        return measured
      })
      results[scenario.id][name].push(out)
      peakRss[scenario.id][name] = Math.max(peakRss[scenario.id][name] ?? 0, target.peakRss())
      log(`${scenario.id} round ${round + 1} ${name}: ${Math.round(out.rps)} req/s, p50 ${out.p50} ms, p99 ${out.p99} ms, CPU ${Math.round(out.cpuPerRequest)} µs/req, errors ${out.errors}`)
    }
  }
}

const overallRss = Object.fromEntries(selectedTargets.map((n) => [n, running[n].peakRss()]))
for (const name of selectedTargets) await running[name].stop()

// ---- memory at equal work ------------------------------------------------------------
// In the runs above every server runs for the same time, so the faster one answers more
// requests and its memory store holds more: its peak RSS measures its speed as much as its
// memory. Here a fresh oidc-provider and a fresh Gatehouse (memory) each answer exactly the
// requests oidc-provider answered above, scenario by scenario, with RSS sampled throughout.
const EQUAL_WORK = ["client_credentials", "authorization_code", "refresh_token", "introspect_opaque", "discovery"]
const equalWork = {}
const equalWorkNames = [PEER, "gatehouse-memory"]
if (!flag("no-equal-work") && equalWorkNames.every((n) => selectedTargets.includes(n))) {
  for (const name of equalWorkNames) {
    const spec = TARGETS[name]
    const target = Object.assign(await startTarget(`${name}-equal-work`, spec.script, [...(spec.args ?? [])]), spec)
    running[`${name}-equal-work`] = target
    const state = {}
    let requests = 0
    target.startLoad()
    for (const id of EQUAL_WORK) {
      const scenario = SCENARIOS.find((x) => x.id === id)
      // --quick: at most 3,000 of each, so that the whole run stays under two minutes
      const answered = (results[id]?.[PEER] ?? []).reduce((a, r) => a + r.requests, 0)
      const amount = quick ? Math.min(answered, 3000) : answered
      if (scenario === undefined || amount === 0) continue
      state[id] ??= {}
      const request = typeof scenario.request === "function" ? await scenario.request(target, state[id], duration, amount) : scenario.request
      const out = await cannon(target.url, request, { amount, connections })
      requests += out.requests
      log(`equal work: ${name} ${id}: ${out.requests} requests, errors ${out.errors}`)
    }
    target.stopLoad()
    equalWork[name] = { peakRss: target.peakRss(), requests }
    await target.stop()
  }
}
await cleanup()

// ---- report --------------------------------------------------------------------------

const agg = (runs) => ({
  rps: median(runs.map((r) => r.rps)),
  p50: median(runs.map((r) => r.p50)),
  p99: median(runs.map((r) => r.p99)),
  cpu: median(runs.map((r) => r.cpuPerRequest)),
  errors: runs.reduce((a, r) => a + r.errors, 0)
})
const bareRps = results.client_credentials?.bare ? agg(results.client_credentials.bare).rps : NaN

const rows = []
const summary = {}
const notes = []
for (const scenario of SCENARIOS) {
  const byTarget = results[scenario.id]
  const peerRuns = scenario.peerFrom ? results[scenario.peerFrom]?.[PEER] : byTarget[PEER]
  const peer = peerRuns ? agg(peerRuns) : undefined
  summary[scenario.id] = {}
  if (scenario.peerFrom && peer) {
    rows.push([scenario.label, `${TARGETS[PEER].label}: not supported (400 unsupported_token_type)¹`, "–", "–", "–", "–", "–", "–", "", "", "", ""])
    notes.push(`¹ oidc-provider refuses to introspect its JWT access tokens ("Structured JWT Tokens cannot be introspected via the introspection_endpoint"); the ratios on this scenario compare with its introspection of opaque tokens (${fmt.rps(peer.rps)} req/s, p99 ${fmt.ms(peer.p99)} ms).`)
  }
  for (const [name, runs] of Object.entries(byTarget)) {
    const a = agg(runs)
    summary[scenario.id][name] = a
    const isGh = TARGETS[name].kind === "gatehouse" || TARGETS[name].kind === "before"
    rows.push([
      scenario.label,
      TARGETS[name].label,
      fmt.rps(a.rps),
      fmt.ms(a.p50),
      fmt.ms(a.p99),
      fmt.rps(a.cpu),
      String(a.errors),
      fmt.mb(peakRss[scenario.id][name]),
      isGh && peer ? fmt.ratio(a.rps / peer.rps) : "",
      isGh && peer ? fmt.ratio(a.p99 / peer.p99) : "",
      isGh && peer ? fmt.ratio(peer.cpu / a.cpu) : "",
      isGh && !scenario.flow ? fmt.ratio(a.rps / bareRps) : ""
    ])
  }
}

const header = `${quick ? "pnpm bench --quick" : "pnpm bench"}: node ${process.version}, ${cpus().length} CPUs, ${connections} connections, ${duration}s x ${rounds} round(s) (median), warm-up ${warmup}s, load before ${loadavg()[0].toFixed(2)}`
console.log(`\n${header}\n`)
console.log(table(
  ["scenario", "server", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "errors", "peak RSS MB", "req/s vs oidc-provider", "p99 vs oidc-provider (lower is better)", "CPU per request, oidc-provider / Gatehouse", "req/s vs bare"],
  rows
))
for (const note of notes) console.log(`\n${note}`)

// the issue's targets, on memory storage against oidc-provider's memory adapter
const gh = "gatehouse-memory"
const check = (label, ok, detail) => [label, ok === undefined ? "–" : ok ? "met" : "MISSED", detail]
const peerOf = (id) => summary[SCENARIOS.find((s) => s.id === id)?.peerFrom ?? id]?.[PEER]
const ratio = (id) => summary[id]?.[gh] && peerOf(id) ? summary[id][gh].rps / peerOf(id).rps : undefined
const p99ok = (id) => summary[id]?.[gh] && peerOf(id) ? summary[id][gh].p99 <= peerOf(id).p99 : undefined
const checks = []
for (const id of ["client_credentials", "authorization_code", "introspect_opaque", "introspect_jwt"]) {
  const r = ratio(id)
  if (r === undefined) continue
  // each round's own ratio too: A and B of one round ran seconds apart, on the same machine state
  const peerRuns = results[SCENARIOS.find((s) => s.id === id)?.peerFrom ?? id]?.[PEER] ?? []
  const perRound = results[id][gh].map((run, i) => (peerRuns[i] ? fmt.ratio(run.rps / peerRuns[i].rps) : "–"))
  checks.push(check(
    `${id}: ≥ 3× oidc-provider req/s, p99 no worse`,
    r >= 3 && p99ok(id),
    `${fmt.ratio(r)}${perRound.length > 1 ? ` (rounds: ${perRound.join(", ")})` : ""}, p99 ${fmt.ms(summary[id][gh].p99)} vs ${fmt.ms(peerOf(id).p99)} ms`
  ))
}
if (summary.client_credentials?.[gh] && Number.isFinite(bareRps)) {
  const r = summary.client_credentials[gh].rps / bareRps
  checks.push(check("client_credentials (memory) ≥ 35% of bare node:http", r >= 0.35, `${(r * 100).toFixed(0)}%`))
}
if (equalWork[gh] && equalWork[PEER]) {
  const [a, b] = [equalWork[gh], equalWork[PEER]]
  checks.push(check(
    "peak RSS under load ≤ oidc-provider's (the same requests to each)",
    a.peakRss <= b.peakRss,
    `${fmt.mb(a.peakRss)} MB vs ${fmt.mb(b.peakRss)} MB after ${fmt.rps(a.requests)} vs ${fmt.rps(b.requests)} requests`
  ))
}
if (overallRss[gh] && overallRss[PEER]) {
  checks.push(check(
    "peak RSS under load ≤ oidc-provider's (the timed runs: each answered what it could)",
    overallRss[gh] <= overallRss[PEER],
    `${fmt.mb(overallRss[gh])} MB vs ${fmt.mb(overallRss[PEER])} MB`
  ))
}
if (checks.length > 0) {
  console.log(`\nTargets (Gatehouse memory vs oidc-provider memory):\n`)
  console.log(table(["target", "", "measured"], checks).replace("| --- | --- | ---: |", "| --- | --- | --- |"))
}
// what each server answered in the measured runs: a server's memory store grows with the
// work it does, and in a fixed-duration run the faster server does more
const answered = Object.fromEntries(selectedTargets.map((n) => [
  n,
  Object.values(results).reduce((sum, byTarget) => sum + (byTarget[n] ?? []).reduce((a, r) => a + r.requests, 0), 0)
]))
console.log(`\nPeak RSS over the whole run (MB), and the requests (whole flows for that scenario) each answered in the measured runs: ${
  Object.entries(overallRss).map(([n, b]) => `${n} ${fmt.mb(b)} (${fmt.rps(answered[n])})`).join(", ")
}`)

const json = option("json", undefined)
if (json) writeFileSync(json, JSON.stringify({ header, results, summary, peakRss, overallRss, equalWork }, null, 2))

if (flag("scaling")) {
  const { runScaling } = await import("./scaling.mjs")
  await runScaling({ quick, log })
}
log("done")
