/** Postgres for the tests: the server at GATEHOUSE_TEST_PG_URL (default 127.0.0.1:5432/test), one fresh schema per use. */
import { randomBytes } from "node:crypto"
import pg from "pg"

export const PG_URL = process.env["GATEHOUSE_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

/** A schema name no other run uses. */
export const freshSchema = (): string => `gh_test_${randomBytes(6).toString("hex")}`

/** Run `f` on a plain client (no search_path), then close it. */
export const withClient = async <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

export const dropSchema = (schema: string): Promise<void> =>
  withClient(async (client) => {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  })
