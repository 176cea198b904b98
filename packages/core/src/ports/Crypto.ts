/**
 * Randomness, digests, constant-time comparison and JWS signatures. A port so tests can
 * make randomness deterministic, and so each runtime gets its fastest implementation:
 *
 * - `Crypto.layerWebCrypto`: WebCrypto only (`crypto.subtle`): runs on Node, Bun, Deno and
 *   workers. Digests and signatures are asynchronous there (on Node each one is a job on
 *   the libuv threadpool and a promise back), which costs more than the hash itself.
 * - `Crypto.layerNode(nodeCrypto, options?)`: the same operations on a `node:crypto` module
 *   handed in by the host (core imports no Node module): synchronous SHA-256 and
 *   verification; signatures beside the event loop instead of on it, so that the ~20-30 µs
 *   of an ES256 signature (more for RSA) do not hold other requests: `signatures: "worker"`
 *   (ES256 and EdDSA on one worker thread, woken once per event-loop turn: ./sign-worker.ts;
 *   RSA on the threadpool) or `"threadpool"` (default of `layerNode`: `node:crypto`'s `sign`
 *   with a callback, one libuv threadpool job each). `signatures: "inline"` signs on the
 *   calling thread (less total CPU, fewer req/s when requests queue).
 * - `Crypto.layerDefault` (what `createGatehouse` uses): `layerNode` with the runtime's own
 *   `node:crypto` when the runtime is Node.js and offers `process.getBuiltinModule`
 *   (Node >= 20.16), else `layerWebCrypto`; signatures on the worker, inline on a
 *   single-core machine (`defaultSignatures`).
 *
 * Both produce identical values: SHA-256 digests of high-entropy values, base64url, and
 * RFC 7518 signatures (ECDSA as R || S, §3.4; RSASSA-PSS with a 32-byte salt, §3.5).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { SigningAlg } from "../config.js"
import { ServerError } from "../errors.js"
import { makeSignWorker, type SignWorker, type WorkerThreadsModule } from "./sign-worker.js"

const encoder = new TextEncoder()

/** RFC 4648 §5 alphabet, as ASCII codes */
const ALPHABET = new TextEncoder().encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
/** ASCII bytes -> string, in one native call */
const ascii = new TextDecoder("latin1")
/** scratch space for the encoded characters (the encoding is synchronous: never shared) */
let scratch = new Uint8Array(512)

/**
 * base64url without padding (RFC 4648 §5), in JavaScript: the characters are written as
 * bytes and decoded once, a flat string (no rope of concatenations kept alive by every
 * stored token id). What runtimes without a native encoder use.
 */
const base64urlJs = (bytes: Uint8Array): string => {
  const n = bytes.length
  const length = Math.ceil((n * 4) / 3)
  if (scratch.length < length) scratch = new Uint8Array(length * 2)
  const out = scratch
  let o = 0
  let i = 0
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out[o++] = ALPHABET[v >>> 18]!
    out[o++] = ALPHABET[(v >>> 12) & 63]!
    out[o++] = ALPHABET[(v >>> 6) & 63]!
    out[o++] = ALPHABET[v & 63]!
  }
  if (i < n) {
    const v = (bytes[i]! << 16) | ((i + 1 < n ? bytes[i + 1]! : 0) << 8)
    out[o++] = ALPHABET[v >>> 18]!
    out[o++] = ALPHABET[(v >>> 12) & 63]!
    if (i + 1 < n) out[o++] = ALPHABET[(v >>> 6) & 63]!
  }
  return ascii.decode(out.subarray(0, o))
}

/** The runtime's `Buffer` (Node.js, Bun), typed here: core has no Node types. */
interface NativeBuffer {
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): { toString(encoding: "base64url"): string }
  from(text: string, encoding: "utf8"): { toString(encoding: "base64url"): string }
}
const nativeBuffer = ((): NativeBuffer | undefined => {
  const candidate = (globalThis as { Buffer?: NativeBuffer }).Buffer
  try {
    // the encoding must exist and agree with RFC 4648 §5 (no padding, "-" and "_")
    return candidate !== undefined && candidate.from("\u00fb\u00ff", "utf8").toString("base64url") === "w7vDvw" &&
        candidate.from(new Uint8Array([0xfb, 0xff]).buffer, 0, 2).toString("base64url") === "-_8"
      ? candidate
      : undefined
  } catch {
    return undefined
  }
})()

