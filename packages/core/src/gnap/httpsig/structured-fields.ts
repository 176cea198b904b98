/**
 * Structured Field Values (RFC 8941, as used by RFC 9421 and RFC 9530): the subset the
 * verifier needs — Dictionaries of Items and Inner Lists with Parameters, parsed strictly
 * per RFC 8941 §4.2, and the canonical serialization of §4.1 (RFC 9421 §2.3 builds
 * `@signature-params` from it).
 */

/** RFC 8941 §3.3: bare item types. Byte sequences are `Uint8Array`, tokens are `Token`. */
export class Token {
  constructor(readonly value: string) {}
}
export type BareItem = number | string | boolean | Uint8Array | Token
export type Parameters = ReadonlyArray<readonly [string, BareItem]>
export interface Item {
  readonly value: BareItem
  readonly params: Parameters
}
export interface InnerList {
  readonly items: ReadonlyArray<Item>
  readonly params: Parameters
}
export type Member = Item | InnerList
export const isInnerList = (m: Member): m is InnerList => "items" in m

export class StructuredFieldError extends Error {
  override readonly name = "StructuredFieldError"
}

const fail = (message: string): never => {
  throw new StructuredFieldError(message)
}

const KEY_START = /[a-z*]/
const KEY_CHAR = /[a-z0-9_\-.*]/
const TOKEN_START = /[A-Za-z*]/
// RFC 8941 §3.3.4: tchar / ":" / "/"
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

class Parser {
  i = 0
  constructor(readonly s: string) {}
  get done() {
    return this.i >= this.s.length
  }
  peek() {
    return this.s[this.i] ?? ""
  }
  skipSP() {
    while (this.peek() === " ") this.i++
  }
  skipOWS() {
    while (this.peek() === " " || this.peek() === "\t") this.i++
  }

  // §4.2.3.3
  key(): string {
    if (!KEY_START.test(this.peek())) fail(`a key must start with a-z or "*" at ${this.i}`)
    let out = ""
    while (!this.done && KEY_CHAR.test(this.peek())) out += this.s[this.i++]
    return out
  }

  // §4.2.3.2
  params(): Parameters {
    const out: Array<[string, BareItem]> = []
    while (this.peek() === ";") {
      this.i++
      this.skipSP()
      const key = this.key()
      let value: BareItem = true
      if (this.peek() === "=") {
        this.i++
        value = this.bareItem()
      }
      const existing = out.findIndex(([k]) => k === key)
      if (existing >= 0) out[existing] = [key, value]
      else out.push([key, value])
    }
    return out
  }

  // §4.2.3.1
  bareItem(): BareItem {
    const c = this.peek()
    if (c === "-" || /[0-9]/.test(c)) return this.number()
    if (c === '"') return this.string()
    if (c === ":") return this.bytes()
    if (c === "?") return this.boolean()
    if (TOKEN_START.test(c)) return this.token()
    return fail(`unexpected character ${JSON.stringify(c)} at ${this.i}`)
  }

  // §4.2.4
  number(): number {
    let sign = 1
    if (this.peek() === "-") {
      sign = -1
      this.i++
    }
    let digits = ""
    let decimal = false
    while (!this.done) {
      const c = this.peek()
      if (/[0-9]/.test(c)) digits += c
      else if (c === "." && !decimal) {
        if (digits.length > 12) fail("decimal with more than 12 integer digits")
        decimal = true
        digits += c
      } else break
      this.i++
      if (!decimal && digits.length > 15) fail("integer with more than 15 digits")
      if (decimal && digits.length > 16) fail("decimal too long")
    }
    if (digits === "" || digits === ".") fail("number without digits")
    if (decimal) {
      if (digits.endsWith(".")) fail("decimal ending in a dot")
      if (digits.split(".")[1]!.length > 3) fail("decimal with more than 3 fractional digits")
    }
    return sign * Number(digits)
  }

  // §4.2.5
  string(): string {
    this.i++
    let out = ""
    while (true) {
      if (this.done) fail("unterminated string")
      const c = this.s[this.i++]!
      if (c === "\\") {
        const next = this.s[this.i++]
        if (next !== '"' && next !== "\\") fail("invalid escape in string")
        out += next
      } else if (c === '"') return out
      else {
        const code = c.charCodeAt(0)
        if (code < 0x20 || code > 0x7e) fail("non-printable character in string")
        out += c
      }
    }
  }

  // §4.2.6
  token(): Token {
    let out = ""
    while (!this.done && TOKEN_CHAR.test(this.peek())) out += this.s[this.i++]
    return new Token(out)
  }

