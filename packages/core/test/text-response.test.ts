/**
 * Core's text answers (http/response.ts `TextResponse`): made without Node's `Response`
 * constructor, yet a `Response` to everyone who reads one, and the same answer as the plain
 * `Response` the router hands non-Node hosts (`toPlatformResponse`).
 */
import { inspect } from "node:util"
import { describe, expect, it } from "vitest"
import {
  hasResponseHeader,
  json,
  RESPONSE_HEADER_LIST,
  RESPONSE_TEXT,
  setResponseHeader,
  textResponse,
  toPlatformResponse
} from "../src/http/response.js"

const fields = (r: Response) => (r as unknown as { [RESPONSE_HEADER_LIST]: () => ReadonlyArray<readonly [string, string]> })[RESPONSE_HEADER_LIST]()

describe("TextResponse", () => {
  it("is a Response: status, ok, statusText, headers, type, url, redirected", () => {
    const r = json({ error: "invalid_request" }, 400, { "WWW-Authenticate": "Basic realm=\"gatehouse\"" })
    expect(r).toBeInstanceOf(Response)
    expect([r.status, r.ok, r.statusText, r.type, r.url, r.redirected]).toEqual([400, false, "", "default", "", false])
    expect(r.headers).toBeInstanceOf(Headers)
    expect(r.headers).toBe(r.headers)
    // RFC 6749 §5.1: the JSON answer's fields
    expect(Object.fromEntries(r.headers)).toEqual({
      "cache-control": "no-store",
      "content-type": "application/json; charset=utf-8",
      pragma: "no-cache",
      "www-authenticate": "Basic realm=\"gatehouse\""
    })
    expect(json({}).ok).toBe(true)
  })

  it("answers every body method from its text, once", async () => {
    const make = () => json({ a: 1 })
    expect(await make().text()).toBe("{\"a\":1}")
    expect(await make().json()).toEqual({ a: 1 })
    expect(new TextDecoder().decode(await make().arrayBuffer())).toBe("{\"a\":1}")
    expect(new TextDecoder().decode(await make().bytes())).toBe("{\"a\":1}")
    expect(await (await make().blob()).text()).toBe("{\"a\":1}")
    expect(await new Response(make().body).text()).toBe("{\"a\":1}")
    const r = make()
    expect(r.bodyUsed).toBe(false)
    await r.text()
    expect(r.bodyUsed).toBe(true)
    await expect(r.text()).rejects.toThrow(TypeError)
    expect(r.body).toBeNull()
    const streamed = make()
    const reader = streamed.body!.getReader()
    expect(streamed.bodyUsed).toBe(true)
    await expect(streamed.json()).rejects.toThrow(TypeError)
    reader.releaseLock()
  })

  it("a text with no content-type says what new Response(string) says", async () => {
    const r = textResponse("hello", { status: 200 })
    expect(r.headers.get("content-type")).toBe("text/plain;charset=UTF-8")
    expect(r.headers.get("content-type")).toBe(new Response("hello").headers.get("content-type"))
  })

  it("refuses what Response's constructor refuses: a status outside 200-599", () => {
    for (const status of [0, 101, 199, 600, 200.5]) expect(() => textResponse("", { status })).toThrow(RangeError)
  })

  it("clone is an independent copy with the same status, fields and text", async () => {
    const r = json({ a: 1 }, 201)
    const c = r.clone()
    c.headers.set("x-extra", "1")
    expect(await c.json()).toEqual({ a: 1 })
    expect(c.status).toBe(201)
    expect(r.headers.has("x-extra")).toBe(false)
    expect(await r.json()).toEqual({ a: 1 })
    expect(() => r.clone()).toThrow(TypeError)
  })

  it("lists its fields for adapters without making Headers; setResponseHeader adds or replaces", () => {
    const r = json({}, 200, { "Retry-After": "30" })
    setResponseHeader(r, "Access-Control-Allow-Origin", "*")
    setResponseHeader(r, "retry-after", "60")
    expect(hasResponseHeader(r, "ACCESS-control-allow-origin")).toBe(true)
    expect(hasResponseHeader(r, "location")).toBe(false)
    expect(fields(r)).toEqual([
      ["content-type", "application/json; charset=utf-8"],
      ["cache-control", "no-store"],
      ["pragma", "no-cache"],
      ["retry-after", "60"],
      ["access-control-allow-origin", "*"]
    ])
    // once `headers` is read it is the one place the fields live: changes through it show
    r.headers.append("set-cookie", "a=1")
    r.headers.append("set-cookie", "b=2")
    setResponseHeader(r, "x-after", "yes")
    expect(fields(r).filter(([n]) => n === "set-cookie" || n === "x-after")).toEqual([
      ["set-cookie", "a=1"],
      ["set-cookie", "b=2"],
      ["x-after", "yes"]
    ])
  })

  it("toPlatformResponse gives a plain Response with the same status, fields and body", async () => {
    const r = json({ active: false }, 200, { "access-control-allow-origin": "*" })
    const plain = toPlatformResponse(r)
    expect(plain).not.toBe(r)
    expect((plain as unknown as Record<symbol, unknown>)[RESPONSE_TEXT]).toBeUndefined()
    expect(plain.status).toBe(200)
    expect(Object.fromEntries(plain.headers)).toEqual(Object.fromEntries(r.headers))
    expect(await plain.json()).toEqual({ active: false })
  })

  it("util.inspect (a test runner's diff) shows it without throwing", () => {
    const shown = inspect(json({ a: 1 }, 404))
    expect(shown).toContain("404")
    expect(shown).toContain("application/json")
  })
})