/**
 * base64url without padding (RFC 4648 §5). Natively where the runtime has Node's `Buffer`
 * (a JWS payload: about a fifth of the JavaScript encoder's time), else in JavaScript.
 */
export const base64url: (bytes: Uint8Array) => string = nativeBuffer === undefined
  ? base64urlJs
  : (bytes) => nativeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url")

/** Bytes of an unpadded base64url string (RFC 4648 §5), or undefined when it is not one. */
export const base64urlDecode = (value: string): Uint8Array<ArrayBuffer> | undefined => {
  if (!/^[A-Za-z0-9_-]*$/.test(value) || value.length % 4 === 1) return undefined
  try {
    const binary = atob(value.replace(/-/g, "+").replace(/_/g, "/"))
    const bytes = new Uint8Array(binary.length)
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
    return bytes
  } catch {
    return undefined
  }
}

/** base64url of the UTF-8 of a string (JWS header and payload segments, RFC 7515 §7.1). */
export const base64urlString: (value: string) => string = nativeBuffer === undefined
  ? (value) => base64urlJs(encoder.encode(value))
  : (value) => nativeBuffer.from(value, "utf8").toString("base64url")

/**
 * Constant-time string comparison: the time taken depends only on the length of `b`
 * (the secret side), never on where the strings first differ. Compares UTF-16 code units,
 * which are equal exactly when the strings are (no encoding, nothing allocated).
 */
export const timingSafeEqual = (a: string, b: string): boolean => {
  const n = b.length
  const m = a.length
  let diff = m ^ n
  // an empty `a` reads NaN (0 in bitwise arithmetic): its length already differs
  for (let i = 0; i < n; i++) diff |= a.charCodeAt(m === 0 ? 0 : i % m) ^ b.charCodeAt(i)
  return diff === 0
}

export interface CryptoService {
  /** `bytes` random bytes (default 32 = 256 bits), base64url. */
  randomToken(bytes?: number): Effect.Effect<string>
  /** SHA-256 of the UTF-8 string, base64url: how secrets, codes and tokens are stored. */
  digest(value: string): Effect.Effect<string>
  /** SHA-256 of bytes, raw. */
  sha256(value: Uint8Array<ArrayBuffer> | string): Effect.Effect<Uint8Array>
  /** Constant-time equality. */
  equal(a: string, b: string): boolean
  /**
   * RFC 7515 §5.1 step 5: the JWS Signature of the signing input with a private key of
   * `alg` (RFC 7518 §3: ECDSA as R || S, RSASSA-PSS with a 32-byte salt).
   */
  sign(alg: SigningAlg, key: CryptoKey, input: Uint8Array<ArrayBuffer>): Effect.Effect<Uint8Array, ServerError>
  /** RFC 7515 §5.2 step 8: whether `signature` is valid for the signing input under the public `key`. */
  verify(alg: SigningAlg, key: CryptoKey, input: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>): Effect.Effect<boolean>
}

/** WebCrypto algorithm parameters per JWS alg (RFC 7518 §3). */
const webAlgorithm = (alg: SigningAlg): AlgorithmIdentifier | RsaPssParams | EcdsaParams => {
  switch (alg) {
    case "ES256":
      return { name: "ECDSA", hash: "SHA-256" }
    case "EdDSA":
      return { name: "Ed25519" }
    case "RS256":
      return { name: "RSASSA-PKCS1-v1_5" }
    case "PS256":
      return { name: "RSA-PSS", saltLength: 32 }
  }
}

/**
 * Whether `key` is a key of `alg` (RFC 7518 §3: P-256 for ES256, SHA-256 RSA keys for RS256
 * and PS256): a key of another algorithm never signs or verifies under `alg`.
 */
const keyMatches = (alg: SigningAlg, key: CryptoKey): boolean => {
  const a = key.algorithm as Partial<EcKeyAlgorithm & RsaHashedKeyAlgorithm>
  switch (alg) {
    case "ES256":
      return a.name === "ECDSA" && a.namedCurve === "P-256"
    case "EdDSA":
      return a.name === "Ed25519"
    case "RS256":
      return a.name === "RSASSA-PKCS1-v1_5" && (a.hash as Algorithm | undefined)?.name === "SHA-256"
    case "PS256":
      return a.name === "RSA-PSS" && (a.hash as Algorithm | undefined)?.name === "SHA-256"
  }
}