  // §4.2.7
  bytes(): Uint8Array {
    this.i++
    const end = this.s.indexOf(":", this.i)
    if (end < 0) fail("unterminated byte sequence")
    const b64 = this.s.slice(this.i, end)
    this.i = end + 1
    if (!BASE64.test(b64)) fail("invalid base64 in byte sequence")
    try {
      return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0))
    } catch {
      return fail("invalid base64 in byte sequence")
    }
  }

  // §4.2.8
  boolean(): boolean {
    this.i++
    const c = this.s[this.i++]
    if (c === "1") return true
    if (c === "0") return false
    return fail("invalid boolean")
  }

  // §4.2.3
  item(): Item {
    const value = this.bareItem()
    return { value, params: this.params() }
  }

  // §4.2.1.2
  innerList(): InnerList {
    this.i++
    const items: Array<Item> = []
    while (!this.done) {
      this.skipSP()
      if (this.peek() === ")") {
        this.i++
        return { items, params: this.params() }
      }
      items.push(this.item())
      const c = this.peek()
      if (c !== " " && c !== ")") fail(`expected a space or ")" at ${this.i}`)
    }
    return fail("unterminated inner list")
  }

  member(): Member {
    return this.peek() === "(" ? this.innerList() : this.item()
  }
}

/** RFC 8941 §4.2.2: a Dictionary. Later duplicates of a key overwrite earlier ones. */
export const parseDictionary = (input: string): Map<string, Member> => {
  const p = new Parser(input)
  const out = new Map<string, Member>()
  p.skipSP()
  if (p.done) return out
  while (!p.done) {
    const key = p.key()
    let member: Member
    if (p.peek() === "=") {
      p.i++
      member = p.member()
    } else {
      member = { value: true, params: p.params() }
    }
    out.set(key, member)
    p.skipOWS()
    if (p.done) return out
    if (p.peek() !== ",") fail(`expected "," at ${p.i}`)
    p.i++
    p.skipOWS()
    if (p.done) fail("trailing comma in dictionary")
  }
  // leading/trailing SP are not part of a field value (§4.2 step 2, 5)
  return out
}

/** RFC 8941 §4.2: an Item field (e.g. a single component identifier). */
export const parseItem = (input: string): Item => {
  const p = new Parser(input)
  p.skipSP()
  const item = p.item()
  p.skipSP()
  if (!p.done) fail("trailing characters after item")
  return item
}

/** RFC 8941 §4.2.1: a List. */
export const parseList = (input: string): Array<Member> => {
  const p = new Parser(input)
  const out: Array<Member> = []
  p.skipSP()
  while (!p.done) {
    out.push(p.member())
    p.skipOWS()
    if (p.done) return out
    if (p.peek() !== ",") fail(`expected "," at ${p.i}`)
    p.i++
    p.skipOWS()
    if (p.done) fail("trailing comma in list")
  }
  return out
}

const base64 = (bytes: Uint8Array): string => {
  let binary = ""
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!)
  return btoa(binary)
}

// --- serialization (RFC 8941 §4.1) -------------------------------------------------------

export const serializeBareItem = (value: BareItem): string => {
  if (typeof value === "boolean") return value ? "?1" : "?0"
  if (typeof value === "number") {
    if (Number.isInteger(value)) {
      if (Math.abs(value) > 999_999_999_999_999) fail("integer out of range")
      return String(value)
    }
    const rounded = Math.round(value * 1000) / 1000
    const text = String(rounded)
    return text.includes(".") ? text : `${text}.0`
  }
  if (typeof value === "string") {
    if (!/^[\x20-\x7e]*$/.test(value)) fail("string with non-printable characters")
    return `"${value.replace(/[\\"]/g, "\\$&")}"`
  }
  if (value instanceof Uint8Array) return `:${base64(value)}:`
  if (!TOKEN_START.test(value.value[0] ?? "") || ![...value.value].every((c) => TOKEN_CHAR.test(c))) fail("invalid token")
  return value.value
}

export const serializeParams = (params: Parameters): string =>
  params.map(([k, v]) => (v === true ? `;${k}` : `;${k}=${serializeBareItem(v)}`)).join("")

export const serializeItem = (item: Item): string => serializeBareItem(item.value) + serializeParams(item.params)

export const serializeInnerList = (list: InnerList): string =>
  `(${list.items.map(serializeItem).join(" ")})${serializeParams(list.params)}`

export const serializeMember = (m: Member): string => (isInnerList(m) ? serializeInnerList(m) : serializeItem(m))

/** RFC 8941 §4.1.2 */
export const serializeDictionary = (dict: ReadonlyMap<string, Member>): string =>
  [...dict].map(([k, m]) =>
    !isInnerList(m) && m.value === true ? `${k}${serializeParams(m.params)}` : `${k}=${serializeMember(m)}`
  ).join(", ")

/** RFC 8941 §4.1.1 */
export const serializeList = (list: ReadonlyArray<Member>): string => list.map(serializeMember).join(", ")

export const param = (params: Parameters, key: string): BareItem | undefined => params.find(([k]) => k === key)?.[1]
