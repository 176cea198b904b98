/**
 * Signing keys: generated on first start, persisted through the KeyStore port (the first
 * process creates them, the others load them), rotatable (current, next, retired, all
 * published in the JWKS). Private keys are imported once and cached, never per request.
 */
import { Clock, Context, Effect, Layer, Ref } from "effect"
import * as jose from "jose"
import { GatehouseConfig, type SigningAlg } from "../config.js"
import { ServerError, type StorageError } from "../errors.js"
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
      return { loadedAt: now, records, current, jwks, localSet: jose.createLocalJWKSet(jwks as jose.JSONWebKeySet) }
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
  /** Rotate `alg`: current -> retired, next -> current, a new next is generated. */
  rotate(alg: SigningAlg): Effect.Effect<void, ServerError | StorageError>
}>()("@gatehouse/core/tokens/Keys") {
  static readonly layer = Layer.effect(
    Keys,
    Effect.gen(function*() {
      const config = yield* GatehouseConfig
      const store = yield* KeyStore
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

      const fresh = Effect.gen(function*() {
        const t = yield* Clock.currentTimeMillis
        const loaded = yield* Ref.get(state)
        if (t - loaded.loadedAt < RELOAD_AFTER_MS) return loaded
        const reloaded = yield* load(yield* store.list(), t)
        yield* Ref.set(state, reloaded)
        return reloaded
      })

      const sign = Effect.fnUntraced(function*(payload: jose.JWTPayload, options: { readonly alg: SigningAlg; readonly typ: string }) {
        const loaded = yield* fresh
        const signer = loaded.current.get(options.alg)
        if (!signer) return yield* new ServerError({ detail: `no current signing key for ${options.alg}` })
        return yield* Effect.tryPromise({
          try: () => new jose.SignJWT(payload).setProtectedHeader({ alg: options.alg, typ: options.typ, kid: signer.kid }).sign(signer.key),
          catch: (cause) => new ServerError({ detail: "signing failed", cause })
        })
      })

      const verify = Effect.fnUntraced(function*(jwt: string, options: jose.JWTVerifyOptions) {
        const loaded = yield* fresh
        return yield* Effect.tryPromise({
          try: () => jose.jwtVerify(jwt, loaded.localSet, options),
          catch: (e) => ({ _tag: "JoseError" as const, message: e instanceof Error ? e.message : String(e) })
        })
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
        rotate
      })
    })
  )
}
