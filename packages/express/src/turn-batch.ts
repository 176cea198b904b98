/**
 * Requests handled together, once per turn of the event loop.
 *
 * node:http parses each connection's data in its own callback, and whatever that callback
 * starts runs to its end before the next connection is read: parse, handle, write the answer,
 * then the next connection. Under load, a turn of the loop reads many connections, and this
 * interleaving pays for itself: each request goes through node:http's code, then Gatehouse's,
 * then the kernel's send path, then node:http's again, so no part stays in the CPU's caches,
 * and the answers leave one at a time between other work.
 *
 * Deferring the handler to `setImmediate` (the loop's check phase, right after the poll phase
 * that read the connections, in the same turn) groups the work instead: every request this
 * turn read is parsed, then all are handled one after the other in one callback, then their
 * answers (the handlers' promise callbacks, run after that callback) are written one after
 * the other. Nothing waits for a timer: a lone request is handled in the turn that read it.
 *
 * `bench/README.md` ("Eighth round") has the measurements.
 */

type Job = () => void

/**
 * The loop's `setImmediate`, taken when this module loads: a test that installs fake timers
 * afterwards (vitest's `useFakeTimers` fakes `setImmediate` by default) still gets its
 * requests answered.
 */
const immediate: (callback: () => void) => unknown = globalThis.setImmediate

let queue: Array<Job> = []

const drain = () => {
  const jobs = queue
  queue = []
  for (let i = 0; i < jobs.length; i++) {
    // a job catches its own failures (`inTurnBatch`): one cannot keep the others from running
    jobs[i]!()
  }
}

/**
 * Run `job` with every other job queued in this turn of the event loop, in the order queued.
 * A job that throws is handed to `onThrow` (the request's own error path), and the rest of
 * the batch still runs.
 */
export const inTurnBatch = (job: Job, onThrow: (error: unknown) => void): void => {
  queue.push(() => {
    try {
      job()
    } catch (error) {
      onThrow(error)
    }
  })
  if (queue.length === 1) immediate(drain)
}
