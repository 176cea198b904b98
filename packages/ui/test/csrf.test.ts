/** The Fetch-metadata / Origin half of the forms' CSRF protection. */
import { describe, expect, it } from "vitest"
import { sameOrigin } from "../src/csrf.js"

const PAGE = "https://as.example.com"
const post = (headers: Record<string, string>) => new Request(`${PAGE}/interaction/x/login`, { method: "POST", headers })

describe("sameOrigin", () => {
  it("accepts the page's own origin, and no Origin at all (older clients)", () => {
    expect(sameOrigin(post({ origin: PAGE }), PAGE)).toBe(true)
    expect(sameOrigin(post({}), PAGE)).toBe(true)
  })

  it("Fetch §3.1: `Origin: null` (sent under Referrer-Policy: no-referrer) only with Sec-Fetch-Site: same-origin", () => {
    expect(sameOrigin(post({ origin: "null", "sec-fetch-site": "same-origin" }), PAGE)).toBe(true)
    expect(sameOrigin(post({ origin: "null" }), PAGE)).toBe(false)
    expect(sameOrigin(post({ origin: "null", "sec-fetch-site": "same-site" }), PAGE)).toBe(false)
  })

  it("refuses other origins and cross-site Fetch metadata", () => {
    expect(sameOrigin(post({ origin: "https://evil.example" }), PAGE)).toBe(false)
    expect(sameOrigin(post({ origin: PAGE, "sec-fetch-site": "cross-site" }), PAGE)).toBe(false)
  })
})
