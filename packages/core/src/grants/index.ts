/**
 * The grant registry: `grant_type` -> workflow (RFC 6749 §4.1.3, §4.4.2, §6). The token
 * endpoint dispatches through it; a grant type not in it is `unsupported_grant_type`, which
 * is how ROPC (`password`, removed by OAuth 2.1 and RFC 9700 §2.4) and implicit are refused.
 */
import type { GatehouseServices } from "../services.js"
import { authorizationCode } from "./authorization_code.js"
import { clientCredentials } from "./client_credentials.js"
import { deviceCode } from "./device_code.js"
import { refreshToken } from "./refresh_token.js"
import type { GrantHandler } from "./types.js"

export const grants: ReadonlyMap<string, GrantHandler<GatehouseServices>> = new Map<string, GrantHandler<GatehouseServices>>(
  [authorizationCode, refreshToken, clientCredentials, deviceCode].map((grant) => [grant.grantType, grant])
)

/** RFC 8414 §2 `grant_types_supported`. */
export const GRANT_TYPES_SUPPORTED: ReadonlyArray<string> = [...grants.keys()]
