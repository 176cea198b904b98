/**
 * Summarise a V8 `.cpuprofile` (from `node --cpu-prof`, e.g. `pnpm bench --profile`):
 * self time by function and by package/file, and the idle share.
 *
 *   node bench/lib/profile.mjs bench/.profiles/gatehouse-memory.cpuprofile [top=25]
 */
import { readFileSync } from "node:fs"

const [file, topArg] = process.argv.slice(2)
const top = Number(topArg ?? 25)
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
const needles = process.argv.slice(4)
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
