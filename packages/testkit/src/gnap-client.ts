/**
 * A GNAP client instance (RFC 9635), written from the RFC for testing authorization servers
 * — deliberately sharing no code with @gatehouse/core's server side. It signs every call
 * with HTTP Message Signatures (RFC 9421) and `Content-Digest` (RFC 9530) per RFC 9635
 * §7.3.1, continues grants (§5), follows interaction finishes and checks their hash
 * (§4.2.3), manages tokens (§6) and presents them to resource servers (§7.2).
 *
 *   const client = await GnapClient.create({ grantEndpoint: "https://as.example/gnap", fetch: gatehouse.handler })
 *   const grant = await client.request({ access_token: { access: ["photos"] }, interact: { start: ["user_code"] } })
 *   ... the user enters grant.body.interact.user_code ...
 *   const done = await client.continue(grant.continue)
 *   await client.fetchResource("https://rs.example/photos", done.accessToken())
 */
import { createHash, webcrypto } from "node:crypto"

const subtle = webcrypto.subtle as SubtleCrypto
const encoder = new TextEncoder()

// --- small encodings ----------------------------------------------------------------------

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64")
const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64url")
const randomString = (bytes = 16) => b64url(webcrypto.getRandomValues(new Uint8Array(bytes)))

/** RFC 8941 §4.1.6 sf-string */
const sfString = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`

// --- keys ---------------------------------------------------------------------------------

/** JWS algorithms the client can sign with (RFC 9421 §3.3.7 / RFC 7518). */
export type ClientAlg = "ES256" | "ES384" | "PS256" | "PS512" | "RS256" | "EdDSA"

export interface ClientKeyPair {
  readonly privateKey: CryptoKey
  /** the public JWK sent in `client.key.jwk`: carries `alg` and `kid` (RFC 9635 §7.1) */
  readonly publicJwk: JsonWebKey & { readonly kid: string; readonly alg: ClientAlg }
}

const ALGORITHMS: Record<ClientAlg, {
  readonly generate: RsaHashedKeyGenParams | EcKeyGenParams | { name: "Ed25519" }
  readonly sign: AlgorithmIdentifier | RsaPssParams | EcdsaParams
}> = {
  ES256: { generate: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
  ES384: { generate: { name: "ECDSA", namedCurve: "P-384" }, sign: { name: "ECDSA", hash: "SHA-384" } },
  PS256: {
    generate: { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    sign: { name: "RSA-PSS", saltLength: 32 }
  },
  PS512: {
    generate: { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-512" },
    sign: { name: "RSA-PSS", saltLength: 64 }
  },
  RS256: {
    generate: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    sign: { name: "RSASSA-PKCS1-v1_5" }
  },
  EdDSA: { generate: { name: "Ed25519" }, sign: { name: "Ed25519" } }
}

/** A fresh key pair for `alg`, its public JWK labelled with `kid` (default: random). */
export const generateClientKey = async (alg: ClientAlg = "ES256", kid = randomString(8)): Promise<ClientKeyPair> => {
  const pair = await subtle.generateKey(ALGORITHMS[alg].generate, true, ["sign", "verify"]) as CryptoKeyPair
  const jwk = await subtle.exportKey("jwk", pair.publicKey)
  const { key_ops: _ops, ext: _ext, ...publicJwk } = jwk
  return { privateKey: pair.privateKey, publicJwk: { ...publicJwk, kid, alg } }
}

/** Import a private JWK (e.g. RFC 9421 Appendix B.1 test keys) for signing with `alg`. */
export const importClientKey = async (privateJwk: JsonWebKey, alg: ClientAlg, kid: string): Promise<ClientKeyPair> => {
  const params = ALGORITHMS[alg].generate
  const importParams = "namedCurve" in params ? params : "hash" in params ? { name: params.name, hash: params.hash } : params
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, key_ops: _ops, ext: _ext, alg: _alg, ...pub } = privateJwk
  const privateKey = await subtle.importKey("jwk", { ...privateJwk, alg: undefined, key_ops: ["sign"] } as JsonWebKey, importParams as never, false, ["sign"])
  return { privateKey, publicJwk: { ...pub, kid, alg } as ClientKeyPair["publicJwk"] }
}

export const signBytes = async (key: ClientKeyPair, data: Uint8Array): Promise<Uint8Array> =>
  new Uint8Array(await subtle.sign(ALGORITHMS[key.publicJwk.alg].sign, key.privateKey, data as Uint8Array<ArrayBuffer>))

// --- RFC 9530 Content-Digest --------------------------------------------------------------

/** RFC 9530 §2: `Content-Digest` for `content` with sha-256 or sha-512. */
export const contentDigest = (content: Uint8Array | string, alg: "sha-256" | "sha-512" = "sha-256"): string => {
  const bytes = typeof content === "string" ? encoder.encode(content) : content
  return `${alg}=:${createHash(alg.replace("-", "")).update(bytes).digest("base64")}:`
}

// --- RFC 9421 signing -----------------------------------------------------------------------

/** A covered component: a name (`@method`, `content-type`) with optional parameters (`key`, `name`). */
export type Component = string | { readonly name: string; readonly params: Readonly<Record<string, string | true>> }

export interface SignatureSpec {
  readonly label?: string
  readonly components: ReadonlyArray<Component>
  /** RFC 9421 §2.3 parameters, in this order */
  readonly params: ReadonlyArray<readonly [string, string | number]>
}

export interface MessageToSign {
  readonly method?: string
  readonly url?: string
  readonly status?: number
  readonly headers: Headers
}

const componentId = (c: Component): string =>
  typeof c === "string"
    ? sfString(c)
    : sfString(c.name) + Object.entries(c.params).map(([k, v]) => (v === true ? `;${k}` : `;${k}=${sfString(v)}`)).join("")

/** RFC 9421 §2.2 derived components and §2.1 fields, as the signer sees its own message. */
const componentValue = (message: MessageToSign, c: Component): string => {
  const name = typeof c === "string" ? c : c.name
  const params = typeof c === "string" ? {} : c.params
  const url = message.url === undefined ? undefined : new URL(message.url)
  switch (name) {
    case "@method":
      return message.method!
    case "@target-uri":
      return message.url!
    case "@authority":
      return url!.host
    case "@scheme":
      return url!.protocol.replace(":", "")
    case "@request-target":
      return url!.pathname + url!.search
    case "@path":
      return url!.pathname
    case "@query":
      return url!.search || "?"
    case "@query-param": {
      const value = url!.searchParams.get(String(params["name"]))
      if (value === null) throw new Error(`no query parameter ${params["name"]}`)
      return encodeURIComponent(value)
    }
    case "@status":
      return String(message.status)
  }
  const value = message.headers.get(name)
  if (value === null) throw new Error(`cannot sign: the message has no ${name} field`)
  if (typeof params["key"] === "string") {
    // §2.1.2: one member of a Dictionary field, re-serialized
    const wanted = params["key"]
    for (const member of value.split(/,\s*(?=[a-z*][a-z0-9_\-.*]*=)/)) {
      const eq = member.indexOf("=")
      if (member.slice(0, eq).trim() === wanted) return member.slice(eq + 1).trim()
    }
    throw new Error(`the ${name} field has no member ${wanted}`)
  }
  return value.trim()
}

/** RFC 9421 §2.3 the `@signature-params` value / the Signature-Input member. */
export const signatureParams = (spec: SignatureSpec): string =>
  `(${spec.components.map(componentId).join(" ")})` +
  spec.params.map(([k, v]) => (typeof v === "number" ? `;${k}=${v}` : `;${k}=${sfString(v)}`)).join("")

/** RFC 9421 §2.5 */
export const signatureBaseOf = (message: MessageToSign, spec: SignatureSpec): string =>
  [
    ...spec.components.map((c) => `${componentId(c)}: ${componentValue(message, c)}`),
    `"@signature-params": ${signatureParams(spec)}`
  ].join("\n")

/** RFC 9421 §3.1: sign; returns the Signature-Input and Signature member values. */
export const signMessage = async (message: MessageToSign, spec: SignatureSpec, key: ClientKeyPair) => {
  const base = signatureBaseOf(message, spec)
  const signature = await signBytes(key, encoder.encode(base))
  const label = spec.label ?? "sig1"
  return {
    base,
    signature,
    signatureInput: `${label}=${signatureParams(spec)}`,
    signatureHeader: `${label}=:${b64(signature)}:`
  }
}

// --- RFC 9635 §4.2.3 interaction hash -------------------------------------------------------

const HASHES: Record<string, string> = {
  "sha-256": "sha256",
  "sha-384": "sha384",
  "sha-512": "sha512",
  "sha3-224": "sha3-224",
  "sha3-256": "sha3-256",
  "sha3-384": "sha3-384",
  "sha3-512": "sha3-512"
}

/** RFC 9635 §4.2.3 */
export const finishHash = (
  clientNonce: string,
  asNonce: string,
  interactRef: string,
  grantEndpoint: string,
  hashMethod = "sha-256"
): string => {
  const algorithm = HASHES[hashMethod]
  if (algorithm === undefined) throw new Error(`unsupported hash_method ${hashMethod}`)
  return createHash(algorithm).update(`${clientNonce}\n${asNonce}\n${interactRef}\n${grantEndpoint}`, "ascii").digest("base64url")
}

// --- the client -------------------------------------------------------------------------------

export interface ContinueInfo {
  readonly uri: string
  readonly access_token: { readonly value: string }
  readonly wait?: number
}

export interface AccessTokenInfo {
  readonly value: string
  readonly label?: string
  readonly access: ReadonlyArray<unknown>
  readonly manage?: { readonly uri: string; readonly access_token: { readonly value: string } }
  readonly expires_in?: number
  readonly flags?: ReadonlyArray<string>
  readonly key?: unknown
}

/** A parsed AS response (RFC 9635 §3). */
export class GnapResponse {
  constructor(readonly response: Response, readonly body: Record<string, any>) {}
  get status() {
    return this.response.status
  }
  get continue(): ContinueInfo | undefined {
    return this.body["continue"]
  }
  get interact(): Record<string, any> | undefined {
    return this.body["interact"]
  }
  /** the §3.6 error code, if any */
  get error(): string | undefined {
    const e = this.body["error"]
    return typeof e === "string" ? e : e?.code
  }
  /** the single access token, or the one with `label` */
  accessToken(label?: string): AccessTokenInfo {
    const t = this.body["access_token"]
    const found = Array.isArray(t) ? t.find((x) => x.label === label) : t
    if (found === undefined) throw new Error(`no access token${label ? ` labelled ${label}` : ""} in ${JSON.stringify(this.body)}`)
    return found
  }
}

export interface GnapClientOptions {
  /** the AS grant endpoint (RFC 9635 §2) */
  readonly grantEndpoint: string
  /** default: a fresh ES256 key */
  readonly key?: ClientKeyPair
  /** default "httpsig" (§7.3.1, string form: alg from the key, sha-256 content digest) */
  readonly proof?: "httpsig" | "jwsd" | "jws" | "mtls" | { readonly method: "httpsig"; readonly alg: string; readonly "content-digest-alg": "sha-256" | "sha-512" }
  /**
   * RFC 9635 §7.3.2 mtls: the client's certificate (base64 DER). The key object sends it as
   * `cert` (or its RFC 8705 thumbprint as `cert#S256` with `certKeyForm: "cert#S256"`), and
   * each request carries it in the RFC 9440 `Client-Cert` field, as a TLS-terminating proxy
   * would set it.
   */
  readonly clientCert?: string
  readonly certKeyForm?: "cert" | "cert#S256"
  /** how requests are sent (default: global fetch); a Gatehouse `handler` works as is */
  readonly fetch?: (request: Request) => Promise<Response>
  /** the time used for `created` (ms since epoch); default Date.now */
  readonly now?: () => number | Promise<number>
  /** the `client` display (§2.3.2) */
  readonly display?: { readonly name?: string; readonly uri?: string }
}

