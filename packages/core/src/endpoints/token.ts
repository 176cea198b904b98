/** STUB — being written: RFC 6749 §3.2 token endpoint. */
import { Effect } from "effect"
import { NotFound } from "../errors.js"
import type { Endpoint } from "../http/router.js"
import type { GatehouseServices } from "../services.js"

export const tokenEndpoint: Endpoint<GatehouseServices> = () => Effect.fail(new NotFound({ description: "not yet" }))
