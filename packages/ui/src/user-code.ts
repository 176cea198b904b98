/**
 * The user-code entry page (RFC 8628 `verification_uri`; RFC 9635 §4.1.2 static user-code
 * URI), served by `createInteractionPages` at the path of `config.userCode.verificationUri`:
 *
 *   GET  {path}[?user_code=XXXX-XXXX]   the form, pre-filled from `verification_uri_complete`
 *   POST {path}                          user_code -> `userCodes.submit` -> the login/consent pages
 *
 * CSRF-protected like the other forms (double-submit cookie scoped to the page, Fetch
 * metadata / Origin). Wrong codes count against the browser (its CSRF cookie value) and,
 * when the host says how to read it, the client address; past the limit the page answers
 * 429 with `Retry-After` (RFC 8628 §5.1).
 */
import type { GatehouseInstance } from "@gatehouse/core"
import { CSRF_FIELD, csrfCookie, isWellFormed, newToken, readCookie, sameOrigin, tokensMatch } from "./csrf.js"
import { errorPage, type Layout, userCodePage } from "./templates.js"

export interface UserCodeRouteDeps {
  readonly gh: Pick<GatehouseInstance, "config" | "userCodes">
  readonly layout: Layout
  /** where the page is served */
  readonly path: string
  readonly cookieName: string
  readonly clientAddress?: ((request: Request) => string | undefined) | undefined
  readonly html: (body: string, status: number, cookies?: ReadonlyArray<string>) => Response
  readonly seeOther: (location: string, cookies?: ReadonlyArray<string>) => Response
  readonly readForm: (request: Request) => Promise<URLSearchParams | "too-large" | "unsupported">
  readonly fromError: (error: unknown) => Response
}

const REASONS = {
  malformed: "That does not look like a code. It has 8 letters, like BCDF-GHJK.",
  unknown: "That code is not valid. Check it against your device and try again.",
  expired: "That code has expired. Start again on your device to get a new one.",
  used: "That code was already used. Start again on your device to get a new one."
} as const

export const makeUserCodeRoute = (deps: UserCodeRouteDeps) => {
  const { gh, layout, path } = deps
  const setCsrf = (value: string) =>
    csrfCookie(deps.cookieName, value, { path, secure: gh.config.cookies.secure, maxAge: gh.config.userCode.failureWindow })
  const form = (csrf: string, v: { userCode?: string | undefined; prefilled?: boolean; error?: string }, status: number) =>
    deps.html(userCodePage(layout, { action: path, csrf, ...v }), status, [setCsrf(csrf)])

  const show = (request: Request, url: URL): Response => {
    const existing = readCookie(request, deps.cookieName)
    const csrf = isWellFormed(existing) ? existing : newToken()
    // RFC 8628 §3.3.1: verification_uri_complete carries the code; the user still confirms it
    const given = url.searchParams.get("user_code") ?? undefined
    const userCode = given !== undefined && given.length <= 64 ? given : undefined
    return form(csrf, { userCode, prefilled: userCode !== undefined }, 200)
  }

  const submit = async (request: Request): Promise<Response> => {
    if (!sameOrigin(request, new URL(request.url).origin)) return forbidden()
    const body = await deps.readForm(request)
    if (body === "too-large") return deps.html(errorPage(layout, "Please try again", "The form was too large."), 413)
    if (body === "unsupported") return deps.html(errorPage(layout, "Please try again", "The form could not be read."), 415)
    const csrf = readCookie(request, deps.cookieName)
    if (!tokensMatch(csrf, body.get(CSRF_FIELD) ?? undefined)) return forbidden()
    const typed = body.get("user_code") ?? ""
    const address = deps.clientAddress?.(request)
    const result = await gh.userCodes.submit(typed, {
      attemptKeys: [`browser:${csrf}`, ...(address ? [`ip:${address}`] : [])],
      request
    })
    switch (result.outcome) {
      case "accepted":
        return deps.seeOther(result.redirectTo, result.setCookie === undefined ? [] : [result.setCookie])
      case "rejected": {
        const left = result.attemptsLeft
        const warning = left !== undefined && left <= 2
          ? ` ${left === 0 ? "This was the last try for now." : `${left} ${left === 1 ? "try" : "tries"} left.`}`
          : ""
        return form(csrf!, { userCode: typed.slice(0, 64), error: `${REASONS[result.reason]}${warning}` }, 400)
      }
      case "too_many_attempts": {
        const minutes = Math.ceil(result.retryAfter / 60)
        const response = deps.html(
          errorPage(layout, "Too many attempts", `Too many wrong codes were entered. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`),
          429
        )
        response.headers.set("retry-after", String(result.retryAfter))
        return response
      }
    }
  }

  const forbidden = () =>
    deps.html(
      errorPage(layout, "Please try again", "This form was not accepted: it has expired or was sent from another site. Go back, reload the page and try again."),
      403
    )

  return async (request: Request): Promise<Response> => {
    const method = request.method.toUpperCase()
    try {
      if (method === "GET" || method === "HEAD") return show(request, new URL(request.url))
      if (method === "POST") return await submit(request)
      const response = deps.html(errorPage(layout, "Method not allowed", "This page cannot be used that way."), 405)
      response.headers.set("allow", "GET, POST")
      return response
    } catch (error) {
      return deps.fromError(error)
    }
  }
}
