/**
 * The resource server's side of RFC 9767 §3.4 and §4, on top of `createResourceServer({ gnap })`:
 *
 * - Resource set registration (§3.4): POST the rights this RS protects to the AS's
 *   `resource_registration_endpoint` (from `/.well-known/gnap-as-rs`, §3.1), signed with the
 *   RS key (§3.2, the same RFC 9421 signer as introspection), and keep the
 *   `resource_reference` it answers. Registration runs once; concurrent callers share it,
 *   and a failure is retried on the next call.
 * - The RS-first challenge (RFC 9635 §9.1) with that reference:
 *   `WWW-Authenticate: GNAP as_uri="<grant endpoint>", access="<reference>", referrer="<RS URI>"`
 *   — a client requests `access: ["<reference>"]` at `as_uri` and gets the registered rights.
 * - Token chaining (§4): derive a token for a downstream RS from the token a client
 *   presented here, by a grant request signed with the RS key carrying
 *   `existing_access_token`.
 *
 * The AS refusing a call is a `GnapAsRefused` (its RFC 9767 §3.5 / RFC 9635 §3.6 code and
 * description); the AS being unreachable or answering nonsense is a `StorageError`.
 */
import { StorageError } from "@gatehouse/core"
import { Effect, Predicate, Schema, Semaphore } from "effect"
import { fetchJsonObject } from "./discovery.js"
import { gnapChallenge, makeGnapVerifier } from "./gnap.js"
import { type ResolvedOptions, ResourceServerConfigError } from "./options.js"
import type { ResourceServerInstance } from "./resource-server.js"

/** The AS refused a registration or a chaining request (RFC 9767 §3.5, RFC 9635 §3.6). */
export class GnapAsRefused extends Schema.TaggedError<GnapAsRefused>()("GnapAsRefused", {
  /** the error code, e.g. `invalid_access` */
  code: Schema.String,
  description: Schema.optional(Schema.String),
  /** the HTTP status of the AS's answer */
  status: Schema.Number
}) {}

/** What this RS registers (RFC 9767 §3.4) and how it names itself in challenges (RFC 9635 §9.1). */
export interface GnapRegistrationOptions {
  /** §3.4 `access`: the rights this RS protects, in the RFC 9635 §8 format. */
  readonly access: ReadonlyArray<unknown>
  /** §3.4 `token_introspection_required`: this RS will introspect the tokens (Gatehouse's are opaque: it does). */
  readonly tokenIntrospectionRequired?: boolean | undefined
  /** §3.4 `token_formats_supported`: only for an AS issuing structured tokens (Gatehouse refuses any). */
  readonly tokenFormatsSupported?: ReadonlyArray<string> | undefined
  /** RFC 9635 §9.1 `referrer`: this RS's URI, as clients call it. Omitted when unset. */
  readonly referrer?: string | undefined
  /** §3.4 endpoint. Default: `resource_registration_endpoint` from `/.well-known/gnap-as-rs` at `asUri`'s origin (§3.1). */
  readonly registrationEndpoint?: string | undefined
}

/** RFC 9767 §3.4 response. */
export interface GnapRegistration {
  readonly resourceReference: string
  readonly instanceId?: string | undefined
  readonly introspectionEndpoint?: string | undefined
}

/** RFC 9767 §4: what the RS asks for downstream (RFC 9635 §2.1: one token object, or several labelled ones). */
export type DerivedTokenRequest = Record<string, unknown> | ReadonlyArray<Record<string, unknown>>

/** RFC 8941 sf-string characters minus `"` and `\`: what may sit in a quoted challenge parameter. */
const QUOTABLE = /^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/

