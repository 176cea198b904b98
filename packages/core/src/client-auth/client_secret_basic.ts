/**
 * `client_secret_basic`: the client id and secret in an HTTP Basic `Authorization` header,
 * each form-urlencoded before base64 (RFC 6749 §2.3.1, Appendix B). Also home of the secret
 * check `client_secret_post` shares: both are RFC 6749 §2.3.1 "Client Password".
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { InvalidClient } from "../errors.js"
import { type BasicCredentials, parseBasicAuth } from "../http/request.js"
import type { ClientRecord } from "../ports/ClientStore.js"
import { Crypto } from "../ports/Crypto.js"
import type { IncomingRequest } from "../http/incoming.js"

export const METHOD = "client_secret_basic" as const

/**
 * The credentials of a Basic `Authorization` header; undefined when the request has none.
 * Malformed Basic credentials fail with `invalid_client` (scheme "Basic": 401 + challenge).
 */
export const read = (request: IncomingRequest): Effect.Effect<BasicCredentials | undefined, InvalidClient> => parseBasicAuth(request)

/** Has the request a Basic `Authorization` header at all (well-formed or not)? */
export const attempted = (request: IncomingRequest): boolean => /^Basic(\s|$)/i.test(request.headers.get("authorization") ?? "")

/**
 * Compared against when the client is unknown or has no secret, so those cases cost what a
 * wrong secret costs and timing does not tell which client ids exist. It is the base64url of
 * 32 zero bytes: matching it would take a SHA-256 preimage.
 */
const DUMMY_DIGEST = "A".repeat(43)

/** The one description for every failure before the secret is proven: no client enumeration. */
export const AUTH_FAILED = "client authentication failed"

/**
 * RFC 6749 §2.3.1: the presented secret against the stored SHA-256 digest, compared in
 * constant time (`Crypto.equal`); then RFC 7591 §3.2.1 `client_secret_expires_at`
 * (seconds, 0 = never). Unknown client, client without a secret and wrong secret are one
 * failure on the wire; the reason goes to `detail` only.
 */
export const verifySecret = (
  crypto: Crypto["Service"],
  client: ClientRecord | undefined,
  secret: string,
  scheme: "Basic" | undefined
): Effect.Effect<ClientRecord, InvalidClient> =>
  // eager: a synchronous digest is a finished effect
  Effect.flatMapEager(crypto.digest(secret), (presented): Effect.Effect<ClientRecord, InvalidClient> => {
    // compared whatever the case below, so every failure costs what a wrong secret costs
    const matches = crypto.equal(presented, client?.secretDigest ?? DUMMY_DIGEST)
    if (client === undefined) {
      return Effect.fail(new InvalidClient({ description: AUTH_FAILED, detail: "unknown client", scheme }))
    }
    if (client.secretDigest === undefined) {
      return Effect.fail(new InvalidClient({ description: AUTH_FAILED, detail: "client has no secret", scheme }))
    }
    if (!matches) return Effect.fail(new InvalidClient({ description: AUTH_FAILED, detail: "wrong client secret", scheme }))
    // RFC 7591 §3.2.1: an expired secret no longer authenticates
    if (client.secretExpiresAt === 0) return Effect.succeed(client)
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      client.secretExpiresAt <= Math.floor(now / 1000)
        ? Effect.fail(new InvalidClient({ description: "the client secret has expired", scheme }))
        : Effect.succeed(client))
  })

/** RFC 6749 §2.3.1: authenticate with the Basic credentials. */
export const verify = (crypto: Crypto["Service"], client: ClientRecord | undefined, credentials: BasicCredentials) =>
  verifySecret(crypto, client, credentials.clientSecret, "Basic")
