/**
 * The interaction hand-off (DESIGN.md): what the host app's login/consent pages call.
 * `details` -> (`authenticate`) -> `complete` | `deny`, each a compare-and-set on the
 * interaction's state so a replayed or concurrent call cannot complete it twice.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { Clients } from "../clients.js"
import { GatehouseConfig, type ResolvedConfig } from "../config.js"
import { InvalidRequest, type StorageError } from "../errors.js"
import { GrantStore } from "../ports/GrantStore.js"
import { type InteractionRecord, type InteractionState, InteractionStore } from "../ports/InteractionStore.js"
import type { AuthorizationRequest } from "./request.js"

/** What the authorize endpoint stores in `InteractionRecord.payload`. */
export interface InteractionPayload {
  readonly request: AuthorizationRequest
  /** why the user is needed */
  readonly prompt: ReadonlyArray<"login" | "consent">
  /** the AS session the browser already had, when only consent is needed */
  readonly session?: {
    readonly accountId: string
    readonly authTime: number
    readonly acr?: string | undefined
    readonly amr?: ReadonlyArray<string> | undefined
    readonly sessionDigest: string
  } | undefined
}

export interface LoginResult {
  readonly accountId: string
  /** OIDC Core §2 `acr` achieved */
  readonly acr?: string | undefined
  /** RFC 8176 authentication methods, e.g. ["pwd"] */
  readonly amr?: ReadonlyArray<string> | undefined
}

export interface CompleteResult {
  /** the signed-in account; optional when `authenticate` was called or the session was reused */
  readonly accountId?: string | undefined
  /** scopes the user granted, a subset of those requested; default all requested */
  readonly grantedScopes?: ReadonlyArray<string> | undefined
  readonly acr?: string | undefined
  readonly amr?: ReadonlyArray<string> | undefined
}

export interface DenyReason {
  /** shown to the client as error_description */
  readonly description?: string | undefined
}

/** What `InteractionRecord.result` holds once the host answered. */
export type InteractionOutcome =
  | {
    readonly outcome: "completed"
    readonly accountId: string
    readonly scope: ReadonlyArray<string>
    readonly authTime: number
    readonly acr?: string | undefined
    readonly amr?: ReadonlyArray<string> | undefined
    /** true when the user signed in during this interaction (a new AS session is started) */
    readonly newLogin: boolean
  }
  | { readonly outcome: "denied"; readonly description: string }
  | { readonly outcome: "authenticated"; readonly accountId: string; readonly authTime: number; readonly acr?: string | undefined; readonly amr?: ReadonlyArray<string> | undefined }

export interface InteractionDetails {
  readonly id: string
  readonly clientId: string
  readonly clientName?: string | undefined
  readonly clientUri?: string | undefined
  readonly logoUri?: string | undefined
  readonly policyUri?: string | undefined
  readonly tosUri?: string | undefined
  /** scopes requested */
  readonly scope: ReadonlyArray<string>
  /** "login" when the user must sign in; "consent" when they must approve */
  readonly prompt: ReadonlyArray<"login" | "consent">
  /** the signed-in account, once known */
  readonly accountId?: string | undefined
  readonly loginHint?: string | undefined
  readonly uiLocales?: string | undefined
  /** milliseconds since epoch */
  readonly expiresAt: number
  /**
   * what started it: "authorize" (a client redirected the browser here), "device" (a code
   * typed from a device, RFC 8628: pages should say so, §5.4) or "gnap" (RFC 9635)
   */
  readonly kind: InteractionRecord["kind"]
}

const OPEN: ReadonlyArray<InteractionState> = ["pending", "authenticated"]

/** Where the browser goes once the host answered: the resume step of the flow that started it. */
const resumeUrl = (config: ResolvedConfig, record: InteractionRecord): string => {
  const resume = record.kind === "device"
    ? config.endpoints.deviceResume
    : record.kind === "gnap"
    ? config.endpoints.gnapResume
    : config.endpoints.resume
  return `${resume}?interaction=${encodeURIComponent(record.id)}`
}

const notFound = new InvalidRequest({ description: "the interaction does not exist, has expired or is already finished" })

/** A live (open, unexpired) interaction and its payload. */
export const findOpen = Effect.fnUntraced(function*(id: string) {
  const store = yield* InteractionStore
  const record = yield* store.find(id)
  const now = yield* Clock.currentTimeMillis
  if (!record || record.expiresAt <= now || !OPEN.includes(record.state)) return yield* notFound
  return { record, payload: JSON.parse(record.payload) as InteractionPayload, now }
})

const outcomeOf = (record: InteractionRecord): InteractionOutcome | undefined =>
  record.result === undefined ? undefined : JSON.parse(record.result) as InteractionOutcome

/**
 * A resume step's claim on the interaction it is handed back: it must be finished (completed
 * or denied) and is consumed here, by exactly one request (a conditional transition: of two
 * concurrent resumes, one wins). Its outcome, or which refusal applies.
 */
export const consumeFinished = Effect.fnUntraced(function*(
  record: InteractionRecord
): Effect.fn.Return<InteractionOutcome | "unfinished" | "used", StorageError, InteractionStore> {
  if (record.state !== "completed" && record.state !== "denied") return record.state === "consumed" ? "used" : "unfinished"
  if (!(yield* (yield* InteractionStore).transition(record.id, [record.state], { ...record, state: "consumed" }))) return "used"
  return outcomeOf(record) ?? {} as InteractionOutcome
})

