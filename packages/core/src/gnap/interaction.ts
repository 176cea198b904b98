/**
 * GNAP's side of the interaction hand-off (RFC 9635 §4): the payload it stores on the
 * InteractionStore record (shaped like /authorize's, so the host's pages and the
 * interaction API treat both alike), and the consent strings shown for access rights.
 */
import type { ClientDisplay } from "./request.js"

/** What a GNAP interaction record's `payload` holds. */
export interface GnapInteractionPayload {
  readonly grantId: string
  /** the shape the interaction API reads (interactions/api.ts) */
  readonly request: {
    readonly clientId: string
    /** one consent line per distinct access right (request.ts `describeAccess`) */
    readonly scope: ReadonlyArray<string>
    /** GNAP always asks the RO (§4): no remembered consent */
    readonly prompt: ReadonlyArray<string>
    readonly uiLocales?: string | undefined
    readonly loginHint?: string | undefined
  }
  readonly prompt: ReadonlyArray<"login" | "consent">
  readonly session?: {
    readonly accountId: string
    readonly authTime: number
    readonly acr?: string | undefined
    readonly amr?: ReadonlyArray<string> | undefined
    readonly sessionDigest: string
  } | undefined
  /** §2.3.2 client display information */
  readonly display?: ClientDisplay | undefined
}

/** The consent line for a `subject` request (§2.2). */
export const SUBJECT_CONSENT = "subject information (who you are)"
