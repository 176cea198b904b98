/**
 * Bytes allocated while a piece of work runs, by the function that allocated them: V8's
 * sampling heap profiler (through `node:inspector`) with the objects the GC has already
 * collected included, so it shows the garbage the work makes, not only what stays
 * (`node bench/micro.mjs --alloc`).
 */
import { Session } from "node:inspector/promises"

/** Run `work` under the sampling heap profiler (one sample per 512 bytes); its profile. */
export const sampleAllocations = async (work) => {
  const session = new Session()
  session.connect()
  try {
    await session.post("HeapProfiler.enable")
    await session.post("HeapProfiler.startSampling", { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
    await work()
    return (await session.post("HeapProfiler.stopSampling")).profile
  } finally {
    session.disconnect()
  }
}

const frameName = (node) =>
  `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.replace(/.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, "").replace(/.*packages\//, "")}:${node.callFrame.lineNumber + 1}`

/**
 * Print bytes per request by allocating function (the `top` largest), and with `stackOf`
 * the call stacks (innermost last) under the functions whose "name file:line" starts with it.
 */
export const printAllocations = (label, profile, requests, { top = 28, stackOf } = {}) => {
  const self = new Map()
  const stacks = new Map()
  let total = 0
  const walk = (node, stack) => {
    const key = frameName(node)
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
  console.log(`\n${label}: ~${Math.round(total / requests)} bytes allocated per request (${requests} requests, sampled every 512 bytes)\n`)
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${String(Math.round(v / requests)).padStart(6)} B/req  ${k}`)
  for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log(`\n${Math.round(v / requests)} B/req: ${k}`)
}
