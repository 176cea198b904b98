/**
 * The fiber's clock read from a context already in hand. `yield* Clock.currentTimeMillis` is
 * two fiber steps (read the fiber's clock, then call it); a workflow that has read its
 * services with one `Effect.context()` holds the same clock in that context (the
 * `TestClock`, in tests), so reading it there costs nothing.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"

/** Milliseconds since the epoch by the context's `Clock` (the default clock when none is provided). */
export const millisIn = (context: Context.Context<never>): number => Context.get(context, Clock.Clock).currentTimeMillisUnsafe()
