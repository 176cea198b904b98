/**
 * The user-code engine: ONE implementation of the short codes a person types on a second
 * screen, shared by the device authorization grant (RFC 8628 §3.2, §3.3, §5.1, §6.1) and
 * GNAP's `user_code` / `user_code_uri` interaction modes (RFC 9635 §2.5.1.3, §2.5.1.4,
 * §3.3.3, §3.3.4, §4.1.2, §4.1.3).
 *
 * A protocol that needs the user first creates a pending interaction (InteractionStore,
 * with its own `kind`), then `issue`s a user code that opens it. The code entry page (the
 * RFC 8628 `verification_uri`, @gatehouse/ui's `/device`) calls `submit` with what the
 * person typed; an accepted code binds the interaction to that browser (a cookie, checked
 * with `isBound` by the protocol's resume step) and the browser goes on to the host's
 * login/consent pages (`config.interactionUrl(id)`), the same hand-off as /authorize.
 *
 * Guarantees: codes are 8 characters of the RFC 8628 §6.1 base-20 alphabet from the Crypto
 * port, stored only as digests, unique among live codes; a code opens its interaction once
 * (RFC 9635 §4), from one browser; and every browser / address has a failure budget
 * (`config.userCode.maxFailures` per `failureWindow`) counted in storage, so it holds across
 * processes and under concurrent guesses (RFC 8628 §5.1, RFC 9635 §4.1.2).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { GatehouseConfig, type ResolvedConfig } from "../config.js"
import { ServerError, type StorageError } from "../errors.js"
import { parseCookies } from "../http/request.js"
import { setCookie } from "../http/response.js"
import { Crypto } from "../ports/Crypto.js"
import { Events } from "../ports/Events.js"
import { type InteractionRecord, type InteractionState, InteractionStore } from "../ports/InteractionStore.js"
import { format, generate, normalize } from "./code.js"
import { UserCodeStore } from "./UserCodeStore.js"
import type { IncomingRequest } from "../http/incoming.js"

export { ALPHABET, format, generate, LENGTH, normalize } from "./code.js"
export {
  type AttemptCount,
  type ClaimUserCodeResult,
  type UserCodeRecord,
  UserCodeStore
} from "./UserCodeStore.js"

/** Digest of a canonical code (`normalize`d): the key it is stored under. */
export const digest = (code: string): Effect.Effect<string, never, Crypto> =>
  Effect.flatMap(Crypto, (crypto) => crypto.digest(code))

// ---- issuing -------------------------------------------------------------------------

export interface IssueUserCode {
  /** the pending interaction the code opens (create it first) */
  readonly interactionId: string
  /** the interaction's kind, "device" or "gnap" */
  readonly kind: InteractionRecord["kind"]
  readonly clientId: string
  /** milliseconds since epoch; usually the interaction's own `expiresAt` */
  readonly expiresAt: number
}

export interface IssuedUserCode {
  /** the code to show, `XXXX-XXXX` (RFC 8628 §6.1; also a valid RFC 9635 §3.3.3 code) */
  readonly userCode: string
  /** the canonical form, 8 letters, no dash */
  readonly code: string
  /** what the store keys it by */
  readonly digest: string
}

/** Draws before giving up: with 20^8 codes, a second collision in a row means something is wrong. */
const MAX_DRAWS = 5

/**
 * A fresh user code for `input.interactionId`, unique among live codes (a collision draws
 * again). Fails with ServerError only if MAX_DRAWS draws all collide.
 */
export const issue = Effect.fnUntraced(function*(
  input: IssueUserCode
): Effect.fn.Return<IssuedUserCode, StorageError | ServerError, UserCodeStore | Crypto> {
  const store = yield* UserCodeStore
  const now = yield* Clock.currentTimeMillis
  for (let draw = 0; draw < MAX_DRAWS; draw++) {
    const code = yield* generate
    const codeDigest = yield* digest(code)
    const reserved = yield* store.reserve({
      userCodeDigest: codeDigest,
      interactionId: input.interactionId,
      kind: input.kind,
      clientId: input.clientId,
      createdAt: now,
      expiresAt: input.expiresAt
    }, now)
    if (reserved) return { userCode: format(code), code, digest: codeDigest }
  }
  return yield* new ServerError({ detail: `no free user code after ${MAX_DRAWS} draws` })
})

/**
 * Stop a code from opening its interaction (RFC 9635 §4.1: once one start mode of a grant
 * completed, the others are rejected). Returns how many codes were retired.
 */
export const retire = Effect.fnUntraced(function*(interactionId: string) {
  const now = yield* Clock.currentTimeMillis
  return yield* (yield* UserCodeStore).retire(interactionId, now)
})

// ---- the browser binding ---------------------------------------------------------------

/** The cookie that binds an interaction opened by a user code to the browser that typed it. */
export const bindingCookieName = (config: ResolvedConfig): string => `${config.cookies.name}.usercode`

