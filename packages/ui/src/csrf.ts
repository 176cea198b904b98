/**
 * CSRF protection for the interaction forms: the double-submit pattern (OWASP CSRF
 * Prevention Cheat Sheet). A random value lives in an HttpOnly, SameSite=Lax cookie scoped
 * to one interaction's path and in a hidden `csrf` field; a POST is accepted only when both
 * are present and equal (compared in constant time). Fetch metadata and `Origin` are
 * checked too, as a second line.
 */
import { base64url, timingSafeEqual } from "@gatehouse/core"

export const CSRF_FIELD = "csrf"

/** 256 bits, base64url: what `newToken` makes and the only form a cookie value is accepted in. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/

export const newToken = (): string => base64url(crypto.getRandomValues(new Uint8Array(32)))

export const isWellFormed = (value: string | undefined): value is string => value !== undefined && TOKEN.test(value)

/** Both halves present, well formed and equal. */
export const tokensMatch = (cookie: string | undefined, field: string | undefined): boolean =>
  isWellFormed(cookie) && field !== undefined && timingSafeEqual(field, cookie)

/**
 * Fetch metadata (`Sec-Fetch-Site`) and `Origin`, when the browser sends them, must not
 * name another site or origin than the page's own.
 */
export const sameOrigin = (request: Request, pageOrigin: string): boolean => {
  const site = request.headers.get("sec-fetch-site")
  if (site !== null && site !== "same-origin" && site !== "same-site" && site !== "none") return false
  const origin = request.headers.get("origin")
  // The pages are served with `Referrer-Policy: no-referrer`, which makes browsers send
  // `Origin: null` on their own form posts (Fetch §3.1 "serializing a request origin");
  // accepted only when Fetch metadata vouches for the same origin.
  if (origin === "null" && site === "same-origin") return true
  return origin === null || origin === pageOrigin
}

export interface CookieAttributes {
  readonly path: string
  readonly secure: boolean
  readonly maxAge: number
}

export const csrfCookie = (name: string, value: string, a: CookieAttributes): string =>
  `${name}=${value}; Path=${a.path}; Max-Age=${a.maxAge}; HttpOnly; SameSite=Lax${a.secure ? "; Secure" : ""}`

/** The value of the first cookie called `name` (the browser sends the most specific path first). */
export const readCookie = (request: Request, name: string): string | undefined => {
  const header = request.headers.get("cookie")
  if (header === null) return undefined
  for (const part of header.split(";")) {
    const eq = part.indexOf("=")
    if (eq === -1) continue
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}
