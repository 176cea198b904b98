/** Config is validated once at start-up, with one clear message per bad field. */
import { describe, expect, it } from "vitest"
import { GatehouseConfigError, resolveConfig } from "../src/config.js"

const problems = (input: unknown): ReadonlyArray<string> => {
  try {
    resolveConfig(input)
  } catch (e) {
    expect(e).toBeInstanceOf(GatehouseConfigError)
    return (e as GatehouseConfigError).problems
  }
  throw new Error("expected the config to be refused")
}

describe("config validation", () => {
  it("names each bad field by its path", () => {
    expect(problems({ issuer: "https://as.example.com", ttl: { accessToken: -5 }, pkce: { required: "none" } })).toEqual([
      `pkce.required: Expected "all" | "public"`,
      "ttl.accessToken: Expected a value greater than 0"
    ])
  })

  it("a missing issuer is named", () => {
    expect(problems({})).toEqual(["issuer: Missing key"])
  })

  it("RFC 8414 §2: the issuer is https (http only for localhost) with no query or fragment", () => {
    expect(problems({ issuer: "http://as.example.com" })[0]).toContain("must use https")
    expect(problems({ issuer: "https://as.example.com/?tenant=1" })[0]).toContain("query or fragment")
    expect(problems({ issuer: "not a url" })[0]).toContain("not an absolute URL")
    expect(() => resolveConfig({ issuer: "http://localhost:3000" })).not.toThrow()
    expect(() => resolveConfig({ issuer: "http://127.0.0.1:3000" })).not.toThrow()
  })

  it("static clients: duplicate ids, secrets for secret methods, jwks for private_key_jwt, absolute redirect URIs", () => {
    expect(problems({
      issuer: "https://as.example.com",
      clients: [
        { client_id: "a", redirect_uris: ["nope"], token_endpoint_auth_method: "client_secret_basic" },
        { client_id: "a", redirect_uris: [] },
        { client_id: "k", redirect_uris: [], token_endpoint_auth_method: "private_key_jwt" }
      ]
    })).toEqual([
      `clients[0].client_secret: required for token_endpoint_auth_method "client_secret_basic"`,
      `clients[0].redirect_uris[0]: must be an absolute URL without fragment, got "nope"`,
      `clients[1].client_id: duplicate "a"`,
      "clients[2].jwks: required for private_key_jwt"
    ])
  })

  it("defaults are the secure ones: PKCE for all, JWT access tokens (ES256), RS256 offered for ID tokens, closed registration, 60 s codes", () => {
    const c = resolveConfig({ issuer: "https://as.example.com/" })
    expect(c.issuer).toBe("https://as.example.com")
    expect(c.pkceRequired).toBe("all")
    expect(c.accessToken).toEqual({ format: "jwt", alg: "ES256", defaultAudience: "https://as.example.com" })
    expect(c.idTokenAlgs).toContain("RS256")
    expect(c.registration.open).toBe(false)
    expect(c.ttl.authorizationCode).toBe(60)
    expect(c.cookies.secure).toBe(true)
    expect(c.endpoints.token).toBe("https://as.example.com/token")
  })

  it("basePath moves the endpoints, not the issuer", () => {
    const c = resolveConfig({ issuer: "https://app.example.com", basePath: "/oauth/" })
    expect(c.endpoints.authorization).toBe("https://app.example.com/oauth/authorize")
    expect(c.issuer).toBe("https://app.example.com")
    expect(problems({ issuer: "https://app.example.com", basePath: "oauth" })[0]).toContain("basePath")
  })

  it("interactionUrl: {id} is substituted, otherwise ?interaction= is appended", () => {
    expect(resolveConfig({ issuer: "https://a.example", interactionUrl: "/login/{id}" }).interactionUrl("x y")).toBe("https://a.example/login/x%20y")
    expect(resolveConfig({ issuer: "https://a.example", interactionUrl: "https://login.example/start" }).interactionUrl("abc")).toBe("https://login.example/start?interaction=abc")
  })
})
