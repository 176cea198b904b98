/**
 * JWT access tokens presented back to the server (introspection, RFC 7662; userinfo,
 * RFC 6750) are verified by `Keys.verifyOwn` (RFC 7515 §5.2) and their claims checked
 * (RFC 9068 §4) before their record is looked up. Each test re-signs a real token's claims
 * with the server's own current key, so only the one property under test differs from a
 * token that introspects as active (the first test shows that it does).
 */
import * as jose from "jose"
import { describe, expect, it } from "vitest"
import { base64url } from "../src/ports/Crypto.js"
import { introspect, introspection, userinfo } from "./helpers/endpoint-helpers.js"
import { advance, CLIENTS, type Harness, ISSUER, makeHarness, obtainTokens } from "./helpers/token-helpers.js"

const json = (value: unknown) => base64url(new TextEncoder().encode(JSON.stringify(value)))

/** The server's stored key record for `alg` and status `current`. */
const serverKey = (h: Harness, alg: string) => {
  const record = [...h.db.keys.values()].find((k) => k.alg === alg && k.status === "current")
  if (!record) throw new Error(`no current ${alg} key`)
  return record
}

/** RFC 7515 §7.1 compact JWS over `header` and `payload`, signed with the server's current ES256 key. */
const signWithServerKey = async (h: Harness, header: Record<string, unknown>, payload: Record<string, unknown>) => {
  const record = serverKey(h, "ES256")
  const key = await jose.importJWK(JSON.parse(record.privateJwk) as jose.JWK, "ES256") as CryptoKey
  const input = `${json(header)}.${json(payload)}`
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(input)))
  return `${input}.${base64url(signature)}`
}

const setup = async () => {
  const h = await makeHarness()
  const { tokens } = await obtainTokens(h, CLIENTS.web, { scope: "openid profile" })
  const header = jose.decodeProtectedHeader(tokens.access_token) as Record<string, unknown>
  const payload = jose.decodeJwt(tokens.access_token) as Record<string, unknown>
  const active = async (token: string) => (await introspection(await introspect(h, CLIENTS.web, token)))["active"]
  return { h, tokens, header, payload, active }
}

describe("JWT access tokens presented back: signature and header (RFC 7515 §5.2, RFC 9068 §4)", () => {
  it("the same claims re-signed with the server's key under the same header -> active (the control)", async () => {
    const { h, header, payload, active } = await setup()
    expect(header).toEqual({ alg: "ES256", typ: "at+jwt", kid: serverKey(h, "ES256").kid })
    expect(await active(await signWithServerKey(h, header, payload))).toBe(true)
  })

  it("RFC 9068 §4: typ application/at+jwt is accepted too", async () => {
    const { h, header, payload, active } = await setup()
    expect(await active(await signWithServerKey(h, { ...header, typ: "application/at+jwt" }, payload))).toBe(true)
  })

  it("RFC 9068 §4: typ JWT (an ID token's) -> inactive, even with the server's signature", async () => {
    const { h, header, payload, active } = await setup()
    expect(await active(await signWithServerKey(h, { ...header, typ: "JWT" }, payload))).toBe(false)
    expect(await active(await signWithServerKey(h, { alg: header["alg"], kid: header["kid"] }, payload))).toBe(false)
  })

  it("RFC 9068 §4: the ID token itself is not an access token", async () => {
    const { tokens, active } = await setup()
    expect(tokens.id_token).toBeDefined()
    expect(await active(tokens.id_token!)).toBe(false)
  })

  it("RFC 7515 §4.1.11: a crit header we do not understand -> inactive", async () => {
    const { h, header, payload, active } = await setup()
    expect(await active(await signWithServerKey(h, { ...header, crit: ["exp"], exp: 1 }, payload))).toBe(false)
  })

  it("RFC 7515 §10.7: alg other than the key's -> inactive (no algorithm substitution)", async () => {
    const { h, header, payload, active } = await setup()
    for (const alg of ["EdDSA", "RS256", "PS256", "HS256", "none"]) {
      expect(await active(await signWithServerKey(h, { ...header, alg }, payload))).toBe(false)
    }
  })

  it("RFC 7515 §5.2: a kid of another of our keys, or no kid, or an unknown kid -> inactive", async () => {
    const { h, header, payload, active } = await setup()
    expect(await active(await signWithServerKey(h, { ...header, kid: serverKey(h, "RS256").kid }, payload))).toBe(false)
    expect(await active(await signWithServerKey(h, { alg: "ES256", typ: "at+jwt" }, payload))).toBe(false)
    expect(await active(await signWithServerKey(h, { ...header, kid: "someone-else" }, payload))).toBe(false)
  })

  it("RFC 7515 §5.2: the same header and claims signed by another key -> inactive", async () => {
    const { header, payload, active } = await setup()
    const { privateKey } = await jose.generateKeyPair("ES256")
    const forged = await new jose.SignJWT(payload).setProtectedHeader(header as jose.JWTHeaderParameters).sign(privateKey)
    expect(await active(forged)).toBe(false)
  })

  it("a signature that is not base64url, or a payload that is not a JSON object -> inactive", async () => {
    const { h, tokens, header, active } = await setup()
    const [head, body] = tokens.access_token.split(".")
    expect(await active(`${head}.${body}.####`)).toBe(false)
    expect(await active(await signWithServerKey(h, header, [] as unknown as Record<string, unknown>))).toBe(false)
  })
})

describe("JWT access tokens presented back: claims (RFC 9068 §4, RFC 7519 §4.1)", () => {
  it("iss of another server -> inactive", async () => {
    const { h, header, payload, active } = await setup()
    expect(await active(await signWithServerKey(h, header, { ...payload, iss: "https://other.example.com" }))).toBe(false)
  })

  it("exp now or past -> inactive; nbf in the future -> inactive", async () => {
    const { h, header, payload, active } = await setup()
    const iat = payload["iat"] as number
    expect(await active(await signWithServerKey(h, header, { ...payload, exp: iat }))).toBe(false)
    expect(await active(await signWithServerKey(h, header, { ...payload, exp: "never" }))).toBe(false)
    expect(await active(await signWithServerKey(h, header, { ...payload, nbf: iat + 60 }))).toBe(false)
    expect(await active(await signWithServerKey(h, header, { ...payload, nbf: iat }))).toBe(true)
  })

  it("no jti, or a jti without a record -> inactive", async () => {
    const { h, header, payload, active } = await setup()
    const { jti: _jti, ...withoutJti } = payload
    expect(await active(await signWithServerKey(h, header, withoutJti))).toBe(false)
    expect(await active(await signWithServerKey(h, header, { ...payload, jti: "not-issued" }))).toBe(false)
  })

  it("the JWT's own exp is past even though the clock still has the record -> inactive after it", async () => {
    const { h, header, payload, active } = await setup()
    const shortLived = await signWithServerKey(h, header, { ...payload, exp: (payload["iat"] as number) + 60 })
    expect(await active(shortLived)).toBe(true)
    await advance(h, "61 seconds")
    expect(await active(shortLived)).toBe(false)
  })

  it("RFC 6750 §3.1: userinfo refuses the same forgeries with invalid_token", async () => {
    const { h, tokens, header, payload } = await setup()
    expect((await userinfo(h, tokens.access_token)).status).toBe(200)
    const idTyped = await signWithServerKey(h, { ...header, typ: "JWT" }, payload)
    const response = await userinfo(h, idTyped)
    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toContain(`error="invalid_token"`)
    expect(ISSUER).toBe(payload["iss"])
  })
})
