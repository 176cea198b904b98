/**
 * Signing keys: generated on first start, persisted through the KeyStore port (the first
 * process creates them, the others load them), rotatable (current, next, retired, all
 * published in the JWKS). Private keys are imported once and cached, never per request.
 * JWTs are signed here as JWS Compact Serialization (RFC 7515 §7.1) with the `Crypto` port's
 * signature, so a runtime with synchronous signatures (Node) signs without a thread hop.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as jose from "jose"
import { GatehouseConfig, type SigningAlg } from "../config.js"
import { ServerError, type StorageError } from "../errors.js"
import { base64url, base64urlDecode, base64urlString, Crypto } from "../ports/Crypto.js"
import { type KeyRecord, KeyStore } from "../ports/KeyStore.js"

export interface PublicJwk extends jose.JWK {
  readonly kid: string
  readonly alg: string
  readonly use: "sig"
}

interface Loaded {
  readonly loadedAt: number
  readonly records: ReadonlyArray<KeyRecord>
  /** alg -> signing key of the current key */
  readonly current: ReadonlyMap<string, { readonly kid: string; readonly key: CryptoKey }>
  readonly jwks: { readonly keys: ReadonlyArray<PublicJwk> }
  readonly localSet: ReturnType<typeof jose.createLocalJWKSet>
  /** kid -> public key of every published key (current, next, retired), for `verifyOwn` */
  readonly publicKeys: ReadonlyMap<string, { readonly alg: SigningAlg; readonly key: CryptoKey }>
  /** `verifyOwn`'s verified tokens under this key set: a new key set starts empty (see `VerifiedCache`) */
  readonly verified: VerifiedCache
}

/** How many verified JWSs `verifyOwn` remembers (least recently used dropped first). */
const VERIFIED_CACHE_SIZE = 10_000

interface Verified {
  /** the protected header's `typ`, checked against each caller's list */
  readonly typ: unknown
  readonly payload: Record<string, unknown>
  /** the payload's `exp`, ms: the entry is dropped at the token's expiry */
  readonly expiresAt: number
}

/**
 * The JWSs `verifyOwn` verified, keyed by the SHA-256 of the whole token (no token kept in
 * memory), until the token's `exp`; bounded LRU. Only the signature check is remembered: the
 * callers still check the claims and look the record up (revocation) on every request.
 * Belongs to one loaded key set, so a key reload or rotation drops it.
 */
class VerifiedCache {
  private readonly entries = new Map<string, Verified>()
  get(digest: string, now: number): Verified | undefined {
    const entry = this.entries.get(digest)
    if (entry === undefined) return undefined
    this.entries.delete(digest)
    if (entry.expiresAt <= now) return undefined
    this.entries.set(digest, entry)
    return entry
  }
  set(digest: string, entry: Verified): void {
    if (this.entries.size >= VERIFIED_CACHE_SIZE) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(digest, entry)
  }
}

/** A payload shared by cache hits: frozen, with its arrays and objects (`aud`, `amr`, `cnf`). */
const frozenPayload = (payload: Record<string, unknown>): Record<string, unknown> => {
  for (const value of Object.values(payload)) if (typeof value === "object" && value !== null) Object.freeze(value)
  return Object.freeze(payload)
}

/** How long a process trusts its cached key set before re-reading the store (rotation by another process). */
const RELOAD_AFTER_MS = 60_000

const generateKeyRecord = (alg: SigningAlg, status: KeyRecord["status"], now: number) =>
  Effect.tryPromise({
    try: async (): Promise<KeyRecord> => {
      const options = alg === "EdDSA" ? { extractable: true, crv: "Ed25519" } : alg.startsWith("RS") || alg.startsWith("PS") ? { extractable: true, modulusLength: 2048 } : { extractable: true }
      const { publicKey, privateKey } = await jose.generateKeyPair(alg, options)
      const publicJwk = await jose.exportJWK(publicKey)
      const privateJwk = await jose.exportJWK(privateKey)
      const kid = await jose.calculateJwkThumbprint(publicJwk)
      return {
        kid,
        alg,
        status,
        publicJwk: JSON.stringify({ ...publicJwk, kid, alg, use: "sig" }),
        privateJwk: JSON.stringify({ ...privateJwk, kid, alg }),
        createdAt: now
      }
    },
    catch: (cause) => new ServerError({ detail: `key generation failed for ${alg}`, cause })
  })

const encoder = new TextEncoder()
const utf8 = new TextDecoder("utf-8", { fatal: true })

