/**
 * Client authentication (RFC 6749 §2.3, RFC 7523, OIDC Core §9) through the token endpoint,
 * plus `authenticateClient` called directly the way introspection and revocation will.
 */
import { MemoryStorage } from "@gatehouse/testkit"
import { Effect, Exit, Layer, ManagedRuntime } from "effect"
import * as jose from "jose"
import { beforeAll, describe, expect, it, onTestFinished } from "vitest"
import { authenticateClient } from "../src/client-auth/index.js"
import { resolveConfig, type StaticClient } from "../src/config.js"
import { accountsLayer, servicesLayer } from "../src/gatehouse.js"
import type { ClientRecord } from "../src/ports/ClientStore.js"
import { ClientStore } from "../src/ports/ClientStore.js"
import { Crypto } from "../src/ports/Crypto.js"
import {
  advance,
  assertionParams,
  type ClientKey,
  CLIENTS,
  digest,
  generateClientKey,
  type Harness,
  ISSUER,
  JWT_BEARER,
  jwtClient,
  makeHarness,
  now,
  oauthError,
  signAssertion,
  T0,
  TOKEN_ENDPOINT,
  tokenRequest,
  tokens,
  unsecuredAssertion
} from "./helpers/token-helpers.js"

const CC = { grant_type: "client_credentials" } as const

/** A client whose id and secret need form-urlencoding (RFC 6749 Appendix B). */
const WEIRD: StaticClient = {
  client_id: "app:one two+%",
  client_secret: "p@ss:wörd +%/=",
  token_endpoint_auth_method: "client_secret_basic",
  redirect_uris: [],
  grant_types: ["client_credentials"]
}

let key: ClientKey
let otherKey: ClientKey

beforeAll(async () => {
  key = await generateClientKey()
  otherKey = await generateClientKey()
})

const harness = () =>
  makeHarness({
    clients: [
      ...Object.values(CLIENTS),
      WEIRD,
      jwtClient("jwt", key),
      jwtClient("jwt2", key),
      jwtClient("jwt-es384", key, { token_endpoint_auth_signing_alg: "ES384" })
    ]
  })

const expectInvalidClient = async (response: Response, description?: string | RegExp) => {
  const e = await oauthError(response)
  expect(e.status).toBe(401)
  expect(e.error).toBe("invalid_client")
  if (typeof description === "string") expect(e.description).toBe(description)
  else if (description) expect(e.description).toMatch(description)
  return e
}

