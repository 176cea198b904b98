/**
 * The `jwsd` (RFC 9635 §7.3.3) and `jws` (§7.3.4) proofing methods: a JWS by the client
 * key whose protected header binds it to the request — `typ` (gnap-binding-jwsd /
 * gnap-binding-jws), `htm` (method), `uri` (target URI), `created` (fresh), `kid` (the
 * key's), `alg` (the key's) and `ath` (hash of the presented token). With `jwsd` the JWS is
 * detached in the `Detached-JWS` field and its payload is the SHA-256 of the content
 * (empty without content); with `jws` the content itself is the JWS (`application/jose`)
 * and its payload is the request. A given JWS is accepted once (ReplayCache).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as jose from "jose"
import { GatehouseConfig } from "../../config.js"
import { InvalidClient, type StorageError } from "../../errors.js"
import { base64url } from "../../ports/Crypto.js"
import { ReplayCache } from "../../ports/ReplayCache.js"
import { importVerificationKey } from "../httpsig/algorithms.js"
import type { ClientKey } from "../key.js"
import type { ProofInput } from "./httpsig.js"

const FUTURE_SKEW = 60
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/

const sha256 = async (bytes: Uint8Array<ArrayBuffer>) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))

/** RFC 9635 §7.3.3: `ath` = base64url(SHA-256(ASCII(token))). */
export const accessTokenHash = async (token: string) => base64url(await sha256(new TextEncoder().encode(token)))

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

/** Decode the (unverified) payload of an attached JWS: how the AS reads a `jws` grant request to find the key. */
export const attachedPayload = (compact: string): Uint8Array<ArrayBuffer> | undefined => {
  if (!COMPACT.test(compact)) return undefined
  try {
    return jose.base64url.decode(compact.split(".")[1]!) as Uint8Array<ArrayBuffer>
  } catch {
    return undefined
  }
}

export interface JwsProofResult {
  /** for `jws`: the verified payload, which is the request content */
  readonly content: Uint8Array<ArrayBuffer>
}

/**
 * Verify a `jwsd` or `jws` proof. For `jws` with content, `input.body` is the compact JWS
 * (the raw `application/jose` content) and the result's `content` is its payload.
 */
export const verifyJws = Effect.fnUntraced(function*(
  key: ClientKey,
  method: "jwsd" | "jws",
  input: ProofInput
): Effect.fn.Return<JwsProofResult, InvalidClient | StorageError, GatehouseConfig | ReplayCache> {
  const config = yield* GatehouseConfig
  const refuse = (description: string) => new InvalidClient({ description })
  const attached = method === "jws" && input.body.byteLength > 0
  let compact: string
  let content: Uint8Array<ArrayBuffer>
  if (attached) {
    compact = new TextDecoder().decode(input.body).trim()
    if (!COMPACT.test(compact) || compact.split(".")[1] === "") return yield* refuse("the content must be a compact JWS (§7.3.4)")
    content = attachedPayload(compact) ?? new Uint8Array(0)
  } else {
    const header = input.request.headers.get("detached-jws")
    if (header === null) return yield* refuse(`the request must carry a Detached-JWS field (§7.3.${method === "jwsd" ? 3 : 4})`)
    if (!COMPACT.test(header.trim())) return yield* refuse("the Detached-JWS field is not a compact JWS")
    const [h, , s] = header.trim().split(".")
    const expected = input.body.byteLength > 0 ? yield* Effect.promise(() => sha256(input.body)) : new Uint8Array(0)
    compact = `${h}.${base64url(expected)}.${s}`
    content = input.body
  }
  let protectedHeader: jose.ProtectedHeaderParameters
  try {
    protectedHeader = jose.decodeProtectedHeader(compact) as jose.ProtectedHeaderParameters
  } catch {
    return yield* refuse("the JWS header is malformed")
  }
  const h = protectedHeader as Record<string, unknown>
  const typ = method === "jwsd" ? "gnap-binding-jwsd" : "gnap-binding-jws"
  if (h["typ"] !== typ) return yield* refuse(`the JWS "typ" must be "${typ}"`)
  if (h["alg"] !== key.jwk.alg) return yield* refuse(`the JWS "alg" must be the key's alg "${key.jwk.alg}"`)
  if (h["kid"] !== key.jwk.kid) return yield* refuse(`the JWS "kid" must be the key's kid "${key.jwk.kid}"`)
  if (h["htm"] !== input.request.method.toUpperCase()) return yield* refuse(`the JWS "htm" must be the request method`)
  if (typeof h["uri"] !== "string" || h["uri"] !== input.url.href) return yield* refuse(`the JWS "uri" must be the request URI`)
  const created = h["created"]
  const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
  if (typeof created !== "number" || !Number.isInteger(created)) return yield* refuse(`the JWS must carry an integer "created"`)
  if (created > now + FUTURE_SKEW) return yield* refuse(`the JWS "created" is in the future`)
  if (now - created > config.gnap.signatureMaxAge) return yield* refuse("the JWS is too old")
  if (input.token !== undefined) {
    const ath = yield* Effect.promise(() => accessTokenHash(input.token!))
    if (h["ath"] !== ath) return yield* refuse(`the JWS "ath" must be the hash of the presented access token`)
  }
  const cryptoKey = yield* Effect.promise(() => importVerificationKey(key.jwk, key.jwk.alg))
  if (cryptoKey === undefined) return yield* refuse("the client key cannot verify signatures")
  const verified = yield* Effect.promise(() =>
    jose.compactVerify(compact, cryptoKey, { algorithms: [key.jwk.alg === "Ed25519" ? "EdDSA" : key.jwk.alg, key.jwk.alg] })
      .then((r) => r.payload, () => undefined)
  )
  if (verified === undefined) return yield* refuse("the JWS does not verify with the client key")
  if (!attached && input.body.byteLength > 0 && !equalBytes(verified, yield* Effect.promise(() => sha256(input.body)))) {
    return yield* refuse("the JWS does not cover the content")
  }
  // a JWS is single use within its validity window
  const signature = compact.split(".")[2]!
  const first = yield* (yield* ReplayCache).use(`gnap:jws:${key.thumbprint}:${signature}`, (created + config.gnap.signatureMaxAge + FUTURE_SKEW) * 1000)
  if (!first) return yield* refuse("the JWS was already used (replay)")
  return { content: attached ? content : input.body }
})

export const isCompactJws = (value: unknown): value is string => Predicate.isString(value) && COMPACT.test(value)
