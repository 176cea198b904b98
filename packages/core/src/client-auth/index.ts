/**
 * Client authentication at the token, introspection and revocation endpoints
 * (RFC 6749 §2.3, §3.2.1; RFC 7662 §2.1; RFC 7009 §2.1): find which one method the request
 * uses, check it is the client's registered `token_endpoint_auth_method`, verify it.
 * One file per method, named by its wire id (RFC 7591 §2).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { Clients } from "../clients.js"
import { GatehouseConfig, type RateLimitSetting } from "../config.js"
import { ClientAuthRateLimited, InvalidClient, InvalidRequest, type StorageError } from "../errors.js"
import type { Params } from "../http/request.js"
import type { ClientRecord } from "../ports/ClientStore.js"
import { Crypto } from "../ports/Crypto.js"
import { Events } from "../ports/Events.js"
import { RateLimiter } from "../ports/RateLimiter.js"
import type { ReplayCache } from "../ports/ReplayCache.js"
import * as RateLimit from "../rate-limit/index.js"
import type { TokenEndpointAuthMethod } from "../schema/client.js"
import * as clientSecretBasic from "./client_secret_basic.js"
import * as clientSecretPost from "./client_secret_post.js"
import * as none from "./none.js"
import * as privateKeyJwt from "./private_key_jwt.js"
import type { IncomingRequest } from "../http/incoming.js"
import { millisIn } from "../time.js"

export { ASSERTION_ALGS, JWT_BEARER, MAX_ASSERTION_LIFETIME_S } from "./private_key_jwt.js"

/** The client authentication methods this server supports (RFC 8414 §2 `token_endpoint_auth_methods_supported`). */
export const SUPPORTED_METHODS: ReadonlyArray<TokenEndpointAuthMethod> = [
  clientSecretBasic.METHOD,
  clientSecretPost.METHOD,
  privateKeyJwt.METHOD,
  none.METHOD
]

export interface ClientAuthContext {
  readonly request: IncomingRequest
  /** the request's form parameters (read once by the endpoint) */
  readonly params: Params
  /** absolute URL of the endpoint being called: an accepted `aud` of private_key_jwt assertions */
  readonly endpoint: string
}

/** What authenticating a client needs. */
export type ClientAuthServices = Clients | Crypto | Events | ReplayCache | RateLimiter | GatehouseConfig

/** Every way authenticating a client can fail. */
export type ClientAuthError = InvalidClient | InvalidRequest | ClientAuthRateLimited | StorageError

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
      // eager: parsed credentials are a finished effect, taken without a fiber step
      return Effect.flatMapEager(clientSecretBasic.read(ctx.request), (credentials): Effect.Effect<Presented, InvalidClient | InvalidRequest> => {
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
      return Effect.mapEager(clientSecretPost.read(ctx.params), (credentials) =>
        ({ method: "client_secret_post", clientId: credentials.clientId, credentials }) satisfies Presented)
    case "private_key_jwt":
      return Effect.mapEager(privateKeyJwt.read(ctx.params), (credentials) =>
        ({ method: "private_key_jwt", clientId: credentials.clientId, credentials }) satisfies Presented)
    default:
      return Effect.mapEager(none.read(ctx.params), ({ clientId }) => ({ method: "none", clientId }) satisfies Presented)
  }
}

const verify = (crypto: Crypto["Service"], presented: Presented, client: ClientRecord | undefined, endpoint: string) => {
  switch (presented.method) {
    case "client_secret_basic":
      return clientSecretBasic.verify(crypto, client, presented.credentials)
    case "client_secret_post":
      return clientSecretPost.verify(crypto, client, presented.credentials)
    case "private_key_jwt":
      return privateKeyJwt.verify(client, presented.credentials, endpoint)
    case "none":
      return none.verify(client)
  }
}

/** The one description of a rate-limited refusal (the same for known and unknown client ids). */
export const RATE_LIMITED = "too many failed client authentications; try again later"

/** The host's `rateLimit.clientAddress` of the request; a throwing or empty reader gives none. */
const addressOf = (read: ((request: IncomingRequest) => string | undefined) | undefined, request: IncomingRequest): string | undefined => {
  if (read === undefined) return undefined
  try {
    const address = read(request)
    return typeof address === "string" && address !== "" ? address : undefined
  } catch {
    return undefined
  }
}

/**
 * RFC 6749 §10.10 ("MUST prevent attackers from guessing ... client credentials"): a budget
 * of failed authentications (config `rateLimit.clientAuth`) per client id, and per address
 * when the host tells the address.
 * Unknown client ids are counted like known ones, so the limit says nothing about which exist.
 *
 * - A key that spent its budget in the current window refuses the request BEFORE the
 *   credentials are checked: 429 `invalid_client` with `Retry-After`, even for the right secret.
 * - Only `invalid_client` failures count (wrong or unknown credentials, wrong method), one
 *   atomic `hit` per key, after the check. Successful authentications write nothing: a busy
 *   client's requests only read its counter. The price: requests already in flight when the
 *   budget runs out are still checked (at most `max` + the concurrent requests per window).
 *   Client secrets are 256-bit random values, assertions are signed: the budget is there
 *   against weak static secrets and noise, not a 2^256 search.
 * - A success does not reset the count: otherwise an attacker's guesses, interleaved with
 *   the real client's requests, would never reach the limit.
 */
