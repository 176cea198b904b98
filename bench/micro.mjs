/**
 * In-process CPU cost per request of Gatehouse's Fetch handler (no HTTP, no load
 * generator): robust on a busy machine, where req/s over loopback is noisy. Reports
 * CPU µs per request (process.cpuUsage, so time stolen by other processes is not
 * counted) for each scenario, with `concurrency` requests in flight.
 *
 * Requests are built the way `@gatehouse/express` builds them (`toIncomingRequest` over a
 * body already read, handed to `handleIncoming`; text answers read as the middleware reads
 * them); `--translated` builds the Fetch `Request` the middleware builds for streamed bodies
 * (`toFetchRequest`); `--fetch` builds plain `new Request(...)`s and reads `response.text()`,
 * as a Fetch host (Next.js, Bun) does.
 *
 *   node bench/micro.mjs [--n=20000] [--repeat=3] [--concurrency=20] [--only=a,b] [--fetch | --translated]
 *   node bench/micro.mjs --alloc [--n=5000] [--only=a,b] [--top=28] [--stack=<function name prefix>]
 *
 * `--alloc`: instead of CPU, the bytes each request allocates, by allocating function, garbage
 * included (lib/allocations.mjs), one run per scenario after the warm-up; `--stack` prints the
 * call stacks that allocate under the functions whose "name file:line" starts with the prefix.
 *
 * Each scenario is measured `repeat` times; the table gives the minimum (the least
 * disturbed run) and the median.
 *   node --cpu-prof bench/micro.mjs --only=client_credentials
 */
import { AuthorizationCodeStore, createGatehouse, Crypto } from "@gatehouse/core"
import { acceptTextResponse, toFetchRequest, toIncomingRequest } from "@gatehouse/express"
import { memoryAccounts, MemoryStorage } from "@gatehouse/testkit/memory"
import { Clock, Effect } from "effect"
import { printAllocations, sampleAllocations } from "./lib/allocations.mjs"
import {
  API,
  BASIC,
  bodies,
  CHALLENGE,
  CLIENT_ID,
  CODE_SCOPE,
  CODE_TTL_S,
  GATEHOUSE_CLIENT,
  GATEHOUSE_RESOURCES,
  REDIRECT_URI,
  USER,
  USER_CLAIMS
} from "./lib/fixtures.mjs"

