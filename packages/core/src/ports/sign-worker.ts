/**
 * One worker thread that computes the ES256 and EdDSA signatures of a `Crypto.layerNode`
 * (`signatures: "worker"`, what `layerDefault` picks on a machine with two cores or more).
 *
 * Why not libuv's threadpool: each `crypto.sign` job there wakes a sleeping pool thread, and
 * on the virtual machines servers run on that wake-up is the expensive part. Measured on the
 * bench machine (a 2-core VM) under load, the `sign()` call itself held the event loop for
 * ~10 µs of its ~55 µs per client_credentials request, against ~2 µs when the pool thread
 * happened to be awake. Here the requests of one event-loop turn are written into a
 * `SharedArrayBuffer` ring and the worker is woken once for all of them (`Atomics.notify`
 * at `setImmediate`); it signs them in order and publishes each result as soon as it has it
 * (`Atomics.store` + `Atomics.notify`), which the event loop learns through
 * `Atomics.waitAsync`. No message, no structured clone, no job object per signature: the
 * loop's cost is copying the signing input in and the signature out.
 *
 * - Keys reach the worker once, as `KeyObject`s over a `MessagePort` (it reads them with
 *   `receiveMessageOnPort` when a job names a key it has not seen).
 * - A job the worker cannot take (input larger than a slot, the ring full, the worker gone)
 *   returns `false` from `sign` and the caller uses the threadpool instead; a job the worker
 *   failed (or the worker exited while it was pending) calls back with `undefined`, and the
 *   caller does it again on the threadpool, which reports the real error, if any.
 * - The worker keeps the process alive only while a signature is pending (`ref`/`unref`).
 *   `close()` ends it (the layer's finalizer).
 * - RSA signatures (1–2 ms each) stay on the threadpool, whose several threads suit them.
 */

/** The parts of `node:worker_threads` used here (core has no Node types). */
export interface WorkerThreadsModule {
  readonly Worker: new(code: string, options: {
    eval: true
    workerData: unknown
    transferList: ReadonlyArray<unknown>
    resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number }
  }) => NodeWorker
}

interface NodeWorker {
  ref(): void
  unref(): void
  terminate(): Promise<number>
  on(event: "error" | "exit", listener: (value: unknown) => void): void
}

interface NodeMessagePort {
  postMessage(message: unknown): void
  close(): void
}

export type WorkerAlg = "ES256" | "EdDSA"

export interface SignWorker {
  /**
   * Queue a signature of `input` with `key` (a `KeyObject`). False when the worker cannot
   * take it (the caller signs elsewhere); otherwise `done` is called once, with the
   * signature, or with undefined when the worker did not produce one.
   */
  sign(alg: WorkerAlg, key: object, input: Uint8Array, done: (signature: Uint8Array | undefined) => void): boolean
  /** End the worker; pending jobs call back with undefined. */
  close(): Promise<void>
}

/** Jobs in the ring at once; one more goes to the threadpool. */
const SLOTS = 256
/** Signing input bytes one slot holds (a JWS header and payload; larger ones go to the threadpool). */
const DATA = 4096
/** Signature bytes one slot holds (64 for ES256 and Ed25519). */
const SIGNATURE = 128
/** A slot: key id, alg, input length, result length (-1: failed), the input, the signature. */
const HEADER = 16
const SLOT = HEADER + DATA + SIGNATURE

// control words: [0] jobs submitted, [1] jobs done, [2] 1 = stop
const SUBMITTED = 0
const DONE = 1
const STOP = 2

