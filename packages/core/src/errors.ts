/**
 * Every protocol error Gatehouse can return, and the ONE table that maps each to its wire
 * code and HTTP status. `description` goes to the client (`error_description`); `detail`
 * is internal (logs, events) and never reaches the wire.
 */
import * as Schema from "effect/Schema"

const fields = {
  description: Schema.String,
  detail: Schema.optional(Schema.String)
}

/** RFC 6749 §5.2 / §4.1.2.1 `invalid_request`. */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", fields) {}
/** RFC 6749 §5.2 `invalid_client` (401 with `WWW-Authenticate` when the client used HTTP auth). */
export class InvalidClient extends Schema.TaggedError<InvalidClient>()("InvalidClient", {
  ...fields,
  /** the authentication scheme the client attempted through the Authorization header, if any */
  scheme: Schema.optional(Schema.String)
}) {}
/**
 * RFC 6749 §5.2 `invalid_client`, refused before the credentials are checked: the client id
 * (or the address) failed authentication too often in the current window (config
 * `rateLimit.clientAuth`). 429 (RFC 6585 §4) with `Retry-After` seconds.
 */
export class ClientAuthRateLimited extends Schema.TaggedError<ClientAuthRateLimited>()("ClientAuthRateLimited", {
  ...fields,
  /** seconds until the window ends (`Retry-After`, RFC 9110 §10.2.3) */
  retryAfter: Schema.Number
}) {}
/** RFC 6749 §5.2 `invalid_grant`. */
export class InvalidGrant extends Schema.TaggedError<InvalidGrant>()("InvalidGrant", fields) {}
/** RFC 6749 §5.2 / §4.1.2.1 `unauthorized_client`. */
export class UnauthorizedClient extends Schema.TaggedError<UnauthorizedClient>()("UnauthorizedClient", fields) {}
/** RFC 6749 §5.2 `unsupported_grant_type`. */
export class UnsupportedGrantType extends Schema.TaggedError<UnsupportedGrantType>()("UnsupportedGrantType", fields) {}
/** RFC 6749 §5.2 / §4.1.2.1 `invalid_scope`. */
export class InvalidScope extends Schema.TaggedError<InvalidScope>()("InvalidScope", fields) {}
/** RFC 6749 §4.1.2.1 `access_denied`. */
export class AccessDenied extends Schema.TaggedError<AccessDenied>()("AccessDenied", fields) {}
/** RFC 6749 §4.1.2.1 `unsupported_response_type`. */
export class UnsupportedResponseType extends Schema.TaggedError<UnsupportedResponseType>()("UnsupportedResponseType", fields) {}
/** RFC 8707 §2 `invalid_target`. */
export class InvalidTarget extends Schema.TaggedError<InvalidTarget>()("InvalidTarget", fields) {}
/** OIDC Core §3.1.2.6 `login_required`. */
export class LoginRequired extends Schema.TaggedError<LoginRequired>()("LoginRequired", fields) {}
/** OIDC Core §3.1.2.6 `consent_required`. */
export class ConsentRequired extends Schema.TaggedError<ConsentRequired>()("ConsentRequired", fields) {}
/** OIDC Core §3.1.2.6 `interaction_required`. */
export class InteractionRequired extends Schema.TaggedError<InteractionRequired>()("InteractionRequired", fields) {}
/** OIDC Core §3.1.2.6 `request_not_supported` (the `request` parameter). */
export class RequestNotSupported extends Schema.TaggedError<RequestNotSupported>()("RequestNotSupported", fields) {}
/** OIDC Core §3.1.2.6 `request_uri_not_supported`. */
export class RequestUriNotSupported extends Schema.TaggedError<RequestUriNotSupported>()("RequestUriNotSupported", fields) {}
/** RFC 6750 §3.1 `invalid_token` (userinfo, registration management). */
export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", fields) {}
/** RFC 6750 §3.1 `insufficient_scope`. */
export class InsufficientScope extends Schema.TaggedError<InsufficientScope>()("InsufficientScope", {
  ...fields,
  scope: Schema.optional(Schema.String)
}) {}
/** RFC 7591 §3.2.2 `invalid_redirect_uri`. */
export class InvalidRedirectUri extends Schema.TaggedError<InvalidRedirectUri>()("InvalidRedirectUri", fields) {}
/** RFC 7591 §3.2.2 `invalid_client_metadata`. */
export class InvalidClientMetadata extends Schema.TaggedError<InvalidClientMetadata>()("InvalidClientMetadata", fields) {}
/** RFC 7591 §3.2.2 `invalid_software_statement` / `unapproved_software_statement`. */
export class InvalidSoftwareStatement extends Schema.TaggedError<InvalidSoftwareStatement>()("InvalidSoftwareStatement", fields) {}
/** RFC 8628 §3.5 `authorization_pending`: the user has not finished the device authorization yet; keep polling. */
export class AuthorizationPending extends Schema.TaggedError<AuthorizationPending>()("AuthorizationPending", fields) {}
/** RFC 8628 §3.5 `slow_down`: still pending, and the client polled too fast; its interval grows by 5 s. */
export class SlowDown extends Schema.TaggedError<SlowDown>()("SlowDown", fields) {}
/** RFC 8628 §3.5 `expired_token`: the device code expired; the client may start a new device authorization. */
export class ExpiredToken extends Schema.TaggedError<ExpiredToken>()("ExpiredToken", fields) {}
/**
 * RFC 8628 §3.5 `access_denied` at the token endpoint: the user denied the device
 * authorization. 400 like every RFC 6749 §5.2 token error (the authorization endpoint's
 * `AccessDenied` is 403 on its error page).
 */
