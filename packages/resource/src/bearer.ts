/**
 * RFC 6750 §2: where the access token is. Only the Authorization header (§2.1) is accepted:
 * the form body (§2.2) would make a verifier read the host's request body, and the URI query
 * (§2.3) leaks tokens into logs and Referer headers (RFC 6750 §5.3, RFC 9700 §4.3.2).
 */
import { InvalidRequest } from "@gatehouse/core"

/** RFC 6750 §2.1: `Bearer 1*SP b64token`, b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i
/** RFC 9110 §11.1: the auth-scheme is case-insensitive */
const BEARER_SCHEME = /^Bearer(?:\s|$)/i

/**
 * The presented token; `undefined` when the request carries none — no Authorization header,
 * or one with another scheme (RFC 6750 §3.1: "attempted using an unsupported authentication
 * method" is answered like no authentication at all). A malformed Bearer header, or a token
 * in the query, is `invalid_request` (§3.1).
 */
export const presentedToken = (request: Request): { readonly token: string | undefined } | InvalidRequest => {
  if (new URL(request.url).searchParams.has("access_token")) {
    return new InvalidRequest({ description: "the access token must be sent in the Authorization header, not in the URI query (RFC 6750 §2.3)" })
  }
  const header = request.headers.get("authorization")
  if (header === null || !BEARER_SCHEME.test(header.trim())) return { token: undefined }
  const match = BEARER.exec(header.trim())
  if (match === null) {
    return new InvalidRequest({ description: "malformed Bearer authorization header (RFC 6750 §2.1)" })
  }
  return { token: match[1]! }
}
