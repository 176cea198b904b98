/** ReplayCache on drizzle: INSERT ... ON CONFLICT DO NOTHING RETURNING decides the first use. */
import { ReplayCache } from "@gatehouse/core"
import { Effect } from "effect"
import type { Dialect } from "../dialect.js"
import { sweepExpired } from "./codec.js"

export const makeReplayCache = (d: Dialect): ReplayCache["Service"] => {
  const t = d.tables.replay
  return ReplayCache.of({
    use: (key, expiresAt) =>
      d.rows(d.db.insert(t).values({ key, expiresAt }).onConflictDoNothing().returning({ key: t.key })).pipe(
        Effect.map((rows) => rows.length === 1)
      ),
    sweep: (now) => sweepExpired(d, t, t.key, t.expiresAt, now)
  })
}
