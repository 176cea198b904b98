/**
 * Client lookup: statically configured clients (secrets hashed at start-up, never kept in
 * clear) in front of the ClientStore port (registered clients).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GatehouseConfig, type StaticClient } from "./config.js"
import type { StorageError } from "./errors.js"
import { type ClientRecord, ClientStore } from "./ports/ClientStore.js"
import { Crypto } from "./ports/Crypto.js"
import type { ClientMetadata } from "./schema/client.js"

/** RFC 7591 §2 defaults: grant_types ["authorization_code"], response_types ["code"]. */
export const staticClientMetadata = (c: StaticClient): ClientMetadata => {
  const { client_id: _id, client_secret: secret, ...rest } = c
  return {
    ...rest,
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? (secret ? "client_secret_basic" : "none"),
    grant_types: c.grant_types ?? ["authorization_code"],
    response_types: c.response_types ?? ["code"]
  }
}

export class Clients extends Context.Service<Clients, {
  find(clientId: string): Effect.Effect<ClientRecord | undefined, StorageError>
  /** true for statically configured clients (not manageable through RFC 7592) */
  isStatic(clientId: string): boolean
}>()("@gatehouse/core/clients/Clients") {
  static readonly layer = Layer.effect(
    Clients,
    Effect.gen(function*() {
      const config = yield* GatehouseConfig
      const crypto = yield* Crypto
      const store = yield* ClientStore
      const statics = new Map<string, ClientRecord>()
      for (const c of config.clients) {
        statics.set(c.client_id, {
          clientId: c.client_id,
          secretDigest: c.client_secret === undefined ? undefined : yield* crypto.digest(c.client_secret),
          secretExpiresAt: 0,
          metadata: staticClientMetadata(c),
          issuedAt: 0
        })
      }
      return Clients.of({
        find: (clientId) => {
          const s = statics.get(clientId)
          return s ? Effect.succeed(s) : store.find(clientId)
        },
        isStatic: (clientId) => statics.has(clientId)
      })
    })
  )
}