/** A base64url JWS segment holding a JSON object (RFC 7515 §7.1), or undefined. */
const jsonObject = (segment: string): Record<string, unknown> | undefined => {
  const bytes = base64urlDecode(segment)
  if (bytes === undefined) return undefined
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes))
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

const load = (records: ReadonlyArray<KeyRecord>, now: number) =>
  Effect.tryPromise({
    try: async (): Promise<Loaded> => {
      const current = new Map<string, { kid: string; key: CryptoKey }>()
      for (const r of records) {
        if (r.status !== "current") continue
        const key = await jose.importJWK(JSON.parse(r.privateJwk) as jose.JWK, r.alg)
        current.set(r.alg, { kid: r.kid, key: key as CryptoKey })
      }
      // current first, then next, then retired: verifiers try keys in order
      const order = { current: 0, next: 1, retired: 2 } as const
      const keys = [...records]
        .sort((a, b) => order[a.status] - order[b.status])
        .map((r) => JSON.parse(r.publicJwk) as PublicJwk)
      const jwks = { keys }
      const publicKeys = new Map<string, { alg: SigningAlg; key: CryptoKey }>()
      for (const r of records) {
        publicKeys.set(r.kid, { alg: r.alg as SigningAlg, key: await jose.importJWK(JSON.parse(r.publicJwk) as jose.JWK, r.alg) as CryptoKey })
      }
      return {
        loadedAt: now,
        records,
        current,
        jwks,
        localSet: jose.createLocalJWKSet(jwks as jose.JSONWebKeySet),
        publicKeys,
        verified: new VerifiedCache()
      }
    },
    catch: (cause) => new ServerError({ detail: "stored signing keys could not be imported", cause })
  })

