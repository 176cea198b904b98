/** STUB — being written: metadata endpoint. */
import { Effect } from "effect"
import { NotFound } from "../errors.js"
import type { Endpoint } from "../http/router.js"
import type { GatehouseServices } from "../services.js"

export const authorizationServerMetadataEndpoint: Endpoint<GatehouseServices> = () => Effect.fail(new NotFound({ description: "not yet" }))
export const openidConfigurationEndpoint: Endpoint<GatehouseServices> = () => Effect.fail(new NotFound({ description: "not yet" }))