describe("client_secret_basic (RFC 6749 §2.3.1)", () => {
  it("RFC 6749 §2.3.1: the right id and secret in HTTP Basic authenticate", async () => {
    const h = await harness()
    await tokens(await tokenRequest(h, CC, { basic: ["svc", "svc-secret"] }))
  })

  it("RFC 6749 §2.3.1 / Appendix B: id and secret are form-urlencoded before base64", async () => {
    const h = await harness()
    await tokens(await tokenRequest(h, CC, { basic: [WEIRD.client_id, WEIRD.client_secret!] }))
    // the raw, un-encoded form is a different client id ("app" before the first colon)
    const raw = `Basic ${Buffer.from(`${WEIRD.client_id}:${WEIRD.client_secret}`, "utf8").toString("base64")}`
    await expectInvalidClient(await tokenRequest(h, CC, { headers: { authorization: raw } }))
  })

  it("RFC 6749 §5.2: wrong secret -> 401 invalid_client with WWW-Authenticate: Basic", async () => {
    const h = await harness()
    const e = await expectInvalidClient(await tokenRequest(h, CC, { basic: ["svc", "nope"] }), "client authentication failed")
    expect(e.headers.get("www-authenticate")).toBe(`Basic realm="gatehouse"`)
  })

  it("RFC 6749 §5.2: unknown client -> the same invalid_client as a wrong secret", async () => {
    const h = await harness()
    const e = await expectInvalidClient(await tokenRequest(h, CC, { basic: ["ghost", "svc-secret"] }), "client authentication failed")
    expect(e.headers.get("www-authenticate")).toBe(`Basic realm="gatehouse"`)
  })

  it("RFC 6749 §5.2: malformed Basic credentials -> 401 invalid_client with a challenge", async () => {
    const h = await harness()
    for (const authorization of ["Basic", "Basic !!!", `Basic ${btoa("no-colon")}`]) {
      const e = await expectInvalidClient(await tokenRequest(h, CC, { headers: { authorization } }))
      expect(e.headers.get("www-authenticate"), authorization).toBe(`Basic realm="gatehouse"`)
    }
  })

  it("RFC 6749 §2.3.1: a client_id in the body naming another client than Basic -> invalid_request", async () => {
    const h = await harness()
    const e = await oauthError(await tokenRequest(h, { ...CC, client_id: "web" }, { basic: ["svc", "svc-secret"] }))
    expect(e.status).toBe(400)
    expect(e.error).toBe("invalid_request")
    // the same client_id as Basic is fine
    await tokens(await tokenRequest(h, { ...CC, client_id: "svc" }, { basic: ["svc", "svc-secret"] }))
  })

  it("RFC 7591 §3.2.1: a secret past client_secret_expires_at no longer authenticates", async () => {
    const h = await harness()
    const record: ClientRecord = {
      clientId: "expiring",
      secretDigest: await digest(h, "expiring-secret"),
      secretExpiresAt: T0 / 1000 + 3600,
      metadata: {
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: ["client_credentials"],
        response_types: []
      },
      issuedAt: T0 / 1000
    }
    await h.gh.run(Effect.flatMap(ClientStore, (store) => store.insert(record)))
    await tokens(await tokenRequest(h, CC, { basic: ["expiring", "expiring-secret"] }))
    await advance(h, "3600 seconds")
    const e = await expectInvalidClient(await tokenRequest(h, CC, { basic: ["expiring", "expiring-secret"] }), "the client secret has expired")
    expect(e.headers.get("www-authenticate")).toBe(`Basic realm="gatehouse"`)
  })
})

describe("client_secret_post (RFC 6749 §2.3.1)", () => {
  it("RFC 6749 §2.3.1: client_id and client_secret in the body authenticate", async () => {
    const h = await harness()
    await tokens(await tokenRequest(h, { ...CC, client_id: "post", client_secret: "post-secret" }))
  })

  it("RFC 6749 §5.2: wrong secret in the body -> 401 invalid_client without a Basic challenge", async () => {
    const h = await harness()
    const e = await expectInvalidClient(await tokenRequest(h, { ...CC, client_id: "post", client_secret: "nope" }), "client authentication failed")
    expect(e.headers.get("www-authenticate")).toBeNull()
  })

  it("RFC 6749 §2.3.1: client_secret without client_id -> invalid_request", async () => {
    const h = await harness()
    const e = await oauthError(await tokenRequest(h, { ...CC, client_secret: "post-secret" }))
    expect(e.error).toBe("invalid_request")
    expect(e.description).toContain("client_id")
  })

  it("RFC 6749 §3.2: client_secret twice -> invalid_request", async () => {
    const h = await harness()
    const e = await oauthError(await tokenRequest(h, { ...CC, client_id: "post", client_secret: ["post-secret", "post-secret"] }))
    expect(e.error).toBe("invalid_request")
  })
})

