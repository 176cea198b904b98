/**
 * The Gatehouse tables for Postgres. `schema.sqlite.ts` declares the same tables for SQLite;
 * `schema.parity.ts` checks at compile time that both infer the same row types, and the
 * migration test checks that `migrations/pg` creates exactly these columns and indexes.
 *
 * Conventions (both dialects):
 * - time columns ending in `_at` hold milliseconds since epoch, EXCEPT the protocol values
 *   kept in seconds as the protocol states them: `clients.issued_at`,
 *   `clients.secret_expires_at` (RFC 7591 §3.2.1) and every `auth_time` (OIDC Core §2);
 * - lists and objects are JSON text (`scope`, `resource`, `amr`, `metadata`, ...);
 * - secrets, tokens and codes are stored only as digests, which are the primary keys;
 * - every column a port looks rows up by is a primary key or indexed, and `expires_at`
 *   is indexed for the sweeps.
 */
import { sql } from "drizzle-orm"
import { bigint, index, integer, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core"

/** milliseconds since epoch (or seconds where the column comment says so) */
const time = (name: string) => bigint(name, { mode: "number" })

/** RFC 7591 / RFC 7592 registered clients. */
export const clients = pgTable("clients", {
  clientId: text("client_id").primaryKey(),
  secretDigest: text("secret_digest"),
  /** seconds, 0 = never */
  secretExpiresAt: time("secret_expires_at").notNull(),
  registrationAccessTokenDigest: text("registration_access_token_digest"),
  /** JSON of the validated ClientMetadata */
  metadata: text("metadata").notNull(),
  /** seconds */
  issuedAt: time("issued_at").notNull()
})

/** RFC 6749 §4.1.2 authorization codes, kept (consumed) until they expire. */
export const authorizationCodes = pgTable("authorization_codes", {
  codeDigest: text("code_digest").primaryKey(),
  grantId: text("grant_id").notNull(),
  clientId: text("client_id").notNull(),
  accountId: text("account_id").notNull(),
  redirectUri: text("redirect_uri").notNull(),
  scope: text("scope").notNull(),
  resource: text("resource").notNull(),
  codeChallenge: text("code_challenge"),
  codeChallengeMethod: text("code_challenge_method", { enum: ["S256", "plain"] }),
  nonce: text("nonce"),
  /** seconds */
  authTime: time("auth_time").notNull(),
  acr: text("acr"),
  amr: text("amr"),
  claims: text("claims"),
  sessionId: text("session_id"),
  expiresAt: time("expires_at").notNull(),
  consumedAt: time("consumed_at")
}, (t) => [
  index("authorization_codes_grant_id_idx").on(t.grantId),
  index("authorization_codes_expires_at_idx").on(t.expiresAt)
])

/** Refresh tokens; one family per grant (RFC 9700 §4.14.2). */
export const refreshTokens = pgTable("refresh_tokens", {
  tokenDigest: text("token_digest").primaryKey(),
  grantId: text("grant_id").notNull(),
  clientId: text("client_id").notNull(),
  accountId: text("account_id").notNull(),
  scope: text("scope").notNull(),
  resource: text("resource").notNull(),
  /** seconds */
  authTime: time("auth_time").notNull(),
  acr: text("acr"),
  amr: text("amr"),
  sessionId: text("session_id"),
  issuedAt: time("issued_at").notNull(),
  expiresAt: time("expires_at").notNull(),
  consumedAt: time("consumed_at"),
  revokedAt: time("revoked_at")
}, (t) => [
  index("refresh_tokens_grant_id_idx").on(t.grantId),
  index("refresh_tokens_expires_at_idx").on(t.expiresAt)
])

/** Access-token records (opaque value digest, or JWT `jti` digest): RFC 7662, RFC 7009. */
export const accessTokens = pgTable("access_tokens", {
  tokenDigest: text("token_digest").primaryKey(),
  format: text("format", { enum: ["jwt", "opaque"] }).notNull(),
  grantId: text("grant_id").notNull(),
  clientId: text("client_id").notNull(),
  accountId: text("account_id"),
  scope: text("scope").notNull(),
  audience: text("audience").notNull(),
  issuedAt: time("issued_at").notNull(),
  expiresAt: time("expires_at").notNull(),
  revokedAt: time("revoked_at"),
  extra: text("extra")
}, (t) => [
  index("access_tokens_grant_id_idx").on(t.grantId),
  index("access_tokens_expires_at_idx").on(t.expiresAt)
])

/** Consent: the scopes an account granted a client. */
export const consents = pgTable("consents", {
  accountId: text("account_id").notNull(),
  clientId: text("client_id").notNull(),
  scope: text("scope").notNull(),
  updatedAt: time("updated_at").notNull()
}, (t) => [primaryKey({ name: "consents_pk", columns: [t.accountId, t.clientId] })])

/** Browser sessions at the AS, by digest of the cookie value. */
export const sessions = pgTable("sessions", {
  sessionDigest: text("session_digest").primaryKey(),
  accountId: text("account_id").notNull(),
  /** seconds */
  authTime: time("auth_time").notNull(),
  acr: text("acr"),
  amr: text("amr"),
  expiresAt: time("expires_at").notNull()
}, (t) => [
  index("sessions_account_id_idx").on(t.accountId),
  index("sessions_expires_at_idx").on(t.expiresAt)
])

/** Pending user interactions (login, consent, ...). */
export const interactions = pgTable("interactions", {
  id: text("id").primaryKey(),
  kind: text("kind", { enum: ["authorize", "device", "gnap"] }).notNull(),
  state: text("state", { enum: ["pending", "authenticated", "completed", "denied", "consumed"] }).notNull(),
  clientId: text("client_id").notNull(),
  bindingDigest: text("binding_digest").notNull(),
  payload: text("payload").notNull(),
  result: text("result"),
  accountId: text("account_id"),
  createdAt: time("created_at").notNull(),
  expiresAt: time("expires_at").notNull()
}, (t) => [index("interactions_expires_at_idx").on(t.expiresAt)])

/**
 * Signing keys. `private_jwk` holds the AES-256-GCM ciphertext of the private JWK, never
 * the JWK itself. At most one `current` and one `next` key per alg.
 */
export const keys = pgTable("keys", {
  kid: text("kid").primaryKey(),
  alg: text("alg").notNull(),
  status: text("status", { enum: ["current", "next", "retired"] }).notNull(),
  publicJwk: text("public_jwk").notNull(),
  privateJwk: text("private_jwk").notNull(),
  createdAt: time("created_at").notNull(),
  retiredAt: time("retired_at")
}, (t) => [
  index("keys_alg_status_idx").on(t.alg, t.status),
  uniqueIndex("keys_one_current_per_alg").on(t.alg).where(sql`status = 'current'`),
  uniqueIndex("keys_one_next_per_alg").on(t.alg).where(sql`status = 'next'`)
])

/** Used one-time values (`jti` of client assertions and DPoP proofs, GNAP nonces). */
export const replay = pgTable("replay", {
  key: text("key").primaryKey(),
  expiresAt: time("expires_at").notNull()
}, (t) => [index("replay_expires_at_idx").on(t.expiresAt)])

/** RFC 8628 device authorization: ready for the device-code grant. */
export const deviceCodes = pgTable("device_codes", {
  deviceCodeDigest: text("device_code_digest").primaryKey(),
  /** digest of the normalised user code (RFC 8628 §6.1) */
  userCodeDigest: text("user_code_digest").notNull(),
  grantId: text("grant_id").notNull(),
  clientId: text("client_id").notNull(),
  scope: text("scope").notNull(),
  resource: text("resource").notNull(),
  state: text("state", { enum: ["pending", "authorized", "denied", "consumed"] }).notNull(),
  accountId: text("account_id"),
  /** seconds */
  authTime: time("auth_time"),
  acr: text("acr"),
  amr: text("amr"),
  /** RFC 8628 §3.2 `interval`, seconds */
  pollInterval: integer("poll_interval").notNull(),
  lastPolledAt: time("last_polled_at"),
  createdAt: time("created_at").notNull(),
  expiresAt: time("expires_at").notNull(),
  consumedAt: time("consumed_at")
}, (t) => [
  // not unique since 0002: uniqueness among live codes is the user_codes table's (an expired,
  // not yet swept device code may still carry a digest a new code reuses)
  index("device_codes_user_code_digest_idx").on(t.userCodeDigest),
  index("device_codes_grant_id_idx").on(t.grantId),
  index("device_codes_expires_at_idx").on(t.expiresAt)
])

/** The user-code engine (RFC 8628 §6.1, RFC 9635 §3.3.3): which interaction a user code opens. */
export const userCodes = pgTable("user_codes", {
  /** digest of the normalised user code */
  userCodeDigest: text("user_code_digest").primaryKey(),
  interactionId: text("interaction_id").notNull(),
  /** the interaction's kind: device, gnap */
  kind: text("kind").notNull(),
  clientId: text("client_id").notNull(),
  createdAt: time("created_at").notNull(),
  expiresAt: time("expires_at").notNull(),
  /** when a browser entered it (or it was retired): one-time use (RFC 9635 §4) */
  claimedAt: time("claimed_at")
}, (t) => [
  index("user_codes_interaction_id_idx").on(t.interactionId),
  index("user_codes_expires_at_idx").on(t.expiresAt)
])

/** Wrong user codes per browser / address, in fixed windows (RFC 8628 §5.1). */
export const userCodeAttempts = pgTable("user_code_attempts", {
  /** digest naming who typed (browser, address) */
  key: text("key").primaryKey(),
  count: integer("count").notNull(),
  /** end of the window */
  resetsAt: time("resets_at").notNull()
}, (t) => [index("user_code_attempts_resets_at_idx").on(t.resetsAt)])

/** RateLimiter windows: failed client authentications and logins (config `rateLimit`). */
export const rateLimits = pgTable("rate_limits", {
  /** digest naming the limited subject (client id, username, address), never the subject */
  key: text("key").primaryKey(),
  count: integer("count").notNull(),
  /** end of the window */
  resetsAt: time("resets_at").notNull()
}, (t) => [index("rate_limits_resets_at_idx").on(t.resetsAt)])

/** RFC 9635 GNAP grants with their continuation state: ready for the GNAP issue. */
export const gnapGrants = pgTable("gnap_grants", {
  id: text("id").primaryKey(),
  /** RFC 9635 §1.5 grant states */
  state: text("state", { enum: ["processing", "pending", "approved", "finalized"] }).notNull(),
  /** digest of the continuation access token (RFC 9635 §3.1) */
  continueTokenDigest: text("continue_token_digest").notNull(),
  /** digest of the interaction reference sent to the finish URI (RFC 9635 §4.2.3) */
  interactRefDigest: text("interact_ref_digest"),
  /** JWK thumbprint of the client instance key (RFC 9635 §7.1) */
  clientKeyThumbprint: text("client_key_thumbprint").notNull(),
  /** RFC 9635 §2.3.1 `instance_id`, when the client was pre-registered */
  clientInstanceId: text("client_instance_id"),
  /** JSON of the grant request (access, subject, interact, client) */
  request: text("request").notNull(),
  /** JSON of what was granted */
  result: text("result"),
  accountId: text("account_id"),
  createdAt: time("created_at").notNull(),
  updatedAt: time("updated_at").notNull(),
  expiresAt: time("expires_at").notNull(),
  /** compare-and-set counter: every update writes version + 1 of the version it read (0003_gnap) */
  version: integer("version").notNull().default(1),
  /** no continuation before this (RFC 9635 §3.1 `wait`) (0003_gnap) */
  continueAfter: time("continue_after").notNull().default(0)
}, (t) => [
  uniqueIndex("gnap_grants_continue_token_digest_idx").on(t.continueTokenDigest),
  uniqueIndex("gnap_grants_interact_ref_digest_idx").on(t.interactRefDigest),
  index("gnap_grants_client_key_thumbprint_idx").on(t.clientKeyThumbprint),
  index("gnap_grants_expires_at_idx").on(t.expiresAt),
  index("gnap_grants_client_instance_id_idx").on(t.clientInstanceId)
])

/** RFC 9635 §3.2 access tokens issued from GNAP grants, with their management state (§6) (0003_gnap). */
export const gnapTokens = pgTable("gnap_tokens", {
  tokenDigest: text("token_digest").primaryKey(),
  grantId: text("grant_id").notNull(),
  /** the id in the token management URI (RFC 9635 §3.2.1) */
  manageId: text("manage_id").notNull(),
  manageTokenDigest: text("manage_token_digest").notNull(),
  label: text("label"),
  /** JSON list */
  flags: text("flags").notNull(),
  /** JSON of the access rights (RFC 9635 §8) */
  access: text("access").notNull(),
  /** JSON of the key object the token is bound to / managed with */
  key: text("key"),
  clientKeyThumbprint: text("client_key_thumbprint").notNull(),
  clientInstanceId: text("client_instance_id"),
  accountId: text("account_id"),
  issuedAt: time("issued_at").notNull(),
  expiresAt: time("expires_at").notNull(),
  revokedAt: time("revoked_at")
}, (t) => [
  uniqueIndex("gnap_tokens_manage_id_idx").on(t.manageId),
  index("gnap_tokens_grant_id_idx").on(t.grantId),
  index("gnap_tokens_expires_at_idx").on(t.expiresAt)
])

/** RFC 9767 §3.4 resource sets registered by GNAP resource servers, by `resource_reference` (0005_gnap_rs). */
export const gnapResourceSets = pgTable("gnap_resource_sets", {
  /** the opaque `resource_reference` handed to the RS (not a secret: clients see it) */
  reference: text("reference").primaryKey(),
  /** the registering RS: its configured name, else its key thumbprint */
  resourceServer: text("resource_server").notNull(),
  /** digest of the canonical registration: one reference per RS and set */
  setDigest: text("set_digest").notNull(),
  /** JSON of the access rights (RFC 9635 §8) */
  access: text("access").notNull(),
  /** RFC 9767 §3.4 `token_introspection_required`, 0 or 1 */
  introspectionRequired: integer("introspection_required").notNull(),
  createdAt: time("created_at").notNull()
}, (t) => [uniqueIndex("gnap_resource_sets_resource_server_set_digest_idx").on(t.resourceServer, t.setDigest)])

export const tables = {
  clients,
  authorizationCodes,
  refreshTokens,
  accessTokens,
  consents,
  sessions,
  interactions,
  keys,
  replay,
  deviceCodes,
  userCodes,
  userCodeAttempts,
  rateLimits,
  gnapGrants,
  gnapTokens,
  gnapResourceSets
}