export interface SendOptions {
  readonly method?: string
  readonly url: string
  readonly body?: unknown
  /** an access token presented as `Authorization: GNAP` and covered by the signature (§7.2) */
  readonly token?: string
  readonly headers?: Record<string, string>
  /** change the signature before it is sent (tests of the AS's checks) */
  readonly tamper?: {
    readonly components?: (components: Array<Component>) => Array<Component>
    readonly params?: (params: Array<readonly [string, string | number]>) => Array<readonly [string, string | number]>
    readonly key?: ClientKeyPair
    /** change the request after signing */
    readonly after?: (request: { headers: Headers; body: string | undefined }) => void
    readonly noSignature?: boolean
    readonly createdOffset?: number
    readonly nonce?: string | null
  }
  /**
   * RFC 9635 §7.3.1.1: a second signature by the new key (label "rotate", tag "gnap-rotate")
   * covering the first one's Signature and Signature-Input members; the `omit*`, `cover`
   * and `tag` knobs break it for tests of the AS's checks.
   */
  readonly rotation?: {
    readonly newKey: ClientKeyPair
    readonly omitOld?: boolean
    readonly omitNew?: boolean
    readonly coverOld?: boolean
    readonly tag?: string
  }
}

export class GnapClient {
  readonly instanceIds: Array<string> = []
  private constructor(
    readonly options: GnapClientOptions,
    readonly key: ClientKeyPair
  ) {}

