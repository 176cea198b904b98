/**
 * `@gatehouse/resource/next`: the resource server in Next.js App Router route handlers (or
 * anything else that takes `(Request) => Response`: Hono, Bun, workers).
 *
 * ```ts
 * // app/api/me/route.ts
 * export const GET = withToken(rs, (request, token) => Response.json({ sub: token.sub }))
 * // app/.well-known/oauth-protected-resource/route.ts
 * export const GET = protectedResourceMetadata(rs)
 * ```
 */
import type { ResourceServerInstance, VerifiedToken, VerifyOptions } from "./resource-server.js"

type Verifier = Pick<ResourceServerInstance, "verify">

/**
 * Wrap a route handler: it runs with the verified token (every scope in `options.scopes`
 * present); any other request gets the RFC 6750 §3 refusal. The route's second argument
 * (Next.js's `{ params }`) is passed through.
 */
export const withToken = <R extends Request = Request, C = unknown>(
  rs: Verifier,
  handler: (request: R, token: VerifiedToken, context: C) => Response | Promise<Response>,
  options: VerifyOptions = {}
) =>
  async function gatehouseWithToken(request: R, context: C): Promise<Response> {
    const result = await rs.verify(request, options)
    return result.ok ? handler(request, result.token, context) : result.response
  }

/** The RFC 9728 document as a `GET` route handler. */
export const protectedResourceMetadata = (rs: Pick<ResourceServerInstance, "metadataResponse">) =>
  function gatehouseResourceMetadata(): Response {
    return rs.metadataResponse()
  }

export type { VerifiedToken, VerifyOptions } from "./resource-server.js"