const option = (name, fallback) => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`))
  return arg === undefined ? fallback : arg.slice(name.length + 3)
}
const alloc = process.argv.includes("--alloc")
const N = Number(option("n", alloc ? 5000 : 20000))
const concurrency = Number(option("concurrency", 20))
const repeat = Number(option("repeat", 3))
const only = option("only", undefined)?.split(",")
const issuer = "http://localhost:3000"

const gh = createGatehouse({
  issuer,
  storage: MemoryStorage.layer(),
  accounts: memoryAccounts([{ ...USER, claims: USER_CLAIMS }]),
  scopes: ["api"],
  resources: GATEHOUSE_RESOURCES,
  ttl: { authorizationCode: CODE_TTL_S },
  clients: [GATEHOUSE_CLIENT],
  // --inline: signatures on the calling thread, so that CPU per request is one thread's work
  ...(process.argv.includes("--inline") ? { crypto: Crypto.layerNode(await import("node:crypto"), { signatures: "inline" }) } : {})
})
await gh.ready()

// --ops: count the Effect runtime's steps (one per primitive its fiber loop evaluates) per
// request: a count, the same on a busy machine as on a quiet one
const countOps = process.argv.includes("--ops")
let ops = 0
if (countOps) {
  const FiberProto = Object.getPrototypeOf(Effect.runFork(Effect.void))
  const runLoop = FiberProto.runLoop
  FiberProto.runLoop = function(effect) {
    try {
      return runLoop.call(this, effect)
    } finally {
      ops += this.currentOpCount
    }
  }
}

const plainFetch = process.argv.includes("--fetch")
const RESPONSE_TEXT = Symbol.for("@gatehouse/core/response-text")
// --translated: a Fetch Request built from the Node request (the adapter's path for streamed bodies)
const translated = process.argv.includes("--translated")
const post = (path, body) => {
  const headers = { host: "localhost:3000", authorization: BASIC, "content-type": "application/x-www-form-urlencoded", "content-length": String(body.length) }
  if (plainFetch) return new Request(`${issuer}${path}`, { method: "POST", headers, body })
  // the peer address the middleware reads from the socket (the per-address failure budget counts it)
  const req = { method: "POST", url: path, headers, socket: { remoteAddress: "127.0.0.1" } }
  if (!translated) return toIncomingRequest(req, new URL(`${issuer}${path}`), Buffer.from(body))
  const request = toFetchRequest(req, { origin: issuer }, new URL(`${issuer}${path}`), Buffer.from(body))
  acceptTextResponse(request)
  return request
}
const get = (path) => {
  if (plainFetch) return new Request(`${issuer}${path}`)
  const req = { method: "GET", url: path, headers: { host: "localhost:3000" } }
  if (!translated) return toIncomingRequest(req, new URL(`${issuer}${path}`))
  const request = toFetchRequest(req, { origin: issuer }, new URL(`${issuer}${path}`))
  acceptTextResponse(request)
  return request
}
const call = async (request) => {
  const response = await (plainFetch || translated ? gh.handler(request) : gh.handleIncoming(request))
  const text = typeof response[RESPONSE_TEXT] === "string" ? response[RESPONSE_TEXT] : await response.text()
  if (response.status !== 200) throw new Error(`${response.status} ${text}`)
  return text
}
const mintCodes = (n) =>
  gh.run(Effect.gen(function*() {
    const crypto = yield* Crypto
    const codes = yield* AuthorizationCodeStore
    const now = yield* Clock.currentTimeMillis
    const out = []
    for (let i = 0; i < n; i++) {
      const code = yield* crypto.randomToken(32)
      yield* codes.save({
        codeDigest: yield* crypto.digest(code), grantId: yield* crypto.randomToken(16), clientId: CLIENT_ID, accountId: USER.id,
        redirectUri: REDIRECT_URI, scope: CODE_SCOPE.split(" "), resource: [API], codeChallenge: CHALLENGE, codeChallengeMethod: "S256",
        authTime: Math.floor(now / 1000), amr: ["pwd"], expiresAt: now + CODE_TTL_S * 1000
      })
      out.push(code)
    }
    return out
  }))

const scenarios = {
  client_credentials: async () => () => post("/token", bodies.clientCredentials),
  authorization_code: async (n) => {
    const codes = await mintCodes(n)
    return () => post("/token", bodies.code(codes.pop()))
  },
  refresh_token: async () => {
    const pool = []
    for (const code of await mintCodes(concurrency)) pool.push(JSON.parse(await call(post("/token", bodies.code(code)))).refresh_token)
    return { next: () => post("/token", bodies.refresh(pool.pop())), after: (text) => pool.unshift(JSON.parse(text).refresh_token) }
  },
  introspect_opaque: async () => {
    const tokens = []
    for (let i = 0; i < 100; i++) tokens.push(JSON.parse(await call(post("/token", bodies.clientCredentialsOpaque))).access_token)
    let i = 0
    return () => post("/introspect", bodies.introspect(tokens[i++ % tokens.length]))
  },
  introspect_jwt: async () => {
    const tokens = []
    for (let i = 0; i < 100; i++) tokens.push(JSON.parse(await call(post("/token", bodies.clientCredentials))).access_token)
    let i = 0
    return () => post("/introspect", bodies.introspect(tokens[i++ % tokens.length]))
  },
  discovery: async () => () => get("/.well-known/openid-configuration")
}

/** `n` requests of a scenario, `concurrency` in flight; `around` wraps the requests alone (not the set-up). */
const measure = async (make, n, around = (requests) => requests()) => {
  const s = await make(n)
  const next = typeof s === "function" ? s : s.next
  const after = typeof s === "function" ? undefined : s.after
  let left = n
  const ops0 = ops
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await around(() =>
    Promise.all(Array.from({ length: concurrency }, async () => {
      while (left-- > 0) {
        const text = await call(next())
        after?.(text)
      }
    })))
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return { cpuUs: (cpu.user + cpu.system) / n, wallUs: (wall * 1000) / n, ops: (ops - ops0) / n }
}

console.log(`node ${process.version}, ${N} requests per scenario, ${concurrency} in flight, in-process (no HTTP), ${plainFetch ? "plain Fetch requests" : translated ? "Fetch requests as @gatehouse/express translates streamed ones" : "requests as @gatehouse/express builds them"}`)
if (!alloc) console.log(`| scenario | CPU µs/request (min) | CPU µs/request (median) | wall µs/request (min) |${countOps ? " Effect steps/request |" : ""}\n| --- | ---: | ---: | ---: |${countOps ? " ---: |" : ""}`)
for (const [name, make] of Object.entries(scenarios)) {
  if (only && !only.includes(name)) continue
  await measure(make, Math.min(2000, N)) // warm-up
  if (alloc) {
    let profile
    await measure(make, N, async (requests) => {
      profile = await sampleAllocations(requests)
    })
    printAllocations(name, profile, N, { top: Number(option("top", 28)), stackOf: option("stack", undefined) })
    continue
  }
  const runs = []
  for (let r = 0; r < repeat; r++) runs.push(await measure(make, N))
  const cpu = runs.map((r) => r.cpuUs).sort((a, b) => a - b)
  const wall = runs.map((r) => r.wallUs).sort((a, b) => a - b)
  console.log(`| ${name} | ${cpu[0].toFixed(0)} | ${cpu[Math.floor(cpu.length / 2)].toFixed(0)} | ${wall[0].toFixed(0)} |${countOps ? ` ${runs[0].ops.toFixed(1)} |` : ""}`)
}
await gh.dispose()
