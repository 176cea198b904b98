/**
 * The orchestrator's side: start a server script in a child process, wait until it
 * listens, send it commands, sample its resident set size, stop it.
 */
import { fork } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const here = (path) => fileURLToPath(new URL(path, import.meta.url))

/** Resident set size of a process in bytes, from /proc (Linux); undefined elsewhere. */
export const rssOf = (pid) => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    return match ? Number(match[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

/** CPU time (user + system, all threads) a process has used, in microseconds, from /proc (Linux). */
export const cpuOf = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // fields after the parenthesised command name; utime and stime are the 14th and 15th
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS
  } catch {
    return undefined
  }
}
/**
 * CPU time (user + system, µs) of each thread of a process, from /proc/<pid>/task (Linux):
 * `[{ tid, name, cpu }]`, names as the kernel keeps them ("node" for the event loop and for
 * worker threads, "V8 DefaultWorke" for V8's helpers, "libuv-worker" for the threadpool).
 */
export const threadCpuOf = (pid) => {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")
        const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
        // schedstat: ns on a CPU, ns waiting on a run queue (runnable but not running), timeslices
        const waited = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]) / 1000
        return [{ tid: Number(tid), name, user: (Number(fields[11]) * 1e6) / CLOCK_TICKS, system: (Number(fields[12]) * 1e6) / CLOCK_TICKS, waited }]
      } catch {
        return []
      }
    })
  } catch {
    return []
  }
}

/** USER_HZ: 100 on every Linux this runs on */
const CLOCK_TICKS = 100

/**
 * Start `script` (relative to bench/servers, or an absolute path) with `args`. Resolves once it is listening.
 * `execArgv`: extra node flags (e.g. `--cpu-prof`).
 */
export const startTarget = async (name, script, args = [], { execArgv = [], env = {} } = {}) => {
  const child = fork(script.startsWith("/") ? script : here(`../servers/${script}`), args, {
    execArgv: [...execArgv],
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  const pending = new Map()
  let nextId = 0
  let exited = false
  const ready = new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code} before it was ready`)))
    child.on("message", (message) => {
      if (message?.type === "ready") resolve(message)
      else if (message?.id !== undefined) {
        const p = pending.get(message.id)
        pending.delete(message.id)
        if (message.ok) p?.resolve(message.result)
        else p?.reject(new Error(`${name}: ${message.error}`))
      }
    })
  })
  child.on("exit", () => {
    exited = true
    for (const p of pending.values()) p.reject(new Error(`${name} exited`))
    pending.clear()
  })
  const { url, pid } = await ready
  const call = (cmd, ...args) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`${name} has exited`))
      const id = nextId++
      pending.set(id, { resolve, reject })
      child.send({ id, cmd, args })
    })

  // peak RSS while under load: sampled every 100 ms between startLoad() and stopLoad()
  let peak = 0
  let timer
  let cpuStart
  let cpuUsed = 0
  let threadsStart = []
  let threadsUsed = []
  const sample = () => {
    const rss = rssOf(pid)
    if (rss !== undefined && rss > peak) peak = rss
  }
  return {
    name,
    url,
    pid,
    call,
    startLoad: () => {
      cpuStart = cpuOf(pid)
      threadsStart = threadCpuOf(pid)
      sample()
      timer = setInterval(sample, 100)
      timer.unref()
    },
    stopLoad: () => {
      clearInterval(timer)
      sample()
      const end = cpuOf(pid)
      cpuUsed = cpuStart === undefined || end === undefined ? NaN : end - cpuStart
      const before = new Map(threadsStart.map((t) => [t.tid, t]))
      threadsUsed = threadCpuOf(pid).map((t) => ({
        tid: t.tid,
        name: t.name,
        user: t.user - (before.get(t.tid)?.user ?? 0),
        system: t.system - (before.get(t.tid)?.system ?? 0),
        waited: t.waited - (before.get(t.tid)?.waited ?? 0)
      }))
    },
    /** CPU µs each thread used during the last startLoad() .. stopLoad(): `[{ tid, name, user, system, waited }]` (waited: µs runnable but waiting for a CPU) */
    threadsUsed: () => threadsUsed,
    /** CPU µs the server used during the last startLoad() .. stopLoad() */
    cpuUsed: () => cpuUsed,
    peakRss: () => peak,
    stop: async () => {
      if (exited) return
      const gone = new Promise((resolve) => child.once("exit", resolve))
      await Promise.race([call("stop").catch(() => undefined), gone])
      const timeout = setTimeout(() => child.kill("SIGKILL"), 10_000)
      await gone
      clearTimeout(timeout)
    }
  }
}
