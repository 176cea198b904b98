/**
 * The default host for the interaction hand-off (DESIGN.md): a Fetch handler serving
 *
 *   GET  {basePath}/:id          the login form when the user must sign in, else the consent page
 *   POST {basePath}/:id/login    username + password -> `accounts.check` (rate-limited: 429 past the
 *                                limit) -> `interactions.authenticate`
 *   POST {basePath}/:id/consent  action=allow -> `interactions.complete`; action=deny -> `interactions.deny`
 *
 * Finished interactions answer 303 to where core says (its resume endpoint). Unknown,
 * expired or finished interactions get an error page (400), forged forms a 403 page.
 */
import { type GatehouseInstance, htmlHeaders, isInternal, type ProtocolError, publicDescription, remoteAddressOf } from "@gatehouse/core"
import { CSRF_FIELD, csrfCookie, isWellFormed, newToken, readCookie, sameOrigin, tokensMatch } from "./csrf.js"
import { DEFAULT_SCOPE_DESCRIPTIONS } from "./scopes.js"
import { makeUserCodeRoute } from "./user-code.js"
import { type ClientView, consentPage, errorPage, type Layout, loginPage, THEME_DEFAULTS, type ThemeVariable } from "./templates.js"

/** What the pages use of a Gatehouse instance. */
export type PagesGatehouse = Pick<GatehouseInstance, "config" | "interactions" | "accounts"> & Partial<Pick<GatehouseInstance, "userCodes">>

export interface InteractionPagesOptions {
  /**
   * Path the pages are served under; `{basePath}/:id` must be where the config's
   * `interactionUrl` points. Default: taken from `interactionUrl` ("/interaction").
   */
  readonly basePath?: string | undefined
  /** The site's name, shown atop every page and in the title. Default: the issuer's host. */
  readonly title?: string | undefined
  /** `--gh-*` CSS variables, e.g. `{ accent: "#0a7d52", radius: "4px" }`. */
  readonly theme?: Partial<Record<ThemeVariable, string>> | undefined
  /** CSS appended after the defaults. */
  readonly css?: string | undefined
  /** Scope descriptions on the consent page, merged over the OpenID ones. */
  readonly scopeDescriptions?: Readonly<Record<string, string>> | undefined
  /** Internal failures (storage down, ...); default `console.error`. The user sees a generic page. */
  readonly onError?: ((error: unknown) => void) | undefined
  /**
   * Path of the user-code entry page (RFC 8628 `verification_uri`, GNAP user codes), or
   * `false` for none. Default: the path of `config.userCode.verificationUri` when it is on
   * the issuer's origin ("/device").
   */
  readonly userCodePath?: string | false | undefined
  /**
   * The client's address, to limit wrong user codes per address as well as per browser
   * (RFC 8628 §5.1), and wrong passwords per address as well as per username (core config
   * `rateLimit.login`).
   * Default: the address the Express / Fastify adapter puts on the request (the framework's
   * `ip`, per its own trust-proxy setting); none on other platforms.
   * > [!WARNING] Without one the limit is per browser only, and a script can start a new
   * > "browser" (drop its cookies) at will. Return an address you can trust (the socket's, or
   * > your own proxy's header), never one any client can set.
   */
  readonly clientAddress?: ((request: Request) => string | undefined) | undefined
}

export interface InteractionPages {
  readonly handler: (request: Request) => Promise<Response>
  /** whether `pathname` is one of the pages (adapters pass other requests on) */
  readonly handles: (pathname: string) => boolean
  /** the path the pages are served under */
  readonly basePath: string
}

/** 16 KiB is plenty for a username, a password and a token. */
const MAX_FORM_BYTES = 16 * 1024

/** Interaction ids are core's random tokens (base64url); anything else is not one. */
const ID = /^[A-Za-z0-9_-]{1,256}$/

/** CSS values must stay inside their declaration and the `<style>` element. */
const UNSAFE_CSS_VALUE = /[<>{};\\]/

