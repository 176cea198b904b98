// One of the app's own form/JSON endpoints: POST /host/echo answers with the body as the app parsed it.
export async function POST(request: Request): Promise<Response> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase()
  let body: unknown
  try {
    if (type === "application/json") body = await request.json()
    else if (type === "application/x-www-form-urlencoded") body = Object.fromEntries(new URLSearchParams(await request.text()))
    else return Response.json({ error: "send a form or JSON" }, { status: 415 })
  } catch {
    return Response.json({ error: "the body could not be parsed" }, { status: 400 })
  }
  return Response.json({ body })
}
