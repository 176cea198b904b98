/**
 * Reading GNAP requests: the raw content bytes (a signature's `content-digest` is over the
 * bytes as sent, never re-serialized JSON, RFC 9530 §2), the JSON object body (RFC 9635
 * §2: `application/json`), and the `Authorization: GNAP` token (§7.2).
 */
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import { InvalidRequest, PayloadTooLarge } from "../errors.js"
import type { IncomingRequest } from "../http/incoming.js"
import { readBodyBytes } from "../http/request.js"

/** The content as bytes, at most `maxBytes` (core's body reader), over an `ArrayBuffer` as WebCrypto wants. */
export const readBytes = (request: IncomingRequest, maxBytes: number): Effect.Effect<Uint8Array<ArrayBuffer>, PayloadTooLarge | InvalidRequest> =>
  Effect.map(readBodyBytes(request, maxBytes), (bytes) =>
    bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : new Uint8Array(bytes))

export const mediaType = (request: IncomingRequest): string =>
  (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase()

/** Decode bytes as a JSON object (RFC 9635 §2: "a JSON document with an object as its root"). */
export const jsonObject = (bytes: Uint8Array, what = "the request body"): Effect.Effect<Record<string, unknown>, InvalidRequest> => {
  let text: string
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
  } catch {
    return Effect.fail(new InvalidRequest({ description: `${what} is not valid UTF-8` }))
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return Effect.fail(new InvalidRequest({ description: `${what} is not valid JSON` }))
  }
  if (!Predicate.isObject(value) || Array.isArray(value)) {
    return Effect.fail(new InvalidRequest({ description: `${what} must be a JSON object` }))
  }
  return Effect.succeed(value as Record<string, unknown>)
}

/** RFC 9110 §11.2 token68. */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/

/**
 * RFC 9635 §7.2: `Authorization: GNAP <token>`. Undefined when absent or another scheme;
 * "malformed" when the GNAP credentials are not a token68.
 */
export const gnapToken = (request: IncomingRequest): string | undefined | "malformed" => {
  const header = request.headers.get("authorization")
  if (header === null) return undefined
  const match = /^GNAP[ ]+(\S+)\s*$/i.exec(header)
  if (!match) return /^GNAP(\s|$)/i.test(header) ? "malformed" : undefined
  return TOKEN68.test(match[1]!) ? match[1]! : "malformed"
}
