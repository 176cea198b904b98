/**
 * The grant request (RFC 9635 §2), validated member by member into `GrantRequest`. Every
 * refusal names the member and carries the §3.6 code the spec gives for it:
 * `invalid_flag` (§2.1.1), `invalid_request` (§2.1.2 labels, malformed members),
 * `unknown_user` (§2.4.1), `invalid_client` (§2.3, §7.1), `invalid_interaction` (§2.5).
 * Unknown top-level members are ignored, or refused with `gnap.unknownMembers: "reject"`
 * (Appendix D: extensions the AS doesn't know).
 */
import * as Predicate from "effect/Predicate"
import {
  InvalidClient,
  InvalidFlag,
  InvalidInteraction,
  InvalidRequest,
  UnknownUser
} from "../errors.js"
import type { ResolvedConfig } from "../config.js"
import { HASH_METHODS, type HashMethod } from "./hash.js"

/** RFC 9635 §8: a string reference, or an object with a `type`. */
export type AccessRight = string | (Readonly<Record<string, unknown>> & { readonly type: string })

export interface TokenRequest {
  readonly access: ReadonlyArray<AccessRight>
  readonly label?: string | undefined
  /** §2.1.1 */
  readonly bearer: boolean
}

export interface TokensRequest {
  /** §2.1.2: the request was an array (the response is an array too, §3.2.2) */
  readonly multiple: boolean
  readonly tokens: ReadonlyArray<TokenRequest>
}

/** RFC 9493 subject identifier. */
export type SubjectIdentifier = Readonly<Record<string, unknown>> & { readonly format: string }

export interface SubjectRequest {
  readonly subIdFormats: ReadonlyArray<string>
  readonly assertionFormats: ReadonlyArray<string>
  readonly subIds: ReadonlyArray<SubjectIdentifier>
}

export interface ClientDisplay {
  readonly name?: string | undefined
  readonly uri?: string | undefined
  readonly logoUri?: string | undefined
}

/** §2.3: the client, by value (a key object, checked by key.ts) or by instance reference. */
export type ClientRequest =
  | { readonly _tag: "key"; readonly key: unknown; readonly classId?: string | undefined; readonly display?: ClientDisplay | undefined }
  | { readonly _tag: "keyRef"; readonly ref: string; readonly classId?: string | undefined; readonly display?: ClientDisplay | undefined }
  | { readonly _tag: "instance"; readonly instanceId: string }

export interface UserRequest {
  readonly subIds: ReadonlyArray<SubjectIdentifier>
  /** §2.4 assertions about the end user, checked by assertions.ts */
  readonly assertions?: ReadonlyArray<{ readonly format: string; readonly value: string }> | undefined
}

/** RFC 9635 §2.5.1 start modes Gatehouse offers: `redirect` (§2.5.1.1), `app` (§2.5.1.2), `user_code` (§2.5.1.3), `user_code_uri` (§2.5.1.4). */
export const START_MODES = ["redirect", "app", "user_code", "user_code_uri"] as const
export type StartMode = (typeof START_MODES)[number]
/** RFC 9635 §2.5.2 finish methods. */
export const FINISH_METHODS = ["redirect", "push"] as const

export interface FinishRequest {
  readonly method: "redirect" | "push"
  readonly uri: string
  readonly nonce: string
  readonly hashMethod: HashMethod
}

export interface InteractRequest {
  /** the start modes requested that this AS supports, in the client's order */
  readonly start: ReadonlyArray<StartMode>
  readonly finish?: FinishRequest | undefined
  readonly uiLocales: ReadonlyArray<string>
}

export interface GrantRequest {
  readonly accessToken?: TokensRequest | undefined
  readonly subject?: SubjectRequest | undefined
  readonly client: ClientRequest
  readonly user?: UserRequest | undefined
  readonly interact?: InteractRequest | undefined
}

type Failure = InvalidRequest | InvalidFlag | InvalidClient | UnknownUser | InvalidInteraction

