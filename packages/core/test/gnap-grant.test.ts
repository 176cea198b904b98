/**
 * RFC 9635 §2 grant requests, §3 responses and §3.6 errors, §7.1/§7.3 key proofing:
 * checklist items 1–31 (gnap-checklist.md §2, A–C), through real Requests to the handler,
 * signed by the testkit's GNAP client, on a TestClock.
 */
import { generateClientKey, type GnapClient, type GnapResponse } from "@gatehouse/testkit"
import { createHash } from "node:crypto"
import { beforeAll, describe, expect, it } from "vitest"
import { approvedGrant, Browser, clientNonce, GRANT, type GnapHarness, makeGnap, redirectRequest } from "./helpers/gnap.js"

const simple = (extra: Record<string, unknown> = {}) => ({
  access_token: { access: ["photos"] },
  interact: { start: ["redirect"] },
  ...extra
})

/** §3.6: the body of an error is `error` and nothing else (no `continue` on a new request). */
const expectError = (r: GnapResponse, code: string) => {
  expect(r.error, JSON.stringify(r.body)).toBe(code)
  expect(Object.keys(r.body)).toEqual(["error"])
  expect(Object.keys(r.body["error"]).sort()).toEqual(["code", "description"])
  expect(r.response.headers.get("cache-control")).toBe("no-store")
}

let h: GnapHarness
beforeAll(async () => {
  h = await makeGnap({ gnap: { accessTypes: ["photos", "photo-api", "contacts", "dolphin-metadata"] } })
})

