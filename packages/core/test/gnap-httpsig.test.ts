/**
 * HTTP Message Signatures (RFC 9421), Digest Fields (RFC 9530) and the GNAP interaction
 * hash (RFC 9635 §4.2.3) against the RFCs' own test vectors — for the server-side verifier
 * in core and, independently, for the testkit's GNAP client.
 */
import {
  contentDigest as clientContentDigest,
  finishHash,
  importClientKey,
  signatureBaseOf,
  signMessage
} from "@gatehouse/testkit"
import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import { importVerificationKey, verifyBase, verifyHmacSha256 } from "../src/gnap/httpsig/algorithms.js"
import { verifyContentDigest } from "../src/gnap/httpsig/content-digest.js"
import { readSignatures, SignatureBaseError, signatureBase } from "../src/gnap/httpsig/signature-base.js"
import { parseDictionary, serializeDictionary, StructuredFieldError } from "../src/gnap/httpsig/structured-fields.js"
import { interactionHash, sha3 } from "../src/gnap/hash.js"
import {
  ECC_P256_PRIVATE,
  ED25519_PRIVATE,
  privateJwk,
  publicJwk,
  REQUEST_DIGEST,
  SHARED_SECRET,
  testRequest,
  testResponse,
  VECTORS
} from "./helpers/rfc9421.js"

const bytes = (s: string) => new TextEncoder().encode(s)

/** The server verifier's verdict on one vector's message (optionally altered). */
const serverVerifies = async (v: (typeof VECTORS)[number], alter: (m: { method?: string; url?: string; status?: number; headers: Headers }) => void = () => {}) => {
  const message = v.response ? testResponse() : testRequest()
  message.headers.set("signature-input", v.signatureInput)
  message.headers.set("signature", v.signature)
  alter(message)
  const [signature] = readSignatures(message.headers)
  const base = signatureBase(message, signature!.input)
  const valid = v.alg === "HS256"
    ? await verifyHmacSha256(Uint8Array.from(Buffer.from(SHARED_SECRET, "base64")), base, signature!.signature as Uint8Array<ArrayBuffer>)
    : await verifyBase(v.alg, (await importVerificationKey(publicJwk(v.keyPem), v.alg))!, base, signature!.signature as Uint8Array<ArrayBuffer>)
  return { base, valid }
}

describe("RFC 9421 Appendix B.2 test vectors: the server-side verifier", () => {
  for (const v of VECTORS) {
    it(`RFC 9421 ${v.section}: rebuilds the published signature base and verifies the published signature`, async () => {
      const { base, valid } = await serverVerifies(v)
      expect(base).toBe(v.base)
      expect(valid).toBe(true)
    })
  }

  it("RFC 9421 B.2.3: a changed covered component (the method, a field) no longer verifies", async () => {
    const v = VECTORS.find((x) => x.section === "B.2.3")!
    expect((await serverVerifies(v, (m) => void (m.method = "PUT"))).valid).toBe(false)
    expect((await serverVerifies(v, (m) => m.headers.set("content-length", "19"))).valid).toBe(false)
    expect((await serverVerifies(v, (m) => void (m.url = "https://example.com/foo?param=Value&Pet=cat"))).valid).toBe(false)
  })

  it("RFC 9421 B.2.6: a signature verified with another key fails", async () => {
    const v = VECTORS.find((x) => x.section === "B.2.6")!
    const message = testRequest({ "signature-input": v.signatureInput, signature: v.signature })
    const [signature] = readSignatures(message.headers)
    const other = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair
    expect(await verifyBase("EdDSA", other.publicKey, signatureBase(message, signature!.input), signature!.signature as Uint8Array<ArrayBuffer>)).toBe(false)
  })

  it("RFC 9421 §2.5: a covered field missing from the message, or listed twice, is an error (not an empty value)", () => {
    const message = testRequest({ "signature-input": `sig=("x-missing");created=1`, signature: "sig=:AAAA:" })
    const [signature] = readSignatures(message.headers)
    expect(() => signatureBase(message, signature!.input)).toThrow(SignatureBaseError)
    message.headers.set("signature-input", `sig=("@method" "@method");created=1`)
    expect(() => signatureBase(message, readSignatures(message.headers)[0]!.input)).toThrow(/twice/)
  })

  it("RFC 9421 §4.1/§4.2: a Signature-Input label without a Signature, or a non-byte-sequence signature, is refused", () => {
    expect(() => readSignatures(new Headers({ "signature-input": `a=("@method");created=1`, signature: "b=:AAAA:" }))).toThrow(/no matching/)
    expect(() => readSignatures(new Headers({ "signature-input": `a=("@method");created=1`, signature: `a="text"` }))).toThrow(/byte sequence/)
    expect(() => readSignatures(new Headers({ "signature-input": `a=("@method";created=1`, signature: "a=:AAAA:" }))).toThrow(SignatureBaseError)
  })
})

