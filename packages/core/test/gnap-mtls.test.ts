/**
 * RFC 9635 §7.3.2 `mtls` key proofing, checklist item 27: the client certificate arrives in
 * the RFC 9440 `Client-Cert` field (trusted only with `gnap.mtls.trustClientCertHeader`),
 * and must be the key's `cert` (§7.1, base64 DER) or hash to its `cert#S256` (RFC 8705
 * §3.1). Real self-signed certificates, made with the openssl CLI before the tests.
 */
import { type GnapResponse } from "@gatehouse/testkit"
import { execFileSync } from "node:child_process"
import { createHash, X509Certificate } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type GnapHarness, interactThroughRedirect, makeGnap } from "./helpers/gnap.js"

const expectError = (r: GnapResponse, code: string) => {
  expect(r.error, JSON.stringify(r.body)).toBe(code)
  expect(r.body["access_token"]).toBeUndefined()
}

const dir = mkdtempSync(join(tmpdir(), "gnap-mtls-"))
/** A fresh self-signed P-256 certificate, base64 DER. */
const makeCert = (name: string) => {
  const out = join(dir, `${name}.der`)
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", join(dir, `${name}.key`), "-out", out, "-outform", "DER", "-days", "2", "-subj", `/CN=${name}`
  ], { stdio: "ignore" })
  return readFileSync(out).toString("base64")
}

let certA: string
let certB: string
let h: GnapHarness
let off: GnapHarness
beforeAll(async () => {
  certA = makeCert("client-a")
  certB = makeCert("client-b")
  h = await makeGnap({ gnap: { mtls: { trustClientCertHeader: true } } })
  off = await makeGnap()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const request = { access_token: { access: ["photos"] }, interact: { start: ["user_code"] } }

describe("#27 (§7.3.2) mtls key proofing through the Client-Cert field (RFC 9440)", () => {
  it("the fixtures are real X.509 certificates (node:crypto parses them)", () => {
    expect(new X509Certificate(Buffer.from(certA, "base64")).subject).toContain("client-a")
  })

  it("#27 a key given as cert, with that certificate in Client-Cert → accepted; the poll is proven the same way", async () => {
    const client = await h.newClient({ proof: "mtls", clientCert: certA })
    const first = await client.request(request)
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    await h.advance(5)
    const poll = await client.continue(first.continue!)
    expect(poll.status, JSON.stringify(poll.body)).toBe(200)
    // §2.3: the same certificate is the same instance
    expect((await client.request(request)).body["instance_id"]).toBe(first.body["instance_id"])
  })

  it("#27 (§7.1, RFC 8705 §3.1) a key given as cert#S256 → accepted with the matching certificate", async () => {
    const client = await h.newClient({ proof: "mtls", clientCert: certA, certKeyForm: "cert#S256" })
    const r = await client.request(request)
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(client.keyObject()["cert#S256"]).toBe(createHash("sha256").update(Buffer.from(certA, "base64")).digest("base64url"))
  })

  it("#27 another certificate in Client-Cert, none, or a malformed one → invalid_client", async () => {
    const client = await h.newClient({ proof: "mtls", clientCert: certA })
    const withHeader = (value: string | null) => ({
      tamper: { after: (r: { headers: Headers }) => void (value === null ? r.headers.delete("client-cert") : r.headers.set("client-cert", value)) }
    })
    expectError(await client.request(request, withHeader(`:${certB}:`)), "invalid_client")
    expectError(await client.request(request, withHeader(null)), "invalid_client")
    expectError(await client.request(request, withHeader(certA)), "invalid_client")
    expectError(await client.request(request, withHeader(":bm90IGEgY2VydA==:")), "invalid_client")
    const s256 = await h.newClient({ proof: "mtls", clientCert: certA, certKeyForm: "cert#S256" })
    expectError(await s256.request(request, withHeader(`:${certB}:`)), "invalid_client")
  })

  it("#14 (§7.1) mtls with a jwk, a cert that is not DER, a cert#S256 that is not a thumbprint → invalid_client", async () => {
    const client = await h.newClient({ proof: "mtls", clientCert: certA })
    const jwkKey = await h.newClient()
    expectError(await client.request({ ...request, client: { key: { proof: "mtls", jwk: jwkKey.key.publicJwk } } }), "invalid_client")
    expectError(await client.request({ ...request, client: { key: { proof: "mtls", cert: "bm90IGEgY2VydA==" } } }), "invalid_client")
    expectError(await client.request({ ...request, client: { key: { proof: "mtls", "cert#S256": "abc" } } }), "invalid_client")
  })

  it("#27 without gnap.mtls the header is not trusted: mtls → invalid_client, and discovery does not offer it", async () => {
    const client = await off.newClient({ proof: "mtls", clientCert: certA })
    expectError(await client.request(request), "invalid_client")
    expect((await client.discover())["key_proofs_supported"]).not.toContain("mtls")
    expect((await (await h.newClient()).discover())["key_proofs_supported"]).toContain("mtls")
  })

  it("#68 (§7.3.2.1) an mtls-bound token's key is not rotated: key_rotation_not_supported; the token itself still rotates (§6.1)", async () => {
    const client = await h.newClient({ proof: "mtls", clientCert: certA })
    const first = await client.request({ access_token: { access: ["photos"] }, interact: { start: ["redirect"] } })
    const interaction = await interactThroughRedirect(h, first.interact!["redirect"])
    expect(interaction.response.status).toBe(200)
    await h.advance(5)
    const approved = await client.continue(first.continue!)
    expect(approved.status, JSON.stringify(approved.body)).toBe(200)
    const token = approved.accessToken()
    expectError(await client.rotateToken(token, { body: { key: { proof: "mtls", cert: certB } } }), "key_rotation_not_supported")
    const rotated = await client.rotateToken(token)
    expect(rotated.status).toBe(200)
    expect(rotated.accessToken().value).not.toBe(token.value)
  })
})
