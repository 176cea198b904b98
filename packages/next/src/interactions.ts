/**
 * The interaction hand-off (DESIGN.md) from a Next app's own pages: read the pending
 * interaction in a Server Component, finish it in a Server Action (or a route handler) and
 * send the browser back to Gatehouse.
 *
 *   // app/login/[id]/page.tsx (Server Component)
 *   const interaction = await getInteraction(getGatehouse, id)
 *   if (!interaction) notFound()
 *   // the form's Server Action, once the user is signed in your way:
 *   await completeInteraction(getGatehouse, id, { accountId, amr: ["pwd"] })   // redirects
 *
 * The way back is Gatehouse's resume endpoint, which hands the client its code once: serve
 * Gatehouse through `gatehouseRouteHandlers`, which keeps Next's router from spending it.
 */
import { type CompleteResult, type DenyReason, type InteractionDetails, type InteractionsApi, isInternal, type ProtocolError } from "@gatehouse/core"
import { redirect } from "next/navigation.js"
import type { Source } from "./route-handlers.js"

/** What the helpers use of a Gatehouse instance. */
export interface InteractionHost {
  readonly interactions: InteractionsApi
}

const resolve = async (source: Source<InteractionHost>): Promise<InteractionHost> =>
  typeof source === "function" ? source() : source

const isRefusal = (error: unknown): boolean =>
  typeof error === "object" && error !== null && typeof (error as { _tag?: unknown })._tag === "string" &&
  !isInternal(error as ProtocolError)

/**
 * The pending interaction (client, scopes, whether the user must sign in and/or consent), or
 * `undefined` when `id` names none that can still be finished (unknown, expired, finished).
 * Internal failures (storage down) reject.
 */
export const getInteraction = async (gatehouse: Source<InteractionHost>, id: string | undefined): Promise<InteractionDetails | undefined> => {
  if (typeof id !== "string" || id === "") return undefined
  const gh = await resolve(gatehouse)
  try {
    return await gh.interactions.details(id)
  } catch (error) {
    if (isRefusal(error)) return undefined
    throw error
  }
}

/**
 * Finish the interaction (`interactions.complete`) and redirect the browser back to Gatehouse
 * with Next's `redirect()`: call it from a Server Action or a Server Component, outside any
 * `try`. Rejects with the protocol error when the interaction cannot be finished.
 */
export const completeInteraction = async (gatehouse: Source<InteractionHost>, id: string, result: CompleteResult = {}): Promise<never> => {
  const { redirectTo } = await (await resolve(gatehouse)).interactions.complete(id, result)
  redirect(redirectTo)
}

/**
 * The user refused (`interactions.deny`): redirect back to Gatehouse, which sends the client
 * `access_denied` (RFC 6749 §4.1.2.1). Same rules as `completeInteraction`.
 */
export const denyInteraction = async (gatehouse: Source<InteractionHost>, id: string, reason?: DenyReason): Promise<never> => {
  const { redirectTo } = await (await resolve(gatehouse)).interactions.deny(id, reason)
  redirect(redirectTo)
}

/**
 * For route handlers: the `303 See Other` to where `interactions.complete`/`deny` said, so a
 * form POST becomes a GET of Gatehouse's resume endpoint (RFC 9110 §15.4.4).
 */
export const interactionRedirect = (redirectTo: string): Response =>
  new Response(null, { status: 303, headers: { location: redirectTo, "cache-control": "no-store", "referrer-policy": "no-referrer" } })