describe("RFC 9421 Appendix B.2 test vectors: the testkit GNAP client (independent code)", () => {
  it("RFC 9421 B.2.6: the client reproduces the Ed25519 signature byte for byte", async () => {
    const v = VECTORS.find((x) => x.section === "B.2.6")!
    const key = await importClientKey(privateJwk(ED25519_PRIVATE), "EdDSA", "test-key-ed25519")
    const message = testRequest()
    const signed = await signMessage(message, {
      label: "sig-b26",
      components: ["date", "@method", "@path", "@authority", "content-type", "content-length"],
      params: [["created", 1618884473], ["keyid", "test-key-ed25519"]]
    }, key)
    expect(signed.base).toBe(v.base)
    expect(signed.signatureInput).toBe(v.signatureInput)
    expect(signed.signatureHeader).toBe(v.signature)
  })

  it("RFC 9421 B.2.2, B.2.3: the client builds the published signature bases", () => {
    const message = testRequest()
    expect(signatureBaseOf(message, {
      components: ["@authority", "content-digest", { name: "@query-param", params: { name: "Pet" } }],
      params: [["created", 1618884473], ["keyid", "test-key-rsa-pss"], ["tag", "header-example"]]
    })).toBe(VECTORS.find((x) => x.section === "B.2.2")!.base)
    expect(signatureBaseOf(message, {
      components: ["date", "@method", "@path", "@query", "@authority", "content-type", "content-digest", "content-length"],
      params: [["created", 1618884473], ["keyid", "test-key-rsa-pss"]]
    })).toBe(VECTORS.find((x) => x.section === "B.2.3")!.base)
  })

  it("RFC 9421 B.1.3 key: an ECDSA P-256 signature made by the client verifies with the server verifier (and not after tampering)", async () => {
    const key = await importClientKey(privateJwk(ECC_P256_PRIVATE), "ES256", "test-key-ecc-p256")
    const message = testRequest()
    const spec = { components: ["@method", "@target-uri", "content-digest"], params: [["created", 1618884473], ["keyid", "test-key-ecc-p256"]] as const }
    const signed = await signMessage(message, { components: [...spec.components], params: [...spec.params] }, key)
    message.headers.set("signature-input", signed.signatureInput)
    message.headers.set("signature", signed.signatureHeader)
    const [signature] = readSignatures(message.headers)
    const server = (await importVerificationKey(key.publicJwk as never, "ES256"))!
    expect(await verifyBase("ES256", server, signatureBase(message, signature!.input), signature!.signature as Uint8Array<ArrayBuffer>)).toBe(true)
    message.headers.set("content-digest", "sha-256=:AAAA:")
    expect(await verifyBase("ES256", server, signatureBase(message, signature!.input), signature!.signature as Uint8Array<ArrayBuffer>)).toBe(false)
  })
})

