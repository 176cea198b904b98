// RFC 9728 §3: this app's protected resource metadata, where /api/me's challenges point (`resource_metadata`)
import { getResourceServer } from "@/lib/resource"

export function GET(): Response {
  return getResourceServer().metadataResponse()
}
