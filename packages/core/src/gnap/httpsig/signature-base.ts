/**
 * HTTP Message Signatures (RFC 9421) — reading `Signature-Input` / `Signature` (§4.1, §4.2)
 * and building the signature base (§2.5) from the message's components (§2.1 fields, §2.2
 * derived components), exactly as the signer did.
 */
import {
  type InnerList,
  isInnerList,
  type Item,
  type Member,
  param,
  parseDictionary,
  serializeInnerList,
  serializeItem,
  serializeMember,
  StructuredFieldError
} from "./structured-fields.js"
import type { RequestHeaders } from "../../http/incoming.js"

/** The message a signature covers: a request (method + URL) or a response (status). */
export interface SignedMessage {
  readonly method?: string | undefined
  /** the target URI as the signer saw it (RFC 9421 §2.2.2) */
  readonly url?: string | undefined
  readonly status?: number | undefined
  readonly headers: RequestHeaders
}

/** One signature of a message: its label, covered components, parameters and value. */
export interface MessageSignature {
  readonly label: string
  /** RFC 9421 §2.3: the inner list of component identifiers with the signature parameters */
  readonly input: InnerList
  readonly signature: Uint8Array
}

export class SignatureBaseError extends Error {
  override readonly name = "SignatureBaseError"
}

const fail = (message: string): never => {
  throw new SignatureBaseError(message)
}

/**
 * RFC 9421 §4.1/§4.2: every label in `Signature-Input` with its value in `Signature`.
 * Throws SignatureBaseError when a header is malformed or a label has no signature.
 */
export const readSignatures = (headers: RequestHeaders): Array<MessageSignature> => {
  const inputHeader = headers.get("signature-input")
  const signatureHeader = headers.get("signature")
  if (inputHeader === null || signatureHeader === null) return []
  let inputs: Map<string, Member>
  let signatures: Map<string, Member>
  try {
    inputs = parseDictionary(inputHeader)
    signatures = parseDictionary(signatureHeader)
  } catch (e) {
    return fail(`malformed Signature-Input or Signature field: ${e instanceof StructuredFieldError ? e.message : "unparseable"}`)
  }
  const out: Array<MessageSignature> = []
  for (const [label, input] of inputs) {
    if (!isInnerList(input)) fail(`Signature-Input "${label}" is not an inner list`)
    const value = signatures.get(label)
    if (value === undefined) fail(`Signature-Input "${label}" has no matching Signature`)
    if (isInnerList(value!) || !((value as Item).value instanceof Uint8Array)) fail(`Signature "${label}" is not a byte sequence`)
    for (const component of (input as InnerList).items) {
      if (typeof component.value !== "string") fail(`Signature-Input "${label}" lists a component that is not a string`)
    }
    out.push({ label, input: input as InnerList, signature: (value as Item).value as Uint8Array })
  }
  return out
}

/** RFC 9421 §2.2.8: names and values of the query, decoded then re-encoded. */
const encodeQueryPart = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

const derived = (message: SignedMessage, name: string, component: Item): string => {
  if (name === "@status") {
    if (message.status === undefined) return fail(`"@status" is only defined for responses`)
    return String(message.status)
  }
  if (message.url === undefined || message.method === undefined) return fail(`"${name}" is only defined for requests`)
  let url: URL
  try {
    url = new URL(message.url)
  } catch {
    return fail("the request URL is not absolute")
  }
  switch (name) {
    case "@method": // §2.2.1
      return message.method
    case "@target-uri": // §2.2.2
      return url.href
    case "@authority": // §2.2.3: lowercase host, default port omitted
      return url.host.toLowerCase()
    case "@scheme": // §2.2.4
      return url.protocol.slice(0, -1).toLowerCase()
    case "@request-target": // §2.2.5
      return `${url.pathname}${url.search}`
    case "@path": // §2.2.6
      return url.pathname === "" ? "/" : url.pathname
    case "@query": // §2.2.7: "?" alone when there is no query
      return url.search === "" ? "?" : url.search
    case "@query-param": { // §2.2.8
      const wanted = param(component.params, "name")
      if (typeof wanted !== "string") return fail(`"@query-param" needs a "name" parameter`)
      const values = [...new URLSearchParams(url.search)].filter(([k]) => encodeQueryPart(k) === wanted)
      if (values.length !== 1) return fail(`"@query-param";name="${wanted}" must occur exactly once in the query`)
      return encodeQueryPart(values[0]![1])
    }
    default:
      return fail(`unknown derived component "${name}"`)
  }
}

