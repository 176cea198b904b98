/**
 * Push finish (RFC 9635 §4.2.2): the AS POSTs `{"hash", "interact_ref"}` as JSON to the
 * client's finish URI — an outbound request to a URI the client chose, so the SSRF
 * precautions of §11.34 apply: https only, no loopback, private, link-local or unique-local
 * address literals or local names, no redirects followed, a short timeout.
 *
 * > [!WARNING] Names are not resolved here (core has no DNS): a public name that resolves
 * > to a private address is not caught. Deployments that need that run behind an egress proxy.
 */
import * as Effect from "effect/Effect"
import { GatehouseConfig } from "../config.js"

const PUSH_TIMEOUT_MS = 5000

const privateV4 = (host: string) => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  if (!m) return false
  const [a, b] = [Number(m[1]), Number(m[2])]
  return a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || a >= 224
}

const privateV6 = (host: string) => {
  if (!host.startsWith("[")) return false
  const h = host.slice(1, -1).toLowerCase()
  return h === "::1" || h === "::" || h.startsWith("fc") || h.startsWith("fd") || h.startsWith("fe8") || h.startsWith("fe9") ||
    h.startsWith("fea") || h.startsWith("feb") || h.startsWith("::ffff:")
}

const localName = (host: string) =>
  host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") || host.endsWith(".internal") || !host.includes(".")

/** Whether the AS may push to `uri` (§11.34). */
export const pushAllowed = (uri: string, allowPrivate: boolean): boolean => {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return false
  }
  if (url.username || url.password) return false
  if (allowPrivate) return url.protocol === "https:" || url.protocol === "http:"
  if (url.protocol !== "https:") return false
  const host = url.hostname.toLowerCase()
  return !privateV4(host) && !privateV6(host) && !localName(host)
}

/** §4.2.2: deliver the finish message. True when the client answered 2xx. */
export const pushFinish = Effect.fnUntraced(function*(uri: string, message: { readonly hash: string; readonly interact_ref: string }) {
  const config = yield* GatehouseConfig
  if (!pushAllowed(uri, config.gnap.allowPrivatePush)) return false
  return yield* Effect.promise(() =>
    fetch(uri, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(message),
      redirect: "manual",
      signal: AbortSignal.timeout(PUSH_TIMEOUT_MS)
    }).then(async (r) => {
      await r.body?.cancel().catch(() => undefined)
      return r.status >= 200 && r.status < 300
    }, () => false)
  )
})