describe("A. request envelope and parsing (RFC 9635 §2, §3)", () => {
  it("#1 (§2) a form body, a JSON array, invalid JSON or no content → invalid_request", async () => {
    const send = (body: string, type = "application/json") => h.client.send({ url: GRANT, body, headers: { "content-type": type } })
    const parse = async (r: Response) => ({ status: r.status, body: await r.json() as { error: { code: string } } })
    for (const r of [
      await send("access_token=photos", "application/x-www-form-urlencoded"),
      await send(`[{"access_token": {"access": ["photos"]}}]`),
      await send(`{"access_token": `),
      await h.client.send({ url: GRANT })
    ]) {
      const { status, body } = await parse(r)
      expect(status).toBe(400)
      expect(body.error.code).toBe("invalid_request")
    }
  })

  it("#2 (§3) every response has Cache-Control: no-store and Content-Type application/json, success or error", async () => {
    const ok = await h.client.request(simple())
    expect(ok.status).toBe(200)
    expect(ok.response.headers.get("cache-control")).toBe("no-store")
    expect(ok.response.headers.get("content-type")).toBe("application/json")
    const bad = await h.client.request(simple({ access_token: { access: [] } }))
    expect(bad.response.headers.get("cache-control")).toBe("no-store")
    expect(bad.response.headers.get("content-type")).toBe("application/json")
  })

  it("#3 (§3.6) an error body holds only error {code, description}, with a registered code", async () => {
    const r = await h.client.request(simple({ access_token: { access: ["photos"], flags: ["bearer", "bearer"] } }))
    expectError(r, "invalid_flag")
    expect(typeof r.body["error"].description).toBe("string")
  })

  it("#4 (§2.1.1) a flag listed twice → invalid_flag; an unknown flag → invalid_flag", async () => {
    expectError(await h.client.request(simple({ access_token: { access: ["photos"], flags: ["bearer", "bearer"] } })), "invalid_flag")
    expectError(await h.client.request(simple({ access_token: { access: ["photos"], flags: ["split"] } })), "invalid_flag")
  })

  it("#5 (§2.1.2) several tokens: a missing label → invalid_request; duplicate labels → invalid_request", async () => {
    expectError(await h.client.request(simple({ access_token: [{ access: ["photos"], label: "a" }, { access: ["contacts"] }] })), "invalid_request")
    expectError(await h.client.request(simple({ access_token: [{ access: ["photos"], label: "a" }, { access: ["contacts"], label: "a" }] })), "invalid_request")
  })

  it("#6 (§3.2.1, §3.2.2) the response mirrors the request: object → object, array → array (even of one), labels echoed", async () => {
    const single = await approvedGrant(h, redirectRequest("n-single", { access_token: { access: ["photos"], label: "one" } }))
    expect(Array.isArray(single.approved.body["access_token"])).toBe(false)
    expect(single.approved.body["access_token"].label).toBe("one")
    const unlabelled = await approvedGrant(h, redirectRequest("n-unlabelled", { access_token: { access: ["photos"] } }))
    expect(unlabelled.approved.body["access_token"].label).toBeUndefined()
    const arrayOfOne = await approvedGrant(h, redirectRequest("n-array1", { access_token: [{ access: ["photos"], label: "only" }] }))
    expect(arrayOfOne.approved.body["access_token"]).toHaveLength(1)
    expect(arrayOfOne.approved.body["access_token"][0].label).toBe("only")
    const two = await approvedGrant(h, redirectRequest("n-array2", {
      access_token: [{ access: ["photos"], label: "p" }, { access: ["contacts"], label: "c", flags: ["bearer"] }]
    }))
    const tokens = two.approved.body["access_token"] as Array<Record<string, any>>
    expect(tokens.map((t) => t.label)).toEqual(["p", "c"])
    expect(tokens[0]!.access).toEqual(["photos"])
    expect(tokens[1]!.access).toEqual(["contacts"])
    expect(tokens[1]!.flags).toEqual(["bearer"])
    expect(tokens[0]!.value).not.toBe(tokens[1]!.value)
  })

  it("#7 (§8) access types and references are compared byte for byte: \"Photo-API\" is not \"photo-api\" → invalid_request", async () => {
    expectError(await h.client.request(simple({ access_token: { access: [{ type: "Photo-API", actions: ["read"] }] } })), "invalid_request")
    expectError(await h.client.request(simple({ access_token: { access: ["Photos"] } })), "invalid_request")
    expect((await h.client.request(simple({ access_token: { access: [{ type: "photo-api", actions: ["read"] }] } }))).status).toBe(200)
  })

  it("#7 (§8) an access object needs a string type; actions, locations, datatypes must be string arrays", async () => {
    expectError(await h.client.request(simple({ access_token: { access: [{ actions: ["read"] }] } })), "invalid_request")
    expectError(await h.client.request(simple({ access_token: { access: [{ type: "photo-api", actions: "read" }] } })), "invalid_request")
    expectError(await h.client.request(simple({ access_token: { access: [{ type: "photo-api", locations: ["not a uri"] }] } })), "invalid_request")
    expectError(await h.client.request(simple({ access_token: { access: [42] } })), "invalid_request")
  })

  it("#8 (Appendix D) unknown top-level members and unknown access members are ignored", async () => {
    const r = await h.client.request(simple({ extension_member: { anything: true }, access_token: { access: [{ type: "photo-api", custom: 1 }] } }))
    expect(r.status).toBe(200)
  })

  it("#9 (§2) `client` is required → invalid_request; a request for neither access nor subject → invalid_request", async () => {
    const r = await h.client.send({ url: GRANT, body: simple() })
    expect((await r.json() as { error: { code: string } }).error.code).toBe("invalid_request")
    expectError(await h.client.request({ interact: { start: ["redirect"] } }), "invalid_request")
  })
})

