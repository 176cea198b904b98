// The app's own session at work: GET /host/session counts this browser's visits.
import { cookies } from "next/headers"
import { HOST_SESSION_COOKIE, loadSession, sessionCookie } from "@/lib/host-session"

export async function GET(): Promise<Response> {
  const jar = await cookies()
  const { id, session } = loadSession(jar.get(HOST_SESSION_COOKIE)?.value)
  session.visits += 1
  jar.set(sessionCookie(id))
  return Response.json({ visits: session.visits }, { headers: { "cache-control": "no-store" } })
}
