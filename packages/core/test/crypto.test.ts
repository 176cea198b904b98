/**
 * The Crypto port's implementations give identical results: WebCrypto (every runtime) and
 * node:crypto (synchronous, chosen by `Crypto.layerDefault` on Node). Digests are SHA-256
 * base64url (RFC 4648 §5); signatures are RFC 7518 §3 JWS signatures each implementation
 * verifies from the other, and jose verifies from both.
 */
import { Effect, Exit, type Layer } from "effect"
import * as jose from "jose"
import * as nodeCrypto from "node:crypto"
import { describe, expect, it } from "vitest"
import type { SigningAlg } from "../src/config.js"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { base64url, base64urlDecode, Crypto, defaultSignatures, makeNodeCrypto } from "../src/ports/Crypto.js"
import { makeSignWorker, type SignWorker, type WorkerThreadsModule } from "../src/ports/sign-worker.js"

const IMPLEMENTATIONS: ReadonlyArray<readonly [string, Layer.Layer<Crypto>]> = [
  ["WebCrypto", Crypto.layerWebCrypto],
  ["node:crypto", Crypto.layerNode(nodeCrypto)],
  ["node:crypto, inline signatures", Crypto.layerNode(nodeCrypto, { signatures: "inline" })],
  ["node:crypto, signing worker", Crypto.layerNode(nodeCrypto, { signatures: "worker" })],
  ["default", Crypto.layerDefault]
]

const use = <A, E>(layer: Layer.Layer<Crypto>, f: (crypto: Crypto["Service"]) => Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.provide(Effect.flatMap(Crypto, f), layer))

const ALGS: ReadonlyArray<SigningAlg> = ["ES256", "EdDSA", "RS256", "PS256"]
const keyPairs = new Map<SigningAlg, jose.GenerateKeyPairResult>()
const keyPair = async (alg: SigningAlg) => {
  let pair = keyPairs.get(alg)
  if (!pair) {
    pair = await jose.generateKeyPair(alg, alg === "EdDSA" ? { crv: "Ed25519" } : {})
    keyPairs.set(alg, pair)
  }
  return pair
}
/** a JWS signing input (RFC 7515 §5.1) whose header names `alg` */
const signingInput = (alg: SigningAlg) =>
  new TextEncoder().encode(`${base64url(new TextEncoder().encode(JSON.stringify({ alg })))}.${base64url(new TextEncoder().encode("{\"sub\":\"alice\"}"))}`)
const input = signingInput("ES256")

describe("Crypto: digests, randomness, comparison", () => {
  it("RFC 4648 §5: base64url without padding, and back", () => {
    for (let n = 0; n < 40; n++) {
      const bytes = nodeCrypto.randomBytes(n)
      expect(base64url(bytes)).toBe(Buffer.from(bytes).toString("base64url"))
      expect(base64urlDecode(base64url(bytes))).toEqual(new Uint8Array(bytes))
    }
    expect(base64urlDecode("a+b/")).toBeUndefined()
    expect(base64urlDecode("abc=")).toBeUndefined()
    expect(base64urlDecode("abcde")).toBeUndefined()
  })

  for (const [name, layer] of IMPLEMENTATIONS) {
    it(`${name}: digest is SHA-256 base64url of the UTF-8; sha256 the raw bytes`, async () => {
      for (const value of ["", "abc", "client-secret-ü-✓", "x".repeat(1000)]) {
        const expected = nodeCrypto.createHash("sha256").update(value, "utf8").digest()
        expect(await use(layer, (c) => c.digest(value))).toBe(expected.toString("base64url"))
        expect(await use(layer, (c) => c.sha256(value))).toEqual(new Uint8Array(expected))
        expect(await use(layer, (c) => c.sha256(new TextEncoder().encode(value)))).toEqual(new Uint8Array(expected))
      }
    })

    it(`${name}: randomToken is n random bytes, base64url, never repeated`, async () => {
      const tokens = await use(layer, (c) => Effect.forEach(Array.from({ length: 300 }), () => c.randomToken()))
      for (const t of tokens) {
        expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/)
        expect(base64urlDecode(t)!.length).toBe(32)
      }
      expect(new Set(tokens).size).toBe(tokens.length)
      expect(base64urlDecode(await use(layer, (c) => c.randomToken(16)))!.length).toBe(16)
      // larger than the pooled size
      expect(base64urlDecode(await use(layer, (c) => c.randomToken(2048)))!.length).toBe(2048)
    })

    it(`${name}: equal is equality`, async () => {
      const c = await use(layer, Effect.succeed)
      expect(c.equal("abc", "abc")).toBe(true)
      expect(c.equal("abc", "abd")).toBe(false)
      expect(c.equal("ab", "abc")).toBe(false)
      expect(c.equal("", "")).toBe(true)
      // a prefix, a repetition, an empty side: lengths differ, never equal
      expect(c.equal("abc", "ab")).toBe(false)
      expect(c.equal("abc", "abcabc")).toBe(false)
      expect(c.equal("", "a")).toBe(false)
      expect(c.equal("a", "")).toBe(false)
      expect(c.equal("ü€😀", "ü€😀")).toBe(true)
      expect(c.equal("ü€😀", "ü€😁")).toBe(false)
      // two different lone surrogates: distinct strings, though both would encode to U+FFFD in UTF-8
      expect(c.equal("x\uD800", "x\uD801")).toBe(false)
    })
  }

  it("layerDefault on Node is the synchronous node:crypto one (no promise to wait for)", async () => {
    const c = await use(Crypto.layerDefault, Effect.succeed)
    expect(Exit.isSuccess(Effect.runSyncExit(c.digest("abc")))).toBe(true)
    const web = await use(Crypto.layerWebCrypto, Effect.succeed)
    expect(Exit.isSuccess(Effect.runSyncExit(web.digest("abc")))).toBe(false)
  })
})

