// The default login and consent pages (@gatehouse/ui) where Gatehouse sends the browser:
// GET /interaction/:id, POST /interaction/:id/login, POST /interaction/:id/consent.
// To use your own pages instead, see README.md ("Your own login page").
import { fetchRouteHandlers } from "@gatehouse/next"
import { getGatehouse, getInteractionPages } from "@/lib/gatehouse"

export const { GET, HEAD, POST } = fetchRouteHandlers(getInteractionPages, { origin: () => getGatehouse().config.origin })
