/** STUB — being written: userinfo endpoint. */
import { Effect } from "effect"
import { NotFound } from "../errors.js"
import type { Endpoint } from "../http/router.js"
import type { GatehouseServices } from "../services.js"

export const userinfoEndpoint: Endpoint<GatehouseServices> = () => Effect.fail(new NotFound({ description: "not yet" }))
