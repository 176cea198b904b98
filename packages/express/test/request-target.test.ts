/**
 * The middleware's request URL without a URL parser (translate.ts `requestTarget`): for a
 * fixed origin and a plain target, `origin + target` and the path before `?` must be what
 * the WHATWG URL parser makes of them (`requestUrl`); every other target is parsed.
 */
import { describe, expect, it } from "vitest"
import { type NodeRequest, requestTarget, requestUrl, serializedOrigin } from "../src/translate.js"

const node = (url: string) => ({ url, method: "GET", headers: { host: "ignored.example" }, socket: {} }) as unknown as NodeRequest

const same = (origin: string, target: string) => {
  const req = node(target)
  const parsed = requestUrl(req, { origin })
  const fast = requestTarget(req, { origin }, serializedOrigin(origin))
  expect({ href: fast.href, pathname: fast.pathname }, `${origin} ${target}`).toEqual({ href: parsed.href, pathname: parsed.pathname })
}

describe("requestTarget: the request URL as the URL parser would serialize it (WHATWG URL §4.4)", () => {
  it("only an origin the URL parser would write the same way is used as it is", () => {
    expect(serializedOrigin("https://as.example.com")).toBe("https://as.example.com")
    expect(serializedOrigin("https://as.example.com/")).toBe("https://as.example.com")
    expect(serializedOrigin("http://localhost:3000")).toBe("http://localhost:3000")
    // the parser would change these: they are parsed per request instead
    expect(serializedOrigin("HTTPS://AS.example.com")).toBeUndefined()
    expect(serializedOrigin("https://as.example.com:443")).toBeUndefined()
    expect(serializedOrigin("https://as.example.com/base")).toBeUndefined()
    expect(serializedOrigin("not a url")).toBeUndefined()
  })

  it("the endpoints' paths and queries, and targets the parser rewrites (dot segments, encodings, backslashes)", () => {
    const targets = [
      "/", "/token", "/token/", "/.well-known/openid-configuration", "/authorize?client_id=a&redirect_uri=https%3A%2F%2Fc.example%2Fcb&scope=openid+profile",
      "/token?", "/a/b/c?x=1&y=%2F", "/a/./b", "/a/../b", "/.", "/..", "/a/.", "/a/..?x", "/%2e%2e/x", "/a%2fb", "/a\\b",
      "//evil.example/x", "/a//b", "/a b", "/a\"b", "/a<b>", "/a^b", "/a`b", "/a{b}", "/a|b", "/é", "/a?q='x'", "/a?q=\"x\"",
      "/a?q=<x>", "/a?q=a b", "/a#frag", "/a?x#y", "/a\tb", "/a?x=\u0000", "/x?y=/./z", "/..well", "/.well/..x"
    ]
    for (const origin of ["https://as.example.com", "http://localhost:3000", "HTTP://LOCALHOST:80"]) {
      for (const target of targets) same(origin, target)
    }
  })

  it("random targets from the characters the parser treats specially parse to the same URL", () => {
    const alphabet = ["/", "/", ".", ".", "?", "%", "2", "e", "E", "a", "'", "\"", " ", "\\", "#", "<", "{", "^", "`", "|", "é", "+", "=", "&", ":", "@", "~", "\t"]
    let seed = 7
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    for (let i = 0; i < 5000; i++) {
      let target = "/"
      const length = Math.floor(random() * 14)
      for (let j = 0; j < length; j++) target += alphabet[Math.floor(random() * alphabet.length)]
      same("https://as.example.com", target)
    }
  })
})
