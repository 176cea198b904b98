/**
 * Signing keys: generated on first start, persisted through the KeyStore port (the first
 * process creates them, the others load them), rotatable (current, next, retired, all
 * published in the JWKS). Private keys are imported once and cached, never per request.
 * JWTs are signed here as JWS Compact Serialization (RFC 7515 §7.1) with the `Crypto` port's
 * signature, so a runtime with synchronous signatures (Node) signs without a thread hop.
 */
import { Clock, Context, Effect, Layer, Ref } from "effect"
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
      return { loadedAt: now, records, current, jwks, localSet: jose.createLocalJWKSet(jwks as jose.JSONWebKeySet), publicKeys }
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
      const state = yield* Ref.make(yield* load(records, now))

      const reload = (t: number) =>
        Effect.flatMap(store.list(), (records) => load(records, t)).pipe(Effect.tap((reloaded) => Ref.set(state, reloaded)))
      const fresh = Effect.flatMap(Clock.currentTimeMillis, (t) =>
        Effect.flatMap(Ref.get(state), (loaded) => (t - loaded.loadedAt < RELOAD_AFTER_MS ? Effect.succeed(loaded) : reload(t))))

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
        Effect.flatMap(fresh, (loaded) => {
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
        Effect.flatMap(fresh, (loaded) => {
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
            (valid) => (valid ? jsonObject(parts[1]!) : undefined)
          )
        })

      const rotate = Effect.fnUntraced(function*(alg: SigningAlg) {
        const t = yield* Clock.currentTimeMillis
        const next = yield* generateKeyRecord(alg, "next", t)
        const updated = yield* store.rotate(alg, next, t)
        yield* Ref.set(state, yield* load(updated, t))
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