describe("method selection (RFC 6749 §2.3, RFC 7591 §2)", () => {
  it("RFC 6749 §5.2: no client authentication and no client_id -> 401 invalid_client", async () => {
    const h = await harness()
    const e = await expectInvalidClient(await tokenRequest(h, CC))
    expect(e.headers.get("www-authenticate")).toBeNull()
  })

  it("RFC 6749 §2.3: Basic and client_secret in the body at once -> invalid_request", async () => {
    const h = await harness()
    const e = await oauthError(await tokenRequest(h, { ...CC, client_id: "svc", client_secret: "svc-secret" }, { basic: ["svc", "svc-secret"] }))
    expect(e.status).toBe(400)
    expect(e.error).toBe("invalid_request")
    expect(e.description).toContain("more than one client authentication method")
  })

  it("RFC 6749 §2.3: Basic and a client assertion at once -> invalid_request", async () => {
    const h = await harness()
    const assertion = await signAssertion(key, "jwt", await now(h))
    const e = await oauthError(await tokenRequest(h, { ...CC, ...assertionParams(assertion) }, { basic: ["svc", "svc-secret"] }))
    expect(e.error).toBe("invalid_request")
  })

  it("RFC 6749 §2.3: client_secret and a client assertion at once -> invalid_request", async () => {
    const h = await harness()
    const assertion = await signAssertion(key, "jwt", await now(h))
    const e = await oauthError(await tokenRequest(h, { ...CC, client_id: "jwt", client_secret: "x", ...assertionParams(assertion) }))
    expect(e.error).toBe("invalid_request")
  })

  it("RFC 7591 §2: a method other than the registered token_endpoint_auth_method -> invalid_client", async () => {
    const h = await harness()
    // "svc" is registered for client_secret_basic; the right secret in the body does not do
    await expectInvalidClient(await tokenRequest(h, { ...CC, client_id: "svc", client_secret: "svc-secret" }), /must authenticate with client_secret_basic/)
    // "post" is registered for client_secret_post; the right secret in Basic does not do
    const e = await expectInvalidClient(await tokenRequest(h, CC, { basic: ["post", "post-secret"] }), /must authenticate with client_secret_post/)
    expect(e.headers.get("www-authenticate")).toBe(`Basic realm="gatehouse"`)
  })

  it("RFC 7591 §2: a confidential client sending only client_id (none) -> invalid_client", async () => {
    const h = await harness()
    await expectInvalidClient(await tokenRequest(h, { ...CC, client_id: "svc" }), /must authenticate with client_secret_basic, not none/)
  })

  it("RFC 7591 §2: a public client presenting a secret -> invalid_client", async () => {
    const h = await harness()
    await expectInvalidClient(await tokenRequest(h, { ...CC, client_id: "spa", client_secret: "guess" }), /must authenticate with none/)
  })

  it("RFC 6749 §2.1: a public client identified by client_id only is authenticated as none", async () => {
    const h = await harness()
    // it gets past authentication (an empty client_secret counts as absent) to the grant check
    for (const params of [{ ...CC, client_id: "spa" }, { ...CC, client_id: "spa", client_secret: "" }]) {
      const e = await oauthError(await tokenRequest(h, params))
      expect(e.error).toBe("unauthorized_client")
    }
  })

  it("RFC 6749 §5.2: an unknown public client_id -> invalid_client", async () => {
    const h = await harness()
    await expectInvalidClient(await tokenRequest(h, { ...CC, client_id: "ghost" }), "client authentication failed")
  })

  it("audit: a failed authentication emits client_auth.failed with the client and method", async () => {
    const h = await harness()
    await tokenRequest(h, CC, { basic: ["svc", "nope"] })
    await tokenRequest(h, { ...CC, client_id: "post", client_secret: "nope" })
    await tokenRequest(h, { ...CC, client_id: "svc", client_secret: "svc-secret" }, { basic: ["svc", "svc-secret"] })
    expect(h.events.filter((e) => e.type === "client_auth.failed")).toMatchObject([
      { type: "client_auth.failed", clientId: "svc", method: "client_secret_basic" },
      { type: "client_auth.failed", clientId: "post", method: "client_secret_post" },
      { type: "client_auth.failed", clientId: "svc", method: "client_secret_basic+client_secret_post" }
    ])
    // and a success emits none
    const before = h.events.length
    await tokens(await tokenRequest(h, CC, { basic: ["svc", "svc-secret"] }))
    expect(h.events.slice(before).some((e) => e.type === "client_auth.failed")).toBe(false)
  })
})

