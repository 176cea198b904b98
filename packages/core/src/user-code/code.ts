/**
 * User codes as a person reads and types them (RFC 8628 §6.1, RFC 9635 §3.3.3): 8
 * characters of the base-20 alphabet of consonants BCDFGHJKLMNPQRSTVWXZ (no vowels, so no
 * words; no digits, so no 0/O or 1/I confusion), about 34.6 bits, shown as `XXXX-XXXX`.
 * Entry is case-insensitive and ignores dashes, spaces and other separators.
 */
import * as Effect from "effect/Effect"
import { Crypto } from "../ports/Crypto.js"

/** RFC 8628 §6.1: the base-20 character set. */
export const ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"

/** RFC 8628 §6.1: 8 characters, 20^8 ≈ 2^34.6 codes. */
export const LENGTH = 8

/** Longer input is not a user code (and is not looked at further). */
const MAX_INPUT = 64

/** Separators a person may type or copy between the groups: whitespace, dashes, dots, ... */
const SEPARATORS = /[\s\-\u2010-\u2015\u2212._/:·]+/gu

const CANONICAL = new RegExp(`^[${ALPHABET}]{${LENGTH}}$`)

/**
 * The canonical form (8 capital letters of the alphabet) of what a person typed, or
 * `undefined` when it cannot be a user code. RFC 8628 §6.1 / RFC 9635 §4.1.2: case is
 * ignored, and so are separators; Unicode compatibility forms (full-width letters) are
 * folded first (NFKC).
 */
export const normalize = (input: string): string | undefined => {
  if (typeof input !== "string" || input.length > MAX_INPUT) return undefined
  const folded = input.normalize("NFKC").replace(SEPARATORS, "").toUpperCase()
  return CANONICAL.test(folded) ? folded : undefined
}

/** The display form `XXXX-XXXX` of a canonical code. */
export const format = (code: string): string => `${code.slice(0, LENGTH / 2)}-${code.slice(LENGTH / 2)}`

/** base64url (RFC 4648 §5) -> bytes */
const fromBase64url = (value: string): Uint8Array => {
  const binary = atob(value.replace(/-/g, "+").replace(/_/g, "/"))
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}

/** The largest multiple of 20 below 256: bytes at or above it are drawn again (no modulo bias). */
const UNBIASED_LIMIT = 240

/**
 * A fresh canonical code from the Crypto port's randomness, each character uniform over
 * the 20 letters (rejection sampling).
 */
export const generate: Effect.Effect<string, never, Crypto> = Effect.gen(function*() {
  const crypto = yield* Crypto
  let code = ""
  while (code.length < LENGTH) {
    for (const byte of fromBase64url(yield* crypto.randomToken(LENGTH * 2))) {
      if (byte >= UNBIASED_LIMIT) continue
      code += ALPHABET[byte % ALPHABET.length]
      if (code.length === LENGTH) break
    }
  }
  return code
})
