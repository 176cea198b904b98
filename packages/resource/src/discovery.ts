/**
 * Calls to the authorization server: its RFC 8414 metadata (where its JWK Set and its
 * introspection endpoint are), with a timeout, a size limit and a JSON object check. A failure
 * is a `StorageError` (the AS is this resource server's backend): 503 to the client, the
 * detail kept internal.
 */
import { StorageError } from "@gatehouse/core"
import { Effect, Predicate, Semaphore } from "effect"
import type { ResolvedOptions } from "./options.js"

const MAX_RESPONSE_BYTES = 512 * 1024

/** A JSON object from the AS, or a StorageError saying what went wrong (internal detail only). */
export const fetchJsonObject = (
  o: Pick<ResolvedOptions, "fetch" | "timeoutMs">,
  url: string,
  init: RequestInit = {}
): Effect.Effect<{ readonly status: number; readonly body: Record<string, unknown> | undefined }, StorageError> =>
  Effect.tryPromise({
    try: async () => {
      const headers = new Headers(init.headers)
      headers.set("accept", "application/json")
      const response = await o.fetch(url, { ...init, headers, redirect: "error", signal: AbortSignal.timeout(o.timeoutMs) })
      const text = await response.text()
      if (text.length > MAX_RESPONSE_BYTES) throw new Error(`response of ${text.length} characters`)
      let body: unknown
      try {
        body = text === "" ? undefined : JSON.parse(text)
      } catch {
        body = undefined
      }
      return { status: response.status, body: Predicate.isObject(body) && !Array.isArray(body) ? body as Record<string, unknown> : undefined }
    },
    catch: (cause) => new StorageError({ detail: `request to ${url} failed: ${cause instanceof Error ? cause.message : String(cause)}`, cause })
  })

export interface AuthorizationServerMetadata {
  readonly jwks_uri?: string | undefined
  readonly introspection_endpoint?: string | undefined
}

/**
 * RFC 8414 §3.1: `/.well-known/oauth-authorization-server` inserted between the issuer's
 * host and path; §3.3: the document's `issuer` must be the issuer we asked for (else an
 * attacker's metadata could point us at its keys). Fetched once and kept; a failure is
 * retried on the next call.
 */
export const makeMetadataLoader = (o: ResolvedOptions) => {
  let loaded: AuthorizationServerMetadata | undefined
  const lock = Semaphore.makeUnsafe(1)
  const issuer = new URL(o.issuer)
  const path = issuer.pathname === "/" ? "" : issuer.pathname.replace(/\/$/, "")
  const url = `${issuer.origin}/.well-known/oauth-authorization-server${path}`
  const fetchOnce = Effect.gen(function*() {
    if (loaded !== undefined) return loaded
    const { status, body } = yield* fetchJsonObject(o, url)
    if (status !== 200 || body === undefined) {
      return yield* new StorageError({ detail: `authorization server metadata at ${url}: HTTP ${status}, not a JSON object` })
    }
    if (body["issuer"] !== o.issuer) {
      return yield* new StorageError({ detail: `authorization server metadata at ${url} names issuer ${JSON.stringify(body["issuer"])}, expected "${o.issuer}" (RFC 8414 §3.3)` })
    }
    const str = (v: unknown) => (typeof v === "string" && URL.canParse(v) ? v : undefined)
    loaded = { jwks_uri: str(body["jwks_uri"]), introspection_endpoint: str(body["introspection_endpoint"]) }
    return loaded
  })
  return Effect.suspend(() => (loaded !== undefined ? Effect.succeed(loaded) : lock.withPermit(fetchOnce)))
}