describe("private_key_jwt (RFC 7523 §3, OIDC Core §9)", () => {
  const jwtRequest = (h: Harness, assertion: string, extra: Record<string, string> = {}) =>
    tokenRequest(h, { ...CC, ...assertionParams(assertion), ...extra })

  it("RFC 7523 §3: a signed assertion with iss = sub = client_id and aud = token endpoint authenticates", async () => {
    const h = await harness()
    const body = await tokens(await jwtRequest(h, await signAssertion(key, "jwt", await now(h))))
    expect(jose.decodeJwt(body.access_token).client_id).toBe("jwt")
  })

  it("RFC 7523 §3: aud may be the issuer, or an array containing the token endpoint", async () => {
    const h = await harness()
    await tokens(await jwtRequest(h, await signAssertion(key, "jwt", await now(h), { aud: ISSUER })))
    await tokens(await jwtRequest(h, await signAssertion(key, "jwt", await now(h), { aud: ["https://elsewhere.example", TOKEN_ENDPOINT] })))
  })

  it("RFC 7521 §4.2: a matching client_id parameter is accepted; a different one -> invalid_request", async () => {
    const h = await harness()
    await tokens(await jwtRequest(h, await signAssertion(key, "jwt", await now(h)), { client_id: "jwt" }))
    const e = await oauthError(await jwtRequest(h, await signAssertion(key, "jwt", await now(h)), { client_id: "jwt2" }))
    expect(e.error).toBe("invalid_request")
  })

  it("RFC 7523 §3 item 7: the same jti twice (replay) -> invalid_client", async () => {
    const h = await harness()
    const assertion = await signAssertion(key, "jwt", await now(h))
    await tokens(await jwtRequest(h, assertion))
    await expectInvalidClient(await jwtRequest(h, assertion), "client_assertion was already used (jti replay)")
  })

  it("RFC 7523 §3 item 7: jti single use is per client (another client may use the same jti)", async () => {
    const h = await harness()
    await tokens(await jwtRequest(h, await signAssertion(key, "jwt", await now(h), { jti: "shared" })))
    await tokens(await jwtRequest(h, await signAssertion(key, "jwt2", await now(h), { jti: "shared" })))
    await expectInvalidClient(await jwtRequest(h, await signAssertion(key, "jwt2", await now(h), { jti: "shared" })), /jti replay/)
  })

  it("OIDC Core §9: jti is REQUIRED", async () => {
    const h = await harness()
    await expectInvalidClient(await jwtRequest(h, await signAssertion(key, "jwt", await now(h), { jti: undefined })), `client_assertion "jti" claim is missing or invalid`)
  })

  it("RFC 7523 §3 item 3: aud naming neither the token endpoint nor the issuer -> invalid_client", async () => {
    const h = await harness()
    for (const aud of ["https://other-as.example.com/token", `${ISSUER}/authorize`]) {
      await expectInvalidClient(await jwtRequest(h, await signAssertion(key, "jwt", await now(h), { aud })), `client_assertion "aud" claim is missing or invalid`)
    }
    await expectInvalidClient(await jwtRequest(h, await signAssertion(key, "jwt", await now(h), { aud: undefined })), `client_assertion "aud" claim is missing or invalid`)
  })

  it("RFC 7523 §3 items 1, 2: iss and sub must both be the client_id", async () => {
    const h = await harness()
    await expectInvalidClient(await jwtRequest(h, await signAssertion(key, "jwt", await now(h), { iss: "jwt2" })), `client_assertion "iss" claim is missing or invalid`)
    // sub selects the client: sub "jwt2" with iss "jwt" fails on iss for client jwt2
    await expectInvalidClient(await jwtRequest(h, await signAssertion(key, "jwt", await now(h), { sub: "jwt2" })), `client_assertion "iss" claim is missing or invalid`)
  })

  it("RFC 7523 §3 item 4: an expired assertion -> invalid_client", async () => {
    const h = await harness()
    const assertion = await signAssertion(key, "jwt", await now(h), { exp: Math.floor(T0 / 1000) + 60 })
    await advance(h, "2 minutes")
    await expectInvalidClient(await jwtRequest(h, assertion), "client_assertion has expired")
  })

  it("RFC 7523 §3 item 4: exp is REQUIRED", async () => {
    const h = await harness()
    await expectInvalidClient(await jwtRequest(h, await signAssertion(key, "jwt", await now(h), { exp: undefined })), `client_assertion "exp" claim is missing or invalid`)
  })

  it("RFC 7523 §3 item 4: exp more than 5 minutes ahead -> invalid_client", async () => {
    const h = await harness()
    const iat = Math.floor(T0 / 1000)
    await expectInvalidClient(await jwtRequest(h, await signAssertion(key, "jwt", T0, { exp: iat + 3600 })), /too far in the future/)
    // 5 minutes is fine
    await tokens(await jwtRequest(h, await signAssertion(key, "jwt", T0, { exp: iat + 300 })))
  })

  it("RFC 7523 §3 item 5: nbf in the future -> invalid_client", async () => {
    const h = await harness()
    const iat = Math.floor(T0 / 1000)
    await expectInvalidClient(await jwtRequest(h, await signAssertion(key, "jwt", T0, { nbf: iat + 120, exp: iat + 180 })), `client_assertion "nbf" claim is missing or invalid`)
  })

  it("RFC 7523 §3 item 9: signed with a key the client did not register -> invalid_client", async () => {
    const h = await harness()
    // same kid as the registered key, different key: the signature fails
    await expectInvalidClient(
      await jwtRequest(h, await signAssertion(otherKey, "jwt", await now(h), {}, { kid: key.kid })),
      "client_assertion signature does not verify with the client's registered keys"
    )
    // its own kid: no registered key matches
    await expectInvalidClient(
      await jwtRequest(h, await signAssertion(otherKey, "jwt", await now(h))),
      "client_assertion signature does not verify with the client's registered keys"
    )
  })

  it("RFC 7523 §3 item 9: alg none (an unsigned JWT) -> invalid_client", async () => {
    const h = await harness()
    await expectInvalidClient(await jwtRequest(h, unsecuredAssertion("jwt", await now(h))), /alg "none" is not allowed/)
  })

  it("RFC 7523 §3: HS256 (a MAC, client_secret_jwt) is not private_key_jwt -> invalid_client", async () => {
    const h = await harness()
    const iat = Math.floor(T0 / 1000)
    const assertion = await new jose.SignJWT({ iss: "jwt", sub: "jwt", aud: TOKEN_ENDPOINT, iat, exp: iat + 60, jti: "hs" })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode("a-shared-secret-of-thirty-two-bytes!"))
    await expectInvalidClient(await jwtRequest(h, assertion), /alg "HS256" is not allowed/)
  })

  it("OIDC Registration §2: an alg other than token_endpoint_auth_signing_alg -> invalid_client", async () => {
    const h = await harness()
    await expectInvalidClient(await jwtRequest(h, await signAssertion(key, "jwt-es384", await now(h))), /must be signed with ES384/)
  })

  it("RFC 7521 §4.2: client_assertion_type must be jwt-bearer, and both parameters present -> else invalid_request", async () => {
    const h = await harness()
    const assertion = await signAssertion(key, "jwt", await now(h))
    for (const params of [
      { client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", client_assertion: assertion },
      { client_assertion: assertion },
      { client_assertion_type: JWT_BEARER }
    ]) {
      const e = await oauthError(await tokenRequest(h, { ...CC, ...params }))
      expect(e.status, JSON.stringify(Object.keys(params))).toBe(400)
      expect(e.error).toBe("invalid_request")
    }
  })

  it("RFC 7521 §4.2.1: a client_assertion that is not a JWT -> invalid_client", async () => {
    const h = await harness()
    await expectInvalidClient(await jwtRequest(h, "not-a-jwt"), "client_assertion is not a well-formed JWT")
  })

  it("RFC 7523 §3: an assertion for an unknown client -> invalid_client", async () => {
    const h = await harness()
    await expectInvalidClient(await jwtRequest(h, await signAssertion(key, "ghost", await now(h))), "client authentication failed")
  })

  it("RFC 7591 §2: a private_key_jwt client presenting a secret -> invalid_client", async () => {
    const h = await harness()
    await expectInvalidClient(await tokenRequest(h, { ...CC, client_id: "jwt", client_secret: "x" }), /must authenticate with private_key_jwt/)
  })

  it("RFC 7523 §3: a secret client presenting an assertion -> invalid_client", async () => {
    const h = await harness()
    await expectInvalidClient(await jwtRequest(h, await signAssertion(key, "svc", await now(h))), /must authenticate with client_secret_basic/)
  })
})

