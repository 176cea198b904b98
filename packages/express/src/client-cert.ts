/**
 * The client certificate for GNAP `mtls` key proofing (RFC 9635 §7.3.2), handed to core in
 * the RFC 9440 `Client-Cert` field: the DER certificate as an RFC 8941 byte sequence
 * (`:base64:`). Core believes that field only with `gnap.mtls.trustClientCertHeader`, so the
 * adapter decides where it comes from:
 *
 * - `"socket"`: from this server's own TLS connection (`https.createServer` with
 *   `requestCert: true`): the peer certificate replaces whatever the client sent;
 * - `"header"`: as set by the TLS-terminating proxy in front of the app;
 * - unset (default): never — an incoming `Client-Cert` is removed, so no client can claim a
 *   certificate it did not present.
 */
import type { IncomingMessage } from "node:http"
import type { TLSSocket } from "node:tls"

/**
 * Where the `Client-Cert` field comes from.
 *
 * > [!WARNING]
 * > `"header"` only behind a proxy you control that removes any `Client-Cert` a client sends
 * > and sets it from the TLS handshake; otherwise any client claims any certificate.
 */
export type ClientCertificateSource = "socket" | "header" | undefined

/** RFC 9440 §2.2: `:<base64 DER>:` of the TLS peer certificate, if the connection has a verified-or-not one. */
export const socketClientCert = (req: IncomingMessage): string | undefined => {
  const socket = req.socket as Partial<TLSSocket> | null
  if (socket === null || typeof socket.getPeerCertificate !== "function") return undefined
  const cert = socket.getPeerCertificate(false)
  const raw = (cert as { raw?: Buffer } | undefined)?.raw
  return raw !== undefined && raw.length > 0 ? `:${raw.toString("base64")}:` : undefined
}

/** Set (or remove) `Client-Cert` on the headers handed to the Fetch handler. */
export const applyClientCert = (headers: Headers, req: IncomingMessage, source: ClientCertificateSource): void => {
  if (source === "header") return
  headers.delete("client-cert")
  if (source === "socket") {
    const value = socketClientCert(req)
    if (value !== undefined) headers.set("client-cert", value)
  }
}

/**
 * Whether the request's own header fields already carry the right `Client-Cert` (so a
 * handler may read them as they are, without `applyClientCert`): true for `"header"`, and
 * for the default when the client sent none.
 */
export const clientCertUnchanged = (req: IncomingMessage, source: ClientCertificateSource): boolean =>
  source === "header" || (source !== "socket" && req.headers["client-cert"] === undefined)
