/**
 * Digest Fields (RFC 9530): `Content-Digest` over the raw content bytes. Recomputed by the
 * verifier (RFC 9635 §7.3.1 MUST), never trusted.
 */
import { isInnerList, parseDictionary } from "./structured-fields.js"

/** RFC 9530 §5 algorithms with status "standard". */
export const DIGEST_ALGORITHMS = { "sha-256": "SHA-256", "sha-512": "SHA-512" } as const
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS

const equalBytes = (a: Uint8Array, b: Uint8Array) => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

export type ContentDigestResult =
  | { readonly ok: true; readonly algorithms: ReadonlyArray<DigestAlgorithm> }
  | { readonly ok: false; readonly reason: string }

/**
 * Check a `Content-Digest` field value against `content`. Every member with a supported
 * algorithm must match, at least one must be present, and `require`, when given, must be
 * among them. Unknown algorithms are ignored (RFC 9530 §2).
 */
export const verifyContentDigest = async (
  header: string | null,
  content: Uint8Array<ArrayBuffer>,
  require?: DigestAlgorithm | undefined
): Promise<ContentDigestResult> => {
  if (header === null) return { ok: false, reason: "the Content-Digest field is missing" }
  let dict: ReturnType<typeof parseDictionary>
  try {
    dict = parseDictionary(header)
  } catch {
    return { ok: false, reason: "the Content-Digest field is malformed" }
  }
  const checked: Array<DigestAlgorithm> = []
  for (const [alg, member] of dict) {
    if (!Object.hasOwn(DIGEST_ALGORITHMS, alg)) continue
    if (isInnerList(member) || !(member.value instanceof Uint8Array)) {
      return { ok: false, reason: `Content-Digest "${alg}" is not a byte sequence` }
    }
    const actual = new Uint8Array(await crypto.subtle.digest(DIGEST_ALGORITHMS[alg as DigestAlgorithm], content))
    if (!equalBytes(actual, member.value)) return { ok: false, reason: `Content-Digest "${alg}" does not match the content` }
    checked.push(alg as DigestAlgorithm)
  }
  if (checked.length === 0) return { ok: false, reason: "Content-Digest has no sha-256 or sha-512 member" }
  if (require !== undefined && !checked.includes(require)) {
    return { ok: false, reason: `Content-Digest must include "${require}"` }
  }
  return { ok: true, algorithms: checked }
}
