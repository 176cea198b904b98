/**
 * Every protocol error Gatehouse can return, and the ONE table that maps each to its wire
 * code and HTTP status. `description` goes to the client (`error_description`); `detail`
 * is internal (logs, events) and never reaches the wire.
 */
import { Schema } from "effect"

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
/** Not an endpoint of this server: 404 `not_found`. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields) {}
/** HTTP method not allowed on this endpoint: 405 with `Allow`. */
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", {
  ...fields,
  allow: Schema.Array(Schema.String)
}) {}
/** Request body too large (RFC 9110 §15.5.14): 413. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", fields) {}
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
  | NotFound
  | MethodNotAllowed
  | PayloadTooLarge
  | StorageError
  | ServerError

/**
 * THE table: tag -> wire error code and HTTP status. `satisfies` keeps it exhaustive:
 * adding an error class without a row is a compile error.
 */
export const errorTable = {
  InvalidRequest: { code: "invalid_request", status: 400 },
  InvalidClient: { code: "invalid_client", status: 401 },
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
  NotFound: { code: "not_found", status: 404 },
  MethodNotAllowed: { code: "invalid_request", status: 405 },
  PayloadTooLarge: { code: "invalid_request", status: 413 },
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
