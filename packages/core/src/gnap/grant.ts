/**
 * A GNAP grant as the workflows see it: the stored `GnapGrantRecord` with its JSON members
 * decoded (`GrantData`: the request, the client key, the interaction; `GrantResult`: the
 * RO's decision), and the steps every endpoint shares — finding a grant by continuation
 * (§5: URI + token), issuing the next continuation (§3.1, rotated on every use), issuing
 * access tokens (§3.2) and subject information (§3.4).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { GatehouseConfig, type ResolvedConfig } from "../config.js"
import { InvalidContinuation, type StorageError } from "../errors.js"
import { Accounts } from "../ports/Accounts.js"
import { Crypto } from "../ports/Crypto.js"
import { type GnapGrantRecord, GnapGrantStore, type GnapTokenRecord } from "../ports/GnapGrantStore.js"
import { issueIdTokenAssertion } from "./assertions.js"
import type { ClientKey, ProofMethod } from "./key.js"
import type { AccessRight, ClientDisplay, GrantRequest } from "./request.js"

/** What `GnapGrantRecord.request` holds. */
export interface GrantData {
  /** the grant endpoint URL the client used (§4.2.3 hash input) */
  readonly grantEndpoint: string
  readonly request: Omit<GrantRequest, "client">
  /** the client instance key (its latest rotation, §7.2) */
  readonly key: { readonly proof: ProofMethod; readonly jwk: ClientKey["jwk"]; readonly cert?: string | undefined }
  readonly display?: ClientDisplay | undefined
  readonly interaction?: InteractionState | undefined
  /** continuation calls made while pending (§5.2) */
  readonly polls: number
  /** `too_fast` answers given (§11.27: growing wait) */
  readonly tooFast: number
}

export interface InteractionState {
  /** the InteractionStore record the host's pages work on */
  readonly id: string
  /** digest of the secret in the redirect start URI (§3.3.1) */
  readonly redirectSecretDigest?: string | undefined
  /** digest of the secret in the `app` start URI (§3.3.2): an AS URL too, opened by the launched app */
  readonly appSecretDigest?: string | undefined
  /** whether a user code was issued (§3.3.3, §3.3.4) */
  readonly userCode: boolean
  /** §3.3.5: the AS's finish nonce */
  readonly asNonce?: string | undefined
  /** §4.1: the mode that started; the others are then rejected */
  readonly started?: "redirect" | "app" | "user_code" | undefined
  /** milliseconds since epoch: start modes not used by then are rejected (§4.1) */
  readonly expiresAt: number
}

/** What `GnapGrantRecord.result` holds: the RO's decision. */
export type GrantResult =
  | {
    readonly outcome: "approved"
    readonly accountId: string
    /** per requested token (same order), the rights granted */
    readonly access: ReadonlyArray<ReadonlyArray<AccessRight>>
    /** the RO agreed to release subject information (§2.2, §3.4) */
    readonly subject: boolean
    readonly authTime: number
  }
  | { readonly outcome: "denied"; readonly code: "user_denied" | "unknown_user" | "request_denied"; readonly description: string }

export interface Grant {
  readonly record: GnapGrantRecord
  readonly data: GrantData
  readonly result?: GrantResult | undefined
}

export const decodeGrant = (record: GnapGrantRecord): Grant => ({
  record,
  data: JSON.parse(record.request) as GrantData,
  result: record.result === undefined ? undefined : JSON.parse(record.result) as GrantResult
})

export const clientKeyOf = (grant: Grant): ClientKey => ({
  proof: grant.data.key.proof,
  jwk: grant.data.key.jwk,
  thumbprint: grant.record.clientKeyThumbprint,
  cert: grant.data.key.cert
})

/** The `clientId` GNAP interactions and tokens are recorded under. */
export const gnapClientId = (instanceId: string | undefined, thumbprint: string) => `gnap:${instanceId ?? thumbprint}`

export const continueUri = (config: ResolvedConfig, grantId: string) => `${config.endpoints.gnapContinue}/${grantId}`
export const manageUri = (config: ResolvedConfig, manageId: string) => `${config.endpoints.gnapToken}/${manageId}`

/** How long a grant is kept: pending for the interaction lifetime; approved as long as its tokens. */
export const grantLifetime = (config: ResolvedConfig, state: GnapGrantRecord["state"]) =>
  (state === "approved" ? config.ttl.accessToken : config.ttl.interaction) * 1000

/**
 * Store `next` over `grant` (compare-and-set on the version it was read at). A lost race
 * means another request used the grant first: `invalid_continuation`.
 */
export const saveGrant = Effect.fnUntraced(function*(
  grant: Grant,
  changes: {
    readonly state?: GnapGrantRecord["state"]
    readonly data?: GrantData
    readonly result?: GrantResult | undefined
    readonly continueTokenDigest?: string
    readonly continueAfter?: number
    readonly interactRefDigest?: string | null
    readonly accountId?: string
    readonly clientKeyThumbprint?: string
  }
): Effect.fn.Return<Grant, InvalidContinuation | StorageError, GnapGrantStore | GatehouseConfig> {
  const config = yield* GatehouseConfig
  const now = yield* Clock.currentTimeMillis
  const state = changes.state ?? grant.record.state
  const data = changes.data ?? grant.data
  const result = "result" in changes ? changes.result : grant.result
  const next: GnapGrantRecord = {
    ...grant.record,
    state,
    version: grant.record.version + 1,
    continueTokenDigest: changes.continueTokenDigest ?? grant.record.continueTokenDigest,
    continueAfter: changes.continueAfter ?? grant.record.continueAfter,
    interactRefDigest: changes.interactRefDigest === null ? undefined : changes.interactRefDigest ?? grant.record.interactRefDigest,
    clientKeyThumbprint: changes.clientKeyThumbprint ?? grant.record.clientKeyThumbprint,
    accountId: changes.accountId ?? grant.record.accountId,
    request: JSON.stringify(data),
    result: result === undefined ? undefined : JSON.stringify(result),
    updatedAt: now,
    expiresAt: Math.max(grant.record.expiresAt, now + grantLifetime(config, state))
  }
  const won = yield* (yield* GnapGrantStore).update(next, grant.record.version)
  if (!won) return yield* new InvalidContinuation({ description: "the grant was changed by another request; continue with the latest continuation token" })
  return { record: next, data, result }
})

