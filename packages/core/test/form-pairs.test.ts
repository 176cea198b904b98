/**
 * `application/x-www-form-urlencoded` bodies (WHATWG URL §5.1, as RFC 6749 §3.2 requires of
 * token requests): core's parser (http/request.ts `formPairs`) gives exactly the pairs
 * `URLSearchParams` gives, for plain bodies and for every odd one it hands over whole.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { formPairs } from "../src/http/request.js"

const expected = (text: string) => [...new URLSearchParams(text)]
const parsed = (text: string) => [...formPairs(text)].map(([name, value]) => [name, value])

describe("formPairs (WHATWG URL §5.1 application/x-www-form-urlencoded parsing)", () => {
  it("the pairs URLSearchParams gives, in order, for the bodies OAuth clients send and their edge cases", () => {
    const bodies = [
      "",
      "grant_type=client_credentials&scope=api&resource=https%3A%2F%2Fapi.example%2F",
      "grant_type=authorization_code&code=abc-_.~&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&code_verifier=x",
      // empty sequences, no "=", several "=", empty names and values
      "&&a&&=&=b&c=&d==e=&",
      "a=1&a=2&b=3",
      // "+" is a space; an encoded "+" is a plus (§5.1 step 3.3 before percent-decoding)
      "scope=openid+profile&x=%2B&y=+%2B+&%2B=+",
      // UTF-8, raw and percent-encoded; a BOM is not removed (UTF-8 decode without BOM)
      "name=%C3%A9t%C3%A9&raw=été&emoji=%F0%9F%98%80&bom=%EF%BB%BFx",
      "nul=%00&ctl=%0D%0A",
      // what the fast path does not decode: a stray "%", bad hex, bytes that are not UTF-8
      // (overlong, lone surrogate, truncated) -> U+FFFD or kept, as the standard says
      "a=%&b=1",
      "a=%zz&b=%4",
      "a=%C0%AF&b=ok",
      "a=%ED%A0%80",
      "a=%C3&b=%C3%A9",
      "%C3=1",
      "a=b%"
    ]
    for (const body of bodies) expect(parsed(body), body).toEqual(expected(body))
  })

  it("random bodies from the characters that matter (&, =, +, %, hex digits, UTF-8) parse as URLSearchParams parses them", () => {
    const character = fc.constantFrom("&", "=", "+", "%", "%", "2", "B", "C", "3", "A", "9", "F", "0", "8", "E", "D", "a", "z", "é", "😀", "~", ".")
    fc.assert(
      fc.property(fc.array(character, { maxLength: 24 }), (characters) => {
        const body = characters.join("")
        expect(parsed(body), body).toEqual(expected(body))
      }),
      { numRuns: 5000, seed: 1 }
    )
  })
})
