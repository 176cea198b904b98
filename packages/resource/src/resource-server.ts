/**
 * The resource server (RFC 6749 §1.1 steps E/F): given a request, find its Bearer token
 * (RFC 6750 §2.1), verify it — JWTs locally against the authorization server's keys
 * (RFC 9068 §4), anything else by introspection (RFC 7662) — check the scopes the route
 * needs, and either hand back who is calling or the RFC 6750 §3 response that refuses them.
 *
 * Effect API: the `ResourceServer` service (`ResourceServer.layer(options)`). Promise API:
 * `createResourceServer(options)`. Both are the same code.
 */
import { InsufficientScope, InvalidToken, ServerError, StorageError } from "@gatehouse/core"
import { Cause, Clock, Context, Effect, Layer } from "effect"
import { presentedToken } from "./bearer.js"
import { challengeResponse, type ResourceError } from "./challenge.js"
import { makeMetadataLoader } from "./discovery.js"
import { type GnapTokenInfo, makeGnapVerifier, presentedGnapToken } from "./gnap.js"
import { makeIntrospector } from "./introspection.js"
import { makeJwksCache } from "./jwks.js"
import { JWE_COMPACT, JWS_COMPACT, verifyJwt } from "./jwt.js"
import { metadataResponse, protectedResourceMetadata } from "./metadata.js"
import { type ResolvedOptions, resolveOptions, ResourceServerConfigError, type ResourceServerOptions } from "./options.js"

/** Who is calling, as the verified token says. */
export interface VerifiedToken {
  /** the subject: the user, or the client itself for client_credentials tokens */
  sub: string
  /** the client the token was issued to (RFC 9068 §2.2 `client_id`) */
  clientId: string
  /** the granted scopes (RFC 9068 §2.2.3, RFC 7662 §2.2 `scope`) */
  scope: string[]
  /** every claim of the JWT, or every member of the introspection response */
  claims: Record<string, unknown>
  /**
   * how it was verified: locally (a JWT), by introspection (an opaque token), or by GNAP
   * introspection (RFC 9767 §3.3; with the request's key proof when key-bound, RFC 9635 §7.2)
   */
  format: "jwt" | "opaque" | "gnap"
  /** GNAP tokens: the rights granted (RFC 9635 §8), the flags, and whether the request was key-proven */
  gnap?: { access: ReadonlyArray<unknown>; flags: ReadonlyArray<string>; bound: boolean } | undefined
}

export interface VerifyOptions {
  /** scopes the token must all carry, else 403 `insufficient_scope` (RFC 6750 §3.1) */
  readonly scopes?: ReadonlyArray<string> | undefined
  /**
   * GNAP: the access rights (RFC 9635 §8) the token must cover, sent as `access` in the
   * introspection request (RFC 9767 §3.3: an AS that cannot confirm them answers inactive).
   */
  readonly access?: ReadonlyArray<unknown> | undefined
}

export type VerifyResult =
  | { readonly ok: true; readonly token: VerifiedToken }
  | { readonly ok: false; readonly response: Response }

/** The scope claim: a space-separated string (RFC 9068 §2.2.3, RFC 7662 §2.2); an array is tolerated. */
const scopesOf = (claims: Record<string, unknown>): Array<string> => {
  const scope = claims["scope"]
  if (typeof scope === "string") return [...new Set(scope.split(" ").filter((s) => s !== ""))]
  if (Array.isArray(scope)) return scope.filter((s): s is string => typeof s === "string")
  return []
}

/** RFC 6750 §3.1 insufficient_scope, naming every scope the route needs. */
export const requireScopes = (token: VerifiedToken, scopes: ReadonlyArray<string> | undefined): Effect.Effect<VerifiedToken, InsufficientScope> => {
  const missing = (scopes ?? []).filter((s) => !token.scope.includes(s))
  return missing.length === 0
    ? Effect.succeed(token)
    : Effect.fail(new InsufficientScope({
      description: `the access token lacks the scope${missing.length > 1 ? "s" : ""} ${missing.join(" ")}`,
      scope: [...scopes!].join(" ")
    }))
}