class Refused extends Error {
  constructor(readonly error: Failure) {
    super(error.description)
  }
}

const refuse = (error: Failure): never => {
  throw new Refused(error)
}
const invalid = (description: string) => refuse(new InvalidRequest({ description }))

const isRecord = (u: unknown): u is Record<string, unknown> => Predicate.isObject(u) && !Array.isArray(u)

const stringArray = (value: unknown, name: string): ReadonlyArray<string> => {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) invalid(`"${name}" must be an array of strings`)
  return value as Array<string>
}

const absoluteUri = (value: unknown, name: string, schemes?: ReadonlyArray<string>): string => {
  if (typeof value !== "string" || !URL.canParse(value)) return invalid(`"${name}" must be an absolute URI`)
  const url = new URL(value as string)
  if (schemes !== undefined && !schemes.includes(url.protocol)) invalid(`"${name}" must use ${schemes.join(" or ")}`)
  return value as string
}

/** RFC 9635 §8: the common fields of an access right object, with their types. */
const ACCESS_ARRAYS = ["actions", "locations", "datatypes", "privileges"] as const

const accessRight = (config: ResolvedConfig, value: unknown, at: string): AccessRight => {
  const known = config.gnap.accessTypes
  if (typeof value === "string") {
    if (value === "") invalid(`${at} must not be empty`)
    // §8.1: a reference the AS must know; compared as an exact string
    if (known !== undefined && !known.includes(value)) invalid(`${at}: "${value.slice(0, 64)}" is not an access right this server grants`)
    return value
  }
  if (!isRecord(value)) return invalid(`${at} must be a string or an object (§8)`)
  const type = value["type"]
  if (typeof type !== "string" || type === "") return invalid(`${at}.type is required and must be a string (§8)`)
  // §8: types are compared byte for byte, no normalisation
  if (known !== undefined && !known.includes(type)) invalid(`${at}.type "${type.slice(0, 64)}" is not an access type this server grants`)
  for (const member of ACCESS_ARRAYS) {
    if (member in value) stringArray(value[member], `${at}.${member}`)
  }
  if ("identifier" in value && typeof value["identifier"] !== "string") invalid(`${at}.identifier must be a string`)
  if (Array.isArray(value["locations"])) {
    for (const [i, l] of (value["locations"] as Array<string>).entries()) absoluteUri(l, `${at}.locations[${i}]`)
  }
  return value as AccessRight
}

/** §2.1.1 */
const tokenRequest = (config: ResolvedConfig, value: unknown, at: string): TokenRequest => {
  if (!isRecord(value)) return invalid(`"${at}" must be an object (§2.1.1)`)
  const access = value["access"]
  if (!Array.isArray(access) || access.length === 0) return invalid(`"${at}.access" is required: a non-empty array (§2.1.1)`)
  const rights = access.map((a, i) => accessRight(config, a, `"${at}.access[${i}]"`))
  const label = value["label"]
  if (label !== undefined && (typeof label !== "string" || label === "")) invalid(`"${at}.label" must be a non-empty string`)
  let bearer = false
  if (value["flags"] !== undefined) {
    const flags = stringArray(value["flags"], `${at}.flags`)
    // §2.1.1: "Flag values MUST NOT be included more than once"
    if (new Set(flags).size !== flags.length) refuse(new InvalidFlag({ description: `"${at}.flags" lists a flag more than once (§2.1.1)` }))
    for (const f of flags) {
      // "durable" is a response flag (§3.2.1); the only request flag is "bearer"
      if (f !== "bearer") refuse(new InvalidFlag({ description: `"${at}.flags": "${f.slice(0, 32)}" is not a flag this server supports` }))
    }
    bearer = flags.includes("bearer")
  }
  return { access: rights, label: label as string | undefined, bearer }
}