describe("RFC 9530 Content-Digest", () => {
  const content = `{"hello": "world"}`

  it("RFC 9530 §2 examples: sha-256 and sha-512 of the test content, client and server alike", async () => {
    expect(clientContentDigest(content, "sha-256")).toBe("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
    expect(clientContentDigest(content, "sha-512")).toBe(REQUEST_DIGEST)
    expect(await verifyContentDigest("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", bytes(content)))
      .toEqual({ ok: true, algorithms: ["sha-256"] })
    expect(await verifyContentDigest(REQUEST_DIGEST, bytes(content), "sha-512")).toEqual({ ok: true, algorithms: ["sha-512"] })
  })

  it("RFC 9530: a digest over other content, a missing field, or only unknown algorithms is refused", async () => {
    expect((await verifyContentDigest(REQUEST_DIGEST, bytes(`{"hello": "World"}`))).ok).toBe(false)
    expect((await verifyContentDigest(null, bytes(content))).ok).toBe(false)
    expect((await verifyContentDigest("md5=:AAAA:", bytes(content))).ok).toBe(false)
    expect((await verifyContentDigest("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", bytes(content), "sha-512")).ok).toBe(false)
    expect((await verifyContentDigest("sha-256=not-bytes", bytes(content))).ok).toBe(false)
  })
})

describe("RFC 9635 §4.2.3 interaction hash", () => {
  const input = {
    clientNonce: "VJLO6A4CATR0KRO",
    asNonce: "MBDOFXG4Y5CVJCX821LH",
    interactRef: "4IFWWIKYB2PQ6U56NL1",
    grantEndpoint: "https://server.example.com/tx"
  }

  it("RFC 9635 §4.2.3: the published sha-256 vector, server and client", async () => {
    expect(await interactionHash(input)).toBe("x-gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY")
    expect(finishHash(input.clientNonce, input.asNonce, input.interactRef, input.grantEndpoint)).toBe("x-gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY")
  })

  it("RFC 9635 §4.2.3: the published sha3-512 vector (SHA-3 implemented in core, FIPS 202), server and client", async () => {
    const expected = "pyUkVJSmpqSJMaDYsk5G8WCvgY91l-agUPe1wgn-cc5rUtN69gPI2-S_s-Eswed8iB4PJ_a5Hg6DNi7qGgKwSQ"
    expect(await interactionHash(input, "sha3-512")).toBe(expected)
    expect(finishHash(input.clientNonce, input.asNonce, input.interactRef, input.grantEndpoint, "sha3-512")).toBe(expected)
  })

  it("FIPS 202: core's SHA-3 equals Node's for every length around the rate boundaries", () => {
    for (const bits of [224, 256, 384, 512] as const) {
      const rate = (1600 - 2 * bits) / 8
      for (const length of [0, 1, rate - 1, rate, rate + 1, 2 * rate + 3]) {
        const data = new Uint8Array(length).map((_, i) => (i * 31 + bits) & 0xff)
        expect(Buffer.from(sha3(bits, data)).toString("hex")).toBe(createHash(`sha3-${bits}`).update(data).digest("hex"))
      }
    }
  })
})

describe("RFC 8941 structured fields (the verifier's parser)", () => {
  it("RFC 8941 §4.2.2: parses a GNAP Signature-Input dictionary and serializes it back canonically", () => {
    const text = `sig1=("@method" "@target-uri" "content-digest");created=1730000000;keyid="tv-1";nonce="k3J8ao1c";tag="gnap", sig2=?0;x=-1.5`
    const dict = parseDictionary(text)
    expect([...dict.keys()]).toEqual(["sig1", "sig2"])
    expect(serializeDictionary(dict)).toBe(text)
  })

  it("RFC 8941 §4.2: malformed values are errors, not partial results", () => {
    for (const bad of [`a=("x"`, `a="unterminated`, `a=1,`, `A=1`, `a=:not base64!:`, `a=1 b=2`, `a=?2`, `a="\\x"`]) {
      expect(() => parseDictionary(bad), bad).toThrow(StructuredFieldError)
    }
  })
})