export class DeviceAccessDenied extends Schema.TaggedError<DeviceAccessDenied>()("DeviceAccessDenied", fields) {}
/** Not an endpoint of this server: 404 `not_found`. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields) {}
/** HTTP method not allowed on this endpoint: 405 with `Allow`. */
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", {
  ...fields,
  allow: Schema.Array(Schema.String)
}) {}
/** Request body too large (RFC 9110 §15.5.14): 413. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", fields) {}
/** Request header fields too large (RFC 6585 §5): 431, `invalid_request`. */
export class HeaderFieldsTooLarge extends Schema.TaggedError<HeaderFieldsTooLarge>()("HeaderFieldsTooLarge", fields) {}
/** RFC 9635 §3.6 `invalid_interaction`: the interaction reference is wrong, or no usable interaction mode. */
export class InvalidInteraction extends Schema.TaggedError<InvalidInteraction>()("InvalidInteraction", fields) {}
/** RFC 9635 §3.6 `invalid_flag`: the flag configuration is not valid (e.g. a flag listed twice, §2.1.1). */
export class InvalidFlag extends Schema.TaggedError<InvalidFlag>()("InvalidFlag", fields) {}
/** RFC 9635 §3.6 `invalid_rotation`: the token rotation request is not valid (§6.1, §6.1.1). */
export class InvalidRotation extends Schema.TaggedError<InvalidRotation>()("InvalidRotation", fields) {}
/** RFC 9635 §3.6 `key_rotation_not_supported` (§6.1.1). */
export class KeyRotationNotSupported extends Schema.TaggedError<KeyRotationNotSupported>()("KeyRotationNotSupported", fields) {}
/** RFC 9635 §3.6 `invalid_continuation`: the referenced grant cannot be continued (§5). */
export class InvalidContinuation extends Schema.TaggedError<InvalidContinuation>()("InvalidContinuation", fields) {}
/** RFC 9635 §3.6 `user_denied`: the RO denied the request. */
export class UserDenied extends Schema.TaggedError<UserDenied>()("UserDenied", fields) {}
/** RFC 9635 §3.6 `request_denied`: the request was denied for an unspecified reason. */
export class RequestDenied extends Schema.TaggedError<RequestDenied>()("RequestDenied", fields) {}
/** RFC 9635 §3.6 `unknown_user`: the user is unknown or is not the user present at interaction (§2.4). */
export class UnknownUser extends Schema.TaggedError<UnknownUser>()("UnknownUser", fields) {}
/** RFC 9635 §3.6 `unknown_interaction`: the interaction integrity could not be established (§4.2.2). */
export class UnknownInteraction extends Schema.TaggedError<UnknownInteraction>()("UnknownInteraction", fields) {}
/** RFC 9635 §3.6 `too_fast`: the client did not respect the `wait` period (§5). */
export class TooFast extends Schema.TaggedError<TooFast>()("TooFast", fields) {}
/** RFC 9635 §3.6 `too_many_attempts`: a reasonable limit of attempts was reached (§5.1, §5.2). */
export class TooManyAttempts extends Schema.TaggedError<TooManyAttempts>()("TooManyAttempts", fields) {}
/** RFC 9767 §3.5 `invalid_resource_server`: the RS is unknown or did not prove its key. */
export class InvalidResourceServer extends Schema.TaggedError<InvalidResourceServer>()("InvalidResourceServer", fields) {}
/** RFC 9767 §3.5 `invalid_access`: the RS may not register or introspect this access. */
export class InvalidAccess extends Schema.TaggedError<InvalidAccess>()("InvalidAccess", fields) {}
/** A port's backend failed (database down, ...). Rendered as 503 `temporarily_unavailable`, detail logged only. */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  description: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
}) {}
/** Anything else that went wrong on our side: 500 `server_error`, detail logged only. */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", {
  description: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
}) {}

