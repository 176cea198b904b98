/**
 * Expired-row cleanup: `sweepAll` runs every port's `sweep` once; `sweeper` runs it in a
 * background fiber every interval. A sweep deletes in small batches (stores/codec.ts), so
 * requests are never held behind it; a failed sweep is logged and the next one runs as
 * planned. Works over any StoragePorts layer, the in-memory one included.
 */
import {
  AccessTokenStore,
  AuthorizationCodeStore,
  GnapGrantStore,
  GrantStore,
  InteractionStore,
  RefreshTokenStore,
  ReplayCache,
  DeviceCodeStore,
  UserCodeStore,
  RateLimiter,
  StorageError
} from "@gatehouse/core"
import { Cause, Clock, type Duration, Effect, Layer, Schedule } from "effect"
import type { StoragePorts } from "./stores/index.js"

/** How many rows each sweep removed. */
export interface SweepReport {
  readonly authorizationCodes: number
  readonly refreshTokens: number
  readonly accessTokens: number
  readonly grants: number
  readonly interactions: number
  readonly replay: number
  /** RFC 8628 device codes */
  readonly deviceCodes: number
  /** user codes and their failure windows */
  readonly userCodes: number
  /** RateLimiter windows (client authentication, login) */
  readonly rateLimits: number
}

/** Delete every row that expired before `now` (default: the Clock's time), in every port. */
export const sweepAll = (now?: number): Effect.Effect<SweepReport, StorageError, StoragePorts> =>
  Effect.gen(function*() {
    const at = now ?? (yield* Clock.currentTimeMillis)
    return {
      authorizationCodes: yield* AuthorizationCodeStore.use((s) => s.sweep(at)),
      refreshTokens: yield* RefreshTokenStore.use((s) => s.sweep(at)),
      accessTokens: yield* AccessTokenStore.use((s) => s.sweep(at)),
      // sessions, and GNAP grants (RFC 9635) with their tokens
      grants: (yield* GrantStore.use((s) => s.sweep(at))) +
        (yield* GnapGrantStore.use((s) => Effect.zipWith(s.sweep(at), s.sweepTokens(at), (a, b) => a + b))),
      interactions: yield* InteractionStore.use((s) => s.sweep(at)),
      replay: yield* ReplayCache.use((s) => s.sweep(at)),
      deviceCodes: yield* DeviceCodeStore.use((s) => s.sweep(at)),
      userCodes: yield* UserCodeStore.use((s) => s.sweep(at)),
      rateLimits: yield* RateLimiter.use((s) => s.sweep(at))
    }
  })

/** The sweeping loop: first run one interval after start, then every interval. */
export const sweepForever = (interval: Duration.Input): Effect.Effect<never, never, StoragePorts> => {
  const sweepOnce = sweepAll().pipe(
    Effect.tap((report) => Effect.logDebug("@gatehouse/drizzle: swept expired rows", report)),
    Effect.catchCause((cause) => {
      const error = Cause.squash(cause)
      return Effect.logWarning(
        "@gatehouse/drizzle: sweep failed, retrying next interval",
        error instanceof StorageError ? (error.detail ?? error.description ?? error) : error
      )
    })
  )
  return Effect.sleep(interval).pipe(
    Effect.andThen(Effect.repeat(sweepOnce, Schedule.spaced(interval))),
    Effect.andThen(Effect.never)
  )
}

/**
 * A layer that sweeps expired rows every `interval` in a background fiber, for as long
 * as the layer lives. Provide it with any StoragePorts layer.
 */
export const sweeper = (interval: Duration.Input): Layer.Layer<never, never, StoragePorts> =>
  Layer.effectDiscard(Effect.forkScoped(sweepForever(interval)))