describe("authenticateClient as introspection and revocation use it", () => {
  const setup = async () => {
    const config = resolveConfig({ issuer: ISSUER, clients: [CLIENTS.svc, jwtClient("jwt", key)] })
    const real = await Effect.runPromise(Effect.provide(Crypto, Crypto.layerWebCrypto))
    const digests: Array<string> = []
    const counting = Layer.succeed(Crypto, Crypto.of({ ...real, digest: (v) => Effect.suspend(() => (digests.push(v), real.digest(v))) }))
    const services = servicesLayer({
      config,
      storage: MemoryStorage.layer(),
      accounts: accountsLayer({ claims: () => undefined }),
      crypto: counting
    })
    const runtime = ManagedRuntime.make(services)
    onTestFinished(() => runtime.dispose())
    // build now: static clients' secrets are digested at start-up, not per request
    await runtime.runPromise(Effect.void)
    const authenticate = (request: Request, endpoint: string) =>
      runtime.runPromise(Effect.gen(function*() {
        const params = new Map<string, Array<string>>()
        for (const [k, v] of new URLSearchParams(yield* Effect.promise(() => request.clone().text()))) {
          params.set(k, [...(params.get(k) ?? []), v])
        }
        return yield* authenticateClient({ request, params, endpoint })
      }).pipe(Effect.exit))
    return { config, digests, authenticate }
  }

  const post = (url: string, body: string, headers: Record<string, string> = {}) =>
    new Request(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body })

  it("RFC 6749 §2.3.1: an unknown client costs a secret digest like a wrong secret (no timing oracle)", async () => {
    const { authenticate, config, digests } = await setup()
    const url = config.endpoints.introspection
    digests.length = 0
    const unknown = await authenticate(post(url, "token=x", { authorization: `Basic ${btoa("ghost:svc-secret")}` }), url)
    // the rate limiter's key of the client id is digested for known and unknown ids alike
    const secrets = () => digests.filter((d) => !d.startsWith("rate_limit:"))
    expect(Exit.isFailure(unknown)).toBe(true)
    expect(secrets()).toEqual(["svc-secret"])
    digests.length = 0
    const wrong = await authenticate(post(url, "token=x", { authorization: `Basic ${btoa("svc:wrong")}` }), url)
    expect(Exit.isFailure(wrong)).toBe(true)
    expect(secrets()).toEqual(["wrong"])
  })

  it("RFC 7662 §2.1: succeeds with the ClientRecord, and an assertion may be addressed to the calling endpoint", async () => {
    const { authenticate, config } = await setup()
    const url = config.endpoints.introspection
    const ok = await authenticate(post(url, "token=x", { authorization: `Basic ${btoa("svc:svc-secret")}` }), url)
    expect(Exit.isSuccess(ok) && ok.value.clientId).toBe("svc")
    // the test clock is not in play here: sign for the real time
    const assertion = await signAssertion(key, "jwt", Date.now(), { aud: url })
    const viaJwt = await authenticate(post(url, new URLSearchParams({ token: "x", ...assertionParams(assertion) as Record<string, string> }).toString()), url)
    expect(Exit.isSuccess(viaJwt) && viaJwt.value.clientId).toBe("jwt")
    // an assertion addressed to the introspection endpoint is not accepted at revocation
    const other = await signAssertion(key, "jwt", Date.now(), { aud: url })
    const atRevocation = await authenticate(
      post(config.endpoints.revocation, new URLSearchParams({ token: "x", ...assertionParams(other) as Record<string, string> }).toString()),
      config.endpoints.revocation
    )
    expect(Exit.isFailure(atRevocation)).toBe(true)
  })
})
