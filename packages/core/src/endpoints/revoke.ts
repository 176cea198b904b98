/** STUB — being written: revoke endpoint. */
import { Effect } from "effect"
import { NotFound } from "../errors.js"
import type { Endpoint } from "../http/router.js"
import type { GatehouseServices } from "../services.js"

export const revokeEndpoint: Endpoint<GatehouseServices> = () => Effect.fail(new NotFound({ description: "not yet" }))