const problemsOf = (set: GnapRegistrationOptions): Array<string> => {
  const problems: Array<string> = []
  if (!Array.isArray(set.access) || set.access.length === 0) problems.push(`gnap registration access: must be a non-empty array of access rights (RFC 9635 §8)`)
  if (set.referrer !== undefined && (!URL.canParse(set.referrer) || !QUOTABLE.test(set.referrer))) {
    problems.push(`gnap registration referrer: must be an absolute URL without '"' or '\\', got ${JSON.stringify(set.referrer)}`)
  }
  if (set.registrationEndpoint !== undefined && !URL.canParse(set.registrationEndpoint)) {
    problems.push(`gnap registration registrationEndpoint: must be an absolute URL, got ${JSON.stringify(set.registrationEndpoint)}`)
  }
  if (set.tokenIntrospectionRequired !== undefined && typeof set.tokenIntrospectionRequired !== "boolean") {
    problems.push(`gnap registration tokenIntrospectionRequired: must be a boolean`)
  }
  return problems
}

/** The AS's error member: RFC 9767 §3.5 allows a string or `{code, description}`. */
const refusal = (status: number, body: Record<string, unknown> | undefined): GnapAsRefused | undefined => {
  const e = body?.["error"]
  if (typeof e === "string") return new GnapAsRefused({ code: e, status })
  if (Predicate.isObject(e) && typeof (e as { code?: unknown }).code === "string") {
    const { code, description } = e as { code: string; description?: unknown }
    return new GnapAsRefused({ code, status, ...(typeof description === "string" ? { description } : {}) })
  }
  return undefined
}

/**
 * The Effect form. `o` are the resolved options of a resource server with `gnap`; throws
 * ResourceServerConfigError when it has none or `set` is not usable.
 */
export const makeGnapRegistration = (o: ResolvedOptions, set: GnapRegistrationOptions) => {
  const g = o.gnap
  const problems = g === undefined ? ["gnap: resource set registration needs the resource server's gnap options (asUri, rsKey)"] : problemsOf(set)
  if (problems.length > 0) throw new ResourceServerConfigError(problems)
  const gnap = g!
  const signer = makeGnapVerifier(gnap, o)

  /** §3.1: the registration endpoint from the AS's RS-facing discovery document. */
  let endpoint = set.registrationEndpoint
  const registrationEndpoint = Effect.suspend(() => {
    if (endpoint !== undefined) return Effect.succeed(endpoint)
    const url = `${new URL(gnap.asUri).origin}/.well-known/gnap-as-rs`
    return Effect.flatMap(fetchJsonObject(o, url), ({ status, body }) => {
      const found = body?.["resource_registration_endpoint"]
      if (status !== 200 || typeof found !== "string" || !URL.canParse(found)) {
        return Effect.fail(new StorageError({ detail: `${url}: HTTP ${status}, no resource_registration_endpoint: the AS does not offer resource registration (RFC 9767 §3.1)` }))
      }
      endpoint = found
      return Effect.succeed(found)
    })
  })

  /** RFC 9767 §3.2: how this RS names itself: its configured name, else its key by value. */
  const self = gnap.rsName ?? { key: { proof: "httpsig", jwk: gnap.publicJwk } }

  /** A JSON POST signed with the RS key; the AS's error member becomes GnapAsRefused. */
  const call = Effect.fnUntraced(function*(url: string, body: Record<string, unknown>) {
    const init = yield* signer.signedPost(url, JSON.stringify(body))
    const { status, body: answer } = yield* fetchJsonObject(o, url, init)
    if (status !== 200 || answer === undefined) {
      return yield* (refusal(status, answer) ?? new StorageError({ detail: `${url}: HTTP ${status}, not a JSON object` }))
    }
    return answer
  })

  let registered: GnapRegistration | undefined
  const lock = Semaphore.makeUnsafe(1)

  /** The §3.4 request itself (run under `lock`, by `register`). */
  const registerNow: Effect.Effect<GnapRegistration, GnapAsRefused | StorageError> = Effect.gen(function*() {
    const url = yield* registrationEndpoint
    const answer = yield* call(url, {
      access: set.access,
      resource_server: self,
      ...(set.tokenFormatsSupported !== undefined ? { token_formats_supported: set.tokenFormatsSupported } : {}),
      ...(set.tokenIntrospectionRequired !== undefined ? { token_introspection_required: set.tokenIntrospectionRequired } : {})
    })
    const reference = answer["resource_reference"]
    // §3.4: REQUIRED; it goes into a quoted challenge parameter, so it must be quotable
    if (typeof reference !== "string" || !QUOTABLE.test(reference)) {
      return yield* new StorageError({ detail: `${url}: the registration response has no usable resource_reference (RFC 9767 §3.4)` })
    }
    const str = (v: unknown) => (typeof v === "string" ? v : undefined)
    registered = { resourceReference: reference, instanceId: str(answer["instance_id"]), introspectionEndpoint: str(answer["introspection_endpoint"]) }
    return registered
  })

  /** §3.4: register the set (once; concurrent callers share one request; a failure is retried next time). */
  const register: Effect.Effect<GnapRegistration, GnapAsRefused | StorageError> = Effect.suspend(() =>
    registered !== undefined
      ? Effect.succeed(registered)
      : lock.withPermit(Effect.suspend(() => registered !== undefined ? Effect.succeed(registered) : registerNow))
  )

  /** RFC 9635 §9.1: the challenge, with the reference once registered. */
  const challenge = (): string => gnapChallenge(gnap.asUri, { access: registered?.resourceReference, referrer: set.referrer })

  /**
   * `response` (a refusal from `verify`) with its `GNAP` challenge carrying the reference and
   * the referrer: the bare `GNAP as_uri="..."` is replaced; a 401 without one gets it added.
   */
  const withChallenge = (response: Response): Response => {
    const bare = gnapChallenge(gnap.asUri)
    const headers = new Headers(response.headers)
    const current = headers.get("www-authenticate")
    if (current !== null && current.includes(bare)) headers.set("www-authenticate", current.replace(bare, challenge()))
    else if (response.status === 401) headers.append("www-authenticate", challenge())
    else return response
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
  }

  /**
   * RFC 9767 §4: a token for a downstream RS, derived from `existingAccessToken` (the token a
   * client presented here). The answer is the AS's grant response (`access_token`, ...).
   */
  const deriveToken = (existingAccessToken: string, accessToken: DerivedTokenRequest): Effect.Effect<Record<string, unknown>, GnapAsRefused | StorageError> =>
    call(gnap.asUri, { access_token: accessToken, client: self, existing_access_token: existingAccessToken })

  return { register, challenge, withChallenge, deriveToken, reference: () => registered?.resourceReference }
}