export class Keys extends Context.Service<Keys, {
  /** Sign a JWT with the current key for `alg`. */
  sign(
    payload: jose.JWTPayload,
    options: { readonly alg: SigningAlg; readonly typ: string }
  ): Effect.Effect<string, ServerError | StorageError>
  /** The public JWK Set: current, next and retired keys (RFC 7517 §5). */
  jwks(): Effect.Effect<{ readonly keys: ReadonlyArray<PublicJwk> }, ServerError | StorageError>
  /** Verify a JWT this server signed (e.g. `id_token_hint`). Fails with the jose error message. */
  verify(
    jwt: string,
    options: jose.JWTVerifyOptions
  ): Effect.Effect<jose.JWTVerifyResult, ServerError | StorageError | { readonly _tag: "JoseError"; readonly message: string }>
  /**
   * The payload of a JWS Compact Serialization this server signed (RFC 7515 §5.2), or
   * undefined: three base64url parts; a protected header whose `kid` is one of our published
   * keys (current, next or retired), whose `alg` is that key's, whose `typ` is one of `typ`,
   * with no `crit` (RFC 7515 §4.1.11); a valid signature (the `Crypto` port); a JSON object
   * payload. The claims are the caller's to check.
   */
  verifyOwn(jws: string, typ: ReadonlyArray<string>): Effect.Effect<Record<string, unknown> | undefined, ServerError | StorageError>
  /** Rotate `alg`: current -> retired, next -> current, a new next is generated. */
  rotate(alg: SigningAlg): Effect.Effect<void, ServerError | StorageError>
}>()("@gatehouse/core/tokens/Keys") {
  static readonly layer = Layer.effect(
    Keys,
    Effect.gen(function*() {
      const config = yield* GatehouseConfig
      const store = yield* KeyStore
      const crypto = yield* Crypto
      const algs = [...new Set<SigningAlg>([config.accessToken.alg, ...config.idTokenAlgs])]
      const now = yield* Clock.currentTimeMillis

      // First start: generate current + next for every alg; the store keeps the first set written.
      let records = yield* store.list()
      const missing = algs.filter((alg) => !records.some((r) => r.alg === alg && r.status === "current"))
      if (missing.length > 0) {
        const initial = yield* Effect.forEach(
          missing.flatMap((alg) => [[alg, "current"], [alg, "next"]] as const),
          ([alg, status]) => generateKeyRecord(alg, status, now),
          { concurrency: "unbounded" }
        )
        records = yield* store.initialize(initial)
      }
      // the key set in use: replaced whole by a reload or a rotation (one synchronous
      // assignment; readers see the old set or the new one)
      let state = yield* load(records, now)

      const reload = (t: number) =>
        Effect.map(Effect.flatMap(store.list(), (records) => load(records, t)), (reloaded) => (state = reloaded))
      /**
       * `use` with the key set, re-read from the store when older than RELOAD_AFTER_MS (a
       * rotation by another process), and the time: the fiber's clock read and the age checked
       * in one fiber step (this runs once or twice per token request).
       */
      const withFresh = <A, E, R>(use: (loaded: Loaded, t: number) => Effect.Effect<A, E, R>) =>
        Effect.withFiber((fiber) => {
          const t = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
          const loaded = state
          return t - loaded.loadedAt < RELOAD_AFTER_MS ? use(loaded, t) : Effect.flatMap(reload(t), (reloaded) => use(reloaded, t))
        })
      const fresh = withFresh((loaded) => Effect.succeed(loaded))

      // the encoded protected header per (alg, typ, kid): the same string for every token
      const headers = new Map<string, string>()
      const encodedHeader = (alg: SigningAlg, typ: string, kid: string) => {
        const key = `${alg} ${typ} ${kid}`
        let h = headers.get(key)
        if (h === undefined) {
          // RFC 7515 §4.1: alg, typ (RFC 9068 §2.1 "at+jwt"), kid
          h = base64urlString(JSON.stringify({ alg, typ, kid }))
          if (headers.size > 64) headers.clear()
          headers.set(key, h)
        }
        return h
      }

      // RFC 7515 §5.1 / §7.1: BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)
      const sign = (payload: jose.JWTPayload, options: { readonly alg: SigningAlg; readonly typ: string }) =>
        withFresh((loaded) => {
          const signer = loaded.current.get(options.alg)
          if (!signer) return Effect.fail(new ServerError({ detail: `no current signing key for ${options.alg}` }))
          const input = `${encodedHeader(options.alg, options.typ, signer.kid)}.${base64urlString(JSON.stringify(payload))}`
          return Effect.map(crypto.sign(options.alg, signer.key, encoder.encode(input)), (signature) => `${input}.${base64url(signature)}`)
        })

      const verify = Effect.fnUntraced(function*(jwt: string, options: jose.JWTVerifyOptions) {
        const loaded = yield* fresh
        return yield* Effect.tryPromise({
          try: () => jose.jwtVerify(jwt, loaded.localSet, options),
          catch: (e) => ({ _tag: "JoseError" as const, message: e instanceof Error ? e.message : String(e) })
        })
      })

      const verifyOwn = (jws: string, typ: ReadonlyArray<string>) =>
        withFresh((loaded, t) =>
          Effect.flatMapEager(crypto.digest(jws), (digest) => {
            // verified before under this key set, not yet expired: the same answer without
            // the signature check (an ES256 verification is the dearest step of introspection)
            const hit = loaded.verified.get(digest, t)
            if (hit !== undefined) return Effect.succeed(typ.includes(hit.typ as string) ? hit.payload : undefined)
            const parts = jws.split(".")
            if (parts.length !== 3) return Effect.succeed(undefined)
            const header = jsonObject(parts[0]!)
            if (header === undefined || header["crit"] !== undefined || typeof header["kid"] !== "string") return Effect.succeed(undefined)
            if (!typ.includes(header["typ"] as string)) return Effect.succeed(undefined)
            const entry = loaded.publicKeys.get(header["kid"])
            const signature = base64urlDecode(parts[2]!)
            if (entry === undefined || entry.alg !== header["alg"] || signature === undefined) return Effect.succeed(undefined)
            return Effect.map(
              crypto.verify(entry.alg, entry.key, encoder.encode(`${parts[0]}.${parts[1]}`), signature),
              (valid) => {
                const payload = valid ? jsonObject(parts[1]!) : undefined
                if (payload === undefined) return undefined
                const exp = payload["exp"]
                // RFC 7519 §4.1.4: remembered until `exp` only; a token without one is checked every time
                if (typeof exp !== "number" || !Number.isFinite(exp)) return payload
                const frozen = frozenPayload(payload)
                if (exp * 1000 > t) loaded.verified.set(digest, { typ: header["typ"], payload: frozen, expiresAt: exp * 1000 })
                return frozen
              }
            )
          }))

      const rotate = Effect.fnUntraced(function*(alg: SigningAlg) {
        const t = yield* Clock.currentTimeMillis
        const next = yield* generateKeyRecord(alg, "next", t)
        const updated = yield* store.rotate(alg, next, t)
        state = yield* load(updated, t)
      })

      return Keys.of({
        sign,
        jwks: () => Effect.map(fresh, (l) => l.jwks),
        verify,
        verifyOwn,
        rotate
      })
    })
  )
}