export interface ResourceServerService {
  readonly options: ResolvedOptions
  /**
   * The request's token, verified, with the route's scopes; `undefined` when the request
   * carried no token at all (answer with `challenge(undefined)`, RFC 6750 §3.1).
   */
  authenticate(request: Request, options?: VerifyOptions): Effect.Effect<VerifiedToken | undefined, ResourceError>
  /** Verify a token obtained some other way (a WebSocket sub-protocol, a queue message). */
  verifyToken(token: string, options?: VerifyOptions): Effect.Effect<VerifiedToken, ResourceError>
  /** The RFC 6750 §3 response for a refusal (`undefined`: no token was presented). */
  challenge(error: ResourceError | undefined): Response
  /** The RFC 9728 §2 document. */
  metadata(): Record<string, unknown>
}

/** Build the service from resolved options (no I/O happens until the first token). */
export const makeResourceServer = (o: ResolvedOptions): ResourceServerService => {
  const now = o.clock ? Effect.sync(o.clock) : Clock.currentTimeMillis
  const asMetadata = makeMetadataLoader(o)
  const endpoint = (given: string | undefined, member: "jwks_uri" | "introspection_endpoint"): Effect.Effect<string, StorageError> =>
    given !== undefined
      ? Effect.succeed(given)
      : Effect.flatMap(asMetadata, (m) => {
        const url = m[member]
        return url !== undefined
          ? Effect.succeed(url)
          : Effect.fail(new StorageError({ detail: `the authorization server's metadata has no ${member}` }))
      })
  const jwks = makeJwksCache(o, endpoint(o.jwksUri, "jwks_uri"), now)
  const introspection = o.introspection
  const introspector = introspection === undefined
    ? undefined
    : makeIntrospector({ ...o, introspection }, endpoint(introspection.endpoint, "introspection_endpoint"), now)

  const gnap = o.gnap === undefined ? undefined : makeGnapVerifier(o.gnap, o)

  /** RFC 9767 §3.3: who the GNAP token is for — the user (`sub`), else the client instance */
  const fromGnap = (info: GnapTokenInfo, options: VerifyOptions | undefined): Effect.Effect<VerifiedToken, InsufficientScope> => {
    const str = (v: unknown) => (typeof v === "string" ? v : undefined)
    const instance = str(info.claims["instance_id"])
    return requireScopes({
      sub: str(info.claims["sub"]) ?? instance ?? "",
      clientId: instance ?? "",
      // RFC 9635 §8.1: string access rights play the part of scopes
      scope: info.access.filter((a): a is string => typeof a === "string"),
      claims: info.claims,
      format: "gnap",
      gnap: { access: info.access, flags: info.flags, bound: info.key !== undefined }
    }, options?.scopes)
  }

  const verifyToken = Effect.fnUntraced(function*(token: string, options?: VerifyOptions): Effect.fn.Return<VerifiedToken, ResourceError> {
    let claims: Record<string, unknown>
    let format: VerifiedToken["format"]
    if (gnap !== undefined && introspector === undefined && !JWS_COMPACT.test(token) && !JWE_COMPACT.test(token)) {
      // RFC 9635 §7.2: a `bearer`-flagged GNAP token, presented as RFC 6750 Bearer
      return yield* fromGnap(yield* gnap.verifyBearer(token, options?.access), options)
    }
    if (JWS_COMPACT.test(token)) {
      const t = yield* now
      claims = (yield* verifyJwt(o, jwks, token, t)).payload
      format = "jwt"
    } else if (JWE_COMPACT.test(token)) {
      return yield* new InvalidToken({ description: "encrypted access tokens are not accepted here" })
    } else if (introspector !== undefined) {
      const introspected = yield* introspector.introspect(token).pipe(
        // not an OAuth token this AS knows: perhaps a bearer GNAP token (RFC 9635 §7.2)
        Effect.catchTag("InvalidToken", (e) => gnap === undefined ? Effect.fail(e) : Effect.succeed(undefined))
      )
      if (introspected === undefined) return yield* fromGnap(yield* gnap!.verifyBearer(token, options?.access), options)
      claims = introspected.claims
      format = "opaque"
    } else {
      return yield* new InvalidToken({ description: "the access token is not a JWT access token (RFC 9068)", detail: "opaque token and no introspection configured" })
    }
    const sub = claims["sub"]
    const clientId = claims["client_id"]
    // RFC 9068 §2.2: sub and client_id are strings (introspection: sub falls back to the client)
    if ((sub !== undefined && typeof sub !== "string") || (clientId !== undefined && typeof clientId !== "string")) {
      return yield* new InvalidToken({ description: `the access token's "sub" or "client_id" claim is invalid` })
    }
    const verified: VerifiedToken = {
      sub: sub ?? clientId ?? "",
      clientId: clientId ?? "",
      scope: scopesOf(claims),
      claims,
      format
    }
    return yield* requireScopes(verified, options?.scopes)
  })

  const authenticate = (request: Request, options?: VerifyOptions): Effect.Effect<VerifiedToken | undefined, ResourceError> =>
    Effect.suspend(() => {
      if (gnap !== undefined) {
        // RFC 9635 §7.2: `Authorization: GNAP <token>` with a key proof
        const bound = presentedGnapToken(request)
        if ("_tag" in bound) return Effect.fail(bound)
        if (bound.token !== undefined) {
          return Effect.flatMap(gnap.verifyBound(request, bound.token, options?.access), (info) => fromGnap(info, options))
        }
      }
      const presented = presentedToken(request)
      if ("_tag" in presented) return Effect.fail(presented)
      return presented.token === undefined ? Effect.succeed(undefined) : verifyToken(presented.token, options)
    })

  const document = protectedResourceMetadata(o)
  return {
    options: o,
    authenticate,
    verifyToken,
    challenge: (error) => challengeResponse(error, o),
    metadata: () => ({ ...document })
  }
}