export type GnapRegistrationService = ReturnType<typeof makeGnapRegistration>

/** For hosts that don't use Effect. */
export interface GnapRegistrationInstance {
  /** §3.4: register (once) and get the reference; rejects with GnapAsRefused or StorageError. */
  register(): Promise<GnapRegistration>
  /** the reference, once registered */
  reference(): string | undefined
  /** RFC 9635 §9.1 `GNAP as_uri="...", access="...", referrer="..."` */
  challenge(): string
  /** a refusal from `verify` with that challenge in place of the bare one */
  withChallenge(response: Response): Response
  /** RFC 9767 §4 */
  deriveToken(existingAccessToken: string, accessToken: DerivedTokenRequest): Promise<Record<string, unknown>>
}

/**
 * Registration and chaining for a resource server made with `createResourceServer({ gnap })`.
 * Throws ResourceServerConfigError at once for unusable options; nothing is fetched until
 * `register()` (call it at start-up, or before the first challenge).
 */
export const createGnapRegistration = (rs: Pick<ResourceServerInstance, "service">, set: GnapRegistrationOptions): GnapRegistrationInstance => {
  const r = makeGnapRegistration(rs.service.options, set)
  return {
    register: () => Effect.runPromise(r.register),
    reference: r.reference,
    challenge: r.challenge,
    withChallenge: r.withChallenge,
    deriveToken: (existing, accessToken) => Effect.runPromise(r.deriveToken(existing, accessToken))
  }
}
