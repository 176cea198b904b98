/**
 * RFC 4648 §5 base64url without padding, as core encodes token ids, digests and JWS segments
 * (ports/Crypto.ts): the same characters as Node's own encoder for every length and byte
 * value, and flat strings however long (a scratch buffer larger than its first size).
 */
import { describe, expect, it } from "vitest"
import { base64url, base64urlDecode, base64urlString } from "../src/ports/Crypto.js"

describe("base64url (RFC 4648 §5, no padding)", () => {
  it("RFC 4648 §10 test vectors, unpadded", () => {
    const vectors = [["", ""], ["f", "Zg"], ["fo", "Zm8"], ["foo", "Zm9v"], ["foob", "Zm9vYg"], ["fooba", "Zm9vYmE"], ["foobar", "Zm9vYmFy"]]
    for (const [input, output] of vectors) expect(base64url(new TextEncoder().encode(input))).toBe(output)
  })

  it("RFC 4648 §5: the URL-safe alphabet (- and _) and Node's encoding for every length 0..700 and every byte value", () => {
    for (let n = 0; n <= 700; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 97 + n * 31) & 255)
      expect(base64url(bytes)).toBe(Buffer.from(bytes).toString("base64url"))
    }
    expect(base64url(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe("-_-_")
  })

  it("round-trips through base64urlDecode, interleaving long and short inputs (no state leaks between calls)", () => {
    const long = crypto.getRandomValues(new Uint8Array(4000))
    const short = crypto.getRandomValues(new Uint8Array(16))
    const a = base64url(short)
    const b = base64url(long)
    const c = base64url(short)
    expect([a, c]).toEqual([Buffer.from(short).toString("base64url"), Buffer.from(short).toString("base64url")])
    expect(base64urlDecode(b)).toEqual(long)
  })

  it("RFC 4648 §5: the native encoder (Node's Buffer) and the JavaScript one (runtimes without Buffer) agree", async () => {
    const saved = globalThis.Buffer
    let portable: typeof import("../src/ports/Crypto.js")
    try {
      // a second instance of the module, loaded where there is no Buffer
      ;(globalThis as { Buffer?: unknown }).Buffer = undefined
      portable = await import("../src/ports/Crypto.js?without-buffer" as string) as typeof import("../src/ports/Crypto.js")
    } finally {
      globalThis.Buffer = saved
    }
    expect(portable.base64url).not.toBe(base64url)
    // the RFC 4648 §10 vectors, without padding, and the two characters base64url changes
    const vectors: ReadonlyArray<[string, string]> = [["", ""], ["f", "Zg"], ["fo", "Zm8"], ["foo", "Zm9v"], ["foobar", "Zm9vYmFy"]]
    for (const [text, encoded] of vectors) {
      expect(base64urlString(text)).toBe(encoded)
      expect(portable.base64urlString(text)).toBe(encoded)
    }
    expect(base64url(new Uint8Array([0xfb, 0xff]))).toBe("-_8")
    expect(portable.base64url(new Uint8Array([0xfb, 0xff]))).toBe("-_8")
    for (let n = 0; n < 70; n++) {
      // a view into a larger buffer: only its own bytes are encoded
      const bytes = new Uint8Array(crypto.getRandomValues(new Uint8Array(n + 8)).buffer, 3, n)
      const expected = Buffer.from(bytes).toString("base64url")
      expect(base64url(bytes)).toBe(expected)
      expect(portable.base64url(bytes)).toBe(expected)
    }
    for (const text of ["{\"sub\":\"ü-✓-😀\"}", "x\uD800y", "a".repeat(1000)]) {
      const expected = Buffer.from(text, "utf8").toString("base64url")
      expect(base64urlString(text)).toBe(expected)
      expect(portable.base64urlString(text)).toBe(expected)
    }
  })
})
