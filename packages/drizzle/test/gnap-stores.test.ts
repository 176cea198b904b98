/**
 * GNAP state that lives in the stored grant and token records — a token's key after a key
 * rotation (RFC 9635 §6.1.1), an mtls certificate key (§7.3.2), a denied grant kept open
 * for renegotiation (§3.6) — on real SQLite (a temporary file) and real Postgres (a schema
 * of its own), through the same handler and testkit GNAP client as the memory tests.
 */
import { DrizzleStorage } from "@gatehouse/drizzle"
import { generateClientKey } from "@gatehouse/testkit"
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  approvedGrant,
  clientNonce,
  finishParams,
  type GnapHarness,
  interactThroughRedirect,
  makeGnap,
  redirectRequest
} from "../../core/test/helpers/gnap.js"
import { dropSchema, freshSchema, PG_URL } from "./pg.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gatehouse-gnap-"))
const schema = freshSchema()
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true })
  await dropSchema(schema)
})

const certDer = () => {
  const out = path.join(dir, `cert-${randomBytes(4).toString("hex")}.der`)
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", `${out}.key`, "-out", out, "-outform", "DER", "-days", "2", "-subj", "/CN=gnap-client"
  ], { stdio: "ignore" })
  return fs.readFileSync(out).toString("base64")
}

const backends = [
  ["sqlite", () => DrizzleStorage.sqlite({ path: path.join(dir, "gatehouse.sqlite"), sweepIntervalMs: false })],
  ["postgres", () => DrizzleStorage.postgres({ connectionString: PG_URL, schema, kek: randomBytes(32).toString("base64url"), max: 3, sweepIntervalMs: false })]
] as const

for (const [name, storage] of backends) {
  describe(`GNAP records on ${name}`, () => {
    let h: GnapHarness
    beforeAll(async () => {
      h = await makeGnap({ storage: storage(), gnap: { mtls: { trustClientCertHeader: true }, continueAfterDenial: true } })
    })

    it("#66 (§6.1.1) a token rotated to a new key is stored bound to it: the new key manages it, the old one no longer does", async () => {
      const { approved } = await approvedGrant(h)
      const newKey = await generateClientKey("ES256", "rotated-db")
      const rotated = await h.client.rotateTokenKey(approved.accessToken(), newKey)
      expect(rotated.status, JSON.stringify(rotated.body)).toBe(200)
      expect((await h.client.rotateToken(rotated.accessToken())).error).toBe("invalid_client")
      expect((await h.client.withKey(newKey).rotateToken(rotated.accessToken())).status).toBe(200)
    })

    it("#27 (§7.3.2) an mtls grant's certificate key survives storage: the continuation is proven by the same certificate, not another", async () => {
      const cert = certDer()
      const client = await h.newClient({ proof: "mtls", clientCert: cert })
      const first = await client.request({ access_token: { access: ["photos"] }, interact: { start: ["user_code"] } })
      expect(first.status, JSON.stringify(first.body)).toBe(200)
      await h.advance(5)
      const other = await h.newClient({ proof: "mtls", clientCert: certDer() })
      expect((await other.continue(first.continue!)).error).toBe("invalid_client")
      expect((await client.continue(first.continue!)).status).toBe(200)
    })

    it("#53 (§3.6) a denied grant kept open: user_denied with continue, then a PATCH asks the RO again", async () => {
      const nonce = clientNonce()
      const first = await h.client.request(redirectRequest(nonce))
      const finish = finishParams((await interactThroughRedirect(h, first.interact!["redirect"], { deny: true })).response)
      await h.advance(5)
      const denied = await h.client.continue(first.continue!, { interact_ref: finish.interact_ref })
      expect(denied.error).toBe("user_denied")
      await h.advance(5)
      const updated = await h.client.update(denied.continue!, { access_token: { access: ["photos"] }, interact: { start: ["redirect"] } })
      expect(updated.status, JSON.stringify(updated.body)).toBe(200)
      expect(updated.interact!["redirect"]).toBeDefined()
    })
  })
}
