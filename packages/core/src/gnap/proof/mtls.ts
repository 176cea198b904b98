/**
 * The `mtls` proofing method (RFC 9635 §7.3.2): the request came over a mutually
 * authenticated TLS connection whose client certificate is the key's certificate. Core sees
 * no TLS: the certificate arrives in the RFC 9440 `Client-Cert` header field (an RFC 8941
 * byte sequence of the DER certificate), set by the TLS-terminating proxy or adapter, and is
 * believed only when config says so (`gnap.mtls.trustClientCertHeader`). The certificate
 * must be the key's `cert`, or hash to its `cert#S256` (RFC 8705 §3.1).
 */
import * as Effect from "effect/Effect"
import { GatehouseConfig } from "../../config.js"
import { InvalidClient } from "../../errors.js"
import { certThumbprint, type ClientKey, decodeDer } from "../key.js"
import type { ProofInput } from "./httpsig.js"

/** RFC 9440 §2.2: `Client-Cert: :<base64 DER>:` */
const BYTE_SEQUENCE = /^:([A-Za-z0-9+/]+={0,2}):$/

export const verifyMtls = Effect.fnUntraced(function*(key: ClientKey, input: ProofInput) {
  const config = yield* GatehouseConfig
  const refuse = (description: string) => new InvalidClient({ description })
  // §7.3.2: without a trusted certificate source there is nothing to check against
  if (!config.gnap.mtls) return yield* refuse(`the "mtls" proofing method is not offered by this server (§7.3.2)`)
  const header = input.request.headers.get("client-cert")
  if (header === null) return yield* refuse("the request did not come with a client certificate (mtls, §7.3.2)")
  const match = BYTE_SEQUENCE.exec(header.trim())
  const der = match === null ? undefined : decodeDer(match[1]!)
  if (der === undefined) return yield* refuse("the Client-Cert field is not a DER certificate byte sequence (RFC 9440 §2.2)")
  // §7.1: `cert#S256` is the thumbprint; a `cert` key's thumbprint was computed from its DER
  const thumbprint = yield* Effect.promise(() => certThumbprint(der))
  if (thumbprint !== key.thumbprint) return yield* refuse("the TLS client certificate is not the client's key (mtls, §7.3.2)")
})
