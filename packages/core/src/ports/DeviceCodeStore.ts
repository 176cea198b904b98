/**
 * Device codes of the device authorization grant (RFC 8628), stored by digest of the
 * 256-bit `device_code` (§5.2: a high-entropy credential the device polls with). The user
 * code that opens the verification step lives in the user-code engine (`UserCodeStore`);
 * this record keeps only its digest.
 *
 * Life of a record: `pending` -> (`approve`) `authorized` -> (`consume`) `consumed`, or
 * `pending` -> (`deny`) `denied`. Each move is a compare-and-set that holds across
 * processes; a consumed record is kept until it expires so a replay is recognised.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../errors.js"

export type DeviceCodeState = "pending" | "authorized" | "denied" | "consumed"

export interface DeviceCodeRecord {
  readonly deviceCodeDigest: string
  /** digest of the normalised user code (RFC 8628 §6.1) shown with this device code */
  readonly userCodeDigest: string
  /** the grant (token family) every token issued from this device code belongs to */
  readonly grantId: string
  readonly clientId: string
  /** requested scopes while pending; the scopes the user granted once authorized */
  readonly scope: ReadonlyArray<string>
  /** RFC 8707 resource indicators of the device authorization request */
  readonly resource: ReadonlyArray<string>
  readonly state: DeviceCodeState
  /** the approving account, once authorized */
  readonly accountId?: string | undefined
  /** seconds since epoch: when that account authenticated (OIDC Core §2 `auth_time`) */
  readonly authTime?: number | undefined
  readonly acr?: string | undefined
  readonly amr?: ReadonlyArray<string> | undefined
  /**
   * Seconds the client must wait between polls: RFC 8628 §3.2 `interval`, raised by 5 for
   * every `slow_down` (§3.5).
   */
  readonly interval: number
  /** milliseconds since epoch of the last token request with this device code */
  readonly lastPolledAt?: number | undefined
  /** milliseconds since epoch */
  readonly createdAt: number
  /** milliseconds since epoch: RFC 8628 §3.2 `expires_in` after `createdAt` */
  readonly expiresAt: number
  /** milliseconds since epoch; set by `consume` */
  readonly consumedAt?: number | undefined
}

/** What the user decided, stored by `approve`. */
export interface DeviceApproval {
  readonly accountId: string
  /** the scopes granted (a subset of those requested) */
  readonly scope: ReadonlyArray<string>
  /** seconds since epoch */
  readonly authTime: number
  readonly acr?: string | undefined
  readonly amr?: ReadonlyArray<string> | undefined
}

export type PollDeviceCodeResult =
  | { readonly _tag: "NotFound" }
  /** `record` as stored after this poll; `slowDown` when the poll came too early */
  | { readonly _tag: "Polled"; readonly record: DeviceCodeRecord; readonly slowDown: boolean }

export type ConsumeDeviceCodeResult =
  /** this caller moved the record from `authorized` to `consumed` (`record` is the consumed one) */
  | { readonly _tag: "Consumed"; readonly record: DeviceCodeRecord }
  /** the record was not `authorized` (still pending, denied, or already consumed) */
  | { readonly _tag: "NotAuthorized"; readonly record: DeviceCodeRecord }
  | { readonly _tag: "NotFound" }

export class DeviceCodeStore extends Context.Service<DeviceCodeStore, {
  /** Insert a new record. A duplicate `deviceCodeDigest` fails with StorageError. */
  save(record: DeviceCodeRecord): Effect.Effect<void, StorageError>
  find(deviceCodeDigest: string): Effect.Effect<DeviceCodeRecord | undefined, StorageError>
  /**
   * RFC 8628 §3.5: record a token request at `now`. When the previous one was less than
   * `interval` seconds before `now`, this one is too fast: `interval` grows by 5 (for this
   * and every later poll) and `slowDown` is true. `lastPolledAt` becomes `now` either way.
   * Atomic across processes: concurrent polls are ordered, so of N polls at one instant at
   * most one is not too fast. State and expiry are the caller's checks.
   */
  poll(deviceCodeDigest: string, now: number): Effect.Effect<PollDeviceCodeResult, StorageError>
  /**
   * `pending` -> `authorized`, storing `approval` (its scope replaces the requested one).
   * False when the record is missing or not pending (a concurrent decision, a replay).
   */
  approve(deviceCodeDigest: string, approval: DeviceApproval): Effect.Effect<boolean, StorageError>
  /** `pending` -> `denied`. False when the record is missing or not pending. */
  deny(deviceCodeDigest: string): Effect.Effect<boolean, StorageError>
  /**
   * `authorized` -> `consumed` at `now`. Exactly one of N concurrent callers (across
   * processes) gets `Consumed`; the others get `NotAuthorized` with the stored record.
   * Expiry is the caller's check.
   */
  consume(deviceCodeDigest: string, now: number): Effect.Effect<ConsumeDeviceCodeResult, StorageError>
  /** Delete records that expired before `now`, in any state. Returns the number removed. */
  sweep(now: number): Effect.Effect<number, StorageError>
}>()("@gatehouse/core/ports/DeviceCodeStore") {}