/** §2.1 */
const accessTokens = (config: ResolvedConfig, value: unknown): TokensRequest => {
  if (Array.isArray(value)) {
    // §2.1.2
    if (value.length === 0) invalid(`"access_token" must not be an empty array`)
    const tokens = value.map((t, i) => tokenRequest(config, t, `access_token[${i}]`))
    const labels = new Set<string>()
    for (const [i, t] of tokens.entries()) {
      if (t.label === undefined) invalid(`"access_token[${i}].label" is required when several tokens are requested (§2.1.2)`)
      if (labels.has(t.label!)) invalid(`"access_token[${i}].label" "${t.label!.slice(0, 32)}" is not unique (§2.1.2)`)
      labels.add(t.label!)
    }
    return { multiple: true, tokens }
  }
  return { multiple: false, tokens: [tokenRequest(config, value, "access_token")] }
}

const subjectIdentifiers = (value: unknown, name: string): ReadonlyArray<SubjectIdentifier> => {
  if (!Array.isArray(value)) return invalid(`"${name}" must be an array of subject identifiers (RFC 9493)`)
  return value.map((v, i) => {
    if (!isRecord(v) || typeof v["format"] !== "string") return invalid(`"${name}[${i}]" must be a subject identifier with a "format"`)
    return v as SubjectIdentifier
  })
}

/** §2.2 */
const subject = (value: unknown): SubjectRequest => {
  if (!isRecord(value)) return invalid(`"subject" must be an object (§2.2)`)
  const subIdFormats = value["sub_id_formats"] === undefined ? [] : stringArray(value["sub_id_formats"], "subject.sub_id_formats")
  const assertionFormats = value["assertion_formats"] === undefined ? [] : stringArray(value["assertion_formats"], "subject.assertion_formats")
  const subIds = value["sub_ids"] === undefined ? [] : subjectIdentifiers(value["sub_ids"], "subject.sub_ids")
  if (subIdFormats.length === 0 && assertionFormats.length === 0) invalid(`"subject" must request "sub_id_formats" or "assertion_formats" (§2.2)`)
  return { subIdFormats, assertionFormats, subIds }
}

/** §2.3.2 */
const display = (value: unknown): ClientDisplay => {
  if (!isRecord(value)) return invalid(`"client.display" must be an object (§2.3.2)`)
  const name = value["name"]
  if (name !== undefined && typeof name !== "string") invalid(`"client.display.name" must be a string`)
  const uri = value["uri"] === undefined ? undefined : absoluteUri(value["uri"], "client.display.uri", ["https:", "http:"])
  // §2.3.2: logo_uri may be a data: URI
  const logoUri = value["logo_uri"] === undefined ? undefined : absoluteUri(value["logo_uri"], "client.display.logo_uri", ["https:", "http:", "data:"])
  return { name: name as string | undefined, uri, logoUri }
}

/** §2.3 */
const client = (value: unknown): ClientRequest => {
  if (typeof value === "string") {
    if (value === "") invalid(`"client" must not be empty`)
    return { _tag: "instance", instanceId: value }
  }
  if (!isRecord(value)) return invalid(`"client" must be an object or an instance identifier string (§2.3)`)
  if (!("key" in value)) return invalid(`"client.key" is required (§2.3)`)
  const classId = value["class_id"]
  if (classId !== undefined && typeof classId !== "string") invalid(`"client.class_id" must be a string`)
  if (typeof value["key"] === "string") {
    // §7.1.1: a key reference is an opaque string, resolved against the registered keys (gnap.clients keyRef)
    if (value["key"] === "") invalid(`"client.key" must not be empty`)
    return {
      _tag: "keyRef",
      ref: value["key"],
      classId: classId as string | undefined,
      display: value["display"] === undefined ? undefined : display(value["display"])
    }
  }
  return {
    _tag: "key",
    key: value["key"],
    // §2.3: a class_id the AS cannot interpret is ignored
    classId: classId as string | undefined,
    display: value["display"] === undefined ? undefined : display(value["display"])
  }
}