describe("B. client identification and key proof (RFC 9635 §2.3, §7.1, §7.3)", () => {
  it("#10 (§2.3.1) an unknown instance identifier → invalid_client", async () => {
    expectError(await h.client.request({ ...simple(), client: "no-such-instance" }), "invalid_client")
  })

  it("#11 (§2.3.1) an instance identifier used with a key not associated with it → invalid_client; with its own key → accepted", async () => {
    const first = await h.client.request(simple())
    const instanceId = first.body["instance_id"] as string
    const other = await h.newClient()
    expectError(await other.request({ ...simple(), client: instanceId }), "invalid_client")
    expect((await h.client.request({ ...simple(), client: instanceId })).status).toBe(200)
  })

  it("#12 (§2.3) a class_id this AS cannot interpret is ignored", async () => {
    const r = await h.client.request({ ...simple(), client: { key: h.client.keyObject(), class_id: "unknown-class" } })
    expect(r.status).toBe(200)
  })

  it("#13 (§2.3, §7.1.2) a symmetric key sent by value → invalid_client", async () => {
    const r = await h.client.request({ ...simple(), client: { key: { proof: "httpsig", jwk: { kty: "oct", k: "c2VjcmV0", alg: "HS256", kid: "s" } } } })
    expectError(r, "invalid_client")
  })

  it("#14 (§7.1) a JWK without alg or kid, with alg none, with private members, or two key formats → invalid_client", async () => {
    const jwk = h.client.key.publicJwk
    const { alg: _alg, ...noAlg } = jwk
    const { kid: _kid, ...noKid } = jwk
    for (const key of [
      { proof: "httpsig", jwk: noAlg },
      { proof: "httpsig", jwk: noKid },
      { proof: "httpsig", jwk: { ...jwk, alg: "none" } },
      { proof: "httpsig", jwk: { ...jwk, d: "AAAA" } },
      { proof: "httpsig", jwk, cert: "MIIB" },
      { proof: "mtls", jwk },
      { proof: "dpop", jwk }
    ]) {
      expectError(await h.client.request({ ...simple(), client: { key } }), "invalid_client")
    }
    expectError(await h.client.request({ ...simple(), client: { key: "a-key-reference" } }), "invalid_client")
  })

  it("#15 (§2.3, §3.5), #62 the same key by value is the same client instance: one unguessable instance_id; another key, another", async () => {
    const a = await h.client.request(simple())
    const b = await h.client.request(simple())
    expect(a.body["instance_id"]).toBe(b.body["instance_id"])
    const other = await (await h.newClient()).request(simple())
    expect(other.body["instance_id"]).not.toBe(a.body["instance_id"])
    // #62 (§3.5): unguessable
    expect(String(a.body["instance_id"]).length).toBeGreaterThanOrEqual(26)
  })

  it("#17 (§7.3) no proof, or a proof by another key → invalid_client", async () => {
    expectError(await h.client.request(simple(), { tamper: { noSignature: true } }), "invalid_client")
    const other = await generateClientKey("ES256", h.client.key.publicJwk.kid)
    expectError(await h.client.request(simple(), { tamper: { key: other } }), "invalid_client")
  })

  it("#18 (§7.3.1) a signature without tag, or with a tag other than \"gnap\" (also gnap-rotate) → invalid_client", async () => {
    const without = (tag?: string) => (p: Array<readonly [string, string | number]>) =>
      [...p.filter(([k]) => k !== "tag"), ...(tag ? [["tag", tag] as const] : [])]
    expectError(await h.client.request(simple(), { tamper: { params: without() } }), "invalid_client")
    expectError(await h.client.request(simple(), { tamper: { params: without("other") } }), "invalid_client")
    expectError(await h.client.request(simple(), { tamper: { params: without("gnap-rotate") } }), "invalid_client")
  })

  it("#19 (§7.3.1) no created, a stale created, or one in the future → invalid_client", async () => {
    expectError(await h.client.request(simple(), { tamper: { params: (p) => p.filter(([k]) => k !== "created") } }), "invalid_client")
    expectError(await h.client.request(simple(), { tamper: { createdOffset: -301 } }), "invalid_client")
    expectError(await h.client.request(simple(), { tamper: { createdOffset: 120 } }), "invalid_client")
    expect((await h.client.request(simple(), { tamper: { createdOffset: -299 } })).status).toBe(200)
  })

  it("#20 (§7.3.1) a nonce used twice → invalid_client (replay)", async () => {
    expect((await h.client.request(simple(), { tamper: { nonce: "fixed-nonce-20" } })).status).toBe(200)
    expectError(await h.client.request(simple(), { tamper: { nonce: "fixed-nonce-20" } }), "invalid_client")
  })

  it("#20 (§7.3.1 SHOULD) with gnap.requireNonce a signature without nonce → invalid_client", async () => {
    const strict = await makeGnap({ gnap: { requireNonce: true } })
    expectError(await strict.client.request(simple(), { tamper: { nonce: null } }), "invalid_client")
    expect((await h.client.request(simple(), { tamper: { nonce: null } })).status).toBe(200)
  })

  it("#21 (§7.3.1) keyid other than the JWK's kid → invalid_client; an alg parameter → invalid_client", async () => {
    expectError(await h.client.request(simple(), { tamper: { params: (p) => p.map(([k, v]) => (k === "keyid" ? [k, "other"] as const : [k, v] as const)) } }), "invalid_client")
    expectError(await h.client.request(simple(), { tamper: { params: (p) => [...p, ["alg", "ecdsa-p256-sha256"]] } }), "invalid_client")
  })

  it("#22 (§7.3.1) covered components missing @method, @target-uri or content-digest (with content) → invalid_client", async () => {
    for (const drop of ["@method", "@target-uri", "content-digest"]) {
      expectError(await h.client.request(simple(), { tamper: { components: (c) => c.filter((x) => x !== drop) } }), "invalid_client")
    }
  })

  it("#23 (§7.3.1, RFC 9530) content changed after signing, or Content-Digest missing → invalid_client", async () => {
    expectError(await h.client.request(simple(), {
      tamper: { after: (r) => void (r.body = r.body!.replace("photos", "contacts")) }
    }), "invalid_client")
    expectError(await h.client.request(simple(), {
      tamper: {
        after: (r) => {
          // a consistent digest of the changed content does not help: the signature covers the digest
          r.body = r.body!.replace("photos", "contacts")
          r.headers.set("content-digest", `sha-256=:${createHash("sha256").update(r.body).digest("base64")}:`)
        }
      }
    }), "invalid_client")
    expectError(await h.client.request(simple(), { tamper: { components: (c) => c.filter((x) => x !== "content-digest"), after: (r) => r.headers.delete("content-digest") } }), "invalid_client")
  })

  it("#24 (§7.3.1) the algorithm is the key's: an EC signature for a key declared PS256 → invalid_client; a JWK whose kty does not fit its alg → invalid_client", async () => {
    const rsa = await generateClientKey("PS256", "rsa-key")
    const rsaClient = await h.newClient({ key: rsa })
    expect((await rsaClient.request(simple())).status).toBe(200)
    const ec = await generateClientKey("ES256", "rsa-key")
    expectError(await rsaClient.request(simple(), { tamper: { key: ec } }), "invalid_client")
    const lying = { proof: "httpsig", jwk: { ...h.client.key.publicJwk, alg: "PS256" } }
    expectError(await h.client.request({ ...simple(), client: { key: lying } }), "invalid_client")
    // object form: the registry alg must match the JWK
    const objectForm = await h.newClient({ key: rsa, proof: { method: "httpsig", alg: "ecdsa-p256-sha256", "content-digest-alg": "sha-256" } })
    expectError(await objectForm.request(simple()), "invalid_client")
  })

  it("#24 (§7.3.1) object form {method, alg, content-digest-alg}: rsa-pss-sha512 with a PS512 key and sha-512 digests is accepted", async () => {
    const key = await generateClientKey("PS512", "pss-512")
    const client = await h.newClient({ key, proof: { method: "httpsig", alg: "rsa-pss-sha512", "content-digest-alg": "sha-512" } })
    const r = await client.request(simple())
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    // the declared content-digest-alg must be present
    expectError(await client.request(simple(), {
      tamper: { after: (req) => req.headers.set("content-digest", `sha-256=:${createHash("sha256").update(req.body!).digest("base64")}:`) }
    }), "invalid_client")
  })

  it("#24 RFC 9421 §3.3.7: Ed25519 (EdDSA) and RS256 client keys are accepted", async () => {
    for (const alg of ["EdDSA", "RS256"] as const) {
      const client = await h.newClient({ key: await generateClientKey(alg) })
      expect((await client.request(simple())).status).toBe(200)
    }
  })

  it("#25 (RFC 9421 §4.3) several signatures: one unacceptable and one valid → accepted; only unacceptable ones → invalid_client", async () => {
    const withGarbage = (valid: boolean) => ({
      after: (r: { headers: Headers }) => {
        const input = r.headers.get("signature-input")!
        const signature = r.headers.get("signature")!
        r.headers.set("signature-input", `junk=("@method");created=1;keyid="x";tag="gnap", ${valid ? input : input.replace("sig1=", "sig9=")}`)
        r.headers.set("signature", `junk=:AAAA:, ${valid ? signature : signature.replace("sig1=", "sig9=").replace(/:(.)/, (_, c: string) => `:${c === "A" ? "B" : "A"}`)}`)
      }
    })
    expect((await h.client.request(simple(), { tamper: withGarbage(true) })).status).toBe(200)
    expectError(await h.client.request(simple(), { tamper: withGarbage(false) }), "invalid_client")
  })

  describe("#26 (§7.3.3, §7.3.4) detached and attached JWS", () => {
    let jwsd: GnapClient
    let jws: GnapClient
    beforeAll(async () => {
      jwsd = await h.newClient({ proof: "jwsd" })
      jws = await h.newClient({ proof: "jws" })
    })

    it("#26 jwsd and jws proofs are accepted for grant requests", async () => {
      expect((await jwsd.request(simple())).status).toBe(200)
      const r = await jws.request(simple())
      expect(r.status, JSON.stringify(r.body)).toBe(200)
    })

    it("#26 jwsd: wrong typ, htm, uri, missing created, content changed → invalid_client", async () => {
      const rewrite = (change: (header: Record<string, unknown>) => void) => ({
        after: (r: { headers: Headers }) => {
          const [h64, , s] = r.headers.get("detached-jws")!.split(".")
          const header = JSON.parse(Buffer.from(h64!, "base64url").toString()) as Record<string, unknown>
          change(header)
          r.headers.set("detached-jws", `${Buffer.from(JSON.stringify(header)).toString("base64url")}..${s}`)
        }
      })
      expectError(await jwsd.request(simple(), { tamper: rewrite((x) => void (x["typ"] = "gnap-binding-jws")) }), "invalid_client")
      expectError(await jwsd.request(simple(), { tamper: rewrite((x) => void (x["htm"] = "PUT")) }), "invalid_client")
      expectError(await jwsd.request(simple(), { tamper: rewrite((x) => void (x["uri"] = "https://as.example.com/other")) }), "invalid_client")
      expectError(await jwsd.request(simple(), { tamper: rewrite((x) => void delete x["created"]) }), "invalid_client")
      expectError(await jwsd.request(simple(), { tamper: { after: (r) => void (r.body = r.body!.replace("photos", "contacts")) } }), "invalid_client")
      expectError(await jwsd.request(simple(), { tamper: { createdOffset: -1000 } }), "invalid_client")
    })

    it("#26 jws: a payload changed after signing → invalid_client", async () => {
      const r = await jws.request(simple(), {
        tamper: {
          after: (req) => {
            const [h64, , s] = req.body!.split(".")
            req.body = `${h64}.${Buffer.from(JSON.stringify({ ...simple(), client: { key: jws.keyObject() }, extra: 1 })).toString("base64url")}.${s}`
          }
        }
      })
      expectError(r, "invalid_client")
    })
  })

  it("#27 (§7.3.2) mtls is off by default (gnap.mtls): a key with proof \"mtls\" → invalid_client (full mtls tests: gnap-mtls.test.ts)", async () => {
    expectError(await h.client.request({ ...simple(), client: { key: { proof: "mtls", jwk: h.client.key.publicJwk } } }), "invalid_client")
  })
})

