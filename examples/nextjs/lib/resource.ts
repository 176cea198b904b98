/**
 * This app as a resource server (RFC 6749 §1.1 steps E/F): access tokens presented to its
 * API routes are verified by @gatehouse/resource. Tokens issued without an RFC 8707
 * `resource` carry the issuer as their audience, so that is the audience accepted here.
 */
import { createResourceServer } from "@gatehouse/resource"
import { singleton } from "@gatehouse/next"
import { getGatehouse, issuer } from "./gatehouse"

export const getResourceServer = () =>
  singleton("resource-server", () =>
    createResourceServer({
      issuer: issuer(),
      audience: issuer(),
      // the authorization server is in this process: its metadata and JWKS without a network round trip
      fetch: (input, init) => getGatehouse().handler(new Request(input, init))
    }))
