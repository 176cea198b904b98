/**
 * `@gatehouse/resource/express`: the resource server as Express (or Connect) middleware.
 *
 * ```js
 * app.get(rs.metadataPath, protectedResourceMetadata(rs))
 * app.get("/api/me", requireToken(rs), (req, res) => res.json({ sub: req.auth.sub }))
 * app.post("/api/notes", requireToken(rs, { scopes: ["notes:write"] }), ...)
 * ```
 *
 * Translation only: the token is read from the Authorization header, the refusal is the
 * Fetch `Response` the resource server built, written out as is. The request body is never read.
 */
import type { ResourceServerInstance, VerifiedToken, VerifyOptions } from "./resource-server.js"

declare global {
  // Express's own request type gains `auth` (https://expressjs.com/en/guide/using-middleware.html)
  namespace Express {
    interface Request {
      /** the verified access token, set by `requireToken` */
      auth?: VerifiedToken | undefined
    }
  }
}

/** What this middleware needs of Node's request (Express's extends it). */
export interface NodeLikeRequest {
  readonly headers: Record<string, string | ReadonlyArray<string> | undefined>
  readonly url?: string | undefined
  readonly originalUrl?: string | undefined
  auth?: VerifiedToken | undefined
}

/** What this middleware needs of Node's response. */
export interface NodeLikeResponse {
  statusCode: number
  setHeader(name: string, value: string | ReadonlyArray<string>): unknown
  end(body?: string): unknown
}

export type NodeLikeNext = (error?: unknown) => void

type Verifier = Pick<ResourceServerInstance, "verify">

/**
 * A Fetch `Request` carrying what verification reads: the Authorization header, and the URL
 * (only to refuse a token in its query, RFC 6750 §2.3). No body.
 */
export const toVerifiableRequest = (req: NodeLikeRequest): Request => {
  const headers = new Headers()
  const authorization = req.headers["authorization"]
  if (typeof authorization === "string") headers.set("authorization", authorization)
  else if (Array.isArray(authorization)) for (const value of authorization) headers.append("authorization", value)
  let url: URL
  try {
    url = new URL(req.originalUrl ?? req.url ?? "/", "http://resource.invalid")
  } catch {
    url = new URL("http://resource.invalid/")
  }
  return new Request(url, { headers })
}

const writeResponse = async (response: Response, res: NodeLikeResponse) => {
  res.statusCode = response.status
  response.headers.forEach((value, name) => {
    res.setHeader(name, value)
  })
  res.end(response.body === null ? undefined : await response.text())
}

/**
 * Middleware: a valid token (with every scope in `options.scopes`) sets `req.auth` and goes
 * on; anything else is answered with the RFC 6750 §3 refusal (401, 400 or 403 with
 * `WWW-Authenticate: Bearer ...`; 503 when the authorization server cannot be reached).
 */
export const requireToken = (rs: Verifier, options: VerifyOptions = {}) =>
  function gatehouseRequireToken(req: NodeLikeRequest, res: NodeLikeResponse, next: NodeLikeNext): void {
    let request: Request
    try {
      request = toVerifiableRequest(req)
    } catch (error) {
      next(error)
      return
    }
    rs.verify(request, options).then(
      (result) => {
        if (result.ok) {
          req.auth = result.token
          next()
          return undefined
        }
        return writeResponse(result.response, res)
      }
    ).catch(next)
  }

/** The RFC 9728 document as a route handler: `app.get(rs.metadataPath, protectedResourceMetadata(rs))`. */
export const protectedResourceMetadata = (rs: Pick<ResourceServerInstance, "metadataResponse">) =>
  function gatehouseResourceMetadata(_req: unknown, res: NodeLikeResponse, next?: NodeLikeNext): void {
    writeResponse(rs.metadataResponse(), res).catch((error: unknown) => next?.(error))
  }

export type { VerifiedToken, VerifyOptions } from "./resource-server.js"