describe("C. interaction (RFC 9635 §2.5, §3.3)", () => {
  it("#28 (§2.5) no interact, or no start mode this AS supports → invalid_interaction", async () => {
    expectError(await h.client.request({ access_token: { access: ["photos"] } }), "invalid_interaction")
    expectError(await h.client.request({ access_token: { access: ["photos"] }, interact: { start: ["carrier-pigeon"] } }), "invalid_interaction")
    expectError(await h.client.request({ access_token: { access: ["photos"] }, interact: { start: [] } }), "invalid_interaction")
  })

  it("#29 (§3.3) the response carries only the modes requested (and supported)", async () => {
    const onlyCode = await h.client.request({ access_token: { access: ["photos"] }, interact: { start: ["user_code", "carrier-pigeon"] } })
    expect(Object.keys(onlyCode.interact!).sort()).toEqual(["expires_in", "user_code"])
    const onlyApp = await h.client.request({ access_token: { access: ["photos"] }, interact: { start: ["app"] } })
    expect(Object.keys(onlyApp.interact!).sort()).toEqual(["app", "expires_in"])
    const onlyRedirect = await h.client.request(simple())
    expect(Object.keys(onlyRedirect.interact!).sort()).toEqual(["expires_in", "redirect"])
    const all = await h.client.request({
      access_token: { access: ["photos"] },
      interact: { start: ["redirect", { mode: "user_code" }, "user_code_uri"], finish: { method: "push", uri: "https://client.example.com/push", nonce: clientNonce() } }
    })
    expect(Object.keys(all.interact!).sort()).toEqual(["expires_in", "finish", "redirect", "user_code", "user_code_uri"])
  })

  it("#30 (§3.3.3, §3.3.4) user_code is a string; user_code_uri is {code, uri}, an absolute URI not containing the code", async () => {
    const r = await h.client.request({ access_token: { access: ["photos"] }, interact: { start: ["user_code", "user_code_uri"] } })
    const code = r.interact!["user_code"]
    expect(typeof code).toBe("string")
    const uri = r.interact!["user_code_uri"]
    expect(uri.code).toBe(code)
    expect(new URL(uri.uri).href).toBe(uri.uri)
    expect(uri.uri.toUpperCase()).not.toContain(code.toUpperCase())
  })

  it("#31 (§3.3.3) user codes are ASCII letters, 8 long, random, and expire with the interaction", async () => {
    const codes = new Set<string>()
    for (let i = 0; i < 10; i++) {
      const r = await h.client.request({ access_token: { access: ["photos"] }, interact: { start: ["user_code"] } })
      expect(r.interact!["user_code"]).toMatch(/^[A-Z]{8}$/)
      expect(r.interact!["expires_in"]).toBe(600)
      codes.add(r.interact!["user_code"])
    }
    expect(codes.size).toBe(10)
  })

  it("#40 (§2.5.2, §4.2.3) an unregistered hash_method → invalid_request; finish without nonce → invalid_request; a bad finish method → invalid_interaction", async () => {
    const finish = (f: Record<string, unknown>) => ({ access_token: { access: ["photos"] }, interact: { start: ["redirect"], finish: f } })
    expectError(await h.client.request(finish({ method: "redirect", uri: "https://client.example.com/r", nonce: "n", hash_method: "sha3" })), "invalid_request")
    expectError(await h.client.request(finish({ method: "redirect", uri: "https://client.example.com/r" })), "invalid_request")
    expectError(await h.client.request(finish({ method: "carrier-pigeon", uri: "https://client.example.com/r", nonce: "n" })), "invalid_interaction")
  })

  it("#81 (§2.5.2, §11.1) a finish URI must be https (http only for localhost) and carry no fragment → invalid_request", async () => {
    const finish = (uri: string) => ({ access_token: { access: ["photos"] }, interact: { start: ["redirect"], finish: { method: "redirect", uri, nonce: "n" } } })
    expectError(await h.client.request(finish("http://client.example.com/r")), "invalid_request")
    expectError(await h.client.request(finish("https://client.example.com/r#frag")), "invalid_request")
    expectError(await h.client.request(finish("javascript:alert(1)")), "invalid_request")
    expect((await h.client.request(finish("http://localhost:8080/r"))).status).toBe(200)
  })
})