  static async create(options: GnapClientOptions): Promise<GnapClient> {
    return new GnapClient(options, options.key ?? await generateClientKey("ES256"))
  }

  /** RFC 9635 §7.1 key object for `client.key` */
  keyObject(): Record<string, unknown> {
    if (this.options.proof === "mtls") {
      const der = this.options.clientCert ?? ""
      return this.options.certKeyForm === "cert#S256"
        ? { proof: "mtls", "cert#S256": createHash("sha256").update(Buffer.from(der, "base64")).digest("base64url") }
        : { proof: "mtls", cert: der }
    }
    return { proof: this.options.proof ?? "httpsig", jwk: this.key.publicJwk }
  }

  private async nowSeconds() {
    return Math.floor((await (this.options.now ?? Date.now)()) / 1000)
  }

  private get proofMethod() {
    const p = this.options.proof ?? "httpsig"
    return typeof p === "string" ? p : p.method
  }

  /** Build and send a request proven with the client key (§7.3). */
  async send(o: SendOptions): Promise<Response> {
    const method = o.method ?? "POST"
    const headers = new Headers(o.headers)
    let body: string | undefined = o.body === undefined ? undefined : typeof o.body === "string" ? o.body : JSON.stringify(o.body)
    if (body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json")
    if (o.token !== undefined) headers.set("authorization", `GNAP ${o.token}`)
    const created = (await this.nowSeconds()) + (o.tamper?.createdOffset ?? 0)
    const key = o.tamper?.key ?? this.key
    if (this.proofMethod === "mtls") {
      // §7.3.2: the TLS layer proves the key; the proxy passes the certificate on (RFC 9440 §2)
      if (this.options.clientCert !== undefined && !o.tamper?.noSignature) headers.set("client-cert", `:${this.options.clientCert}:`)
    } else if (!o.tamper?.noSignature) {
      if (this.proofMethod === "httpsig") {
        const digestAlg = typeof this.options.proof === "object" ? this.options.proof["content-digest-alg"] : "sha-256"
        if (body !== undefined) headers.set("content-digest", contentDigest(body, digestAlg))
        let components: Array<Component> = ["@method", "@target-uri"]
        if (body !== undefined) components.push("content-digest")
        if (o.token !== undefined) components.push("authorization")
        if (o.tamper?.components) components = o.tamper.components(components)
        const nonce = o.tamper?.nonce === undefined ? randomString() : o.tamper.nonce
        let params: Array<readonly [string, string | number]> = [["created", created], ["keyid", key.publicJwk.kid]]
        if (nonce !== null) params.push(["nonce", nonce])
        params.push(["tag", "gnap"])
        if (o.tamper?.params) params = o.tamper.params(params)
        const signed = await signMessage({ method, url: o.url, headers }, { components, params }, key)
        headers.set("signature-input", signed.signatureInput)
        headers.set("signature", signed.signatureHeader)
        const r = o.rotation
        if (r !== undefined) {
          // §7.3.1.1: the new key signs over the old key's signature and its parameters
          const rotateComponents: Array<Component> = [...components]
          if (r.coverOld !== false) {
            rotateComponents.push({ name: "signature", params: { key: "sig1" } }, { name: "signature-input", params: { key: "sig1" } })
          }
          const rotateParams: Array<readonly [string, string | number]> = [
            ["created", created],
            ["keyid", r.newKey.publicJwk.kid],
            ["nonce", randomString()],
            ["tag", r.tag ?? "gnap-rotate"]
          ]
          const second = await signMessage({ method, url: o.url, headers }, { label: "rotate", components: rotateComponents, params: rotateParams }, r.newKey)
          const inputs = [r.omitOld ? undefined : signed.signatureInput, r.omitNew ? undefined : second.signatureInput].filter((x) => x !== undefined)
          const sigs = [r.omitOld ? undefined : signed.signatureHeader, r.omitNew ? undefined : second.signatureHeader].filter((x) => x !== undefined)
          headers.set("signature-input", inputs.join(", "))
          headers.set("signature", sigs.join(", "))
        }
      } else {
        // §7.3.3 / §7.3.4
        const header: Record<string, unknown> = {
          alg: key.publicJwk.alg,
          kid: key.publicJwk.kid,
          typ: this.proofMethod === "jwsd" ? "gnap-binding-jwsd" : "gnap-binding-jws",
          htm: method,
          uri: o.url,
          created
        }
        if (o.token !== undefined) header["ath"] = createHash("sha256").update(o.token, "ascii").digest("base64url")
        const h = b64url(encoder.encode(JSON.stringify(header)))
        if (this.proofMethod === "jws" && body !== undefined) {
          const p = b64url(encoder.encode(body))
          const s = b64url(await signBytes(key, encoder.encode(`${h}.${p}`)))
          body = `${h}.${p}.${s}`
          headers.set("content-type", "application/jose")
        } else {
          const payload = body === undefined ? "" : b64url(createHash("sha256").update(body).digest())
          const s = b64url(await signBytes(key, encoder.encode(`${h}.${payload}`)))
          headers.set("detached-jws", `${h}..${s}`)
        }
      }
    }
    const request = { headers, body }
    o.tamper?.after?.(request)
    return (this.options.fetch ?? ((r: Request) => fetch(r)))(new Request(o.url, { method, headers: request.headers, body: request.body }))
  }

  private async parse(response: Response): Promise<GnapResponse> {
    const text = await response.text()
    const body = text === "" ? {} : JSON.parse(text) as Record<string, any>
    if (typeof body["instance_id"] === "string") this.instanceIds.push(body["instance_id"])
    return new GnapResponse(response, body)
  }

  /** §2: a grant request. `client` is filled in (key by value) unless given. */
  async request(body: Record<string, unknown>, o: Omit<SendOptions, "url" | "body"> = {}): Promise<GnapResponse> {
    const full = "client" in body ? body : { ...body, client: { key: this.keyObject(), ...(this.options.display ? { display: this.options.display } : {}) } }
    return this.parse(await this.send({ ...o, url: this.options.grantEndpoint, body: full }))
  }

  /** §5.1 / §5.2: continue (poll, or with `{ interact_ref }`). */
  async continue(cont: ContinueInfo, body?: Record<string, unknown>, o: Omit<SendOptions, "url" | "body" | "token"> = {}) {
    return this.parse(await this.send({ ...o, url: cont.uri, token: cont.access_token.value, body }))
  }

  /** §5.3 */
  async update(cont: ContinueInfo, body: Record<string, unknown>, o: Omit<SendOptions, "url" | "body" | "token"> = {}) {
    return this.parse(await this.send({ ...o, method: "PATCH", url: cont.uri, token: cont.access_token.value, body }))
  }

  /** §5.4 */
  async revokeGrant(cont: ContinueInfo, o: Omit<SendOptions, "url" | "body" | "token"> = {}) {
    return this.send({ ...o, method: "DELETE", url: cont.uri, token: cont.access_token.value })
  }

  /** §6.1 */
  async rotateToken(token: AccessTokenInfo, o: Omit<SendOptions, "url" | "token"> = {}) {
    if (!token.manage) throw new Error("the token has no management URI")
    return this.parse(await this.send({ ...o, url: token.manage.uri, token: token.manage.access_token.value }))
  }

  /**
   * §6.1.1: rotate the token and bind it to `newKey` — the old key signs the request (its
   * content is the new key), the new key signs over the old signature (§7.3.1.1). Later
   * calls for the token use the new key: `withKey(newKey)`.
   */
  async rotateTokenKey(
    token: AccessTokenInfo,
    newKey: ClientKeyPair,
    o: Omit<SendOptions, "url" | "token" | "body" | "rotation"> & {
      readonly key?: unknown
      readonly rotation?: Omit<NonNullable<SendOptions["rotation"]>, "newKey">
    } = {}
  ) {
    if (!token.manage) throw new Error("the token has no management URI")
    const key = o.key ?? { proof: this.options.proof ?? "httpsig", jwk: newKey.publicJwk }
    return this.parse(
      await this.send({ ...o, url: token.manage.uri, token: token.manage.access_token.value, body: { key }, rotation: { ...o.rotation, newKey } })
    )
  }

  /** The same client, signing with another key (e.g. after §6.1.1). */
  withKey(key: ClientKeyPair): GnapClient {
    return new GnapClient({ ...this.options, key }, key)
  }

  /** §6.2 */
  async revokeToken(token: AccessTokenInfo, o: Omit<SendOptions, "url" | "body" | "token"> = {}) {
    if (!token.manage) throw new Error("the token has no management URI")
    return this.send({ ...o, method: "DELETE", url: token.manage.uri, token: token.manage.access_token.value })
  }

  /** §9: OPTIONS on the grant endpoint */
  async discover(): Promise<Record<string, any>> {
    const response = await (this.options.fetch ?? ((r: Request) => fetch(r)))(new Request(this.options.grantEndpoint, { method: "OPTIONS" }))
    return await response.json() as Record<string, any>
  }

  /**
   * §7.2: call a resource server with a token — `Authorization: Bearer` for `bearer`
   * tokens (RFC 6750 §2.1), else `Authorization: GNAP` with a signature covering it.
   */
  async fetchResource(url: string, token: AccessTokenInfo, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
    if (token.flags?.includes("bearer")) {
      const headers = new Headers(init.headers)
      headers.set("authorization", `Bearer ${token.value}`)
      return (this.options.fetch ?? ((r: Request) => fetch(r)))(new Request(url, { method: init.method ?? "GET", headers, body: init.body }))
    }
    return this.send({ method: init.method ?? "GET", url, token: token.value, body: init.body, headers: init.headers })
  }

  /**
   * §4.2.1 / §4.2.2: check a finish message against the nonces and return the
   * `interact_ref` (throws `unknown_interaction` when the hash does not match).
   */
  verifyFinish(
    message: { readonly hash: string; readonly interact_ref: string },
    nonces: { readonly clientNonce: string; readonly asNonce: string; readonly hashMethod?: string }
  ): string {
    const expected = finishHash(nonces.clientNonce, nonces.asNonce, message.interact_ref, this.options.grantEndpoint, nonces.hashMethod)
    if (expected !== message.hash) throw new Error("unknown_interaction: the interaction hash does not match (RFC 9635 §4.2.3)")
    return message.interact_ref
  }
}

/** A client nonce for `interact.finish.nonce` (§2.5.2: unique per request). */
export const clientNonce = () => randomString(16)
