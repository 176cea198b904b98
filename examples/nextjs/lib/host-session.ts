/**
 * The app's own session, standing for whatever session an existing app already has: a
 * random id in the `host.sid` cookie, the data in this process's memory, the cookie renewed
 * on every response (proxy.ts), Gatehouse's included. Gatehouse keeps its own cookies
 * (`gatehouse.*`) and leaves this one alone.
 */
import { singleton } from "@gatehouse/next"
import { type HostSession, isSessionId } from "./host-session-cookie"

export { HOST_SESSION_COOKIE, type HostSession, isSessionId, sessionCookie } from "./host-session-cookie"

const sessions = () => singleton("host-sessions", () => new Map<string, HostSession>())

/** The session the cookie names, or a new one. */
export const loadSession = (id: string | undefined): { id: string; session: HostSession } => {
  const existing = isSessionId(id) ? sessions().get(id) : undefined
  if (existing && id) return { id, session: existing }
  const fresh = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")
  const session = { visits: 0 }
  sessions().set(fresh, session)
  return { id: fresh, session }
}