const cookiePath = (config: ResolvedConfig) => config.basePath || "/"

/** `Set-Cookie` for a binding value (HttpOnly, SameSite=Lax, for the interaction's lifetime). */
export const bindingCookie = (config: ResolvedConfig, value: string, maxAge: number): [string, string] =>
  setCookie(bindingCookieName(config), value, { secure: config.cookies.secure, path: cookiePath(config), maxAge })

/** `Set-Cookie` that removes the binding cookie. */
export const clearBindingCookie = (config: ResolvedConfig): [string, string] =>
  setCookie(bindingCookieName(config), "", { secure: config.cookies.secure, path: cookiePath(config), maxAge: 0 })

/**
 * Whether the request's cookies carry the binding of `record` (the browser that entered the
 * code). Constant-time comparison of digests.
 */
export const isBound = Effect.fnUntraced(function*(cookies: ReadonlyMap<string, string>, record: InteractionRecord) {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const value = cookies.get(bindingCookieName(config))
  if (value === undefined || value === "") return false
  return crypto.equal(yield* crypto.digest(value), record.bindingDigest)
})

// ---- entering a code -----------------------------------------------------------------

export interface SubmitOptions {
  /**
   * Who is typing, each with its own failure budget: e.g. `browser:<a random per-browser
   * value>` and `ip:<address>`. At most 4 are used.
   */
  readonly attemptKeys: ReadonlyArray<string>
  /** The request's cookies: lets the browser that already entered a code come back to it. */
  readonly cookies?: ReadonlyMap<string, string> | undefined
}

export type SubmitResult =
  /**
   * The code opened `interactionId`. When `binding` is set, send it as the binding cookie
   * (`bindingCookie`) and go to `config.interactionUrl(interactionId)`.
   */
  | {
    readonly _tag: "Accepted"
    readonly interactionId: string
    readonly kind: InteractionRecord["kind"]
    readonly clientId: string
    /** a new binding cookie value; undefined when this browser was already bound */
    readonly binding?: string | undefined
    /** seconds the interaction (and so the cookie) still lives */
    readonly maxAge: number
  }
  /**
   * Not accepted: `malformed` (not 8 letters of the alphabet: not counted as a guess),
   * `unknown`, `expired`, or `used` (entered before, by another browser). `attemptsLeft`
   * is the smallest budget left among the attempt keys (undefined for `malformed`).
   */
  | {
    readonly _tag: "Rejected"
    readonly reason: "malformed" | "unknown" | "expired" | "used"
    readonly attemptsLeft?: number | undefined
  }
  /** RFC 8628 §5.1 / RFC 9635 §4.1.2: the budget of a key is spent; try again in `retryAfter` seconds. */
  | { readonly _tag: "TooManyAttempts"; readonly retryAfter: number }

const MAX_KEYS = 4
const OPEN: ReadonlyArray<InteractionState> = ["pending", "authenticated"]

/** The audit event of a typed code (RFC 8628 §5.1: every guess and every spent budget is on record). */
const auditSubmission = (result: SubmitResult) =>
  Effect.flatMap(Events, (events) =>
    events.emit(
      result._tag === "Accepted"
        ? { type: "user_code.accepted", clientId: result.clientId, kind: result.kind }
        : result._tag === "Rejected"
        ? { type: "user_code.rejected", reason: result.reason, attemptsLeft: result.attemptsLeft }
        : { type: "user_code.too_many_attempts", retryAfter: result.retryAfter }
    ))

/** An accepted code: its attempt keys forgiven, what the page needs to go on. */
const acceptedCode = Effect.fnUntraced(function*(
  store: UserCodeStore["Service"],
  keys: ReadonlyArray<string>,
  now: number,
  record: InteractionRecord,
  binding: string | undefined
) {
  for (const key of keys) yield* store.forgive(key, now)
  return {
    _tag: "Accepted",
    interactionId: record.id,
    kind: record.kind,
    clientId: record.clientId,
    binding,
    maxAge: Math.max(1, Math.floor((record.expiresAt - now) / 1000))
  } as const
})

/**
 * What a person typed on the code entry page. Every well-formed attempt is counted as a
 * failure for each attempt key BEFORE the code is looked up (so concurrent guesses cannot
 * slip past the budget), and forgiven when the code is accepted.
 */
