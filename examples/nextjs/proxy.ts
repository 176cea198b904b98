/**
 * Next's proxy (formerly middleware), run before every route: renews the app's own session
 * cookie (a rolling session, lib/host-session.ts) on every response, Gatehouse's included.
 */
import { type NextRequest, NextResponse } from "next/server"
import { HOST_SESSION_COOKIE, isSessionId, sessionCookie } from "@/lib/host-session-cookie"

export function proxy(request: NextRequest) {
  const response = NextResponse.next()
  const id = request.cookies.get(HOST_SESSION_COOKIE)?.value
  if (isSessionId(id)) response.cookies.set(sessionCookie(id))
  return response
}

export const config = {
  // everything but Next's own assets
  matcher: "/((?!_next/static|_next/image|favicon.ico).*)"
}
