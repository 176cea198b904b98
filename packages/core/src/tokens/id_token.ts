/**
 * ID tokens (OIDC Core §2, §3.1.3.6). Signed with the client's
 * `id_token_signed_response_alg` (default RS256, OIDC Registration §2).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { GatehouseConfig, type SigningAlg } from "../config.js"
import { InvalidClientMetadata } from "../errors.js"
import { Accounts, type Claims } from "../ports/Accounts.js"
import type { ClientRecord } from "../ports/ClientStore.js"
import { base64url, Crypto } from "../ports/Crypto.js"
import { millisIn } from "../time.js"
import { claimsFor, type ClaimsRequest } from "./claims.js"
import { Keys } from "./keys.js"

const encoder = new TextEncoder()

/**
 * OIDC Core §3.1.3.6 `at_hash` / §3.3.2.11 `c_hash`: base64url of the left-most half of the
 * hash of the ASCII value, with the hash of the ID token's alg (SHA-512 for Ed25519).
 */
export const halfHash = (alg: SigningAlg, value: string) =>
  alg === "EdDSA"
    ? Effect.promise(async () => {
      const digest = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-512", encoder.encode(value)))
      return base64url(digest.subarray(0, digest.length / 2))
    })
    // SHA-256 through the Crypto port: synchronous where the runtime allows
    : Effect.flatMap(Crypto, (crypto) => Effect.map(crypto.sha256(value), (digest) => base64url(digest.subarray(0, 16))))

export interface IssueIdTokenInput {
  readonly client: ClientRecord
  readonly accountId: string
  readonly scope: ReadonlyArray<string>
  readonly authTime: number
  readonly nonce?: string | undefined
  readonly acr?: string | undefined
  readonly amr?: ReadonlyArray<string> | undefined
  readonly accessToken?: string | undefined
  readonly claims?: ClaimsRequest | undefined
  /** the account's claims when the caller already has them (else read from `Accounts`) */
  readonly account?: Claims | undefined
}

export const idTokenAlg = (client: ClientRecord): SigningAlg =>
  (client.metadata.id_token_signed_response_alg ?? "RS256") as SigningAlg

export const issueIdToken = Effect.fnUntraced(function*(input: IssueIdTokenInput) {
  // the services in one read of the fiber's context (one step, not one per service)
  const services = yield* Effect.context<GatehouseConfig | Keys | Accounts | Crypto>()
  const config = Context.get(services, GatehouseConfig)
  const keys = Context.get(services, Keys)
  const accounts = Context.get(services, Accounts)
  const alg = idTokenAlg(input.client)
  if (!config.idTokenAlgs.includes(alg)) {
    return yield* new InvalidClientMetadata({ description: `id_token_signed_response_alg ${alg} is not supported` })
  }
  const now = millisIn(services)
  const iat = Math.floor(now / 1000)
  // OIDC Core §5.5: claims explicitly requested for the ID token (scope claims go to userinfo, §5.4)
  const account = input.account ?? (yield* accounts.claims(input.accountId))
  const requested = input.claims?.id_token ? claimsFor(account ?? {}, [], input.claims.id_token) : {}
  // the requested claims first, then the ones this server sets over them (OIDC Core §2);
  // assigned one by one, not spread (a spread followed by new members is slow on Node 20)
  const payload: Record<string, unknown> = {}
  for (const name of Object.keys(requested)) payload[name] = requested[name]
  payload["iss"] = config.issuer
  payload["sub"] = input.accountId
  payload["aud"] = input.client.clientId
  payload["exp"] = iat + config.ttl.idToken
  payload["iat"] = iat
  payload["auth_time"] = input.authTime
  payload["azp"] = input.client.clientId
  if (input.nonce !== undefined) payload["nonce"] = input.nonce
  if (input.acr !== undefined) payload["acr"] = input.acr
  if (input.amr !== undefined && input.amr.length > 0) payload["amr"] = input.amr
  if (input.accessToken !== undefined) payload["at_hash"] = yield* halfHash(alg, input.accessToken)
  return yield* keys.sign(payload, { alg, typ: "JWT" })
})
