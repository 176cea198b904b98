/**
 * RFC 9421 Appendix B: the test keys (B.1), the test request and response (B.2) and the
 * signatures of B.2.1–B.2.6. The published signatures verify over the published bases
 * with these keys, which is what checks this transcription.
 */
import { createPrivateKey, createPublicKey } from "node:crypto"

/** B.1.2 test-key-rsa-pss (public) */
export const RSA_PSS_PUBLIC = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----`

/** B.1.3 test-key-ecc-p256 */
export const ECC_P256_PUBLIC = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lf
w0EkjqF7xB4FivAxzic30tMM4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==
-----END PUBLIC KEY-----`
export const ECC_P256_PRIVATE = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIFKbhfNZfpDsW43+0+JjUr9K+bTeuxopu653+hBaXGA7oAoGCCqGSM49
AwEHoUQDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lfw0EkjqF7xB4FivAxzic30tMM
4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==
-----END EC PRIVATE KEY-----`

/** B.1.4 test-key-ed25519 */
export const ED25519_PUBLIC = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----`
export const ED25519_PRIVATE = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----`

/** B.1.5 test-shared-secret */
export const SHARED_SECRET = "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=="

export const publicJwk = (pem: string) => createPublicKey(pem).export({ format: "jwk" })
export const privateJwk = (pem: string) => createPrivateKey(pem).export({ format: "jwk" })

/** RFC 9530 §B / RFC 9421 B.2: Content-Digest of the test request's content */
export const REQUEST_DIGEST = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
export const RESPONSE_DIGEST = "sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:"

/** B.2 test-request */
export const testRequest = (extra: Record<string, string> = {}) => ({
  method: "POST",
  url: "https://example.com/foo?param=Value&Pet=dog",
  headers: new Headers({
    host: "example.com",
    date: "Tue, 20 Apr 2021 02:07:55 GMT",
    "content-type": "application/json",
    "content-digest": REQUEST_DIGEST,
    "content-length": "18",
    ...extra
  }),
  body: `{"hello": "world"}`
})

/** B.2 test-response */
export const testResponse = (extra: Record<string, string> = {}) => ({
  status: 200,
  headers: new Headers({
    date: "Tue, 20 Apr 2021 02:07:56 GMT",
    "content-type": "application/json",
    "content-digest": RESPONSE_DIGEST,
    "content-length": "23",
    ...extra
  }),
  body: `{"message": "good dog"}`
})

export interface Vector {
  readonly section: string
  readonly keyPem: string
  /** JWS algorithm doing the registry algorithm's operation (RFC 9421 §3.3) */
  readonly alg: "PS512" | "ES256" | "EdDSA" | "HS256"
  readonly response?: boolean
  readonly signatureInput: string
  readonly signature: string
  readonly base: string
}

const line = (...parts: Array<string>) => parts.join("\n")

export const VECTORS: ReadonlyArray<Vector> = [
  {
    section: "B.2.1",
    keyPem: RSA_PSS_PUBLIC,
    alg: "PS512",
    signatureInput: `sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"`,
    signature: "sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:",
    base: `"@signature-params": ();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"`
  },
  {
    section: "B.2.2",
    keyPem: RSA_PSS_PUBLIC,
    alg: "PS512",
    signatureInput: `sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example"`,
    signature: "sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE5qH7KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaqwZVtR8NV7+4UKkjqpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:",
    base: line(
      `"@authority": example.com`,
      `"content-digest": ${REQUEST_DIGEST}`,
      `"@query-param";name="Pet": dog`,
      `"@signature-params": ("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example"`
    )
  },
  {
    section: "B.2.3",
    keyPem: RSA_PSS_PUBLIC,
    alg: "PS512",
    signatureInput: `sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"`,
    signature: "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:",
    base: line(
      `"date": Tue, 20 Apr 2021 02:07:55 GMT`,
      `"@method": POST`,
      `"@path": /foo`,
      `"@query": ?param=Value&Pet=dog`,
      `"@authority": example.com`,
      `"content-type": application/json`,
      `"content-digest": ${REQUEST_DIGEST}`,
      `"content-length": 18`,
      `"@signature-params": ("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"`
    )
  },
  {
    section: "B.2.4",
    keyPem: ECC_P256_PUBLIC,
    alg: "ES256",
    response: true,
    signatureInput: `sig-b24=("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"`,
    signature: "sig-b24=:wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw==:",
    base: line(
      `"@status": 200`,
      `"content-type": application/json`,
      `"content-digest": ${RESPONSE_DIGEST}`,
      `"content-length": 23`,
      `"@signature-params": ("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"`
    )
  },
  {
    section: "B.2.5",
    keyPem: "",
    alg: "HS256",
    signatureInput: `sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"`,
    signature: "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:",
    base: line(
      `"date": Tue, 20 Apr 2021 02:07:55 GMT`,
      `"@authority": example.com`,
      `"content-type": application/json`,
      `"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"`
    )
  },
  {
    section: "B.2.6",
    keyPem: ED25519_PUBLIC,
    alg: "EdDSA",
    signatureInput: `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`,
    signature: "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:",
    base: line(
      `"date": Tue, 20 Apr 2021 02:07:55 GMT`,
      `"@method": POST`,
      `"@path": /foo`,
      `"@authority": example.com`,
      `"content-type": application/json`,
      `"content-length": 18`,
      `"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
    )
  }
]