describe("§2.4 user, §2.2 subject", () => {
  it("§2.4.1: a user reference → unknown_user (MUST)", async () => {
    expectError(await h.client.request(simple({ user: "some-user-reference" })), "unknown_user")
  })

  it("§2.2: a subject request needs sub_id_formats or assertion_formats → else invalid_request", async () => {
    expectError(await h.client.request(simple({ subject: {} })), "invalid_request")
    expect((await h.client.request(simple({ subject: { sub_id_formats: ["opaque"] } }))).status).toBe(200)
  })
})

describe("§3 the pending response", () => {
  it("§3.1, §3.3, §3.5: continue {uri, access_token, wait}, interact, instance_id — and no tokens before approval", async () => {
    const r = await h.client.request(redirectRequest(clientNonce()))
    expect(Object.keys(r.body).sort()).toEqual(["continue", "instance_id", "interact"])
    expect(r.continue!.uri).toMatch(/^https:\/\/as\.example\.com\/gnap\/continue\/[A-Za-z0-9_-]+$/)
    expect(r.continue!.access_token.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(Object.keys(r.continue!.access_token)).toEqual(["value"])
    expect(r.continue!.wait).toBe(5)
    expect(r.interact!["redirect"]).toMatch(/^https:\/\/as\.example\.com\/gnap\/interact\//)
    expect(typeof r.interact!["finish"]).toBe("string")
  })
})

describe("bad input never gives a 5xx", () => {
  it("malformed members, headers and bodies all get a 4xx §3.6 error", async () => {
    const bodies: Array<unknown> = [
      { access_token: null, interact: { start: ["redirect"] } },
      { access_token: { access: "photos" }, interact: { start: ["redirect"] } },
      { access_token: [null], interact: { start: ["redirect"] } },
      { access_token: { access: ["photos"], flags: "bearer" }, interact: { start: ["redirect"] } },
      { access_token: { access: ["photos"], label: 7 }, interact: { start: ["redirect"] } },
      { access_token: { access: ["photos"] }, interact: { start: "redirect" } },
      { access_token: { access: ["photos"] }, interact: null },
      { access_token: { access: ["photos"] }, interact: { start: [{}] } },
      { access_token: { access: ["photos"] }, interact: { start: ["redirect"], finish: "x" } },
      { access_token: { access: ["photos"] }, interact: { start: ["redirect"], hints: { ui_locales: "en" } } },
      { access_token: { access: ["photos"] }, interact: { start: ["redirect"] }, subject: { sub_ids: "x", sub_id_formats: ["opaque"] } },
      { access_token: { access: ["photos"] }, interact: { start: ["redirect"] }, user: { sub_ids: [{}] } }
    ]
    for (const body of bodies) {
      const r = await h.client.request(body as Record<string, unknown>)
      expect(r.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400)
      expect(r.status, JSON.stringify(body)).toBeLessThan(500)
      expect(typeof r.error).toBe("string")
    }
    for (const client of [[], 7, {}, { key: null }, { key: { proof: {}, jwk: {} } }, { key: { proof: "httpsig", jwk: { kty: "EC", crv: "P-256", x: "!!", y: "??", kid: "k", alg: "ES256" } } }]) {
      const r = await h.client.request({ ...simple(), client })
      expect(r.status, JSON.stringify(client)).toBeGreaterThanOrEqual(400)
      expect(r.status).toBeLessThan(500)
    }
    for (const [input, signature] of [["garbage", "garbage"], [`sig1=("@method");created=x`, "sig1=:AA:"], [`sig1=()`, `sig1=:@@:`], ["", ""]]) {
      const r = await h.client.request(simple(), { tamper: { after: (req) => (req.headers.set("signature-input", input!), req.headers.set("signature", signature!)) } })
      expect(r.status).toBe(401)
      expect(r.error).toBe("invalid_client")
    }
    const big = await h.client.send({ url: GRANT, body: JSON.stringify({ ...simple(), pad: "x".repeat(70 * 1024) }) })
    expect(big.status).toBe(413)
    const wrongMethod = await h.gh.handler(new Request(GRANT, { method: "GET" }))
    expect(wrongMethod.status).toBe(405)
  })
})

describe("§2.3.1 pre-registered client instances (gnap.clients)", () => {
  it("#16 (§2.3, §2.3.1) a registered instance is known by instance_id and by its key; its registered display wins over the request's", async () => {
    const key = await generateClientKey("ES256", "frame-key")
    const registered = await makeGnap({
      gnap: { clients: [{ instanceId: "frame-1", key: key.publicJwk as unknown as Record<string, unknown>, display: { name: "Registered Frame" } }] }
    })
    const client = await registered.newClient({ key, display: { name: "Runtime Name" } })
    const byReference = await client.request({ ...simple(), client: "frame-1" })
    expect(byReference.status, JSON.stringify(byReference.body)).toBe(200)
    expect(byReference.body["instance_id"]).toBe("frame-1")
    const byValue = await client.request(simple())
    expect(byValue.body["instance_id"]).toBe("frame-1")
    const start = await new Browser(registered.gh).request(byValue.interact!["redirect"])
    const id = /\/interaction\/([^/?]+)/.exec(start.headers.get("location")!)![1]!
    expect((await registered.gh.interactions.details(id)).clientName).toBe("Registered Frame")
    // #11: the reference with another key → invalid_client
    expectError(await (await registered.newClient()).request({ ...simple(), client: "frame-1" }), "invalid_client")
  })
})