describe("Crypto: JWS signatures (RFC 7518 §3)", () => {
  for (const alg of ALGS) {
    it(`${alg}: what each implementation signs, every implementation and jose verify`, async () => {
      const { privateKey, publicKey } = await keyPair(alg)
      const input = signingInput(alg)
      for (const [signer, signLayer] of IMPLEMENTATIONS) {
        const signature = await use(signLayer, (c) => c.sign(alg, privateKey as CryptoKey, input))
        for (const [verifier, verifyLayer] of IMPLEMENTATIONS) {
          expect([signer, verifier, await use(verifyLayer, (c) => c.verify(alg, publicKey as CryptoKey, input, signature as Uint8Array<ArrayBuffer>))])
            .toEqual([signer, verifier, true])
          const tampered = new Uint8Array(signature)
          tampered[5] = tampered[5]! ^ 1
          expect(await use(verifyLayer, (c) => c.verify(alg, publicKey as CryptoKey, input, tampered))).toBe(false)
        }
        // the signature jose expects for the same JWS
        const [h, p] = new TextDecoder().decode(input).split(".")
        await expect(jose.compactVerify(`${h}.${p}.${base64url(signature)}`, publicKey, { algorithms: [alg] }).catch(() => "invalid"))
          .resolves.not.toBe("invalid")
      }
    })
  }

  it("RFC 7515 §10.7: a key of another algorithm never signs or verifies under alg", async () => {
    const es = await keyPair("ES256")
    const rs = await keyPair("RS256")
    const ps = await keyPair("PS256")
    for (const [, layer] of IMPLEMENTATIONS) {
      const esSig = await use(layer, (c) => c.sign("ES256", es.privateKey as CryptoKey, input))
      const rsSig = await use(layer, (c) => c.sign("RS256", rs.privateKey as CryptoKey, input))
      expect(await use(layer, (c) => c.verify("EdDSA", es.publicKey as CryptoKey, input, esSig as Uint8Array<ArrayBuffer>))).toBe(false)
      expect(await use(layer, (c) => c.verify("PS256", rs.publicKey as CryptoKey, input, rsSig as Uint8Array<ArrayBuffer>))).toBe(false)
      expect(await use(layer, (c) => c.verify("RS256", ps.publicKey as CryptoKey, input, rsSig as Uint8Array<ArrayBuffer>))).toBe(false)
      const wrongKey = await Effect.runPromiseExit(Effect.provide(Effect.flatMap(Crypto, (c) => c.sign("RS256", es.privateKey as CryptoKey, input)), layer))
      expect(Exit.isFailure(wrongKey)).toBe(true)
    }
  })
})

/** node:crypto with its `sign` calls recorded: with a callback (threadpool) or without */
const recording = () => {
  const calls: Array<"threadpool" | "inline"> = []
  const module = {
    ...nodeCrypto,
    sign: (...args: Array<unknown>) => {
      calls.push(typeof args[3] === "function" ? "threadpool" : "inline")
      return (nodeCrypto.sign as (...a: Array<unknown>) => unknown)(...args)
    }
  } as unknown as typeof nodeCrypto
  return { calls, module }
}

