/**
 * The token endpoint (RFC 6749 §3.2): POST a form, authenticate the client, dispatch on
 * `grant_type` through the grant registry, answer JSON with `Cache-Control: no-store`
 * (§5.1). Errors are rendered by the router as §5.2 JSON (401 + challenge for Basic).
 */
import * as Effect from "effect/Effect"
import { authenticateClient } from "../client-auth/index.js"
import { GatehouseConfig } from "../config.js"
import { InvalidRequest, UnauthorizedClient, UnsupportedGrantType } from "../errors.js"
import { grants } from "../grants/index.js"
import { readForm, requiredParam } from "../http/request.js"
import { json } from "../http/response.js"
import type { Endpoint, EndpointContext } from "../http/router.js"
import { observeEndpoint } from "../observability/endpoint.js"
import { annotate, traced } from "../observability/tracing.js"
import type { GatehouseServices } from "../services.js"

/** RFC 8707 §2: `resource` may be given several times; nothing else may (RFC 6749 §3.2). */
const REPEATABLE: ReadonlySet<string> = new Set(["resource"])

/** What the request said so far, for its `token.denied` event and span. */
interface Seen {
  grantType?: string | undefined
  clientId?: string | undefined
}

const token = Effect.fnUntraced(function*(ctx: EndpointContext, seen: Seen) {
  const config = yield* GatehouseConfig
  // RFC 6749 §3.2: POST (the router allows nothing else) with application/x-www-form-urlencoded
  const params = yield* readForm(ctx.request, config.limits)
  // RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once"
  for (const [name, values] of params) {
    if (values.length > 1 && !REPEATABLE.has(name)) {
      return yield* new InvalidRequest({ description: `parameter "${name.slice(0, 64)}" is included more than once` })
    }
  }
  // the client as claimed, for a token.denied before it authenticates
  seen.clientId = params.get("client_id")?.[0]?.slice(0, 128)
  // RFC 6749 §4.1.3, §4.4.2, §6: grant_type REQUIRED; unknown to us -> §5.2 unsupported_grant_type
  const grantType = yield* requiredParam(params, "grant_type")
  seen.grantType = grantType.slice(0, 64)
  const grant = grants.get(grantType)
  if (grant === undefined) {
    return yield* new UnsupportedGrantType({ description: `grant_type "${grantType.slice(0, 64)}" is not supported` })
  }
  // RFC 6749 §3.2.1: confidential clients authenticate; public ones identify themselves
  const client = yield* authenticateClient({ request: ctx.request, params, endpoint: config.endpoints.token })
  seen.clientId = client.clientId
  yield* annotate(() => ({ "gatehouse.client_id": client.clientId, "gatehouse.grant_type": grantType }))
  // RFC 6749 §5.2 unauthorized_client: "not authorized to use this authorization grant type" (RFC 7591 §2 grant_types)
  if (!client.metadata.grant_types.includes(grantType)) {
    return yield* new UnauthorizedClient({ description: `the client is not allowed the ${grantType} grant` })
  }
  const response = yield* traced(
    `gatehouse.grant.${grantType}`,
    grant.handle({ client, params, request: ctx.request }),
    () => ({ "gatehouse.client_id": client.clientId, "gatehouse.grant_type": grantType })
  )
  // RFC 6749 §5.1: JSON, Cache-Control: no-store, Pragma: no-cache
  return json(response)
})

export const tokenEndpoint: Endpoint<GatehouseServices> = (ctx) => {
  const seen: Seen = {}
  // RFC 6749 §5.2: every refusal is a token.denied event with its error code
  return observeEndpoint("token", ctx, token(ctx, seen), {
    denied: (error) => ({ type: "token.denied", grantType: seen.grantType, clientId: seen.clientId, error })
  })
}
