/** Audit events: issued, denied, revoked, reuse detected. */
import { Context, Effect, Layer } from "effect"

export type GatehouseEvent =
  | { readonly type: "token.issued"; readonly grantType: string; readonly clientId: string; readonly accountId?: string | undefined; readonly grantId: string; readonly scope: ReadonlyArray<string> }
  | { readonly type: "authorization.denied"; readonly clientId: string; readonly error: string }
  | { readonly type: "authorization.granted"; readonly clientId: string; readonly accountId: string; readonly scope: ReadonlyArray<string> }
  | { readonly type: "grant.revoked"; readonly grantId: string; readonly reason: "code_replay" | "refresh_token_reuse" | "revocation" | "client_deleted" }
  | { readonly type: "token.revoked"; readonly clientId: string; readonly tokenType: "access_token" | "refresh_token" }
  | { readonly type: "client.registered"; readonly clientId: string }
  | { readonly type: "client.deleted"; readonly clientId: string }
  | { readonly type: "client_auth.failed"; readonly clientId?: string | undefined; readonly method: string }

export class Events extends Context.Service<Events, {
  emit(event: GatehouseEvent): Effect.Effect<void>
}>()("@gatehouse/core/ports/Events") {
  /** Discards events. */
  static readonly layerNoop = Layer.succeed(Events, Events.of({ emit: () => Effect.void }))
  /** Calls a plain callback (errors in it are swallowed). */
  static readonly layerCallback = (fn: (event: GatehouseEvent) => void) =>
    Layer.succeed(Events, Events.of({
      emit: (event) => Effect.sync(() => {
        try {
          fn(event)
        } catch {
          // an audit sink must not break the protocol
        }
      })
    }))
}
