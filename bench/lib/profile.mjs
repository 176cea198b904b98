/**
 * Summarise a V8 `.cpuprofile` (from `node --cpu-prof`, e.g. `pnpm bench --profile`):
 * self time by function and by package/file, and the idle share.
 *
 *   node bench/lib/profile.mjs bench/.profiles/gatehouse-memory.cpuprofile [top=25] [needle ...] [--breakdown [--us=CPU_US_PER_REQUEST]]
 */
import { readFileSync } from "node:fs"

const [file, topArg] = process.argv.slice(2)
const top = /^\d+$/.test(topArg ?? "") ? Number(topArg) : 25
const profile = JSON.parse(readFileSync(file, "utf8"))
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map()
const deltas = profile.timeDeltas
for (let i = 0; i < profile.samples.length; i++) {
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (deltas[i] ?? 0))
}
const total = [...self.values()].reduce((a, b) => a + b, 0)
const where = (url) => {
  if (!url) return "(native)"
  const m = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m) return m[1]
  const p = /packages\/([^/]+)\/(?:dist|src)\/(.*)$/.exec(url)
  if (p) return `@gatehouse/${p[1]}/${p[2]}`
  return url.replace(/^file:\/\//, "").replace(/^node:/, "node:")
}
const fnKey = (n) => `${n.callFrame.functionName || "(anonymous)"} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
const fileKey = (n) => (n.callFrame.url ? where(n.callFrame.url).replace(/^(@gatehouse\/[^/]+)\/.*$/, "$1").replace(/^node:internal\/.*/, "node:internal") : n.callFrame.functionName)
const sum = (keyOf) => {
  const m = new Map()
  for (const [id, t] of self) {
    const k = keyOf(byId.get(id))
    m.set(k, (m.get(k) ?? 0) + t)
  }
  return [...m].sort((a, b) => b[1] - a[1])
}
const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)}%`
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`)
console.log("\nself time by package / area:")
for (const [k, t] of sum(fileKey).slice(0, top)) console.log(`${pct(t)}  ${k}`)
console.log("\nself time by function:")
for (const [k, t] of sum(fnKey).slice(0, top)) console.log(`${pct(t)}  ${k}`)

// inclusive time under frames matching each further argument (substring of "name file:line")
const needles = process.argv.slice(3).filter((a) => !a.startsWith("--") && !/^\d+$/.test(a))
if (needles.length > 0) {
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  console.log("\ninclusive time:")
  for (const needle of needles) {
    let inc = 0
    for (const [id, t] of self) {
      for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
        if (fnKey(byId.get(cur)).includes(needle)) {
          inc += t
          break
        }
      }
    }
    console.log(`${pct(inc)}  ${needle}`)
  }
}

// --breakdown: where the busy time goes, by area (idle and start-up left out), as in bench/README.md
if (process.argv.includes("--breakdown")) {
  const parentOf = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id)
  const area = (id) => {
    const leaf = byId.get(id).callFrame
    if (leaf.functionName === "(idle)") return "idle"
    if (leaf.functionName === "(garbage collector)") return "garbage collection"
    for (let cur = id, depth = 0; cur !== undefined && depth < 60; cur = parentOf.get(cur), depth++) {
      const { functionName: fn, url } = byId.get(cur).callFrame
      if (/^(signOneShot|verifyOneShot)$/.test(fn)) return "ES256 signature / verification (node:crypto)"
      if (/^(hash|randomBytes|randomFillSync|timingSafeEqual)$/.test(fn) && url.startsWith("node:")) return "SHA-256, randomness, constant-time compare"
      if (/compileSourceTextModule|^(evaluate|instantiate|link)$|ModuleJob|loadESM|importModuleDynamically/.test(fn)) return "start-up"
      if (!url) continue
      if (url.includes("effect/dist")) return "Effect runtime (fibers, continuations, context)"
      if (url.includes("packages/testkit")) return "memory store"
      if (/packages\/(express|fastify)\//.test(url)) return "adapter (@gatehouse/express)"
      if (url.includes("packages/core")) return "Gatehouse core's own code"
      if (url.includes("undici")) return "Fetch objects (undici Request/Response/Headers)"
      if (/^node:(_http_|http|net|events|stream|internal\/(streams|stream_base_commons|http|net))/.test(url)) return "node:http, sockets, parser, events"
      if (url.startsWith("node:")) return "other Node internals (timers, microtasks, buffers, URL)"
      return "other"
    }
    return byId.get(id).callFrame.functionName === "(program)" ? "other Node internals (timers, microtasks, buffers, URL)" : "node:http, sockets, parser, events"
  }
  const areas = new Map()
  for (const [id, t] of self) {
    const a = area(id)
    areas.set(a, (areas.get(a) ?? 0) + t)
  }
  const busy = [...areas].filter(([a]) => a !== "idle" && a !== "start-up")
  const busyTotal = busy.reduce((s, [, t]) => s + t, 0)
  const perRequest = Number(process.argv.find((a) => a.startsWith("--us="))?.slice(5))
  console.log(`\nbusy time by area (idle and start-up left out${Number.isFinite(perRequest) ? `; µs per request from --us=${perRequest}` : ""}):`)
  for (const [a, t] of busy.sort((x, y) => y[1] - x[1])) {
    const share = t / busyTotal
    console.log(`${(100 * share).toFixed(1).padStart(5)}%${Number.isFinite(perRequest) ? `  ~${Math.round(share * perRequest).toString().padStart(3)} µs` : ""}  ${a}`)
  }
}
