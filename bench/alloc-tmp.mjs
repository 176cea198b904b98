import { Session } from "node:inspector/promises"
const { createGatehouse } = await import("@gatehouse/core")
const { toIncomingRequest } = await import("@gatehouse/express")
const { memoryAccounts, MemoryStorage } = await import("@gatehouse/testkit/memory")
const f = await import("./lib/fixtures.mjs")
const issuer = "http://localhost:3000"
const gh = createGatehouse({ issuer, storage: MemoryStorage.layer(), accounts: memoryAccounts([{ ...f.USER, claims: f.USER_CLAIMS }]), scopes: ["api"], resources: f.GATEHOUSE_RESOURCES, clients: [f.GATEHOUSE_CLIENT] })
await gh.ready()
const RT = Symbol.for("@gatehouse/core/response-text")
const post = (path, body) => toIncomingRequest({ method: "POST", url: path, headers: { host: "localhost:3000", authorization: f.BASIC, "content-type": "application/x-www-form-urlencoded", "content-length": String(body.length) } }, new URL(issuer + path), Buffer.from(body))
const scenario = process.argv[2] ?? "introspect"
const tok = JSON.parse(await (await gh.handleIncoming(post("/token", f.bodies.clientCredentialsOpaque))).text()).access_token
const mk = scenario === "introspect" ? () => post("/introspect", f.bodies.introspect(tok)) : () => post("/token", f.bodies.clientCredentials)
for (let i = 0; i < 2000; i++) { const r = await gh.handleIncoming(mk()); r[RT] }
const s = new Session(); s.connect()
await s.post("HeapProfiler.enable")
await s.post("HeapProfiler.startSampling", { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
const N = 5000
for (let i = 0; i < N; i++) { const r = await gh.handleIncoming(mk()); r[RT] }
const { profile } = await s.post("HeapProfiler.stopSampling")
const self = new Map()
let total = 0
const walk = (node, stack) => {
  const key = `${node.callFrame.functionName || "(anon)"} ${node.callFrame.url.replace(/.*node_modules\//, "").replace(/.*packages\//, "").replace(/\.pnpm\/[^/]+\/node_modules\//, "")}:${node.callFrame.lineNumber + 1}`
  self.set(key, (self.get(key) ?? 0) + node.selfSize); total += node.selfSize
  for (const c of node.children ?? []) walk(c, [...stack, key])
}
walk(profile.head, [])
console.log(scenario, "sampled bytes per request ~", Math.round(total / N))
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 28)) console.log(String(Math.round(v / N)).padStart(6), "B/req", k)
const needle = process.argv[3]
if (needle) {
  const out = new Map()
  const walk2 = (node, stack) => {
    const key = `${node.callFrame.functionName || "(anon)"} ${node.callFrame.url.replace(/.*node_modules\//, "").replace(/.*packages\//, "")}:${node.callFrame.lineNumber + 1}`
    const st = [...stack, key]
    if (key.startsWith(needle) && node.selfSize > 0) { const k = st.slice(-6).join(" <- "); out.set(k, (out.get(k) ?? 0) + node.selfSize) }
    for (const c of node.children ?? []) walk2(c, st)
  }
  walk2(profile.head, [])
  for (const [k, v] of [...out].sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log(Math.round(v / N), "B/req:", k, "\n")
}
process.exit(0)
