// The protected API route: GET /api/me with `Authorization: Bearer <access token>` answers
// { sub }; a missing or bad token gets 401 and an RFC 6750 §3 `WWW-Authenticate: Bearer` challenge.
import { getResourceServer } from "@/lib/resource"

export async function GET(request: Request): Promise<Response> {
  const result = await getResourceServer().verify(request)
  if (!result.ok) return result.response
  return Response.json({ sub: result.token.sub }, { headers: { "cache-control": "no-store" } })
}
