/**
 * RFC 6750 §3: the responses of a protected resource that refuses a request, each with a
 * `WWW-Authenticate: Bearer` challenge naming the realm, the error (§3.1) and, per RFC 9728
 * §5.1, where the resource's metadata is. Codes and statuses come from core's one error table.
 */
import { gnapChallenge } from "./gnap.js"
import { errorCode, errorTable, type InsufficientScope, type InvalidRequest, type InvalidToken, publicDescription, type ServerError, type StorageError } from "@gatehouse/core"

/** Why a request to a protected resource was refused. */
export type ResourceError = InvalidRequest | InvalidToken | InsufficientScope | StorageError | ServerError

const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" } as const

/**
 * RFC 6750 §3: `error_description` and `scope` values are restricted to %x20-21 / %x23-5B /
 * %x5D-7E: no quote, no backslash, nothing outside printable ASCII. Such characters are dropped.
 */
const attribute = (value: string) => value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "")

export interface ChallengeOptions {
  readonly realm: string
  /** RFC 9728 §5.1 `resource_metadata` */
  readonly resourceMetadataUrl: string
  /** GNAP: the AS's grant endpoint, offered in a second challenge `GNAP as_uri="..."` (RFC 9635 §9.1) */
  readonly gnap?: { readonly asUri: string } | undefined
}

/**
 * The refusal. `undefined` is the request that carried no credentials at all (§3.1: "the
 * resource server SHOULD NOT include an error code or other error information"): a bare
 * 401 challenge. Failures to reach the authorization server are our side's problem (5xx,
 * no challenge: the client's token was not found wanting).
 */
export const challengeResponse = (error: ResourceError | undefined, o: ChallengeOptions): Response => {
  const base = `Bearer realm="${attribute(o.realm)}", resource_metadata="${attribute(o.resourceMetadataUrl)}"`
  if (error === undefined) {
    const response = new Response(null, { status: 401, headers: { "www-authenticate": base, ...NO_STORE } })
    if (o.gnap !== undefined) response.headers.append("www-authenticate", gnapChallenge(o.gnap.asUri))
    return response
  }
  const { status } = errorTable[error._tag]
  const code = errorCode(error)
  const description = publicDescription(error)
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", ...NO_STORE }
  if (error._tag === "StorageError" || error._tag === "ServerError") {
    if (status === 503) headers["retry-after"] = "5"
  } else {
    let challenge = `Bearer realm="${attribute(o.realm)}", error="${code}", error_description="${attribute(description)}"`
    // RFC 6750 §3: `scope` names the scope the request needs
    if (error._tag === "InsufficientScope" && error.scope) challenge += `, scope="${attribute(error.scope)}"`
    challenge += `, resource_metadata="${attribute(o.resourceMetadataUrl)}"`
    headers["www-authenticate"] = challenge
  }
  const response = new Response(JSON.stringify({ error: code, error_description: description }), { status, headers })
  // RFC 9635 §9.1: an RS that refuses the token (401) tells the client where to get one
  if (status === 401 && o.gnap !== undefined) response.headers.append("www-authenticate", gnapChallenge(o.gnap.asUri))
  return response
}