const ID_PLACEHOLDER = "gh-interaction-id"

/** The path of `config.userCode.verificationUri` when it is on the issuer's origin. */
const defaultUserCodePath = (gh: PagesGatehouse): string | undefined => {
  const uri = gh.config.userCode?.verificationUri
  if (uri === undefined) return undefined
  const url = new URL(uri)
  return url.origin === gh.config.origin ? url.pathname : undefined
}

const basePathFromConfig = (gh: PagesGatehouse): string => {
  try {
    const path = new URL(gh.config.interactionUrl(ID_PLACEHOLDER)).pathname
    if (path.endsWith(`/${ID_PLACEHOLDER}`)) return path.slice(0, -ID_PLACEHOLDER.length - 1)
  } catch {
    // not a URL with the id in its path
  }
  return "/interaction"
}

/** Pages CSP: as core's `htmlHeaders`, without `form-action`, which browsers also apply to the redirect after the POST (to the client's redirect URI on another origin). */
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"

const html = (body: string, status: number, cookies: ReadonlyArray<string> = []): Response => {
  const headers = new Headers(htmlHeaders(PAGE_CSP))
  for (const c of cookies) headers.append("set-cookie", c)
  return new Response(body, { status, headers })
}

const seeOther = (location: string, cookies: ReadonlyArray<string> = []): Response => {
  const headers = new Headers({ location, "cache-control": "no-store", "referrer-policy": "no-referrer" })
  for (const c of cookies) headers.append("set-cookie", c)
  return new Response(null, { status: 303, headers })
}

const isProtocolError = (error: unknown): error is ProtocolError =>
  typeof error === "object" && error !== null && "_tag" in error && typeof (error as { _tag: unknown })._tag === "string"

/** Read an `application/x-www-form-urlencoded` body, at most `MAX_FORM_BYTES`. */
const readForm = async (request: Request): Promise<URLSearchParams | "too-large" | "unsupported"> => {
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase()
  if (type !== "application/x-www-form-urlencoded") return "unsupported"
  const declared = Number(request.headers.get("content-length") ?? "0")
  if (declared > MAX_FORM_BYTES) return "too-large"
  if (request.body === null) return new URLSearchParams()
  const reader = request.body.getReader()
  const chunks: Array<Uint8Array> = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > MAX_FORM_BYTES) {
      await reader.cancel().catch(() => {})
      return "too-large"
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const c of chunks) {
    bytes.set(c, offset)
    offset += c.byteLength
  }
  return new URLSearchParams(new TextDecoder().decode(bytes))
}

const validateTheme = (theme: InteractionPagesOptions["theme"]): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(theme ?? {})) {
    if (value === undefined) continue
    if (!Object.hasOwn(THEME_DEFAULTS, name)) {
      throw new TypeError(`"theme.${name}" is not a theme variable (${Object.keys(THEME_DEFAULTS).join(", ")})`)
    }
    if (UNSAFE_CSS_VALUE.test(value)) throw new TypeError(`"theme.${name}" must be a plain CSS value`)
    out[name] = value
  }
  return out
}

/**
 * The default login, consent and error pages as a Fetch handler. Mount it next to the
 * Gatehouse handler (`@gatehouse/express`'s `fetchMiddleware`, or route `handles(path)`
 * to `handler` yourself).
 */