const limited = Effect.fnUntraced(function*(
  ctx: ClientAuthContext,
  attempted: ReadonlyArray<TokenEndpointAuthMethod>,
  authenticate: (presented: Presented) => Effect.Effect<ClientRecord, ClientAuthError, ClientAuthServices>,
  failed: (clientId: string | undefined, method: string) => (error: ClientAuthError) => Effect.Effect<void>,
  services: Context.Context<ClientAuthServices>
): Effect.fn.Return<ClientRecord, ClientAuthError, ClientAuthServices> {
  const config = Context.get(services, GatehouseConfig)
  const limiter = Context.get(services, RateLimiter)
  const crypto = Context.get(services, Crypto)
  const setting = config.rateLimit.clientAuth
  const now = millisIn(services)
  const address = addressOf(config.rateLimit.clientAddress, ctx.request)
  const addressKey = address === undefined ? undefined : yield* RateLimit.limitKeyWith(crypto, "client_auth", "address", address)
  const addressKeys = addressKey === undefined ? NO_KEYS : [addressKey]
  const onGuess = (keys: ReadonlyArray<string>, clientId: string | undefined, method: string) => {
    const event = failed(clientId, method)
    // a guess counts against each key, then the refusal is an event
    return (error: ClientAuthError) =>
      error._tag === "InvalidClient" && keys.length > 0
        ? Effect.andThen(RateLimit.countFailure(keys, setting, now), event(error))
        : event(error)
  }
  const presented = yield* (addressKey === undefined ? present(ctx, attempted) : Effect.andThen(refuseIfSpent(limiter, addressKey, setting, now), present(ctx, attempted)))
    .pipe(Effect.tapError(onGuess(addressKeys, ctx.params.get("client_id")?.[0], attempted.join("+"))))
  const clientKey = yield* RateLimit.limitKeyWith(crypto, "client_auth", "client", presented.clientId)
  // the address's budget was checked above: now the client id's
  return yield* Effect.andThen(refuseIfSpent(limiter, clientKey, setting, now), authenticate(presented)).pipe(
    Effect.tapError(onGuess([clientKey, ...addressKeys], presented.clientId, presented.method))
  )
})

const NO_KEYS: ReadonlyArray<string> = []

/** Refuse (429 `invalid_client`) when `key` has spent its budget. */
const refuseIfSpent = (limiter: RateLimiter["Service"], key: string, setting: RateLimitSetting, now: number) =>
  Effect.flatMap(RateLimit.lockedForKey(limiter, key, setting, now), (retryAfter) =>
    retryAfter === undefined
      ? Effect.void
      : Effect.fail(new ClientAuthRateLimited({ description: RATE_LIMITED, detail: "client authentication rate limit", retryAfter })))

/**
 * Authenticate the client of a token, introspection or revocation request.
 *
 * - exactly one method per request (RFC 6749 §2.3), else `invalid_request`;
 * - no credentials and no `client_id`, an unknown client, wrong credentials, or a method
 *   other than the client's registered `token_endpoint_auth_method` (RFC 7591 §2):
 *   `invalid_client` (RFC 6749 §5.2), with scheme "Basic" when the client tried HTTP Basic
 *   (the renderer then answers 401 with `WWW-Authenticate`);
 * - a request presenting credentials is within the failure budget of its client id and
 *   address (`limited` above): past it, 429 `invalid_client` with `Retry-After`;
 * - every refusal (not a storage failure) emits a `client_auth.failed` event.
 */
export const authenticateClient = (
  ctx: ClientAuthContext
): Effect.Effect<ClientRecord, ClientAuthError, ClientAuthServices> =>
  // the services read once from the request's context (one step, not one per service)
  Effect.contextWith((services: Context.Context<ClientAuthServices>) => {
    const events = Context.get(services, Events)
    const clients = Context.get(services, Clients)
    const crypto = Context.get(services, Crypto)
    const attempted = methodsAttempted(ctx)
    const failed = (clientId: string | undefined, method: string) => (error: ClientAuthError) =>
      error._tag === "StorageError" ? Effect.void : events.emit({ type: "client_auth.failed", clientId, method })
    const authenticate = (presented: Presented) =>
      // eager: a client already in hand (static clients) is a finished effect
      Effect.flatMapEager(clients.find(presented.clientId), (client): Effect.Effect<ClientRecord, ClientAuthError, ClientAuthServices> => {
        if (client !== undefined && client.metadata.token_endpoint_auth_method !== presented.method) {
          return Effect.fail(new InvalidClient({
            description: `the client must authenticate with ${client.metadata.token_endpoint_auth_method}, not ${presented.method}`,
            // RFC 6749 §5.2: the client attempted HTTP auth -> the 401 carries a Basic challenge
            scheme: presented.method === "client_secret_basic" ? "Basic" : undefined
          }))
        }
        return verify(crypto, presented, client, ctx.endpoint)
      })
    // credentials presented: they could be guesses, within the failure budget
    if (attempted.length > 0) return limited(ctx, attempted, authenticate, failed, services)
    // `none` (RFC 6749 §2.1 public client): no credential to guess, nothing counted. Limiting
    // it would only let anyone lock every user of a public client out.
    return present(ctx, attempted).pipe(
      Effect.tapError(failed(ctx.params.get("client_id")?.[0], none.METHOD)),
      Effect.flatMap((presented) => authenticate(presented).pipe(Effect.tapError(failed(presented.clientId, presented.method))))
    )
  })