/** Consent remembered per account and client: the scopes granted now join those granted before. */
export const rememberConsent = Effect.fnUntraced(function*(accountId: string, clientId: string, scope: ReadonlyArray<string>, now: number) {
  const grants = yield* GrantStore
  const existing = yield* grants.findConsent(accountId, clientId)
  yield* grants.saveConsent({ accountId, clientId, scope: [...new Set([...(existing?.scope ?? []), ...scope])], updatedAt: now })
})

/** Is consent needed for `scope`? (prompt=consent forces it; OIDC Core §3.1.2.1) */
export const consentRequired = Effect.fnUntraced(function*(
  accountId: string,
  clientId: string,
  scope: ReadonlyArray<string>,
  prompt: ReadonlyArray<string>
) {
  if (prompt.includes("consent")) return true
  const consent = yield* (yield* GrantStore).findConsent(accountId, clientId)
  return !consent || !scope.every((s) => consent.scope.includes(s))
})

export const details = Effect.fn("Interactions.details")(function*(id: string) {
  const { record, payload } = yield* findOpen(id)
  const client = yield* (yield* Clients).find(record.clientId)
  const outcome = outcomeOf(record)
  const accountId = outcome?.outcome === "authenticated" ? outcome.accountId : payload.session?.accountId
  // RFC 9635 §2.3.2: a GNAP client instance describes itself in its request
  const display = (payload as { readonly display?: { readonly name?: string; readonly uri?: string; readonly logoUri?: string } }).display
  return {
    id,
    clientId: record.clientId,
    clientName: client?.metadata.client_name ?? display?.name,
    clientUri: client?.metadata.client_uri ?? display?.uri,
    logoUri: client?.metadata.logo_uri ?? display?.logoUri,
    policyUri: client?.metadata.policy_uri,
    tosUri: client?.metadata.tos_uri,
    scope: payload.request.scope,
    prompt: outcome?.outcome === "authenticated" ? payload.prompt.filter((p) => p !== "login") : payload.prompt,
    accountId,
    loginHint: payload.request.loginHint,
    uiLocales: payload.request.uiLocales,
    expiresAt: record.expiresAt,
    kind: record.kind
  } satisfies InteractionDetails
})

export const authenticate = Effect.fn("Interactions.authenticate")(function*(id: string, login: LoginResult) {
  const { record, payload, now } = yield* findOpen(id)
  if (typeof login.accountId !== "string" || login.accountId.length === 0) {
    return yield* new InvalidRequest({ description: "accountId is required" })
  }
  const outcome: InteractionOutcome = {
    outcome: "authenticated",
    accountId: login.accountId,
    authTime: Math.floor(now / 1000),
    acr: login.acr,
    amr: login.amr
  }
  const ok = yield* (yield* InteractionStore).transition(id, OPEN, {
    ...record,
    state: "authenticated",
    accountId: login.accountId,
    result: JSON.stringify(outcome)
  })
  if (!ok) return yield* notFound
  return {
    consentRequired: yield* consentRequired(login.accountId, record.clientId, payload.request.scope, payload.request.prompt)
  }
})

export const complete = Effect.fn("Interactions.complete")(function*(id: string, result: CompleteResult) {
  const config = yield* GatehouseConfig
  const { record, payload, now } = yield* findOpen(id)
  const previous = outcomeOf(record)
  let login: { accountId: string; authTime: number; acr?: string | undefined; amr?: ReadonlyArray<string> | undefined; newLogin: boolean } | undefined
  if (result.accountId !== undefined) {
    if (previous?.outcome === "authenticated" && previous.accountId !== result.accountId) {
      return yield* new InvalidRequest({ description: "accountId differs from the account that authenticated" })
    }
    login = previous?.outcome === "authenticated"
      ? { ...previous, newLogin: true }
      : payload.session?.accountId === result.accountId && !payload.prompt.includes("login")
      ? { ...payload.session, newLogin: false }
      : { accountId: result.accountId, authTime: Math.floor(now / 1000), acr: result.acr, amr: result.amr, newLogin: true }
  } else if (previous?.outcome === "authenticated") {
    login = { ...previous, newLogin: true }
  } else if (payload.session && !payload.prompt.includes("login")) {
    login = { ...payload.session, newLogin: false }
  }
  if (!login) return yield* new InvalidRequest({ description: "the user has not signed in: pass accountId" })
  const requested = payload.request.scope
  const granted = result.grantedScopes === undefined ? requested : requested.filter((s) => result.grantedScopes!.includes(s))
  const outcome: InteractionOutcome = {
    outcome: "completed",
    accountId: login.accountId,
    scope: granted,
    authTime: login.authTime,
    acr: result.acr ?? login.acr,
    amr: result.amr ?? login.amr,
    newLogin: login.newLogin
  }
  const ok = yield* (yield* InteractionStore).transition(id, OPEN, {
    ...record,
    state: "completed",
    accountId: login.accountId,
    result: JSON.stringify(outcome)
  })
  if (!ok) return yield* notFound
  return { redirectTo: resumeUrl(config, record) }
})

export const deny = Effect.fn("Interactions.deny")(function*(id: string, reason?: DenyReason) {
  const config = yield* GatehouseConfig
  const { record } = yield* findOpen(id)
  const outcome: InteractionOutcome = {
    outcome: "denied",
    description: reason?.description ?? "The resource owner denied the request"
  }
  const ok = yield* (yield* InteractionStore).transition(id, OPEN, {
    ...record,
    state: "denied",
    result: JSON.stringify(outcome)
  })
  if (!ok) return yield* notFound
  return { redirectTo: resumeUrl(config, record) }
})
