/**
 * Client keys (RFC 9635 §7.1): a key object names its proofing method (§7.3) and carries
 * exactly one public key value. Gatehouse accepts keys by value as JWKs (§7.1: `jwk`),
 * which MUST carry `alg` and `kid`, MUST be public, and MUST NOT be symmetric (§2.3,
 * §7.1.2). The key's identity is its JWK thumbprint (RFC 7638).
 */
import * as Predicate from "effect/Predicate"
import * as jose from "jose"
import { InvalidClient, InvalidRequest } from "../errors.js"
import {
  type HttpSignatureAlgorithm,
  isHttpSignatureAlgorithm,
  isJwsAlgorithm,
  type JwsAlgorithm,
  keyFitsAlgorithm,
  REGISTRY_TO_JWS
} from "./httpsig/algorithms.js"
import type { DigestAlgorithm } from "./httpsig/content-digest.js"

/**
 * RFC 9635 §7.3: proofing methods offered always. `mtls` (§7.3.2) is offered only when the
 * client certificate reaches core (config `gnap.mtls`, the RFC 9440 `Client-Cert` header).
 */
export const PROOF_METHODS = ["httpsig", "jwsd", "jws"] as const
export type ProofMethodName = (typeof PROOF_METHODS)[number] | "mtls"

export type ProofMethod =
  | {
    readonly method: "httpsig"
    /** §7.3.1 object form: an HTTP Signature Algorithms registry name; absent in string form (the JWK's `alg`) */
    readonly alg?: HttpSignatureAlgorithm | undefined
    /** §7.3.1 object form `content-digest-alg`; string form: sha-256 */
    readonly contentDigestAlg: DigestAlgorithm
  }
  | { readonly method: "jwsd" }
  | { readonly method: "jws" }
  | { readonly method: "mtls" }

/** A validated client key (by value). */
export interface ClientKey {
  readonly proof: ProofMethod
  /**
   * the public JWK as sent (members beyond the public ones are kept for echoing back).
   * `mtls` keys sent as `cert` / `cert#S256` have none: their identity is the certificate.
   */
  readonly jwk: jose.JWK & { readonly kid: string; readonly alg: JwsAlgorithm }
  /**
   * RFC 7638 thumbprint (SHA-256): the client instance's identity; for a certificate
   * (§7.1 `cert`, `cert#S256`), its RFC 8705 §3.1 x5t#S256 thumbprint.
   */
  readonly thumbprint: string
  /** §7.1 `cert`: the base64 DER certificate, when sent by value (mtls) */
  readonly cert?: string | undefined
}

/** §7.1: the key object as it goes on the wire (token `key`, introspection). */
export const keyToWire = (key: Pick<ClientKey, "proof" | "jwk" | "thumbprint" | "cert">): Record<string, unknown> =>
  key.proof.method === "mtls"
    ? key.cert !== undefined ? { proof: "mtls", cert: key.cert } : { proof: "mtls", "cert#S256": key.thumbprint }
    : { proof: proofToWire(key.proof), jwk: key.jwk }

/** A standard base64 (RFC 4648 §4) DER value, as `cert` and RFC 9440 `Client-Cert` carry it. */
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
const BASE64URL_SHA256 = /^[A-Za-z0-9_-]{43}$/

/** RFC 8705 §3.1: x5t#S256, the base64url SHA-256 of the DER certificate. */
export const certThumbprint = async (der: Uint8Array<ArrayBuffer>): Promise<string> =>
  jose.base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", der)))

/** Decode a base64 DER value, or undefined when it is not one. */
export const decodeDer = (value: string): Uint8Array<ArrayBuffer> | undefined => {
  if (!BASE64.test(value) || value.length % 4 !== 0) return undefined
  try {
    const binary = atob(value)
    const bytes = new Uint8Array(binary.length)
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
    // a DER certificate is a SEQUENCE (0x30)
    return bytes[0] === 0x30 ? bytes : undefined
  } catch {
    return undefined
  }
}

/**
 * RFC 9635 §7.1, §7.3.2: an `mtls` key is its certificate — `cert` (base64 DER) or
 * `cert#S256` (its base64url SHA-256 thumbprint).
 */
const parseCertKey = async (k: Record<string, unknown>, format: string): Promise<ClientKey | InvalidClient> => {
  const proof = { method: "mtls" } as const
  if (format === "cert") {
    const der = typeof k["cert"] === "string" ? decodeDer(k["cert"]) : undefined
    if (der === undefined) return bad(`"cert" must be a base64-encoded DER certificate (§7.1)`)
    return { proof, jwk: undefined as unknown as ClientKey["jwk"], thumbprint: await certThumbprint(der), cert: k["cert"] as string }
  }
  const s256 = k["cert#S256"]
  if (typeof s256 !== "string" || !BASE64URL_SHA256.test(s256)) return bad(`"cert#S256" must be a base64url SHA-256 thumbprint (§7.1)`)
  return { proof, jwk: undefined as unknown as ClientKey["jwk"], thumbprint: s256 }
}

/** The JWS algorithm the key's proofs are made with (§7.3.1: object-form `alg`, else the JWK's). */
export const proofAlgorithm = (key: ClientKey): JwsAlgorithm =>
  key.proof.method === "httpsig" && key.proof.alg !== undefined && key.proof.alg !== "hmac-sha256"
    ? REGISTRY_TO_JWS[key.proof.alg]
    : key.jwk.alg

/** The wire form of a proof method (what discovery and token `key` echo back). */
export const proofToWire = (proof: ProofMethod): string | Record<string, string> =>
  proof.method === "httpsig" && proof.alg !== undefined
    ? { method: "httpsig", alg: proof.alg, "content-digest-alg": proof.contentDigestAlg }
    : proof.method