/** The worker's code (CommonJS, run with `eval`): the loop described above. */
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require("node:worker_threads")
const { sign } = require("node:crypto")
const { control, ring, slots, slot, header, data, signature, port } = workerData
const ctl = new Int32Array(control)
const bytes = new Uint8Array(ring)
const view = new DataView(ring)
const keys = new Map()
const keyOf = (id) => {
  while (!keys.has(id)) {
    const received = receiveMessageOnPort(port)
    if (received === undefined) return undefined
    keys.set(received.message.id, received.message.key)
  }
  return keys.get(id)
}
let done = 0
for (;;) {
  const submitted = Atomics.load(ctl, ${SUBMITTED})
  if (Atomics.load(ctl, ${STOP}) === 1) break
  if (submitted === done) {
    Atomics.wait(ctl, ${SUBMITTED}, submitted)
    continue
  }
  const at = (done % slots) * slot
  let length = -1
  try {
    const key = keyOf(view.getInt32(at, true))
    const input = bytes.subarray(at + header, at + header + view.getInt32(at + 8, true))
    if (key !== undefined) {
      const result = view.getInt32(at + 4, true) === 0
        ? sign("sha256", input, { key, dsaEncoding: "ieee-p1363" })
        : sign(null, input, key)
      if (result.length <= signature) {
        bytes.set(result, at + header + data)
        length = result.length
      }
    }
  } catch {}
  view.setInt32(at + 12, length, true)
  done++
  Atomics.store(ctl, ${DONE}, done)
  Atomics.notify(ctl, ${DONE})
}
port.close()
`

interface Host {
  readonly MessageChannel: new() => { port1: NodeMessagePort; port2: NodeMessagePort }
  readonly setImmediate: (callback: () => void) => unknown
  readonly Atomics: typeof Atomics & {
    waitAsync?: (array: Int32Array, index: number, value: number) => { async: boolean; value: Promise<unknown> | string }
  }
}

/** Whether this runtime has what the worker needs (SharedArrayBuffer, Atomics.waitAsync, MessageChannel). */
const hostOf = (): Host | undefined => {
  const g = globalThis as unknown as Partial<Host> & { SharedArrayBuffer?: unknown }
  return typeof g.SharedArrayBuffer === "function" && typeof g.Atomics?.waitAsync === "function" &&
      typeof g.MessageChannel === "function" && typeof g.setImmediate === "function"
    ? g as Host
    : undefined
}

/** A signing worker, or undefined when this runtime cannot run one (the caller uses the threadpool). */
export const makeSignWorker = (threads: WorkerThreadsModule): SignWorker | undefined => {
  const host = hostOf()
  if (host === undefined) return undefined
  const control = new SharedArrayBuffer(12)
  const ctl = new Int32Array(control)
  const ring = new SharedArrayBuffer(SLOTS * SLOT)
  const bytes = new Uint8Array(ring)
  const view = new DataView(ring)
  const { port1, port2 } = new host.MessageChannel()
  let worker: NodeWorker
  try {
    worker = new threads.Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { control, ring, slots: SLOTS, slot: SLOT, header: HEADER, data: DATA, signature: SIGNATURE, port: port2 },
      transferList: [port2],
      // it holds keys and a few buffers: a small heap
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 }
    })
  } catch {
    port1.close()
    return undefined
  }
  worker.unref()

  const keyIds = new WeakMap<object, number>()
  let nextKeyId = 0
  let submitted = 0
  let published = 0
  let collected = 0
  let alive = true
  let flushing = false
  let watching = false
  const pending: Array<(signature: Uint8Array | undefined) => void> = []

  /** Everything the worker finished, handed back in order. */
  const collect = () => {
    const done = Atomics.load(ctl, DONE)
    while (collected < done) {
      const at = (collected % SLOTS) * SLOT
      const length = view.getInt32(at + 12, true)
      const signature = length < 0 ? undefined : bytes.slice(at + HEADER + DATA, at + HEADER + DATA + length)
      collected++
      pending.shift()!(signature)
    }
    if (collected === submitted && alive) worker.unref()
  }

  /** Wait (without blocking the loop) for the worker to publish past what was collected. */
  const watch = () => {
    if (watching || !alive) return
    for (;;) {
      collect()
      if (collected === published) return
      const seen = Atomics.load(ctl, DONE)
      if (seen !== collected) continue
      const wait = host.Atomics.waitAsync!(ctl, DONE, seen)
      if (!wait.async) continue
      watching = true
      void (wait.value as Promise<unknown>).then(() => {
        watching = false
        watch()
      })
      return
    }
  }

  /** Publish this turn's jobs and wake the worker once. */
  const flush = () => {
    flushing = false
    if (!alive) return
    published = submitted
    Atomics.store(ctl, SUBMITTED, submitted)
    Atomics.notify(ctl, SUBMITTED)
    watch()
  }

  const fail = () => {
    if (!alive) return
    alive = false
    port1.close()
    // the jobs it had: undefined, so each is done again elsewhere
    collected = submitted
    for (const done of pending.splice(0)) done(undefined)
  }
  worker.on("error", fail)
  worker.on("exit", fail)

  return {
    sign(alg, key, input, done) {
      if (!alive || input.length > DATA || submitted - collected >= SLOTS) return false
      let id = keyIds.get(key)
      if (id === undefined) {
        id = nextKeyId++
        keyIds.set(key, id)
        port1.postMessage({ id, key })
      }
      const at = (submitted % SLOTS) * SLOT
      view.setInt32(at, id, true)
      view.setInt32(at + 4, alg === "ES256" ? 0 : 1, true)
      view.setInt32(at + 8, input.length, true)
      bytes.set(input, at + HEADER)
      if (submitted === collected) worker.ref()
      pending.push(done)
      submitted++
      if (!flushing) {
        flushing = true
        host.setImmediate(flush)
      }
      return true
    },
    async close() {
      if (!alive) return
      Atomics.store(ctl, STOP, 1)
      Atomics.notify(ctl, SUBMITTED)
      fail()
      await worker.terminate()
    }
  }
}
