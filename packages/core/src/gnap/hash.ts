/**
 * The interaction hash (RFC 9635 §4.2.3): base64url (no padding) of the hash of
 * `client nonce \n AS nonce \n interact_ref \n grant endpoint URI`, ASCII, no trailing
 * newline, with the client's `hash_method` from the IANA Named Information Hash Algorithm
 * Registry (default sha-256). SHA-3 is not in WebCrypto: it is implemented here (FIPS 202).
 */
import { base64url } from "../ports/Crypto.js"

// --- Keccak-f[1600] and SHA-3 (FIPS 202 §3, §6.1) ----------------------------------------

const MASK = (1n << 64n) - 1n
const RC = [
  0x0000000000000001n, 0x0000000000008082n, 0x800000000000808an, 0x8000000080008000n,
  0x000000000000808bn, 0x0000000080000001n, 0x8000000080008081n, 0x8000000000008009n,
  0x000000000000008an, 0x0000000000000088n, 0x0000000080008009n, 0x000000008000000an,
  0x000000008000808bn, 0x800000000000008bn, 0x8000000000008089n, 0x8000000000008003n,
  0x8000000000008002n, 0x8000000000000080n, 0x000000000000800an, 0x800000008000000an,
  0x8000000080008081n, 0x8000000000008080n, 0x0000000080000001n, 0x8000000080008008n
]
/** rotation offsets r[x][y] (FIPS 202 §3.2.2) */
const R = [
  [0, 36, 3, 41, 18],
  [1, 44, 10, 45, 2],
  [62, 6, 43, 15, 61],
  [28, 55, 25, 21, 56],
  [27, 20, 39, 8, 14]
]
const rot = (v: bigint, n: number) => (n === 0 ? v : ((v << BigInt(n)) | (v >> BigInt(64 - n))) & MASK)

const keccakF = (a: Array<bigint>) => {
  const c = new Array<bigint>(5)
  const b = new Array<bigint>(25)
  for (let round = 0; round < 24; round++) {
    for (let x = 0; x < 5; x++) c[x] = a[x]! ^ a[x + 5]! ^ a[x + 10]! ^ a[x + 15]! ^ a[x + 20]!
    for (let x = 0; x < 5; x++) {
      const d = c[(x + 4) % 5]! ^ rot(c[(x + 1) % 5]!, 1)
      for (let y = 0; y < 5; y++) a[x + 5 * y] = a[x + 5 * y]! ^ d
    }
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) b[y + 5 * ((2 * x + 3 * y) % 5)] = rot(a[x + 5 * y]!, R[x]![y]!)
    }
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) {
        a[x + 5 * y] = b[x + 5 * y]! ^ (~b[(x + 1) % 5 + 5 * y]! & MASK & b[(x + 2) % 5 + 5 * y]!)
      }
    }
    a[0] = a[0]! ^ RC[round]!
  }
}

/** SHA3-`bits` (FIPS 202 §6.1) of `data`. */
export const sha3 = (bits: 224 | 256 | 384 | 512, data: Uint8Array): Uint8Array => {
  const rate = (1600 - 2 * bits) / 8
  const padded = new Uint8Array(Math.floor(data.length / rate) * rate + rate)
  padded.set(data)
  // SHA-3 domain separation "01" + pad10*1
  padded[data.length] = padded[data.length]! ^ 0x06
  padded[padded.length - 1] = padded[padded.length - 1]! ^ 0x80
  const state = new Array<bigint>(25).fill(0n)
  for (let offset = 0; offset < padded.length; offset += rate) {
    for (let i = 0; i < rate / 8; i++) {
      let lane = 0n
      for (let j = 7; j >= 0; j--) lane = (lane << 8n) | BigInt(padded[offset + i * 8 + j]!)
      state[i] = state[i]! ^ lane
    }
    keccakF(state)
  }
  const out = new Uint8Array(bits / 8)
  for (let i = 0; i < out.length; i++) out[i] = Number((state[Math.floor(i / 8)]! >> BigInt(8 * (i % 8))) & 0xffn)
  return out
}

/** The hash methods accepted for `hash_method` (IANA Named Information Hash Algorithm Registry names). */
export const HASH_METHODS = {
  "sha-256": (d: Uint8Array<ArrayBuffer>) => crypto.subtle.digest("SHA-256", d).then((b) => new Uint8Array(b)),
  "sha-384": (d: Uint8Array<ArrayBuffer>) => crypto.subtle.digest("SHA-384", d).then((b) => new Uint8Array(b)),
  "sha-512": (d: Uint8Array<ArrayBuffer>) => crypto.subtle.digest("SHA-512", d).then((b) => new Uint8Array(b)),
  "sha3-224": (d: Uint8Array<ArrayBuffer>) => Promise.resolve(sha3(224, d)),
  "sha3-256": (d: Uint8Array<ArrayBuffer>) => Promise.resolve(sha3(256, d)),
  "sha3-384": (d: Uint8Array<ArrayBuffer>) => Promise.resolve(sha3(384, d)),
  "sha3-512": (d: Uint8Array<ArrayBuffer>) => Promise.resolve(sha3(512, d))
} as const
export type HashMethod = keyof typeof HASH_METHODS

/** RFC 9635 §4.2.3 */
export const interactionHash = async (
  input: { readonly clientNonce: string; readonly asNonce: string; readonly interactRef: string; readonly grantEndpoint: string },
  method: HashMethod = "sha-256"
): Promise<string> => {
  const base = [input.clientNonce, input.asNonce, input.interactRef, input.grantEndpoint].join("\n")
  return base64url(await HASH_METHODS[method](new TextEncoder().encode(base)))
}
