/**
 * The `httpsig` proofing method (RFC 9635 §7.3.1): an HTTP Message Signature (RFC 9421)
 * by the client key, profiled for GNAP:
 *
 * - covered components include `@method` and `@target-uri`; `content-digest` (RFC 9530,
 *   recomputed over the received bytes) when there is content; `authorization` when a
 *   token is presented;
 * - `tag` is "gnap" (key rotation: "gnap-rotate", §7.3.1.1); `created` is present and
 *   fresh; `nonce`, when present, is used once (ReplayCache); `keyid` is the JWK's `kid`;
 *   no `alg` parameter (the algorithm comes from the key);
 * - several signatures: the request is accepted when one of them is acceptable (RFC 9421 §4.3).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { GatehouseConfig } from "../../config.js"
import { InvalidClient, type StorageError } from "../../errors.js"
import { ReplayCache } from "../../ports/ReplayCache.js"
import { importVerificationKey, verifyBase } from "../httpsig/algorithms.js"
import { verifyContentDigest } from "../httpsig/content-digest.js"
import { type MessageSignature, readSignatures, SignatureBaseError, signatureBase } from "../httpsig/signature-base.js"
import { param, serializeItem } from "../httpsig/structured-fields.js"
import { type ClientKey, proofAlgorithm } from "../key.js"
import type { IncomingRequest } from "../../http/incoming.js"

export interface ProofInput {
  readonly request: IncomingRequest
  /** the request URL as the client used it */
  readonly url: URL
  /** the raw content (empty when none) */
  readonly body: Uint8Array<ArrayBuffer>
  /** the access token presented in `Authorization` (continuation, management, RS), if any */
  readonly token?: string | undefined
  /** "gnap", or "gnap-rotate" for the new key's signature in a key rotation (§7.3.1.1) */
  readonly tag?: string | undefined
  /** further components the signature must cover, as serialized identifiers (`"signature";key="sig1"`, §7.3.1.1) */
  readonly cover?: ReadonlyArray<string> | undefined
  /** signature labels not to consider (§7.3.1.1: the old key's signature is not the new key's) */
  readonly skipLabels?: ReadonlyArray<string> | undefined
}

/** Clock skew tolerated for a `created` in the future, seconds. */
const FUTURE_SKEW = 60

/** Why one signature is not acceptable, or undefined when it is. */
const check = Effect.fnUntraced(function*(
  signature: MessageSignature,
  key: ClientKey,
  cryptoKey: CryptoKey,
  input: ProofInput,
  now: number
): Effect.fn.Return<string | { readonly nonce?: string | undefined; readonly created: number }, never, GatehouseConfig> {
  const config = yield* GatehouseConfig
  const params = signature.input.params
  const tag = param(params, "tag")
  if (tag !== (input.tag ?? "gnap")) return `the signature's tag must be "${input.tag ?? "gnap"}"`
  const created = param(params, "created")
  if (typeof created !== "number" || !Number.isInteger(created)) return `the signature has no integer "created" parameter`
  const seconds = Math.floor(now / 1000)
  if (created > seconds + FUTURE_SKEW) return `the signature's "created" is in the future`
  if (seconds - created > config.gnap.signatureMaxAge) return `the signature is too old ("created" more than ${config.gnap.signatureMaxAge} s ago)`
  const expires = param(params, "expires")
  if (expires !== undefined && (typeof expires !== "number" || expires <= seconds)) return "the signature has expired"
  if (param(params, "alg") !== undefined) return `the signature must not carry an "alg" parameter (the key's algorithm is used)`
  const keyid = param(params, "keyid")
  if (keyid !== key.jwk.kid) return `the signature's keyid must be the key's kid "${key.jwk.kid}"`
  const nonce = param(params, "nonce")
  if (nonce !== undefined && typeof nonce !== "string") return `the signature's "nonce" must be a string`
  if (nonce === undefined && config.gnap.requireNonce) return `the signature must carry a "nonce"`
  const covered = new Set(signature.input.items.map(serializeItem))
  const required = ['"@method"', '"@target-uri"']
  if (input.body.byteLength > 0) required.push('"content-digest"')
  if (input.token !== undefined) required.push('"authorization"')
  required.push(...(input.cover ?? []))
  for (const component of required) {
    if (!covered.has(component)) return `the signature must cover ${component}`
  }
  if (covered.has('"content-digest"') || input.body.byteLength > 0) {
    const digest = yield* Effect.promise(() =>
      verifyContentDigest(
        input.request.headers.get("content-digest"),
        input.body,
        key.proof.method === "httpsig" ? key.proof.contentDigestAlg : undefined
      )
    )
    if (!digest.ok) return digest.reason
  }
  let base: string
  try {
    base = signatureBase({ method: input.request.method.toUpperCase(), url: input.url.href, headers: input.request.headers }, signature.input)
  } catch (e) {
    return e instanceof SignatureBaseError ? e.message : "the signature base could not be built"
  }
  const valid = yield* Effect.promise(() => verifyBase(proofAlgorithm(key), cryptoKey, base, signature.signature as Uint8Array<ArrayBuffer>))
  if (!valid) return "the signature does not verify with the client key"
  return { nonce, created }
})

/**
 * RFC 9635 §7.3.1: verify the request's HTTP message signature(s) with `key`. Fails with
 * `invalid_client` naming the first reason a signature was refused; returns the label of the
 * signature accepted.
 */
export const verifyHttpSig = Effect.fnUntraced(function*(
  key: ClientKey,
  input: ProofInput
): Effect.fn.Return<string, InvalidClient | StorageError, GatehouseConfig | ReplayCache> {
  const config = yield* GatehouseConfig
  let signatures: Array<MessageSignature>
  try {
    signatures = readSignatures(input.request.headers)
  } catch (e) {
    return yield* new InvalidClient({ description: e instanceof Error ? e.message : "malformed signature fields" })
  }
  if (signatures.length === 0) {
    return yield* new InvalidClient({ description: "the request must be signed with the client key (Signature-Input and Signature, RFC 9635 §7.3.1)" })
  }
  const cryptoKey = yield* Effect.promise(() => importVerificationKey(key.jwk, proofAlgorithm(key)))
  if (cryptoKey === undefined) return yield* new InvalidClient({ description: "the client key cannot verify signatures" })
  const now = yield* Clock.currentTimeMillis
  const reasons: Array<string> = []
  for (const signature of signatures) {
    if (input.skipLabels?.includes(signature.label)) continue
    const result = yield* check(signature, key, cryptoKey, input, now)
    if (typeof result === "string") {
      reasons.push(signatures.length > 1 ? `${signature.label}: ${result}` : result)
      continue
    }
    // §7.3.1: a nonce is used once within the signature's validity window
    if (result.nonce !== undefined) {
      const expiresAt = (result.created + config.gnap.signatureMaxAge + FUTURE_SKEW) * 1000
      const first = yield* (yield* ReplayCache).use(`gnap:httpsig:${key.thumbprint}:${result.nonce}`, expiresAt)
      if (!first) {
        reasons.push("the signature's nonce was already used (replay)")
        continue
      }
    }
    return signature.label
  }
  return yield* new InvalidClient({ description: reasons.length > 0 ? reasons.join("; ") : "the request carries no signature by this key" })
})
