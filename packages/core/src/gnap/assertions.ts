/**
 * Subject assertions (RFC 9635 §2.2 `assertion_formats`, §3.4 `assertions`, §3.4.1 formats):
 * Gatehouse issues and accepts `id_token` assertions — OpenID Connect ID tokens signed with
 * the AS's own keys. Issued for the RO's account with `aud` = the client instance
 * identifier; accepted in `user.assertions` (§2.4) only when this AS signed them (signature
 * and `iss` checked), as a hint of who the user is. `saml2` is neither issued nor accepted.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { GatehouseConfig, type SigningAlg } from "../config.js"
import { InvalidRequest, UnknownUser } from "../errors.js"
import { Keys } from "../tokens/keys.js"
import type { SubjectIdentifier } from "./request.js"

/** §3.4.1 assertion formats this AS issues and accepts. */
export const ASSERTION_FORMATS = ["id_token"] as const

/** The JWS alg of ID token assertions: RS256 (OIDC Core §15.1 MTI) when enabled, else the first configured. */
const assertionAlg = (algs: ReadonlyArray<SigningAlg>): SigningAlg => algs.includes("RS256") ? "RS256" : algs[0]!

/** §3.4: an `id_token` assertion about `accountId` for the client instance `audience`. */
export const issueIdTokenAssertion = Effect.fnUntraced(function*(input: {
  readonly accountId: string
  readonly audience: string
  readonly authTime?: number | undefined
}) {
  const config = yield* GatehouseConfig
  const keys = yield* Keys
  const iat = Math.floor((yield* Clock.currentTimeMillis) / 1000)
  const value = yield* keys.sign({
    iss: config.issuer,
    sub: input.accountId,
    aud: input.audience,
    iat,
    exp: iat + config.ttl.idToken,
    ...(input.authTime !== undefined ? { auth_time: Math.floor(input.authTime) } : {})
  }, { alg: assertionAlg(config.idTokenAlgs), typ: "JWT" })
  return { format: "id_token", value }
})

export interface Assertion {
  readonly format: string
  readonly value: string
}

/**
 * §2.4 `user.assertions`: each must be an `id_token` this AS issued (any audience: it names
 * the user, it grants nothing). Returns the subject identifiers they establish. Another
 * format → `invalid_request`; an ID token this AS cannot verify → `unknown_user` (§3.6: the
 * user is not known to the AS).
 */
export const verifyUserAssertions = Effect.fnUntraced(function*(assertions: ReadonlyArray<Assertion>) {
  const config = yield* GatehouseConfig
  const keys = yield* Keys
  const ids: Array<SubjectIdentifier> = []
  for (const [i, a] of assertions.entries()) {
    if (a.format !== "id_token") {
      return yield* new InvalidRequest({ description: `"user.assertions[${i}].format" "${a.format.slice(0, 20)}" is not an assertion format this server accepts (id_token)` })
    }
    // an expired assertion still names the user (as OIDC's id_token_hint, Core §3.1.2.1); typ
    // "JWT" is an ID token's, so the AS's JWT access tokens (at+jwt, RFC 9068) are not assertions
    const verified = yield* keys.verify(a.value, { issuer: config.issuer, currentDate: new Date(0), typ: "JWT" }).pipe(
      Effect.catchTag("JoseError", () => Effect.succeed(undefined))
    )
    const sub = verified?.payload.sub
    if (typeof sub !== "string") {
      return yield* new UnknownUser({ description: `"user.assertions[${i}]" is not an ID token issued by this server (§2.4)` })
    }
    ids.push({ format: "iss_sub", iss: config.issuer, sub })
  }
  return ids
})
