/**
 * The in-memory `RateLimiter` (failure windows of client authentication and login). Every
 * operation reads and writes the map in one synchronous step, so it is atomic for every
 * layer built over the same map, like one statement on a database.
 */
import { type RateLimitCount, RateLimiter } from "@gatehouse/core"
import * as Effect from "effect/Effect"

/** The table: key -> its current window. */
export type RateLimitTable = Map<string, RateLimitCount>

export const memoryRateLimiter = (table: RateLimitTable): RateLimiter["Service"] =>
  RateLimiter.of({
    hit: (key, now, windowMs) =>
      Effect.sync(() => {
        const stored = table.get(key)
        // a window that ended restarts at 1; otherwise one more in the same window
        const next = stored === undefined || stored.resetsAt <= now
          ? { count: 1, resetsAt: now + windowMs }
          : { count: stored.count + 1, resetsAt: stored.resetsAt }
        table.set(key, next)
        return next
      }),
    peek: (key, now) =>
      Effect.sync(() => {
        const stored = table.get(key)
        return stored === undefined || stored.resetsAt <= now ? undefined : stored
      }),
    forgive: (key, now) =>
      Effect.sync(() => {
        const stored = table.get(key)
        if (stored === undefined || stored.resetsAt <= now || stored.count === 0) return
        table.set(key, { count: stored.count - 1, resetsAt: stored.resetsAt })
      }),
    sweep: (now) =>
      Effect.sync(() => {
        let removed = 0
        for (const [key, window] of table) {
          if (window.resetsAt < now) {
            table.delete(key)
            removed++
          }
        }
        return removed
      })
  })