const signingFailed = (alg: SigningAlg) => (cause: unknown) => new ServerError({ detail: `${alg} signing failed`, cause })

const webCrypto: CryptoService = {
  randomToken: (bytes = 32) => Effect.sync(() => base64url(globalThis.crypto.getRandomValues(new Uint8Array(bytes)))),
  digest: (value) =>
    Effect.map(
      Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", encoder.encode(value))),
      (buf) => base64url(new Uint8Array(buf))
    ),
  sha256: (value) =>
    Effect.map(
      Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", typeof value === "string" ? encoder.encode(value) : value)),
      (buf) => new Uint8Array(buf)
    ),
  equal: timingSafeEqual,
  sign: (alg, key, input) =>
    Effect.map(
      Effect.tryPromise({
        try: async () => {
          if (!keyMatches(alg, key)) throw new TypeError(`the key is not a ${alg} key`)
          return globalThis.crypto.subtle.sign(webAlgorithm(alg), key, input)
        },
        catch: signingFailed(alg)
      }),
      (buf) => new Uint8Array(buf)
    ),
  verify: (alg, key, input, signature) =>
    keyMatches(alg, key)
      ? Effect.tryPromise(() => globalThis.crypto.subtle.verify(webAlgorithm(alg), key, signature, input)).pipe(
        Effect.orElseSucceed(() => false)
      )
      : Effect.succeed(false)
}

/** The parts of `node:crypto` the Node implementation uses (typed here: core has no Node types). */
export interface NodeCryptoModule {
  createHash(algorithm: string): { update(data: string | Uint8Array): { digest(): Uint8Array; digest(encoding: "base64url"): string } }
  /** one-shot digest (Node >= 20.12): no Hash object per call */
  hash?: {
    (algorithm: string, data: string | Uint8Array, outputEncoding: "base64url"): string
    (algorithm: string, data: string | Uint8Array, outputEncoding: "buffer"): Uint8Array
  }
  randomBytes(size: number): Uint8Array & { toString(encoding: "base64url"): string }
  // key parameters typed `never`: node:crypto's own key types are not visible here
  sign(algorithm: string | null | undefined, data: Uint8Array, key: never): Uint8Array
  /** the same signature computed on libuv's threadpool (Node >= 15.12) */
  sign(algorithm: string | null | undefined, data: Uint8Array, key: never, callback: (error: Error | null, signature: Uint8Array) => void): void
  verify(algorithm: string | null | undefined, data: Uint8Array, key: never, signature: Uint8Array): boolean
  readonly KeyObject: { from(key: never): object }
  readonly constants: { readonly RSA_PKCS1_PSS_PADDING: number }
}

/** Options of `Crypto.layerNode`. */
export interface NodeCryptoOptions {
  /**
   * Where JWS signatures are computed: `"threadpool"` (default) hands each one to libuv's
   * threadpool and resumes when it is done; `"worker"` hands ES256 and EdDSA ones to one
   * worker thread (batched per event-loop turn, see ./sign-worker.ts; RSA and anything the
   * worker cannot take go to the threadpool; on a runtime without `node:worker_threads`,
   * `SharedArrayBuffer` or `Atomics.waitAsync`, all of them); `"inline"` computes it
   * synchronously.
   */
  readonly signatures?: "threadpool" | "worker" | "inline"
}

export interface NodeCrypto {
  readonly service: CryptoService
  /** ends the signing worker, if one was started */
  readonly close: () => Promise<void>
}

/** `node:worker_threads` of the running Node.js, without an import (core has none). */
const builtinWorkerThreads = (): WorkerThreadsModule | undefined => {
  const g = globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
  try {
    const module = g.process?.getBuiltinModule?.("node:worker_threads") as Partial<WorkerThreadsModule> | undefined
    return typeof module?.Worker === "function" ? module as WorkerThreadsModule : undefined
  } catch {
    return undefined
  }
}

/**
 * The `node:crypto` implementation (what `layerNode` wraps; exported for tests, not from the
 * package). `workerThreads`: where the signing worker comes from (default: the runtime's own).
 */