describe("Crypto.layerNode: where signatures are computed", () => {
  it("by default each signature is a threadpool job (node:crypto sign with a callback) and verifies", async () => {
    const { privateKey, publicKey } = await keyPair("ES256")
    const { calls, module } = recording()
    const signature = await use(Crypto.layerNode(module), (c) => c.sign("ES256", privateKey as CryptoKey, input))
    expect(calls).toEqual(["threadpool"])
    expect(nodeCrypto.verify("sha256", input, { key: nodeCrypto.KeyObject.from(publicKey as CryptoKey), dsaEncoding: "ieee-p1363" }, signature)).toBe(true)
    // the fiber waits for the job: nothing synchronous to take
    const c = await use(Crypto.layerNode(module), Effect.succeed)
    expect(Exit.isSuccess(Effect.runSyncExit(c.sign("ES256", privateKey as CryptoKey, input)))).toBe(false)
  })

  it("signatures: \"inline\" signs on the calling thread", async () => {
    const { privateKey } = await keyPair("ES256")
    const { calls, module } = recording()
    const c = await use(Crypto.layerNode(module, { signatures: "inline" }), Effect.succeed)
    expect(Exit.isSuccess(Effect.runSyncExit(c.sign("ES256", privateKey as CryptoKey, input)))).toBe(true)
    expect(calls).toEqual(["inline"])
  })

  it("layerDefault: the signing worker when there is a second core for it, inline on one core", () => {
    expect(defaultSignatures(1)).toBe("inline")
    expect(defaultSignatures(2)).toBe("worker")
    expect(defaultSignatures(64)).toBe("worker")
    // unknown: a worker
    expect(defaultSignatures(undefined)).toBe("worker")
  })

  it("a threadpool job that fails is a ServerError, not a defect", async () => {
    const { privateKey } = await keyPair("ES256")
    const failing = {
      ...nodeCrypto,
      sign: (...args: Array<unknown>) => (args[3] as (e: Error | null, s?: Uint8Array) => void)(new Error("engine failure"))
    } as unknown as typeof nodeCrypto
    const exit = await Effect.runPromiseExit(
      Effect.provide(Effect.flatMap(Crypto, (c) => c.sign("ES256", privateKey as CryptoKey, input)), Crypto.layerNode(failing))
    )
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toContain("ES256 signing failed")
  })

  it("many signatures in flight at once each come back with their own, valid signature", async () => {
    const { privateKey, publicKey } = await keyPair("ES256")
    const inputs = Array.from({ length: 64 }, (_, i) => new TextEncoder().encode(`eyJhbGciOiJFUzI1NiJ9.${i}`))
    const signatures = await use(
      Crypto.layerNode(nodeCrypto),
      (c) => Effect.all(inputs.map((data) => c.sign("ES256", privateKey as CryptoKey, data)), { concurrency: "unbounded" })
    )
    inputs.forEach((data, i) => {
      expect(nodeCrypto.verify("sha256", data, { key: nodeCrypto.KeyObject.from(publicKey as CryptoKey), dsaEncoding: "ieee-p1363" }, signatures[i]!)).toBe(true)
    })
  })
})

