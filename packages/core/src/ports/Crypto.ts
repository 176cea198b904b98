/**
 * Randomness, digests and constant-time comparison, on WebCrypto only (so core runs on
 * Node, Bun, Deno and workers). A port so tests can make randomness deterministic.
 */
import { Context, Effect, Layer } from "effect"

const encoder = new TextEncoder()

/** base64url without padding (RFC 4648 §5). */
export const base64url = (bytes: Uint8Array): string => {
  let binary = ""
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!)
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
}

/**
 * Constant-time string comparison: the time taken depends only on the length of `b`
 * (the secret side), never on where the strings first differ.
 */
export const timingSafeEqual = (a: string, b: string): boolean => {
  const ab = encoder.encode(a)
  const bb = encoder.encode(b)
  let diff = ab.length ^ bb.length
  for (let i = 0; i < bb.length; i++) diff |= (ab[i % (ab.length || 1)] ?? 0) ^ bb[i]!
  return diff === 0
}

export class Crypto extends Context.Service<Crypto, {
  /** `bytes` random bytes (default 32 = 256 bits), base64url. */
  randomToken(bytes?: number): Effect.Effect<string>
  /** SHA-256 of the UTF-8 string, base64url: how secrets, codes and tokens are stored. */
  digest(value: string): Effect.Effect<string>
  /** SHA-256 of bytes, raw. */
  sha256(value: Uint8Array<ArrayBuffer> | string): Effect.Effect<Uint8Array>
  /** Constant-time equality. */
  equal(a: string, b: string): boolean
}>()("@gatehouse/core/ports/Crypto") {
  static readonly layerWebCrypto = Layer.succeed(Crypto, Crypto.of({
    randomToken: (bytes = 32) =>
      Effect.sync(() => base64url(globalThis.crypto.getRandomValues(new Uint8Array(bytes)))),
    digest: (value) =>
      Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", encoder.encode(value))).pipe(
        Effect.map((buf) => base64url(new Uint8Array(buf)))
      ),
    sha256: (value) =>
      Effect.promise(() =>
        globalThis.crypto.subtle.digest("SHA-256", typeof value === "string" ? encoder.encode(value) : value)
      ).pipe(Effect.map((buf) => new Uint8Array(buf))),
    equal: timingSafeEqual
  }))
}
