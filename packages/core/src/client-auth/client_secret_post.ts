/**
 * `client_secret_post`: `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1,
 * "NOT RECOMMENDED" there but registered by RFC 7591 §2 and widely used).
 */
import * as Effect from "effect/Effect"
import { InvalidRequest } from "../errors.js"
import { optionalParam, type Params } from "../http/request.js"
import type { ClientRecord } from "../ports/ClientStore.js"
import type { Crypto } from "../ports/Crypto.js"
import { verifySecret } from "./client_secret_basic.js"

export const METHOD = "client_secret_post" as const

export interface PostCredentials {
  readonly clientId: string
  readonly clientSecret: string
}

/**
 * Does the body carry a secret? An empty `client_secret` counts as absent (RFC 6749 §2.3.1:
 * a client with an empty secret may omit it; RFC 6749 §3.1: empty = omitted).
 */
export const attempted = (params: Params): boolean => (params.get("client_secret") ?? []).some((v) => v !== "")

/** RFC 6749 §2.3.1: both parameters REQUIRED, each at most once (§3.2). */
export const read = Effect.fnUntraced(function*(params: Params) {
  const clientSecret = yield* optionalParam(params, "client_secret")
  const clientId = yield* optionalParam(params, "client_id")
  if (clientId === undefined) {
    return yield* new InvalidRequest({ description: `parameter "client_id" is required with "client_secret"` })
  }
  if (clientSecret === undefined) {
    return yield* new InvalidRequest({ description: `parameter "client_secret" is required` })
  }
  return { clientId, clientSecret } satisfies PostCredentials
})

/** RFC 6749 §2.3.1: authenticate with the body credentials. */
export const verify = (crypto: Crypto["Service"], client: ClientRecord | undefined, credentials: PostCredentials) =>
  verifySecret(crypto, client, credentials.clientSecret, undefined)