const bad = (description: string) => new InvalidClient({ description })

const parseProof = (value: unknown): ProofMethod | InvalidClient | InvalidRequest => {
  if (typeof value === "string") {
    if (value === "httpsig") return { method: "httpsig", contentDigestAlg: "sha-256" }
    if (value === "jwsd" || value === "jws") return { method: value }
    if (value === "mtls") return { method: "mtls" }
    return bad(`unknown proofing method "${value.slice(0, 40)}"`)
  }
  if (!Predicate.isObject(value) || Array.isArray(value)) {
    return new InvalidRequest({ description: `"key.proof" must be a string or an object (§7.1)` })
  }
  const p = value as Record<string, unknown>
  if (p["method"] !== "httpsig") {
    if (p["method"] === "jwsd" || p["method"] === "jws") return { method: p["method"] }
    return bad(`"key.proof.method" must name a supported proofing method`)
  }
  // §7.3.1: in object form, alg and content-digest-alg are REQUIRED
  const alg = p["alg"]
  const digest = p["content-digest-alg"]
  if (!isHttpSignatureAlgorithm(alg) || alg === "hmac-sha256") {
    return bad(`"key.proof.alg" must be an asymmetric HTTP Signature Algorithm (RFC 9421 §6.2)`)
  }
  if (digest !== "sha-256" && digest !== "sha-512") {
    return bad(`"key.proof.content-digest-alg" must be "sha-256" or "sha-512" (RFC 9530)`)
  }
  return { method: "httpsig", alg, contentDigestAlg: digest }
}

/**
 * RFC 9635 §7.1: validate a key object sent by value. Failures are `invalid_client`
 * (malformed structure: `invalid_request`).
 */
export const parseClientKey = async (value: unknown): Promise<ClientKey | InvalidClient | InvalidRequest> => {
  if (!Predicate.isObject(value) || Array.isArray(value)) {
    return new InvalidRequest({ description: `"client.key" must be an object (§7.1)` })
  }
  const k = value as Record<string, unknown>
  if (!("proof" in k)) return new InvalidRequest({ description: `"client.key.proof" is required (§7.1)` })
  const proof = parseProof(k["proof"])
  if (proof instanceof InvalidClient || proof instanceof InvalidRequest) return proof
  // §7.1: exactly one key value format
  const formats = ["jwk", "cert", "cert#S256"].filter((f) => f in k)
  if (formats.length !== 1) return bad(`the key must carry exactly one of "jwk", "cert", "cert#S256" (§7.1)`)
  // §7.3.2: mtls keys are certificates; the other methods sign with a JWK
  if (proof.method === "mtls") {
    if (formats[0] === "jwk") return bad(`with "mtls" the key is the client certificate: send "cert" or "cert#S256" (§7.3.2)`)
    return parseCertKey(k, formats[0]!)
  }
  if (formats[0] !== "jwk") return bad(`"cert" and "cert#S256" keys are proven with "mtls" (§7.3.2); other methods need a "jwk"`)
  const jwk = k["jwk"]
  if (!Predicate.isObject(jwk) || Array.isArray(jwk)) return new InvalidRequest({ description: `"client.key.jwk" must be a JWK object` })
  const j = jwk as jose.JWK
  // §2.3, §7.1.2: symmetric keys MUST NOT be sent by value
  if (j.kty === "oct") return bad("symmetric keys must not be sent by value (§7.1.2)")
  // §7.1: a key by value is a public key
  if (["d", "p", "q", "dp", "dq", "qi", "k"].some((m) => m in j)) return bad("the JWK must be a public key (it has private members)")
  // §7.1: alg and kid are REQUIRED; alg MUST NOT be "none"
  if (typeof j.kid !== "string" || j.kid === "") return bad(`the JWK must have a "kid" (§7.1)`)
  if (typeof j.alg !== "string" || j.alg === "" || j.alg === "none") return bad(`the JWK must have an "alg" other than "none" (§7.1)`)
  if (!isJwsAlgorithm(j.alg)) return bad(`the JWK's alg "${j.alg.slice(0, 20)}" is not supported`)
  if (!keyFitsAlgorithm(j, j.alg)) return bad(`the JWK's key type does not fit its alg "${j.alg}"`)
  if (proof.method === "httpsig" && proof.alg !== undefined && proof.alg !== "hmac-sha256") {
    // §7.3.1: the object-form alg and the key must agree
    const jws = REGISTRY_TO_JWS[proof.alg]
    if (!keyFitsAlgorithm(j, jws) || (j.alg !== jws && !(jws === "EdDSA" && j.alg === "Ed25519"))) {
      return bad(`"key.proof.alg" ${proof.alg} does not match the JWK's alg ${j.alg}`)
    }
  }
  let thumbprint: string
  try {
    thumbprint = await jose.calculateJwkThumbprint(j, "sha256")
    // a malformed public value (bad base64url, wrong length) fails here rather than at verification
    await jose.importJWK({ ...j, ext: true }, j.alg === "Ed25519" ? "EdDSA" : j.alg)
  } catch {
    return bad("the JWK is malformed")
  }
  return { proof, jwk: j as ClientKey["jwk"], thumbprint }
}

/** Two keys are the same key when their thumbprints match and they use the same proof method (§6.1.1, §7.3). */
export const sameProofMethod = (a: ProofMethod, b: ProofMethod): boolean =>
  a.method === b.method &&
  (a.method !== "httpsig" || b.method !== "httpsig" || (a.alg === b.alg && a.contentDigestAlg === b.contentDigestAlg))