export const submit = Effect.fn("UserCode.submit")(function*(
  input: string,
  options: SubmitOptions
): Effect.fn.Return<SubmitResult, StorageError, UserCodeStore | InteractionStore | Crypto | GatehouseConfig> {
  const config = yield* GatehouseConfig
  const crypto = yield* Crypto
  const store = yield* UserCodeStore
  const interactions = yield* InteractionStore
  const now = yield* Clock.currentTimeMillis
  const code = normalize(input)
  if (code === undefined) return { _tag: "Rejected", reason: "malformed" } as const

  const keys: Array<string> = []
  for (const key of [...new Set(options.attemptKeys)].slice(0, MAX_KEYS)) {
    keys.push(yield* crypto.digest(`user_code_attempt:${key}`))
  }
  const counts = []
  for (const key of keys) counts.push(yield* store.countFailure(key, now, config.userCode.failureWindow * 1000))
  const exceeded = counts.filter((c) => c.count > config.userCode.maxFailures)
  if (exceeded.length > 0) {
    const resetsAt = Math.max(...exceeded.map((c) => c.resetsAt))
    return { _tag: "TooManyAttempts", retryAfter: Math.max(1, Math.ceil((resetsAt - now) / 1000)) } as const
  }
  const attemptsLeft = Math.max(0, config.userCode.maxFailures - Math.max(0, ...counts.map((c) => c.count)))
  const rejected = (reason: "unknown" | "expired" | "used") => ({ _tag: "Rejected", reason, attemptsLeft }) as const
  const accepted = (record: InteractionRecord, binding: string | undefined) => acceptedCode(store, keys, now, record, binding)
  /** the interaction a code opens, when it is still open */
  const openInteraction = (id: string) =>
    Effect.map(interactions.find(id), (r) => (r && r.expiresAt > now && OPEN.includes(r.state) ? r : undefined))

  const claimed = yield* store.claim(yield* digest(code), now)
  switch (claimed._tag) {
    case "NotFound":
      return rejected("unknown")
    case "Expired":
      return rejected("expired")
    case "AlreadyClaimed": {
      // the browser that entered the code may come back to it (reload, back button)
      const record = yield* openInteraction(claimed.record.interactionId)
      if (record && options.cookies && (yield* isBound(options.cookies, record))) return yield* accepted(record, undefined)
      return rejected("used")
    }
    case "Claimed": {
      const record = yield* openInteraction(claimed.record.interactionId)
      if (!record || record.state !== "pending") return rejected("expired")
      // bind the interaction to this browser; only the claimer gets here, once
      const binding = yield* crypto.randomToken(32)
      const bound = yield* interactions.transition(record.id, ["pending"], {
        ...record,
        bindingDigest: yield* crypto.digest(binding)
      })
      if (!bound) return rejected("expired")
      return yield* accepted(record, binding)
    }
  }
}, Effect.tap(auditSubmission))

// ---- the page-facing form (Promise API: `gatehouse.userCodes.submit`) ---------------------

/** Options of `userCodes.submit`. */
export interface UserCodeSubmitOptions {
  /**
   * Who is typing, each with its own budget of wrong codes (RFC 8628 §5.1): e.g.
   * `browser:<random per-browser value>`, `ip:<client address>`. At most 4.
   */
  readonly attemptKeys: ReadonlyArray<string>
  /** The page's request: its cookies let the browser that already entered a code return to it. */
  readonly request?: IncomingRequest | undefined
}

/** What became of a typed user code. */
export type UserCodeSubmission =
  /** Send `setCookie` (when present) and redirect the browser to `redirectTo` (the host's interaction page). */
  | {
    readonly outcome: "accepted"
    readonly redirectTo: string
    readonly setCookie?: string | undefined
    readonly interactionId: string
    /** "device" (RFC 8628) or "gnap" (RFC 9635) */
    readonly kind: string
  }
  /** Show the form again. `malformed` inputs are not counted; `attemptsLeft` warns as the limit nears. */
  | { readonly outcome: "rejected"; readonly reason: "malformed" | "unknown" | "expired" | "used"; readonly attemptsLeft?: number | undefined }
  /** RFC 8628 §5.1 / RFC 9635 §4.1.2: too many wrong codes; try again after `retryAfter` seconds. */
  | { readonly outcome: "too_many_attempts"; readonly retryAfter: number }

/**
 * `submit` for a code entry page: what the person typed, with the page's request. An
 * accepted code comes with the `Set-Cookie` value binding the browser and the host's
 * interaction URL to redirect to.
 */
export const submitFromPage = Effect.fnUntraced(function*(userCode: string, options: UserCodeSubmitOptions) {
  const config = yield* GatehouseConfig
  const result = yield* submit(userCode, {
    attemptKeys: options.attemptKeys,
    cookies: options.request === undefined ? undefined : parseCookies(options.request)
  })
  switch (result._tag) {
    case "Accepted":
      return {
        outcome: "accepted",
        redirectTo: config.interactionUrl(result.interactionId),
        setCookie: result.binding === undefined ? undefined : bindingCookie(config, result.binding, result.maxAge)[1],
        interactionId: result.interactionId,
        kind: result.kind
      } satisfies UserCodeSubmission
    case "Rejected":
      return { outcome: "rejected", reason: result.reason, attemptsLeft: result.attemptsLeft } satisfies UserCodeSubmission
    case "TooManyAttempts":
      return { outcome: "too_many_attempts", retryAfter: result.retryAfter } satisfies UserCodeSubmission
  }
})
