// Only for GATEHOUSE_BASE_PATH="" (the endpoints at the origin's root: /authorize, /token, ...).
// A root catch-all receives every path no other route claims: those that are not Gatehouse's
// get the app's own 404 page. With the default basePath ("/oauth") this route serves nothing
// but that 404, and app/oauth/[...gatehouse]/route.ts is the one in use: an app that keeps
// Gatehouse under a prefix does not need this file.
import { gatehouseRouteHandlers } from "@gatehouse/next"
import { getGatehouse } from "@/lib/gatehouse"
import { notFoundResponse } from "@/lib/not-found"

export const { GET, HEAD, POST, PUT, DELETE, OPTIONS } = gatehouseRouteHandlers(getGatehouse, { notFound: notFoundResponse })
