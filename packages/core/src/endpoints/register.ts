/** STUB — being written: register endpoint. */
import { Effect } from "effect"
import { NotFound } from "../errors.js"
import type { Endpoint } from "../http/router.js"
import type { GatehouseServices } from "../services.js"

export const registerEndpoint: Endpoint<GatehouseServices> = () => Effect.fail(new NotFound({ description: "not yet" }))
export const clientConfigurationEndpoint: Endpoint<GatehouseServices> = () => Effect.fail(new NotFound({ description: "not yet" }))
