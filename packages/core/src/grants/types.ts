/**
 * What a grant workflow is: given the authenticated client and the token request's
 * parameters, validate, consume the single-use thing atomically, issue tokens. The token
 * endpoint only parses, authenticates the client and renders (RFC 6749 §3.2).
 */
import type * as Effect from "effect/Effect"
import type { ProtocolError } from "../errors.js"
import type { Params } from "../http/request.js"
import type { ClientRecord } from "../ports/ClientStore.js"
import type { IncomingRequest } from "../http/incoming.js"

/** RFC 6749 §5.1 successful response body. */
export interface TokenResponse {
  readonly access_token: string
  readonly token_type: "Bearer"
  readonly expires_in: number
  readonly refresh_token?: string
  readonly scope?: string
  readonly id_token?: string
  /** RFC 8693 / RFC 9068 informational */
  readonly issued_token_type?: string
}

export interface GrantContext {
  readonly client: ClientRecord
  readonly params: Params
  readonly request: IncomingRequest
}

export interface GrantHandler<R> {
  /** the wire id, RFC 6749 §4.1.3 `authorization_code`, ... */
  readonly grantType: string
  readonly handle: (ctx: GrantContext) => Effect.Effect<TokenResponse, ProtocolError, R>
}