export type ProtocolError =
  | InvalidRequest
  | InvalidClient
  | ClientAuthRateLimited
  | InvalidGrant
  | UnauthorizedClient
  | UnsupportedGrantType
  | InvalidScope
  | AccessDenied
  | UnsupportedResponseType
  | InvalidTarget
  | LoginRequired
  | ConsentRequired
  | InteractionRequired
  | RequestNotSupported
  | RequestUriNotSupported
  | InvalidToken
  | InsufficientScope
  | InvalidRedirectUri
  | InvalidClientMetadata
  | InvalidSoftwareStatement
  | AuthorizationPending
  | SlowDown
  | ExpiredToken
  | DeviceAccessDenied
  | NotFound
  | MethodNotAllowed
  | PayloadTooLarge
  | HeaderFieldsTooLarge
  | InvalidInteraction
  | InvalidFlag
  | InvalidRotation
  | KeyRotationNotSupported
  | InvalidContinuation
  | UserDenied
  | RequestDenied
  | UnknownUser
  | UnknownInteraction
  | TooFast
  | TooManyAttempts
  | InvalidResourceServer
  | InvalidAccess
  | StorageError
  | ServerError

/**
 * THE table: tag -> wire error code and HTTP status. `satisfies` keeps it exhaustive:
 * adding an error class without a row is a compile error.
 */
export const errorTable = {
  InvalidRequest: { code: "invalid_request", status: 400 },
  InvalidClient: { code: "invalid_client", status: 401 },
  // RFC 6585 §4 Too Many Requests, with the RFC 6749 §5.2 code
  ClientAuthRateLimited: { code: "invalid_client", status: 429 },
  InvalidGrant: { code: "invalid_grant", status: 400 },
  UnauthorizedClient: { code: "unauthorized_client", status: 400 },
  UnsupportedGrantType: { code: "unsupported_grant_type", status: 400 },
  InvalidScope: { code: "invalid_scope", status: 400 },
  AccessDenied: { code: "access_denied", status: 403 },
  UnsupportedResponseType: { code: "unsupported_response_type", status: 400 },
  InvalidTarget: { code: "invalid_target", status: 400 },
  LoginRequired: { code: "login_required", status: 400 },
  ConsentRequired: { code: "consent_required", status: 400 },
  InteractionRequired: { code: "interaction_required", status: 400 },
  RequestNotSupported: { code: "request_not_supported", status: 400 },
  RequestUriNotSupported: { code: "request_uri_not_supported", status: 400 },
  InvalidToken: { code: "invalid_token", status: 401 },
  InsufficientScope: { code: "insufficient_scope", status: 403 },
  InvalidRedirectUri: { code: "invalid_redirect_uri", status: 400 },
  InvalidClientMetadata: { code: "invalid_client_metadata", status: 400 },
  InvalidSoftwareStatement: { code: "invalid_software_statement", status: 400 },
  // RFC 8628 §3.5: token endpoint errors while polling, 400 as RFC 6749 §5.2
  AuthorizationPending: { code: "authorization_pending", status: 400 },
  SlowDown: { code: "slow_down", status: 400 },
  ExpiredToken: { code: "expired_token", status: 400 },
  DeviceAccessDenied: { code: "access_denied", status: 400 },
  NotFound: { code: "not_found", status: 404 },
  MethodNotAllowed: { code: "invalid_request", status: 405 },
  PayloadTooLarge: { code: "invalid_request", status: 413 },
  HeaderFieldsTooLarge: { code: "invalid_request", status: 431 },
  // RFC 9635 §3.6 (GNAP defines no HTTP status; these are Gatehouse's choices)
  InvalidInteraction: { code: "invalid_interaction", status: 400 },
  InvalidFlag: { code: "invalid_flag", status: 400 },
  InvalidRotation: { code: "invalid_rotation", status: 400 },
  KeyRotationNotSupported: { code: "key_rotation_not_supported", status: 400 },
  InvalidContinuation: { code: "invalid_continuation", status: 400 },
  UserDenied: { code: "user_denied", status: 403 },
  RequestDenied: { code: "request_denied", status: 403 },
  UnknownUser: { code: "unknown_user", status: 400 },
  UnknownInteraction: { code: "unknown_interaction", status: 400 },
  TooFast: { code: "too_fast", status: 429 },
  TooManyAttempts: { code: "too_many_attempts", status: 429 },
  // RFC 9767 §3.5: RS-facing errors are HTTP 400
  InvalidResourceServer: { code: "invalid_resource_server", status: 400 },
  InvalidAccess: { code: "invalid_access", status: 400 },
  StorageError: { code: "temporarily_unavailable", status: 503 },
  ServerError: { code: "server_error", status: 500 }
} as const satisfies Record<ProtocolError["_tag"], { code: string; status: number }>

/** The wire error code of an error (what goes into `error=`). */
export const errorCode = (error: ProtocolError): string => errorTable[error._tag].code

/** The description that may reach the client. Internal failures get a fixed text. */
export const publicDescription = (error: ProtocolError): string => {
  switch (error._tag) {
    case "StorageError":
      return "The authorization server is temporarily unable to handle the request"
    case "ServerError":
      return "The authorization server encountered an unexpected condition"
    default:
      return error.description
  }
}

/** True for errors caused by us rather than by the request. */
export const isInternal = (error: ProtocolError): error is StorageError | ServerError =>
  error._tag === "StorageError" || error._tag === "ServerError"