export const createInteractionPages = (gh: PagesGatehouse, options: InteractionPagesOptions = {}): InteractionPages => {
  const basePath = (options.basePath ?? basePathFromConfig(gh)).replace(/\/+$/, "")
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(basePath)) {
    throw new TypeError(`"basePath" must be a path such as "/interaction", got "${options.basePath}"`)
  }
  if (options.css !== undefined && /<\/style/i.test(options.css)) throw new TypeError(`"css" must not close the style element`)
  const layout: Layout = { siteName: options.title ?? new URL(gh.config.issuer).host, theme: validateTheme(options.theme), css: options.css ?? "" }
  const descriptions = { ...DEFAULT_SCOPE_DESCRIPTIONS, ...options.scopeDescriptions }
  const onError = options.onError ?? ((error: unknown) => console.error("gatehouse ui: internal error", error))
  const cookieName = `${gh.config.cookies.name}.csrf`
  const route = new RegExp(`^${basePath.replace(/[.]/g, "\\.")}/([^/]+)(/login|/consent)?/?$`)

  const interactionPath = (id: string) => `${basePath}/${encodeURIComponent(id)}`
  const setCsrf = (id: string, value: string) =>
    csrfCookie(cookieName, value, { path: interactionPath(id), secure: gh.config.cookies.secure, maxAge: gh.config.ttl.interaction })
  const clearCsrf = (id: string) => csrfCookie(cookieName, "", { path: interactionPath(id), secure: gh.config.cookies.secure, maxAge: 0 })

  const failure = (title: string, message: string, status: number) => html(errorPage(layout, title, message), status)
  const notUsable = (message = "This sign-in has expired or was already used.") => failure("This sign-in cannot continue", message, 400)
  const forbidden = () =>
    failure("Please try again", "This form was not accepted: it has expired or was sent from another site. Go back, reload the page and try again.", 403)

  /** Interaction API failures: the user's own (400 page with core's public text) or ours (500, logged). */
  const fromError = (error: unknown): Response => {
    if (isProtocolError(error) && !isInternal(error)) {
      const text = publicDescription(error).replace(/\.?$/, ".")
      return notUsable(`${text.charAt(0).toUpperCase()}${text.slice(1)}`)
    }
    onError(error)
    return failure("Something went wrong", "We could not complete your sign-in. Please try again in a moment.", 500)
  }

  const clientOf = (d: Awaited<ReturnType<PagesGatehouse["interactions"]["details"]>>): ClientView => ({
    name: d.clientName ?? d.clientId,
    uri: d.clientUri,
    policyUri: d.policyUri,
    tosUri: d.tosUri
  })

  const show = async (id: string, request: Request): Promise<Response> => {
    const d = await gh.interactions.details(id)
    const existing = readCookie(request, cookieName)
    const csrf = isWellFormed(existing) ? existing : newToken()
    const cookies = [setCsrf(id, csrf)]
    if (d.prompt.includes("login")) {
      const body = loginPage(layout, { action: `${interactionPath(id)}/login`, csrf, client: clientOf(d), username: d.loginHint })
      return html(body, 200, cookies)
    }
    const body = consentPage(layout, {
      action: `${interactionPath(id)}/consent`,
      csrf,
      client: clientOf(d),
      scopes: d.scope,
      descriptions,
      account: d.accountId,
      device: d.kind === "device"
    })
    return html(body, 200, cookies)
  }

  /**
   * The host's `clientAddress` of the request (a throwing reader gives none); by default the
   * address `@gatehouse/express` / `@gatehouse/fastify` put on the requests they build.
   */
  const addressOf = (request: Request): string | undefined => {
    try {
      if (options.clientAddress !== undefined) return options.clientAddress(request) || undefined
      return remoteAddressOf(request)
    } catch {
      return undefined
    }
  }

  const login = async (id: string, form: URLSearchParams, csrf: string, request: Request): Promise<Response> => {
    const d = await gh.interactions.details(id)
    // already signed in (back button, double submit): show where the interaction stands
    if (!d.prompt.includes("login")) return seeOther(interactionPath(id))
    const username = form.get("username") ?? ""
    const password = form.get("password") ?? ""
    const again = (error: string, status: number) =>
      html(loginPage(layout, { action: `${interactionPath(id)}/login`, csrf, client: clientOf(d), username: username || d.loginHint, error }), status)
    if (username === "" || password === "") return again("Enter your username and password.", 400)
    // rate-limited per username and address (core config `rateLimit.login`, RFC 6749 §10.10)
    const checked = await gh.accounts.check(username, password, { address: addressOf(request) })
    if (checked.outcome === "too_many_attempts") {
      const minutes = Math.ceil(checked.retryAfter / 60)
      // RFC 6585 §4: 429 with Retry-After; the same form, so the user can come back to it
      const response = again(`Too many failed sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`, 429)
      response.headers.set("retry-after", String(checked.retryAfter))
      return response
    }
    if (checked.outcome === "rejected") return again("Incorrect username or password.", 401)
    const accountId = checked.accountId
    // RFC 8176 §2: "pwd"
    const { consentRequired } = await gh.interactions.authenticate(id, { accountId, amr: ["pwd"] })
    // POST/redirect/GET: the interaction page now shows the consent step
    if (consentRequired) return seeOther(interactionPath(id))
    const { redirectTo } = await gh.interactions.complete(id, {})
    return seeOther(redirectTo, [clearCsrf(id)])
  }

  const consent = async (id: string, form: URLSearchParams): Promise<Response> => {
    const d = await gh.interactions.details(id)
    if (d.prompt.includes("login")) return seeOther(interactionPath(id))
    const action = form.get("action")
    if (action === "allow") {
      const { redirectTo } = await gh.interactions.complete(id, { grantedScopes: d.scope })
      return seeOther(redirectTo, [clearCsrf(id)])
    }
    if (action === "deny") {
      const { redirectTo } = await gh.interactions.deny(id)
      return seeOther(redirectTo, [clearCsrf(id)])
    }
    return failure("Please choose", "Choose Allow or Deny.", 400)
  }

  // the user-code entry page (RFC 8628 verification_uri), when the instance offers user codes
  const userCodePath = options.userCodePath === false || gh.userCodes === undefined
    ? undefined
    : (options.userCodePath ?? defaultUserCodePath(gh))?.replace(/(.)\/+$/, "$1")
  if (userCodePath !== undefined && !/^(\/[A-Za-z0-9._~-]+)+$/.test(userCodePath)) {
    throw new TypeError(`"userCodePath" must be a path such as "/device", got "${options.userCodePath}"`)
  }
  const userCodeRoute = userCodePath === undefined || gh.userCodes === undefined ? undefined : makeUserCodeRoute({
    gh: { config: gh.config, userCodes: gh.userCodes },
    layout,
    path: userCodePath,
    cookieName,
    clientAddress: addressOf,
    html,
    seeOther,
    readForm,
    fromError
  })
  const isUserCodePage = (pathname: string) =>
    userCodePath !== undefined && (pathname === userCodePath || pathname === `${userCodePath}/`)

  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url)
    if (userCodeRoute && isUserCodePage(url.pathname)) return userCodeRoute(request)
    const match = route.exec(url.pathname)
    if (!match) return failure("Page not found", "There is no page here.", 404)
    let id: string
    try {
      id = decodeURIComponent(match[1]!)
    } catch {
      return notUsable()
    }
    if (!ID.test(id)) return notUsable()
    const step = match[2]
    const method = request.method.toUpperCase()
    try {
      if (step === undefined) {
        if (method !== "GET" && method !== "HEAD") return methodNotAllowed("GET")
        return await show(id, request)
      }
      if (method !== "POST") return methodNotAllowed("POST")
      if (!sameOrigin(request, url.origin)) return forbidden()
      const form = await readForm(request)
      if (form === "too-large") return failure("Please try again", "The form was too large.", 413)
      if (form === "unsupported") return failure("Please try again", "The form could not be read.", 415)
      const csrf = readCookie(request, cookieName)
      if (!tokensMatch(csrf, form.get(CSRF_FIELD) ?? undefined)) return forbidden()
      return step === "/login" ? await login(id, form, csrf!, request) : await consent(id, form)
    } catch (error) {
      return fromError(error)
    }
  }

  const methodNotAllowed = (allow: string) => {
    const response = failure("Method not allowed", "This page cannot be used that way.", 405)
    response.headers.set("allow", allow)
    return response
  }

  return { handler, handles: (pathname) => route.test(pathname) || isUserCodePage(pathname), basePath }
}
