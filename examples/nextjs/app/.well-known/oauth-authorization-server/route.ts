// RFC 8414 §3: /.well-known/oauth-authorization-server at the issuer's origin
import { gatehouseRouteHandlers } from "@gatehouse/next"
import { getGatehouse } from "@/lib/gatehouse"

export const { GET, HEAD, OPTIONS } = gatehouseRouteHandlers(getGatehouse)
