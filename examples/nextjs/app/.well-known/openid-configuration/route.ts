// OpenID Connect Discovery 1.0 §4: issuer + /.well-known/openid-configuration (the issuer is this app's origin)
import { gatehouseRouteHandlers } from "@gatehouse/next"
import { getGatehouse } from "@/lib/gatehouse"

export const { GET, HEAD, OPTIONS } = gatehouseRouteHandlers(getGatehouse)