export class ResourceServer extends Context.Service<ResourceServer, ResourceServerService>()(
  "@gatehouse/resource/ResourceServer"
) {
  /** The service from options; fails with ResourceServerConfigError listing every bad option. */
  static readonly layer = (options: ResourceServerOptions): Layer.Layer<ResourceServer, ResourceServerConfigError> =>
    Layer.effect(
      ResourceServer,
      Effect.try({
        try: () => ResourceServer.of(makeResourceServer(resolveOptions(options))),
        catch: (e) => e instanceof ResourceServerConfigError ? e : new ResourceServerConfigError([String(e)])
      })
    )
}

/** For hosts that don't use Effect: every method returns a Promise or a value. */
export interface ResourceServerInstance {
  /**
   * Check the request's Bearer token (and `scopes`). `ok: true` with who is calling, or
   * `ok: false` with the RFC 6750 §3 response to send back as is.
   */
  verify(request: Request, options?: VerifyOptions): Promise<VerifyResult>
  /** The RFC 9728 document, to serve at `metadataPath` (`/.well-known/oauth-protected-resource...`). */
  metadataResponse(): Response
  /** Where the RFC 9728 document belongs on this server's origin (RFC 9728 §3.1). */
  readonly metadataPath: string
  /** The absolute URL of that document, as sent in `resource_metadata` (RFC 9728 §5.1). */
  readonly metadataUrl: string
  /** The same server for Effect code. */
  readonly service: ResourceServerService
}

/** Run one verification to a result; a defect becomes a 500 (logged), never a rejection. */
export const runVerify = async (
  service: ResourceServerService,
  request: Request,
  options?: VerifyOptions
): Promise<VerifyResult> => {
  const program = service.authenticate(request, options).pipe(
    Effect.map((token): VerifyResult => token === undefined ? { ok: false, response: service.challenge(undefined) } : { ok: true, token }),
    Effect.catchCause((cause) => {
      const failure = Cause.findErrorOption(cause)
      const error: ResourceError = failure._tag === "Some"
        ? failure.value
        : new ServerError({ detail: "unexpected defect", cause: Cause.squash(cause) })
      const log = error._tag === "StorageError" || error._tag === "ServerError"
        ? Effect.logError("gatehouse resource server:", error.detail ?? "", Cause.pretty(cause))
        : Effect.void
      return Effect.as(log, { ok: false, response: service.challenge(error) } satisfies VerifyResult)
    })
  )
  return Effect.runPromise(program)
}

/**
 * The resource server for hosts that don't use Effect. Throws ResourceServerConfigError
 * (every bad option, one per line) at once; nothing is fetched until the first token arrives.
 */
export const createResourceServer = (options: ResourceServerOptions): ResourceServerInstance => {
  const service = makeResourceServer(resolveOptions(options))
  const metadataUrl = service.options.resourceMetadataUrl
  return {
    verify: (request, verifyOptions) => runVerify(service, request, verifyOptions),
    metadataResponse: () => metadataResponse(service.metadata()),
    metadataPath: new URL(metadataUrl).pathname,
    metadataUrl,
    service
  }
}
