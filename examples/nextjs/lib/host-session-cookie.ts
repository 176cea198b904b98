/** The app's session cookie (lib/host-session.ts), dependency-free for proxy.ts. */
export const HOST_SESSION_COOKIE = "host.sid"
const MAX_AGE = 30 * 60
const ID = /^[A-Za-z0-9_-]{43}$/

export interface HostSession {
  visits: number
}

export const isSessionId = (value: string | undefined): value is string => value !== undefined && ID.test(value)

export const sessionCookie = (id: string) =>
  ({ name: HOST_SESSION_COOKIE, value: id, httpOnly: true, sameSite: "lax", path: "/", maxAge: MAX_AGE }) as const
