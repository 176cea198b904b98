/**
 * The storage conformance suite on Postgres, in a schema of its own (dropped afterwards):
 * every connect() opens a new pool. An unreachable server fails the suite; it never skips.
 */
import { DrizzleStorage } from "@gatehouse/drizzle"
import { storageConformance } from "@gatehouse/testkit"
import { randomBytes } from "node:crypto"
import { expect, it } from "vitest"
import { dropSchema, freshSchema, PG_URL, withClient } from "./pg.js"

it(`Postgres answers at ${PG_URL.replace(/:[^:@/]*@/, ":***@")} (set GATEHOUSE_TEST_PG_URL to use another server)`, async () => {
  const result = await withClient((client) => client.query<{ one: number }>("SELECT 1 AS one"))
  expect(result.rows).toEqual([{ one: 1 }])
})

const schema = freshSchema()
const kek = randomBytes(32).toString("base64url")

storageConformance("postgres", {
  connect: () => DrizzleStorage.postgres({ connectionString: PG_URL, schema, kek, max: 5, sweepIntervalMs: false }),
  teardown: () => dropSchema(schema)
})