export const makeNodeCrypto = (
  node: NodeCryptoModule,
  options: NodeCryptoOptions = {},
  workerThreads: () => WorkerThreadsModule | undefined = builtinWorkerThreads
): NodeCrypto => {
  // one KeyObject per CryptoKey (keys are imported once, tokens/keys.ts)
  const keyObjects = new WeakMap<CryptoKey, object>()
  const keyObject = (key: CryptoKey) => {
    let ko = keyObjects.get(key)
    if (ko === undefined) {
      ko = node.KeyObject.from(key as never)
      keyObjects.set(key, ko)
    }
    return ko
  }
  const params = (alg: SigningAlg, key: CryptoKey): [string | null, object] => {
    const ko = keyObject(key)
    switch (alg) {
      case "ES256":
        return ["sha256", { key: ko, dsaEncoding: "ieee-p1363" }]
      case "EdDSA":
        return [null, ko]
      case "RS256":
        return ["sha256", ko]
      case "PS256":
        return ["sha256", { key: ko, padding: node.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }]
    }
  }
  // CSPRNG output fetched 4 KiB at a time (one call instead of one per token, as Node's own
  // randomUUID does); every byte is handed out once
  const POOL = 4096
  let pool: Uint8Array = new Uint8Array(0)
  let offset = 0
  const random = (n: number): Uint8Array => {
    if (n > POOL / 4) return node.randomBytes(n)
    if (offset + n > pool.length) {
      pool = node.randomBytes(POOL)
      offset = 0
    }
    const out = pool.subarray(offset, offset + n)
    offset += n
    return out
  }
  const oneShot = node.hash
  const digest = oneShot
    ? (value: string) => oneShot("sha256", value, "base64url")
    : (value: string) => node.createHash("sha256").update(value).digest("base64url")
  const sha256 = oneShot
    ? (value: string | Uint8Array) => new Uint8Array(oneShot("sha256", value, "buffer"))
    : (value: string | Uint8Array) => new Uint8Array(node.createHash("sha256").update(value).digest())
  /** One signature as a libuv threadpool job; the job owns `input` until it calls back (callers hand a fresh buffer, keys.ts). */
  const onThreadpool = (alg: SigningAlg, key: CryptoKey, input: Uint8Array, resume: (effect: Effect.Effect<Uint8Array, ServerError>) => void) => {
    try {
      const [hash, k] = params(alg, key)
      node.sign(hash, input, k as never, (error, signature) =>
        resume(
          error === null
            ? Effect.succeed(new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength))
            : Effect.fail(signingFailed(alg)(error))
        ))
    } catch (error) {
      resume(Effect.fail(signingFailed(alg)(error)))
    }
  }
  // the signing worker, started with the first signature it can take (never, for "inline" / "threadpool")
  let worker: SignWorker | undefined
  // tried once; a Crypto whose layer has ended starts none (its signatures go to the threadpool)
  let workerTried = false
  const signWorker = (): SignWorker | undefined => {
    if (!workerTried) {
      workerTried = true
      const threads = workerThreads()
      worker = threads === undefined ? undefined : makeSignWorker(threads)
    }
    return worker
  }
  const service: CryptoService = {
    randomToken: (bytes = 32) => Effect.sync(() => base64url(random(bytes))),
    // a pure function of its argument, computed when asked for: a finished effect (an `Exit`),
    // which a generator's `yield*` and `Effect.flatMapEager` take without a fiber step
    digest: (value) => Effect.succeed(digest(value)),
    sha256: (value) => Effect.sync(() => sha256(value)),
    equal: timingSafeEqual,
    sign: options.signatures === "inline"
      ? (alg, key, input) =>
        Effect.try({
          try: () => {
            if (!keyMatches(alg, key)) throw new TypeError(`the key is not a ${alg} key`)
            const [hash, k] = params(alg, key)
            return new Uint8Array(node.sign(hash, input, k as never))
          },
          catch: signingFailed(alg)
        })
      : options.signatures === "worker"
      ? (alg, key, input) =>
        Effect.callback<Uint8Array, ServerError>((resume) => {
          try {
            if (!keyMatches(alg, key)) throw new TypeError(`the key is not a ${alg} key`)
            const taken = (alg === "ES256" || alg === "EdDSA") && signWorker()?.sign(alg, keyObject(key), input, (signature) => {
              // the worker did not sign it (failed, or ended meanwhile): the threadpool does,
              // and reports the real error if there is one
              if (signature === undefined) onThreadpool(alg, key, input, resume)
              else resume(Effect.succeed(signature))
            })
            if (taken !== true) onThreadpool(alg, key, input, resume)
          } catch (error) {
            resume(Effect.fail(signingFailed(alg)(error)))
          }
        })
      : (alg, key, input) =>
        Effect.callback<Uint8Array, ServerError>((resume) => {
          try {
            if (!keyMatches(alg, key)) throw new TypeError(`the key is not a ${alg} key`)
            onThreadpool(alg, key, input, resume)
          } catch (error) {
            resume(Effect.fail(signingFailed(alg)(error)))
          }
        }),
    verify: (alg, key, input, signature) =>
      Effect.sync(() => {
        if (!keyMatches(alg, key)) return false
        try {
          const [hash, k] = params(alg, key)
          return node.verify(hash, input, k as never, signature)
        } catch {
          return false
        }
      })
  }
  return {
    service,
    close: () => {
      workerTried = true
      return worker?.close() ?? Promise.resolve()
    }
  }
}