const KNOWN_FIELD_PARAMS = new Set(["key", "bs", "sf"])

/** RFC 9421 §2.1: an HTTP field's canonical value (combined, trimmed), or a dictionary member (§2.1.2). */
const field = (message: SignedMessage, name: string, component: Item): string => {
  for (const [k] of component.params) {
    if (!KNOWN_FIELD_PARAMS.has(k)) fail(`unsupported parameter "${k}" on component "${name}"`)
  }
  const raw = message.headers.get(name)
  if (raw === null) return fail(`the covered field "${name}" is not in the message`)
  const value = raw.trim()
  const key = param(component.params, "key")
  const bs = param(component.params, "bs")
  if (bs !== undefined && (key !== undefined || param(component.params, "sf") !== undefined)) {
    return fail(`"bs" must not be combined with "key" or "sf"`)
  }
  if (bs === true) {
    // §2.1.3: each field line wrapped as a byte sequence (Fetch headers hold the bytes as
    // Latin-1 characters). Fetch has already combined the lines with ", ": split them back.
    return raw.split(", ").map((line) => `:${btoa(line.trim())}:`).join(", ")
  }
  if (key !== undefined) {
    if (typeof key !== "string") return fail(`"key" must be a string`)
    let dict: ReturnType<typeof parseDictionary>
    try {
      dict = parseDictionary(value)
    } catch {
      return fail(`the field "${name}" is not a Dictionary`)
    }
    const member = dict.get(key)
    if (member === undefined) return fail(`the field "${name}" has no member "${key}"`)
    return serializeMember(member)
  }
  if (param(component.params, "sf") === true) {
    // §2.1.1: re-serialize as the structured type; only Dictionary fields are known here
    try {
      return serializeDictionaryText(value)
    } catch {
      return fail(`"sf" is only supported for Dictionary fields`)
    }
  }
  return value
}

const serializeDictionaryText = (value: string): string =>
  [...parseDictionary(value)].map(([k, m]) => `${k}=${serializeMember(m)}`).join(", ")

/**
 * RFC 9421 §2.5: the signature base of `signature` over `message`. Throws
 * SignatureBaseError when a component is unknown, missing, or listed twice.
 */
export const signatureBase = (message: SignedMessage, input: InnerList): string => {
  const lines: Array<string> = []
  const seen = new Set<string>()
  for (const component of input.items) {
    const name = component.value as string
    const id = serializeItem(component)
    if (seen.has(id)) fail(`the component ${id} is listed twice`)
    seen.add(id)
    if (name !== name.toLowerCase()) fail(`component names are lowercase, got "${name}"`)
    if (name === "@signature-params") fail(`"@signature-params" must not be listed as a covered component`)
    const value = name.startsWith("@") ? derived(message, name, component) : field(message, name, component)
    if (/[\r\n]/.test(value)) fail(`the component ${id} contains a line break`)
    lines.push(`${id}: ${value}`)
  }
  lines.push(`"@signature-params": ${serializeInnerList(input)}`)
  return lines.join("\n")
}

/** The covered component identifiers of a signature as serialized items (`"@method"`, `"signature";key="x"`). */
export const coveredComponents = (input: InnerList): Array<string> => input.items.map(serializeItem)
