/**
 * Access tokens: JWTs per RFC 9068 (`typ: at+jwt`) or opaque random strings, per the
 * server default, the client and the requested resource (RFC 8707). Either way a record
 * keyed by digest (of the value, or of the `jti`) backs introspection and revocation.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { GatehouseConfig, type ResolvedConfig } from "../config.js"
import { InvalidTarget } from "../errors.js"
import { type AccessTokenRecord, AccessTokenStore } from "../ports/AccessTokenStore.js"
import type { ClientRecord } from "../ports/ClientStore.js"
import { Crypto } from "../ports/Crypto.js"
import { millisIn } from "../time.js"
import { Keys } from "./keys.js"

/**
 * RFC 8707 §2: the audience of the token. Each `resource` must be an absolute URI without a
 * fragment and one this server issues tokens for (the default audience or a configured
 * resource); otherwise `invalid_target`. No resource -> the default audience.
 */
export const resolveAudience = (
  config: ResolvedConfig,
  resource: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<string>, InvalidTarget> => {
  if (resource.length === 0) return Effect.succeed([config.accessToken.defaultAudience])
  for (const r of resource) {
    // configured resources were checked (absolute, no fragment) when the configuration was resolved
    if (config.resources.some((x) => x.uri === r)) continue
    if (!URL.canParse(r) || r.includes("#")) {
      return Effect.fail(new InvalidTarget({ description: `resource "${r}" must be an absolute URI without a fragment (RFC 8707 §2)` }))
    }
    if (r !== config.accessToken.defaultAudience) {
      return Effect.fail(new InvalidTarget({ description: `resource "${r}" is not served by this authorization server` }))
    }
  }
  return Effect.succeed(resource)
}

/** Token format: a single configured resource's format, else the client's, else the server default. */
export const accessTokenFormat = (config: ResolvedConfig, client: ClientRecord, audience: ReadonlyArray<string>): "jwt" | "opaque" => {
  if (audience.length === 1) {
    const r = config.resources.find((x) => x.uri === audience[0])
    if (r?.format) return r.format
  }
  return client.metadata.access_token_format ?? config.accessToken.format
}

export interface IssueAccessTokenInput {
  readonly grantId: string
  readonly client: ClientRecord
  readonly accountId?: string | undefined
  readonly scope: ReadonlyArray<string>
  readonly audience: ReadonlyArray<string>
  readonly authTime?: number | undefined
  readonly acr?: string | undefined
  readonly amr?: ReadonlyArray<string> | undefined
}

export interface IssuedAccessToken {
  readonly token: string
  readonly expiresIn: number
  readonly record: AccessTokenRecord
}

export const issueAccessToken = Effect.fnUntraced(function*(input: IssueAccessTokenInput) {
  // the services in one read of the fiber's context (one step, not one per service)
  const services = yield* Effect.context<GatehouseConfig | Crypto | AccessTokenStore | Keys>()
  const config = Context.get(services, GatehouseConfig)
  const crypto = Context.get(services, Crypto)
  const store = Context.get(services, AccessTokenStore)
  const now = millisIn(services)
  const iat = Math.floor(now / 1000)
  const expiresIn = config.ttl.accessToken
  const format = accessTokenFormat(config, input.client, input.audience)
  const extra: Record<string, unknown> = {}
  if (input.authTime !== undefined) extra["auth_time"] = input.authTime
  if (input.acr !== undefined) extra["acr"] = input.acr
  if (input.amr !== undefined) extra["amr"] = input.amr
  let token: string
  let digestOf: string
  if (format === "jwt") {
    const jti = yield* crypto.randomToken(16)
    const keys = Context.get(services, Keys)
    // RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti; scope §2.2.3; auth_time/acr/amr §2.2.1
    const payload: Record<string, unknown> = {
      iss: config.issuer,
      exp: iat + expiresIn,
      aud: input.audience.length === 1 ? input.audience[0]! : [...input.audience],
      sub: input.accountId ?? input.client.clientId,
      client_id: input.client.clientId,
      iat,
      jti
    }
    if (input.scope.length > 0) payload["scope"] = input.scope.join(" ")
    for (const name in extra) payload[name] = extra[name]
    token = yield* keys.sign(payload, { alg: config.accessToken.alg, typ: "at+jwt" })
    digestOf = `jti:${jti}`
  } else {
    token = yield* crypto.randomToken(32)
    digestOf = token
  }
  const record: AccessTokenRecord = {
    tokenDigest: yield* crypto.digest(digestOf),
    format,
    grantId: input.grantId,
    clientId: input.client.clientId,
    accountId: input.accountId,
    scope: input.scope,
    audience: input.audience,
    issuedAt: now,
    expiresAt: now + expiresIn * 1000,
    extra: Object.keys(extra).length > 0 ? JSON.stringify(extra) : undefined
  }
  yield* store.save(record)
  return { token, expiresIn, record } satisfies IssuedAccessToken
})
