/**
 * Signature algorithms: the HTTP Signature Algorithms registry (RFC 9421 §3.3, §6.2) and
 * JWS algorithms (RFC 9421 §3.3.7, how RFC 9635's string-form `httpsig` proof names its
 * algorithm: the JWK's `alg`). Verification on WebCrypto only.
 */
import * as jose from "jose"

/** RFC 9421 §6.2.2 registered algorithms (symmetric `hmac-sha256` included for the RFC's vectors). */
export const HTTP_SIGNATURE_ALGORITHMS = [
  "rsa-pss-sha512",
  "rsa-v1_5-sha256",
  "hmac-sha256",
  "ecdsa-p256-sha256",
  "ecdsa-p384-sha384",
  "ed25519"
] as const
export type HttpSignatureAlgorithm = (typeof HTTP_SIGNATURE_ALGORITHMS)[number]

/** JWS algorithms (RFC 7518 §3.1, RFC 8037) usable per RFC 9421 §3.3.7. */
export const JWS_ALGORITHMS = ["PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"] as const
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number]

/** The asymmetric registry algorithms, each the same operation as one JWS algorithm. */
export const REGISTRY_TO_JWS: Readonly<Record<Exclude<HttpSignatureAlgorithm, "hmac-sha256">, JwsAlgorithm>> = {
  // RFC 9421 §3.3.1: RSASSA-PSS, SHA-512, salt length 64 = PS512 (RFC 7518 §3.5)
  "rsa-pss-sha512": "PS512",
  // §3.3.2
  "rsa-v1_5-sha256": "RS256",
  // §3.3.4: r || s, as JWS ES256 (RFC 7518 §3.4)
  "ecdsa-p256-sha256": "ES256",
  // §3.3.5
  "ecdsa-p384-sha384": "ES384",
  // §3.3.6
  "ed25519": "EdDSA"
}

export const isJwsAlgorithm = (alg: unknown): alg is JwsAlgorithm =>
  typeof alg === "string" && (JWS_ALGORITHMS as ReadonlyArray<string>).includes(alg)
export const isHttpSignatureAlgorithm = (alg: unknown): alg is HttpSignatureAlgorithm =>
  typeof alg === "string" && (HTTP_SIGNATURE_ALGORITHMS as ReadonlyArray<string>).includes(alg)

const HASH = { 256: "SHA-256", 384: "SHA-384", 512: "SHA-512" } as const

/** WebCrypto verify parameters for a JWS alg (RFC 7518 §3; PSS salt = hash length, RFC 7518 §3.5). */
const verifyParams = (alg: JwsAlgorithm): AlgorithmIdentifier | RsaPssParams | EcdsaParams => {
  if (alg === "EdDSA" || alg === "Ed25519") return { name: "Ed25519" }
  const bits = Number(alg.slice(2)) as 256 | 384 | 512
  if (alg.startsWith("PS")) return { name: "RSA-PSS", saltLength: bits / 8 }
  if (alg.startsWith("RS")) return { name: "RSASSA-PKCS1-v1_5" }
  return { name: "ECDSA", hash: HASH[bits] }
}

/** Does the JWK's key type fit the algorithm? (RFC 9421 §3.2 step 6: the key must suit the algorithm.) */
export const keyFitsAlgorithm = (jwk: jose.JWK, alg: JwsAlgorithm): boolean => {
  if (alg === "EdDSA" || alg === "Ed25519") return jwk.kty === "OKP" && jwk.crv === "Ed25519"
  if (alg.startsWith("PS") || alg.startsWith("RS")) return jwk.kty === "RSA"
  const crv = { ES256: "P-256", ES384: "P-384", ES512: "P-521" }[alg as "ES256" | "ES384" | "ES512"]
  return jwk.kty === "EC" && jwk.crv === crv
}

/** Only the public members: `alg`, `key_ops`, `use` or a stray `d` never influence the import. */
const publicMembers = (jwk: jose.JWK): jose.JWK => {
  switch (jwk.kty) {
    case "RSA":
      return { kty: "RSA", n: jwk.n, e: jwk.e }
    case "EC":
      return { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y }
    case "OKP":
      return { kty: "OKP", crv: jwk.crv, x: jwk.x }
    default:
      return { kty: jwk.kty }
  }
}

/** Import a public JWK for verification with `alg`; undefined when it does not fit or is malformed. */
export const importVerificationKey = async (jwk: jose.JWK, alg: JwsAlgorithm): Promise<CryptoKey | undefined> => {
  if (!keyFitsAlgorithm(jwk, alg)) return undefined
  try {
    const key = await jose.importJWK(publicMembers(jwk), alg === "Ed25519" ? "EdDSA" : alg)
    return key instanceof Uint8Array ? undefined : key
  } catch {
    return undefined
  }
}

/** RFC 9421 §3.2 step 8: verify `signature` over the signature base with the key. */
export const verifyBase = async (
  alg: JwsAlgorithm,
  key: CryptoKey,
  base: string,
  signature: Uint8Array<ArrayBuffer>
): Promise<boolean> => {
  try {
    return await crypto.subtle.verify(verifyParams(alg), key, signature, new TextEncoder().encode(base))
  } catch {
    return false
  }
}

/** RFC 9421 §3.3.3: HMAC-SHA256 over the base with a shared secret (for the RFC's own vectors). */
export const verifyHmacSha256 = async (secret: Uint8Array<ArrayBuffer>, base: string, signature: Uint8Array<ArrayBuffer>) => {
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["verify"])
  return crypto.subtle.verify("HMAC", key, signature, new TextEncoder().encode(base))
}
