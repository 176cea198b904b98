// Gatehouse's OAuth 2.1 / OpenID Connect endpoints under /oauth (its `basePath`):
// /oauth/authorize, /oauth/token, /oauth/userinfo, /oauth/jwks, /oauth/register, ...
// Other paths under /oauth get the app's own 404 page.
import { gatehouseRouteHandlers } from "@gatehouse/next"
import { getGatehouse } from "@/lib/gatehouse"
import { notFoundResponse } from "@/lib/not-found"

export const { GET, HEAD, POST, PUT, DELETE, OPTIONS } = gatehouseRouteHandlers(getGatehouse, { notFound: notFoundResponse })
