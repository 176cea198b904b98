/**
 * `@gatehouse/resource/fastify`: the resource server as a Fastify `preHandler`.
 *
 * ```js
 * app.get(rs.metadataPath, protectedResourceMetadata(rs))
 * app.get("/api/me", { preHandler: requireToken(rs) }, async (request) => ({ sub: request.auth.sub }))
 * ```
 *
 * For the type of `request.auth` in TypeScript:
 * `declare module "fastify" { interface FastifyRequest { auth?: VerifiedToken } }`.
 *
 * Translation only: the token is read from the Authorization header, the refusal is the
 * Fetch `Response` the resource server built, sent as is. The request body is never read.
 */
import type { ResourceServerInstance, VerifiedToken, VerifyOptions } from "./resource-server.js"

/** What the hook needs of a Fastify request. */
export interface FastifyLikeRequest {
  readonly headers: Record<string, string | ReadonlyArray<string> | undefined>
  readonly url: string
}

/** What the hook needs of a Fastify reply. */
export interface FastifyLikeReply {
  code(statusCode: number): unknown
  header(name: string, value: string): unknown
  send(payload?: string): unknown
}

type Verifier = Pick<ResourceServerInstance, "verify">

const toVerifiableRequest = (request: FastifyLikeRequest): Request => {
  const headers = new Headers()
  const authorization = request.headers["authorization"]
  if (typeof authorization === "string") headers.set("authorization", authorization)
  else if (Array.isArray(authorization)) for (const value of authorization) headers.append("authorization", value)
  let url: URL
  try {
    url = new URL(request.url, "http://resource.invalid")
  } catch {
    url = new URL("http://resource.invalid/")
  }
  return new Request(url, { headers })
}

const send = async (response: Response, reply: FastifyLikeReply) => {
  reply.code(response.status)
  response.headers.forEach((value, name) => {
    reply.header(name, value)
  })
  if (response.body === null) reply.send()
  else reply.send(await response.text())
}

/**
 * A `preHandler`: a valid token (with every scope in `options.scopes`) sets `request.auth`
 * and the route runs; anything else is answered with the RFC 6750 §3 refusal (401, 400 or
 * 403 with `WWW-Authenticate: Bearer ...`; 503 when the AS cannot be reached).
 */
export const requireToken = (rs: Verifier, options: VerifyOptions = {}) =>
  async function gatehouseRequireToken<Reply extends FastifyLikeReply>(request: FastifyLikeRequest, reply: Reply): Promise<Reply | undefined> {
    const result = await rs.verify(toVerifiableRequest(request), options)
    if (result.ok) {
      ;(request as FastifyLikeRequest & { auth?: VerifiedToken }).auth = result.token
      return undefined
    }
    await send(result.response, reply)
    // Fastify: an async hook that has replied returns the reply, which ends the chain
    return reply
  }

/** The RFC 9728 document as a route handler: `app.get(rs.metadataPath, protectedResourceMetadata(rs))`. */
export const protectedResourceMetadata = (rs: Pick<ResourceServerInstance, "metadataResponse">) =>
  async function gatehouseResourceMetadata<Reply extends FastifyLikeReply>(_request: unknown, reply: Reply): Promise<Reply> {
    await send(rs.metadataResponse(), reply)
    return reply
  }

export type { VerifiedToken, VerifyOptions } from "./resource-server.js"