/** A `node:crypto` Crypto made in a layer's scope: the signing worker, if any, ends with the layer. */
const acquireNodeCrypto = (make: () => NodeCrypto) =>
  Effect.map(Effect.acquireRelease(Effect.sync(make), (made) => Effect.promise(made.close)), (made) => made.service)

/**
 * Where `layerDefault` puts signatures for a machine with `cores` CPUs: the signing worker
 * when there is a core for it to run on beside the event loop; with one core, handing a
 * signature over only adds its cost to the same core's work.
 */
export const defaultSignatures = (cores: number | undefined): "worker" | "inline" =>
  cores !== undefined && cores <= 1 ? "inline" : "worker"

/** `os.availableParallelism()` of the running Node.js, when it can be had without an import. */
const builtinParallelism = (): number | undefined => {
  const g = globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
  const os = g.process?.getBuiltinModule?.("node:os") as { availableParallelism?: () => number } | undefined
  try {
    return os?.availableParallelism?.()
  } catch {
    return undefined
  }
}

/** `node:crypto` of the running Node.js, when there is one that can hand it over without an import. */
const builtinNodeCrypto = (): NodeCryptoModule | undefined => {
  const g = globalThis as {
    process?: { release?: { name?: string }; getBuiltinModule?: (id: string) => unknown }
    Bun?: unknown
    Deno?: unknown
  }
  if (g.Bun !== undefined || g.Deno !== undefined || g.process?.release?.name !== "node") return undefined
  const module = g.process.getBuiltinModule?.("node:crypto") as Partial<NodeCryptoModule> | undefined
  return module?.createHash && module.sign && module.verify && module.KeyObject?.from && module.randomBytes
    ? module as NodeCryptoModule
    : undefined
}

export class Crypto extends Context.Service<Crypto, CryptoService>()("@gatehouse/core/ports/Crypto") {
  /** WebCrypto only: every runtime. */
  static readonly layerWebCrypto = Layer.succeed(Crypto, Crypto.of(webCrypto))
  /**
   * Synchronous digests and verification on the `node:crypto` module given (`import * as c
   * from "node:crypto"`); signatures on libuv's threadpool unless `signatures: "worker"` or
   * `"inline"` (`NodeCryptoOptions`). A signing worker ends with the layer.
   */
  static readonly layerNode = (nodeCrypto: NodeCryptoModule, options?: NodeCryptoOptions) =>
    Layer.effect(Crypto, acquireNodeCrypto(() => makeNodeCrypto(nodeCrypto, options)))
  /**
   * Node's own `node:crypto` when running on Node.js >= 20.16, else WebCrypto. Signatures on
   * the signing worker, unless the machine has a single core (`defaultSignatures`).
   */
  static readonly layerDefault = Layer.effect(
    Crypto,
    Effect.suspend(() => {
      const node = builtinNodeCrypto()
      return node
        ? acquireNodeCrypto(() => makeNodeCrypto(node, { signatures: defaultSignatures(builtinParallelism()) }))
        : Effect.succeed(webCrypto)
    })
  )
}
