/** Build a storage layer, run one effect against it, close it. */
import type { StoragePorts } from "@gatehouse/drizzle"
import { Effect, type Layer } from "effect"

export const withStorage = <A, E>(
  layer: Layer.Layer<StoragePorts, unknown>,
  effect: Effect.Effect<A, E, StoragePorts>
): Promise<A> => Effect.runPromise(Effect.provide(effect, layer))

/** What building `layer` or running `effect` failed with (rejects if both succeeded). */
export const failureOf = <A, E>(
  layer: Layer.Layer<StoragePorts, unknown>,
  effect: Effect.Effect<A, E, StoragePorts>
): Promise<{ readonly _tag?: string; readonly description?: string; readonly detail?: string }> =>
  Effect.runPromise(Effect.flip(Effect.provide(effect, layer))) as Promise<
    { readonly _tag?: string; readonly description?: string; readonly detail?: string }
  >
