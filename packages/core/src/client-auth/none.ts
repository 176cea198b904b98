/**
 * `none`: a public client (RFC 6749 §2.1, RFC 7591 §2), identified by `client_id` alone and
 * not authenticated. What keeps its grants safe is elsewhere: PKCE (RFC 7636, required for
 * public clients) and refresh-token rotation (RFC 9700 §4.14.2).
 */
import * as Effect from "effect/Effect"
import { InvalidClient } from "../errors.js"
import { optionalParam, type Params } from "../http/request.js"
import type { ClientRecord } from "../ports/ClientStore.js"
import { AUTH_FAILED } from "./client_secret_basic.js"

export const METHOD = "none" as const

/**
 * RFC 6749 §3.2.1: a client that does not authenticate sends its `client_id`. Without it the
 * request carries no client at all: `invalid_client` (RFC 6749 §5.2 "no client
 * authentication included").
 */
export const read = Effect.fnUntraced(function*(params: Params) {
  const clientId = yield* optionalParam(params, "client_id")
  if (clientId === undefined) {
    return yield* new InvalidClient({ description: "client authentication is required (or client_id for a public client)" })
  }
  return { clientId }
})

/** The client exists: that is all `none` can check. */
export const verify = (client: ClientRecord | undefined): Effect.Effect<ClientRecord, InvalidClient> =>
  client === undefined
    ? Effect.fail(new InvalidClient({ description: AUTH_FAILED, detail: "unknown client" }))
    : Effect.succeed(client)
