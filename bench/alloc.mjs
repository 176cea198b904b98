/**
 * Bytes allocated per request, by the function that allocated them: V8's sampling heap
 * profiler (through `node:inspector`) with objects the GC has already collected included,
 * so it shows the garbage each request makes, not only what stays. In process, no HTTP,
 * memory storage, requests as `@gatehouse/express` hands them over.
 *
 *   node bench/alloc.mjs [--scenario=introspect|client_credentials] [--n=5000] [--top=28] [--stack=<function name prefix>]
 *
 * `--stack` prints the call stacks (innermost last) that allocate under the functions whose
 * "name file:line" starts with the prefix given.
 */
import { createGatehouse } from "@gatehouse/core"
import { toIncomingRequest } from "@gatehouse/express"
import { memoryAccounts, MemoryStorage } from "@gatehouse/testkit/memory"
import { Session } from "node:inspector/promises"
import { BASIC, bodies, GATEHOUSE_CLIENT, GATEHOUSE_RESOURCES, USER, USER_CLAIMS } from "./lib/fixtures.mjs"

const option = (name, fallback) => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`))
  return arg === undefined ? fallback : arg.slice(name.length + 3)
}
const scenario = option("scenario", "introspect")
const N = Number(option("n", 5000))
const top = Number(option("top", 28))
const stackOf = option("stack", undefined)

const issuer = "http://localhost:3000"
const gh = createGatehouse({
  issuer,
  storage: MemoryStorage.layer(),
  accounts: memoryAccounts([{ ...USER, claims: USER_CLAIMS }]),
  scopes: ["api"],
  resources: GATEHOUSE_RESOURCES,
  clients: [GATEHOUSE_CLIENT]
})
await gh.ready()
const RESPONSE_TEXT = Symbol.for("@gatehouse/core/response-text")
const post = (path, body) =>
  toIncomingRequest(
    { method: "POST", url: path, headers: { host: "localhost:3000", authorization: BASIC, "content-type": "application/x-www-form-urlencoded", "content-length": String(body.length) } },
    new URL(issuer + path),
    Buffer.from(body)
  )
const opaque = JSON.parse(await (await gh.handleIncoming(post("/token", bodies.clientCredentialsOpaque))).text()).access_token
const make = {
  introspect: () => post("/introspect", bodies.introspect(opaque)),
  client_credentials: () => post("/token", bodies.clientCredentials)
}[scenario]
if (make === undefined) throw new Error(`unknown --scenario=${scenario}`)
const answer = async () => {
  const response = await gh.handleIncoming(make())
  if (response.status !== 200) throw new Error(`${response.status}`)
  return response[RESPONSE_TEXT]
}

for (let i = 0; i < 2000; i++) await answer() // warm up: compiled code, caches filled
const session = new Session()
session.connect()
await session.post("HeapProfiler.enable")
await session.post("HeapProfiler.startSampling", { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
for (let i = 0; i < N; i++) await answer()
const { profile } = await session.post("HeapProfiler.stopSampling")

const name = (node) =>
  `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.replace(/.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, "").replace(/.*packages\//, "")}:${node.callFrame.lineNumber + 1}`
const self = new Map()
const stacks = new Map()
let total = 0
const walk = (node, stack) => {
  const key = name(node)
  const here = [...stack, key]
  self.set(key, (self.get(key) ?? 0) + node.selfSize)
  total += node.selfSize
  if (stackOf !== undefined && key.startsWith(stackOf) && node.selfSize > 0) {
    const k = here.slice(-6).join(" <- ")
    stacks.set(k, (stacks.get(k) ?? 0) + node.selfSize)
  }
  for (const child of node.children ?? []) walk(child, here)
}
walk(profile.head, [])
console.log(`${scenario}: ~${Math.round(total / N)} bytes allocated per request (${N} requests, sampled every 512 bytes)\n`)
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${String(Math.round(v / N)).padStart(6)} B/req  ${k}`)
for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log(`\n${Math.round(v / N)} B/req: ${k}`)
process.exit(0)