describe("createGatehouse({ crypto })", () => {
  it("the host's Crypto layer signs the tokens (here: inline signatures on a recorded node:crypto)", async () => {
    const { createGatehouse } = await import("../src/gatehouse.js")
    const { MemoryStorage } = await import("@gatehouse/testkit")
    const { CLIENTS, ISSUER, basic } = await import("./helpers/token-helpers.js")
    const { calls, module } = recording()
    const gh = createGatehouse({
      issuer: ISSUER,
      storage: MemoryStorage.layer(),
      accounts: { claims: () => undefined },
      clients: [CLIENTS.svc],
      scopes: ["api:read"],
      accessToken: { format: "jwt" },
      crypto: Crypto.layerNode(module, { signatures: "inline" })
    })
    const response = await gh.handler(new Request(`${ISSUER}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic("svc", "svc-secret") },
      body: "grant_type=client_credentials&scope=api%3Aread"
    }))
    expect(response.status).toBe(200)
    expect(calls).toEqual(["inline"])
    await gh.dispose()
  })
})

const verifies = (alg: SigningAlg, publicKey: unknown, data: Uint8Array, signature: Uint8Array) =>
  alg === "EdDSA"
    ? nodeCrypto.verify(null, data, nodeCrypto.KeyObject.from(publicKey as CryptoKey), signature)
    : nodeCrypto.verify("sha256", data, { key: nodeCrypto.KeyObject.from(publicKey as CryptoKey), dsaEncoding: "ieee-p1363" }, signature)

describe("Crypto.layerNode({ signatures: \"worker\" }): ES256 and EdDSA on the signing worker (sign-worker.ts)", () => {
  it("ES256 and EdDSA are signed on the worker (no node:crypto call on this thread), RSA on the threadpool; all verify", async () => {
    const { calls, module } = recording()
    for (const alg of ALGS) {
      const { privateKey, publicKey } = await keyPair(alg)
      const signature = await use(Crypto.layerNode(module, { signatures: "worker" }), (c) => c.sign(alg, privateKey as CryptoKey, input))
      if (alg === "RS256" || alg === "PS256") continue
      expect(verifies(alg, publicKey, input, signature)).toBe(true)
    }
    expect(calls).toEqual(["threadpool", "threadpool"])
  })

  it("600 signatures in flight with two keys, more than the ring holds: each verifies under its own key; the overflow went to the threadpool", async () => {
    const { calls, module } = recording()
    const a = await keyPair("ES256")
    const b = await jose.generateKeyPair("ES256")
    const jobs = Array.from({ length: 600 }, (_, i) => ({ pair: i % 2 === 0 ? a : b, data: new TextEncoder().encode(`eyJhbGciOiJFUzI1NiJ9.${i}`) }))
    const signatures = await use(
      Crypto.layerNode(module, { signatures: "worker" }),
      (c) => Effect.all(jobs.map(({ pair, data }) => c.sign("ES256", pair.privateKey as CryptoKey, data)), { concurrency: "unbounded" })
    )
    jobs.forEach(({ pair, data }, i) => expect(verifies("ES256", pair.publicKey, data, signatures[i]!)).toBe(true))
    // the other key's signature does not verify: the worker used the key it was told
    expect(verifies("ES256", b.publicKey, jobs[0]!.data, signatures[0]!)).toBe(false)
    expect(calls.length).toBeGreaterThan(0)
    expect(calls.length).toBeLessThan(600)
  })

  it("a signing input larger than a ring slot goes to the threadpool", async () => {
    const { calls, module } = recording()
    const { privateKey, publicKey } = await keyPair("ES256")
    const large = new TextEncoder().encode(`eyJhbGciOiJFUzI1NiJ9.${"A".repeat(10_000)}`)
    const signature = await use(Crypto.layerNode(module, { signatures: "worker" }), (c) => c.sign("ES256", privateKey as CryptoKey, large))
    expect(verifies("ES256", publicKey, large, signature)).toBe(true)
    expect(calls).toEqual(["threadpool"])
  })

  it("a Crypto used after its layer ended starts no worker: its signatures go to the threadpool", async () => {
    const { calls, module } = recording()
    const { privateKey, publicKey } = await keyPair("ES256")
    // the service outlives the layer's scope here
    const c = await use(Crypto.layerNode(module, { signatures: "worker" }), Effect.succeed)
    const signature = await Effect.runPromise(c.sign("ES256", privateKey as CryptoKey, input))
    expect(verifies("ES256", publicKey, input, signature)).toBe(true)
    expect(calls).toEqual(["threadpool"])
  })

  it("a wrong key is refused before the worker sees it (RFC 7515 §10.7), as a ServerError", async () => {
    const rs = await keyPair("RS256")
    const exit = await Effect.runPromiseExit(
      Effect.provide(Effect.flatMap(Crypto, (c) => c.sign("ES256", rs.privateKey as CryptoKey, input)), Crypto.layerNode(nodeCrypto, { signatures: "worker" }))
    )
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toContain("ES256 signing failed")
  })
})

describe("makeSignWorker (sign-worker.ts)", () => {
  /** node:worker_threads, with the Worker made kept for the test */
  const capture = async () => {
    const threads = await import("node:worker_threads")
    const made: Array<InstanceType<typeof threads.Worker>> = []
    const Worker = class extends threads.Worker {
      constructor(...args: ConstructorParameters<typeof threads.Worker>) {
        super(...args)
        made.push(this)
      }
    }
    return { module: { Worker } as unknown as WorkerThreadsModule, made }
  }
  const keyObject = async () => {
    const { privateKey, publicKey } = await keyPair("ES256")
    return { key: nodeCrypto.KeyObject.from(privateKey as CryptoKey), publicKey }
  }
  const signWith = (worker: SignWorker, key: object, data: Uint8Array) =>
    new Promise<Uint8Array | undefined | "refused">((resolve) => {
      if (!worker.sign("ES256", key, data, resolve)) resolve("refused")
    })

  it("a worker that ends with jobs pending calls each back once, with a signature or undefined; then it takes no more", async () => {
    const { module, made } = await capture()
    const worker = makeSignWorker(module)!
    const { key, publicKey } = await keyObject()
    const inputs = Array.from({ length: 100 }, (_, i) => new TextEncoder().encode(`payload.${i}`))
    const results = inputs.map((data) => signWith(worker, key, data))
    // end it before it could sign them all
    await new Promise((resolve) => setImmediate(resolve))
    await made[0]!.terminate()
    const settled = await Promise.all(results)
    expect(settled.every((r) => r !== "refused")).toBe(true)
    settled.forEach((r, i) => {
      if (r instanceof Uint8Array) expect(verifies("ES256", publicKey, inputs[i]!, r)).toBe(true)
    })
    expect(settled.some((r) => r === undefined)).toBe(true)
    expect(await signWith(worker, key, input)).toBe("refused")
  })

  it("Crypto with a worker that ends mid-flight: every signature still comes back valid (the threadpool does the rest)", async () => {
    const { module, made } = await capture()
    const { calls, module: recorded } = recording()
    const { service, close } = makeNodeCrypto(recorded, { signatures: "worker" }, () => module)
    const { privateKey, publicKey } = await keyPair("ES256")
    const inputs = Array.from({ length: 100 }, (_, i) => new TextEncoder().encode(`payload.${i}`))
    const pending = Effect.runPromise(Effect.all(inputs.map((data) => service.sign("ES256", privateKey as CryptoKey, data)), { concurrency: "unbounded" }))
    // the worker exists once the first signature was queued; end it before it signs them all
    await new Promise((resolve) => setImmediate(resolve))
    await made[0]!.terminate()
    const signatures = await pending
    inputs.forEach((data, i) => expect(verifies("ES256", publicKey, data, signatures[i]!)).toBe(true))
    // the ones the worker had not signed went to the threadpool
    expect(calls.length).toBeGreaterThan(0)
    // and the next ones too: the worker is gone
    const after = await Effect.runPromise(service.sign("ES256", privateKey as CryptoKey, input))
    expect(verifies("ES256", publicKey, input, after)).toBe(true)
    expect(calls.at(-1)).toBe("threadpool")
    await close()
  })

  it("close() ends the worker; later jobs are refused (the caller signs elsewhere)", async () => {
    const { module, made } = await capture()
    const worker = makeSignWorker(module)!
    const { key, publicKey } = await keyObject()
    const signature = await signWith(worker, key, input)
    expect(signature instanceof Uint8Array && verifies("ES256", publicKey, input, signature)).toBe(true)
    const exited = new Promise((resolve) => made[0]!.once("exit", resolve))
    await worker.close()
    await exited
    expect(await signWith(worker, key, input)).toBe("refused")
  })

  it("an idle worker does not keep the process alive, a pending signature does (createGatehouse, never disposed)", () => {
    const dist = (path: string) => JSON.stringify(new URL(`../../${path}`, import.meta.url).href)
    // a token signed on the worker (2+ cores: layerDefault's choice; forced here), then
    // nothing: the process must end on its own once the answer is in, and not before
    const script = `
      import * as c from "node:crypto"
      import { createGatehouse, Crypto } from ${dist("core/dist/index.js")}
      import { MemoryStorage } from ${dist("testkit/dist/memory.js")}
      const gh = createGatehouse({
        issuer: "https://as.example",
        storage: MemoryStorage.layer(),
        accounts: { claims: () => undefined },
        clients: [{ client_id: "svc", client_secret: "svc-secret", token_endpoint_auth_method: "client_secret_basic", redirect_uris: [], grant_types: ["client_credentials"] }],
        crypto: Crypto.layerNode(c, { signatures: "worker" })
      })
      const response = await gh.handler(new Request("https://as.example/token", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Basic " + btoa("svc:svc-secret") },
        body: "grant_type=client_credentials"
      }))
      const { access_token } = await response.json()
      console.log(response.status, access_token.split(".").length)
    `
    const dir = mkdtempSync(join(tmpdir(), "gatehouse-worker-"))
    try {
      writeFileSync(join(dir, "main.mjs"), script)
      const run = spawnSync(process.execPath, [join(dir, "main.mjs")], { timeout: 20_000, encoding: "utf8" })
      expect(run.stderr).toBe("")
      expect(run.stdout.trim()).toBe("200 3")
      // killed by the timeout (a worker holding the process) would be status null
      expect(run.status).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
