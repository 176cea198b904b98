/**
 * Opaque access tokens, checked by asking the authorization server (RFC 7662): POST the token
 * to the introspection endpoint, authenticated as this resource server's client (§2.1), and
 * accept it only when `active` is true and its `iss`, `aud`, `exp`/`nbf` and `token_type`
 * agree (§2.2, §4). Active results are cached briefly — keyed by a digest of the token, never
 * the token itself, and never beyond its `exp` (§4); inactive ones never are, so a token
 * that becomes active is not refused from the cache.
 */
import { InvalidToken, StorageError } from "@gatehouse/core"
import { Effect } from "effect"
import { fetchJsonObject } from "./discovery.js"
import type { ResolvedOptions } from "./options.js"

/** The most results kept; past it, the oldest go first. */
const MAX_CACHED = 10_000

export interface IntrospectedToken {
  /** the introspection response, every member */
  readonly claims: Record<string, unknown>
}

interface Cached {
  readonly result: IntrospectedToken
  readonly until: number
}

/** RFC 6749 §2.3.1 + Appendix B: id and secret form-urlencoded, then base64. */
const basic = (clientId: string, clientSecret: string) => {
  const form = (s: string) => new URLSearchParams([["", s]]).toString().slice(1)
  const bytes = new TextEncoder().encode(`${form(clientId)}:${form(clientSecret)}`)
  return `Basic ${btoa(String.fromCharCode(...bytes))}`
}

const sha256 = (value: string) =>
  Effect.promise(async () => {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)))
    return btoa(String.fromCharCode(...digest))
  })

const invalid = (description: string, detail?: string) => new InvalidToken({ description, detail })

export interface Introspector {
  introspect(token: string): Effect.Effect<IntrospectedToken, InvalidToken | StorageError>
}

export const makeIntrospector = (
  o: ResolvedOptions & { readonly introspection: NonNullable<ResolvedOptions["introspection"]> },
  endpoint: Effect.Effect<string, StorageError>,
  now: Effect.Effect<number>
): Introspector => {
  const cache = new Map<string, Cached>()
  const tolerance = o.clockToleranceSeconds

  const remember = (key: string, result: IntrospectedToken, until: number, t: number) => {
    if (until <= t) return
    if (cache.size >= MAX_CACHED) {
      for (const [k, v] of cache) if (v.until <= t) cache.delete(k)
      while (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!)
    }
    cache.set(key, { result, until })
  }

  /** RFC 7662 §2.2 / §4: what the resource server must check in an active response. */
  const check = (claims: Record<string, unknown>, t: number): InvalidToken | undefined => {
    if (claims["active"] !== true) return invalid("the access token is not active (revoked, expired or unknown)")
    const seconds = t / 1000
    const exp = claims["exp"]
    if (exp !== undefined && (typeof exp !== "number" || exp + tolerance <= seconds)) return invalid("the access token expired")
    const nbf = claims["nbf"]
    if (nbf !== undefined && (typeof nbf !== "number" || nbf - tolerance > seconds)) return invalid("the access token is not valid yet")
    const iss = claims["iss"]
    if (iss !== undefined && iss !== o.issuer) {
      return invalid("the access token was not issued by the expected authorization server", `iss ${JSON.stringify(iss)}`)
    }
    const aud = claims["aud"]
    if (aud !== undefined) {
      const list = Array.isArray(aud) ? aud : [aud]
      if (!list.some((a) => typeof a === "string" && o.audience.includes(a))) {
        return invalid("the access token is not intended for this resource", `aud ${JSON.stringify(aud)}`)
      }
    }
    // RFC 7662 §2.2 token_type (RFC 6749 §7.1): this server takes Bearer tokens only
    const tokenType = claims["token_type"]
    if (tokenType !== undefined && (typeof tokenType !== "string" || tokenType.toLowerCase() !== "bearer")) {
      return invalid("the access token is not a Bearer token", `token_type ${JSON.stringify(tokenType)}`)
    }
    return undefined
  }

  const ask = Effect.fnUntraced(function*(token: string) {
    const url = yield* endpoint
    const { status, body } = yield* fetchJsonObject(o, url, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic(o.introspection.clientId, o.introspection.clientSecret)
      },
      // RFC 7662 §2.1: token, with the hint that it is an access token
      body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString()
    })
    // RFC 7662 §2.3: 401 means our credentials were refused: our configuration, not the client's token
    if (status !== 200 || body === undefined || typeof body["active"] !== "boolean") {
      return yield* new StorageError({ detail: `introspection at ${url}: HTTP ${status}${body === undefined ? ", not a JSON object" : `, ${JSON.stringify(body).slice(0, 200)}`}` })
    }
    return body
  })

  const introspect = Effect.fnUntraced(function*(token: string) {
    const t = yield* now
    const key = yield* sha256(token)
    const hit = cache.get(key)
    if (hit !== undefined) {
      if (hit.until > t) return hit.result
      cache.delete(key)
    }
    const claims = yield* ask(token)
    const problem = check(claims, t)
    if (problem !== undefined) return yield* problem
    const result: IntrospectedToken = { claims }
    const exp = claims["exp"]
    // RFC 7662 §4: never cache past the token's expiry
    const until = Math.min(t + o.introspection.cacheTtlMs, typeof exp === "number" ? exp * 1000 : Number.POSITIVE_INFINITY)
    if (o.introspection.cacheTtlMs > 0) remember(key, result, until, t)
    return result
  })

  return { introspect }
}