/** §2.4 */
const user = (value: unknown): UserRequest => {
  // §2.4.1: a user reference; this AS issues none, so every reference is unknown (MUST unknown_user)
  if (typeof value === "string") return refuse(new UnknownUser({ description: "the user reference is not known (§2.4.1)" }))
  if (!isRecord(value)) return invalid(`"user" must be an object or a reference string (§2.4)`)
  const subIds = value["sub_ids"] === undefined ? [] : subjectIdentifiers(value["sub_ids"], "user.sub_ids")
  let assertions: Array<{ format: string; value: string }> | undefined
  if (value["assertions"] !== undefined) {
    if (!Array.isArray(value["assertions"])) invalid(`"user.assertions" must be an array`)
    // §2.4: objects with a `format` (§3.4.1) and a string `value`
    assertions = (value["assertions"] as Array<unknown>).map((a, i) => {
      if (!isRecord(a) || typeof a["format"] !== "string" || typeof a["value"] !== "string") {
        return invalid(`"user.assertions[${i}]" must be an object with string "format" and "value" (§2.4)`)
      }
      return { format: a["format"], value: a["value"] }
    })
  }
  return { subIds, ...(assertions !== undefined ? { assertions } : {}) }
}

/** §2.5.2.1 / §2.5.2.2: https, or http only for loopback, or a private-use scheme */
const finishUri = (value: unknown): string => {
  const uri = absoluteUri(value, "interact.finish.uri")
  const url = new URL(uri)
  if (uri.includes("#")) invalid(`"interact.finish.uri" must not contain a fragment`)
  if (url.protocol === "http:" && !["localhost", "127.0.0.1", "[::1]"].includes(url.hostname)) {
    invalid(`"interact.finish.uri" must use https (http only for localhost, §11.1)`)
  }
  if (["javascript:", "data:", "file:", "blob:"].includes(url.protocol)) invalid(`"interact.finish.uri" must not use ${url.protocol}`)
  return uri
}

/** §2.5 */
const interact = (value: unknown): InteractRequest => {
  if (!isRecord(value)) return invalid(`"interact" must be an object (§2.5)`)
  const start = value["start"]
  if (!Array.isArray(start)) return invalid(`"interact.start" is required: an array of start modes (§2.5.1)`)
  const modes: Array<StartMode> = []
  for (const [i, s] of start.entries()) {
    const mode = typeof s === "string" ? s : isRecord(s) && typeof s["mode"] === "string" ? s["mode"] : undefined
    if (mode === undefined) invalid(`"interact.start[${i}]" must be a mode string or an object with "mode"`)
    // §2.5.1: modes this AS does not support are left out; if none remain, §2.5 applies
    if ((START_MODES as ReadonlyArray<string>).includes(mode!) && !modes.includes(mode as StartMode)) modes.push(mode as StartMode)
  }
  let finish: FinishRequest | undefined
  if (value["finish"] !== undefined) {
    const f = value["finish"]
    if (!isRecord(f)) return invalid(`"interact.finish" must be an object (§2.5.2)`)
    const method = f["method"]
    if (method !== "redirect" && method !== "push") {
      return refuse(new InvalidInteraction({ description: `"interact.finish.method" must be "redirect" or "push" (§2.5.2)` }))
    }
    const nonce = f["nonce"]
    if (typeof nonce !== "string" || nonce === "") invalid(`"interact.finish.nonce" is required (§2.5.2)`)
    const hashMethod = f["hash_method"] ?? "sha-256"
    // §2.5.2: a name from the IANA Named Information Hash Algorithm Registry
    if (typeof hashMethod !== "string" || !Object.hasOwn(HASH_METHODS, hashMethod)) {
      invalid(`"interact.finish.hash_method" must be one of ${Object.keys(HASH_METHODS).join(", ")} (§2.5.2, §4.2.3)`)
    }
    finish = { method, uri: finishUri(f["uri"]), nonce: nonce as string, hashMethod: hashMethod as HashMethod }
  }
  let uiLocales: ReadonlyArray<string> = []
  if (value["hints"] !== undefined) {
    if (!isRecord(value["hints"])) invalid(`"interact.hints" must be an object (§2.5.3)`)
    const h = value["hints"] as Record<string, unknown>
    if (h["ui_locales"] !== undefined) uiLocales = stringArray(h["ui_locales"], "interact.hints.ui_locales")
  }
  return { start: modes, finish, uiLocales }
}

