/**
 * Client authentication at the token, introspection and revocation endpoints
 * (RFC 6749 §2.3, §3.2.1; RFC 7662 §2.1; RFC 7009 §2.1): find which one method the request
 * uses, check it is the client's registered `token_endpoint_auth_method`, verify it.
 * One file per method, named by its wire id (RFC 7591 §2).
 */
import { Effect } from "effect"
import { Clients } from "../clients.js"
import type { GatehouseConfig } from "../config.js"
import { InvalidClient, InvalidRequest, type StorageError } from "../errors.js"
import type { Params } from "../http/request.js"
import type { ClientRecord } from "../ports/ClientStore.js"
import type { Crypto } from "../ports/Crypto.js"
import { Events } from "../ports/Events.js"
import type { ReplayCache } from "../ports/ReplayCache.js"
import type { TokenEndpointAuthMethod } from "../schema/client.js"
import * as clientSecretBasic from "./client_secret_basic.js"
import * as clientSecretPost from "./client_secret_post.js"
import * as none from "./none.js"
import * as privateKeyJwt from "./private_key_jwt.js"

export { ASSERTION_ALGS, JWT_BEARER, MAX_ASSERTION_LIFETIME_S } from "./private_key_jwt.js"

/** The client authentication methods this server supports (RFC 8414 §2 `token_endpoint_auth_methods_supported`). */
export const SUPPORTED_METHODS: ReadonlyArray<TokenEndpointAuthMethod> = [
  clientSecretBasic.METHOD,
  clientSecretPost.METHOD,
  privateKeyJwt.METHOD,
  none.METHOD
]

export interface ClientAuthContext {
  readonly request: Request
  /** the request's form parameters (read once by the endpoint) */
  readonly params: Params
  /** absolute URL of the endpoint being called: an accepted `aud` of private_key_jwt assertions */
  readonly endpoint: string
}

/** What authenticating a client needs. */
export type ClientAuthServices = Clients | Crypto | Events | ReplayCache | GatehouseConfig

type Presented =
  | { readonly method: "client_secret_basic"; readonly clientId: string; readonly credentials: { readonly clientId: string; readonly clientSecret: string } }
  | { readonly method: "client_secret_post"; readonly clientId: string; readonly credentials: clientSecretPost.PostCredentials }
  | { readonly method: "private_key_jwt"; readonly clientId: string; readonly credentials: privateKeyJwt.AssertionCredentials }
  | { readonly method: "none"; readonly clientId: string }

/** Which methods the request carries credentials for, before parsing any of them. */
const methodsAttempted = (ctx: ClientAuthContext): ReadonlyArray<TokenEndpointAuthMethod> => [
  ...(clientSecretBasic.attempted(ctx.request) ? [clientSecretBasic.METHOD] : []),
  ...(clientSecretPost.attempted(ctx.params) ? [clientSecretPost.METHOD] : []),
  ...(privateKeyJwt.attempted(ctx.params) ? [privateKeyJwt.METHOD] : [])
]

/** RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request." */
const present = (
  ctx: ClientAuthContext,
  attempted: ReadonlyArray<TokenEndpointAuthMethod>
): Effect.Effect<Presented, InvalidClient | InvalidRequest> => {
  if (attempted.length > 1) {
    return Effect.fail(new InvalidRequest({
      description: `more than one client authentication method used (${attempted.join(", ")}); use exactly one`
    }))
  }
  switch (attempted[0]) {
    case "client_secret_basic":
      return Effect.flatMap(clientSecretBasic.read(ctx.request), (credentials): Effect.Effect<Presented, InvalidClient | InvalidRequest> => {
        if (credentials === undefined) {
          return Effect.fail(new InvalidClient({ description: "malformed HTTP Basic credentials", scheme: "Basic" }))
        }
        // RFC 6749 §2.3.1: a client_id in the body besides Basic must name the same client
        const values = ctx.params.get("client_id") ?? []
        if (values.some((v) => v !== "" && v !== credentials.clientId)) {
          return Effect.fail(new InvalidRequest({ description: "client_id does not match the client of the Authorization header" }))
        }
        return Effect.succeed({ method: "client_secret_basic", clientId: credentials.clientId, credentials } satisfies Presented)
      })
    case "client_secret_post":
      return Effect.map(clientSecretPost.read(ctx.params), (credentials) =>
        ({ method: "client_secret_post", clientId: credentials.clientId, credentials }) satisfies Presented)
    case "private_key_jwt":
      return Effect.map(privateKeyJwt.read(ctx.params), (credentials) =>
        ({ method: "private_key_jwt", clientId: credentials.clientId, credentials }) satisfies Presented)
    default:
      return Effect.map(none.read(ctx.params), ({ clientId }) => ({ method: "none", clientId }) satisfies Presented)
  }
}

const verify = (presented: Presented, client: ClientRecord | undefined, endpoint: string) => {
  switch (presented.method) {
    case "client_secret_basic":
      return clientSecretBasic.verify(client, presented.credentials)
    case "client_secret_post":
      return clientSecretPost.verify(client, presented.credentials)
    case "private_key_jwt":
      return privateKeyJwt.verify(client, presented.credentials, endpoint)
    case "none":
      return none.verify(client)
  }
}

/**
 * Authenticate the client of a token, introspection or revocation request.
 *
 * - exactly one method per request (RFC 6749 §2.3), else `invalid_request`;
 * - no credentials and no `client_id`, an unknown client, wrong credentials, or a method
 *   other than the client's registered `token_endpoint_auth_method` (RFC 7591 §2):
 *   `invalid_client` (RFC 6749 §5.2), with scheme "Basic" when the client tried HTTP Basic
 *   (the renderer then answers 401 with `WWW-Authenticate`);
 * - every refusal (not a storage failure) emits a `client_auth.failed` event.
 */
export const authenticateClient = (
  ctx: ClientAuthContext
): Effect.Effect<ClientRecord, InvalidClient | InvalidRequest | StorageError, ClientAuthServices> =>
  Effect.flatMap(Events, (events) => {
    const attempted = methodsAttempted(ctx)
    const failed = (clientId: string | undefined, method: string) => (error: InvalidClient | InvalidRequest | StorageError) =>
      error._tag === "StorageError" ? Effect.void : events.emit({ type: "client_auth.failed", clientId, method })
    const hint = ctx.params.get("client_id")?.[0]
    return present(ctx, attempted).pipe(
      Effect.tapError(failed(hint, attempted.length === 0 ? none.METHOD : attempted.join("+"))),
      Effect.flatMap((presented) =>
        Effect.flatMap(Clients, (clients) => clients.find(presented.clientId)).pipe(
          Effect.flatMap((client): Effect.Effect<ClientRecord, InvalidClient | InvalidRequest | StorageError, ClientAuthServices> => {
            if (client !== undefined && client.metadata.token_endpoint_auth_method !== presented.method) {
              return Effect.fail(new InvalidClient({
                description: `the client must authenticate with ${client.metadata.token_endpoint_auth_method}, not ${presented.method}`,
                // RFC 6749 §5.2: the client attempted HTTP auth -> the 401 carries a Basic challenge
                scheme: presented.method === "client_secret_basic" ? "Basic" : undefined
              }))
            }
            return verify(presented, client, ctx.endpoint)
          }),
          Effect.tapError(failed(presented.clientId, presented.method))
        ))
    )
  })
