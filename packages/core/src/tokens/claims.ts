/**
 * Which account claims a request may see: by scope (OIDC Core §5.4) and by the `claims`
 * request parameter (§5.5).
 */
import type { Claims } from "../ports/Accounts.js"

/** OIDC Core §5.4: the claims each standard scope requests. */
export const SCOPE_CLAIMS: Readonly<Record<string, ReadonlyArray<string>>> = {
  profile: [
    "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile",
    "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"
  ],
  email: ["email", "email_verified"],
  address: ["address"],
  phone: ["phone_number", "phone_number_verified"]
}

/** OIDC Core §5.5: `{ userinfo?: {claim: null | {essential, value, values}}, id_token?: ... }` */
export interface ClaimsRequest {
  readonly userinfo?: Readonly<Record<string, unknown>> | undefined
  readonly id_token?: Readonly<Record<string, unknown>> | undefined
}

/** Parse the `claims` parameter; undefined when absent or not the §5.5 shape. */
export const parseClaimsRequest = (value: string | undefined): ClaimsRequest | undefined | "invalid" => {
  if (value === undefined) return undefined
  try {
    const parsed: unknown = JSON.parse(value)
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return "invalid"
    const { userinfo, id_token } = parsed as Record<string, unknown>
    const isMember = (v: unknown) => v === undefined || (typeof v === "object" && v !== null && !Array.isArray(v))
    if (!isMember(userinfo) || !isMember(id_token)) return "invalid"
    return parsed as ClaimsRequest
  } catch {
    return "invalid"
  }
}

/** The subset of `account` released for `scope` plus the individually `requested` claims. `sub` always. */
export const claimsFor = (
  account: Claims,
  scope: ReadonlyArray<string>,
  requested?: Readonly<Record<string, unknown>>
): Claims => {
  const names = new Set<string>()
  for (const s of scope) for (const c of SCOPE_CLAIMS[s] ?? []) names.add(c)
  for (const c of Object.keys(requested ?? {})) names.add(c)
  const out: Record<string, unknown> = {}
  for (const name of names) if (account[name] !== undefined) out[name] = account[name]
  return out
}