/**
 * RFC 9635 §2.3: only the `client` member — read first, so that the request is proven with
 * the client's key (§7.3) before any of its other content is judged.
 */
export const parseClient = (body: Record<string, unknown>): ClientRequest | Failure => {
  try {
    if (!("client" in body)) invalid(`"client" is required (§2)`)
    return client(body["client"])
  } catch (e) {
    if (e instanceof Refused) return e.error
    throw e
  }
}

/** RFC 9635 §2 grant request members (and RFC 9767 §4 `existing_access_token`). */
const REQUEST_MEMBERS = new Set(["access_token", "subject", "client", "user", "interact", "existing_access_token"])

/** RFC 9635 §2: a new grant request. `client` is REQUIRED. */
export const parseGrantRequest = (config: ResolvedConfig, body: Record<string, unknown>): GrantRequest | Failure => {
  try {
    if (!("client" in body)) invalid(`"client" is required (§2)`)
    if (config.gnap.unknownMembers === "reject") {
      // Appendix D: extensions this AS does not know are refused (config gnap.unknownMembers "reject")
      const unknown = Object.keys(body).find((k) => !REQUEST_MEMBERS.has(k))
      if (unknown !== undefined) invalid(`"${unknown.slice(0, 40)}" is not a grant request member this server knows (Appendix D)`)
    }
    const request: GrantRequest = {
      accessToken: body["access_token"] === undefined ? undefined : accessTokens(config, body["access_token"]),
      subject: body["subject"] === undefined ? undefined : subject(body["subject"]),
      client: client(body["client"]),
      user: body["user"] === undefined ? undefined : user(body["user"]),
      interact: body["interact"] === undefined ? undefined : interact(body["interact"])
    }
    if (request.accessToken === undefined && request.subject === undefined) {
      invalid(`the request must ask for "access_token" and/or "subject" (§2)`)
    }
    return request
  } catch (e) {
    if (e instanceof Refused) return e.error
    throw e
  }
}

/**
 * RFC 9635 §5.3: a grant update (PATCH). `client` MUST NOT be included, nor post-interaction
 * content (`interact_ref`); `access_token`, `subject`, `interact` and `user` replace earlier values.
 */
export const parseGrantUpdate = (
  config: ResolvedConfig,
  body: Record<string, unknown>
): Omit<GrantRequest, "client"> | Failure => {
  try {
    if ("client" in body) invalid(`"client" must not be included in a grant update (§5.3)`)
    if ("interact_ref" in body) invalid(`"interact_ref" must not be included in a grant update (§5.3)`)
    return {
      accessToken: body["access_token"] === undefined ? undefined : accessTokens(config, body["access_token"]),
      subject: body["subject"] === undefined ? undefined : subject(body["subject"]),
      user: body["user"] === undefined ? undefined : user(body["user"]),
      interact: body["interact"] === undefined ? undefined : interact(body["interact"])
    }
  } catch (e) {
    if (e instanceof Refused) return e.error
    throw e
  }
}

/** A human-readable label of an access right for consent pages. */
export const describeAccess = (right: AccessRight): string => {
  if (typeof right === "string") return right
  const actions = Array.isArray(right["actions"]) ? ` (${(right["actions"] as Array<string>).join(", ")})` : ""
  const where = Array.isArray(right["locations"]) ? ` at ${(right["locations"] as Array<string>).join(", ")}` : ""
  return `${right.type}${actions}${where}`
}