/** §3.1: a fresh continuation token; the record keeps only its digest. */
export const newContinuation = Effect.fnUntraced(function*(withWait: boolean) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const now = yield* Clock.currentTimeMillis
  const token = yield* crypto.randomToken(32)
  return {
    token,
    digest: yield* crypto.digest(token),
    wait: withWait ? config.gnap.wait : undefined,
    continueAfter: withWait ? now + config.gnap.wait * 1000 : now
  }
})

/** §3.1 `continue` */
export const continueObject = (
  config: ResolvedConfig,
  grantId: string,
  continuation: { readonly token: string; readonly wait?: number | undefined }
): Record<string, unknown> => ({
  // §3.1: the continuation access token is bound to the client key: no "key", no "manage", never bearer
  access_token: { value: continuation.token },
  uri: continueUri(config, grantId),
  ...(continuation.wait !== undefined ? { wait: continuation.wait } : {})
})

export interface IssuedToken {
  readonly body: Record<string, unknown>
  readonly record: GnapTokenRecord
}

/** §3.2.1: one access token for `access`, bound to the client key unless `bearer`. */
export const issueToken = Effect.fnUntraced(function*(
  grant: Grant,
  input: {
    readonly access: ReadonlyArray<AccessRight>
    readonly label?: string | undefined
    readonly bearer: boolean
    readonly accountId?: string | undefined
  }
) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const store = yield* GnapGrantStore
  const now = yield* Clock.currentTimeMillis
  // §3.2.1: token68 characters only (base64url is)
  const value = yield* crypto.randomToken(32)
  const manageId = yield* crypto.randomToken(16)
  const manageToken = yield* crypto.randomToken(32)
  const flags = input.bearer ? ["bearer"] : []
  const record: GnapTokenRecord = {
    tokenDigest: yield* crypto.digest(value),
    grantId: grant.record.id,
    manageId,
    manageTokenDigest: yield* crypto.digest(manageToken),
    label: input.label,
    flags,
    access: JSON.stringify(input.access),
    // bound tokens: the key they are bound to; bearer tokens: the key that manages them (§6)
    key: JSON.stringify(grant.data.key),
    clientKeyThumbprint: grant.record.clientKeyThumbprint,
    clientInstanceId: grant.record.clientInstanceId,
    accountId: input.accountId,
    issuedAt: now,
    expiresAt: now + config.ttl.accessToken * 1000
  }
  yield* store.saveToken(record)
  return { body: tokenBody(config, value, manageToken, record, input.access), record } satisfies IssuedToken
})

/** §3.2.1 token object. `key` is left out: the token is bound to the client instance's key. */
export const tokenBody = (
  config: ResolvedConfig,
  value: string,
  manageToken: string,
  record: GnapTokenRecord,
  access: ReadonlyArray<AccessRight>
): Record<string, unknown> => {
  const now = record.issuedAt
  return {
    value,
    ...(record.label !== undefined ? { label: record.label } : {}),
    // §3.2.1: the management URI carries no token value; the management token differs from the token
    manage: { uri: manageUri(config, record.manageId), access_token: { value: manageToken } },
    access,
    expires_in: Math.max(0, Math.round((record.expiresAt - now) / 1000)),
    ...(record.flags.length > 0 ? { flags: record.flags } : {})
  }
}

/** §3.4: subject identifiers in the formats asked for that this AS can give. */
export const SUB_ID_FORMATS = ["opaque", "iss_sub", "email"] as const

export const subjectFor = Effect.fnUntraced(function*(grant: Grant, accountId: string, authTime?: number) {
  const config = yield* GatehouseConfig
  const request = grant.data.request.subject
  if (request === undefined) return undefined
  const ids: Array<Record<string, string>> = []
  for (const format of request.subIdFormats) {
    if (format === "opaque") ids.push({ format: "opaque", id: accountId })
    if (format === "iss_sub") ids.push({ format: "iss_sub", iss: config.issuer, sub: accountId })
    if (format === "email") {
      const claims = yield* (yield* Accounts).claims(accountId)
      if (typeof claims?.["email"] === "string") ids.push({ format: "email", email: claims["email"] })
    }
  }
  // §3.4 assertions (§3.4.1 id_token): an ID token for the account, audience the client instance
  const assertions: Array<{ format: string; value: string }> = []
  if (request.assertionFormats.includes("id_token")) {
    assertions.push(yield* issueIdTokenAssertion({ accountId, audience: grant.record.clientInstanceId ?? grant.record.clientKeyThumbprint, authTime }))
  }
  if (ids.length === 0 && assertions.length === 0) return undefined
  return { ...(ids.length > 0 ? { sub_ids: ids } : {}), ...(assertions.length > 0 ? { assertions } : {}) }
})
