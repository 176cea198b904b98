/**
 * Key proofing (RFC 9635 §7.3): every request to the grant, continuation and management
 * endpoints proves possession of the client key with the method the key names. Returns the
 * request content as proven (for `jws`, the JWS payload).
 */
import * as Effect from "effect/Effect"
import type { GatehouseConfig } from "../../config.js"
import type { InvalidClient, StorageError } from "../../errors.js"
import type { ReplayCache } from "../../ports/ReplayCache.js"
import type { ClientKey } from "../key.js"
import { type ProofInput, verifyHttpSig } from "./httpsig.js"
import { verifyJws } from "./jws.js"
import { verifyMtls } from "./mtls.js"

export type { ProofInput } from "./httpsig.js"

export const verifyProof = (
  key: ClientKey,
  input: ProofInput
): Effect.Effect<Uint8Array<ArrayBuffer>, InvalidClient | StorageError, GatehouseConfig | ReplayCache> => {
  switch (key.proof.method) {
    case "httpsig":
      return Effect.as(verifyHttpSig(key, input), input.body)
    case "jwsd":
    case "jws":
      return Effect.map(verifyJws(key, key.proof.method, input), (r) => r.content)
    case "mtls":
      return Effect.as(verifyMtls(key, input), input.body)
  }
}
