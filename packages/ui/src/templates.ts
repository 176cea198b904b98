/**
 * The pages' HTML: server-rendered, no script, no external asset, every field labelled,
 * errors announced (`role="alert"`) and tied to the fields they concern. Every
 * interpolated value goes through `escapeHtml`. Colours, radius and font are CSS variables
 * (`--gh-*`) so a host restyles the pages without replacing them.
 */
import { escapeHtml } from "@gatehouse/core"
import { describeScope } from "./scopes.js"

const e = escapeHtml

/** The variables a theme may set, with their light defaults. */
export const THEME_DEFAULTS = {
  bg: "#f4f5f7",
  surface: "#ffffff",
  text: "#1b1f24",
  muted: "#57606a",
  border: "#d0d7de",
  accent: "#1f4fd1",
  "accent-text": "#ffffff",
  danger: "#b42318",
  "danger-bg": "#fef3f2",
  radius: "10px",
  font: "system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif"
} as const

export type ThemeVariable = keyof typeof THEME_DEFAULTS

const vars = (theme: Partial<Record<string, string>>) =>
  Object.entries(theme).map(([k, v]) => `--gh-${k}:${v}`).join(";")

const BASE_CSS = `:root{${vars(THEME_DEFAULTS)};color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--gh-bg:#0f1217;--gh-surface:#171b22;--gh-text:#e6e9ed;--gh-muted:#a4adb9;--gh-border:#333b46;--gh-accent:#8fb0ff;--gh-accent-text:#0b1020;--gh-danger:#ffb4ab;--gh-danger-bg:#3a1513}}
*,*::before,*::after{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:1.5rem;background:var(--gh-bg);color:var(--gh-text);font:16px/1.5 var(--gh-font)}
main{width:100%;max-width:26rem;background:var(--gh-surface);border:1px solid var(--gh-border);border-radius:var(--gh-radius);padding:2rem}
.gh-site{margin:0 0 1.25rem;font-size:.875rem;font-weight:600;color:var(--gh-muted)}
h1{margin:0 0 .5rem;font-size:1.5rem;line-height:1.25}
p{margin:0 0 1rem}
.gh-muted{color:var(--gh-muted);font-size:.875rem}
.gh-field{margin:0 0 1rem}
label{display:block;font-weight:600;margin:0 0 .25rem}
input[type=text],input[type=password]{display:block;width:100%;min-height:2.75rem;padding:.5rem .75rem;font:inherit;color:inherit;background:var(--gh-surface);border:1px solid var(--gh-muted);border-radius:calc(var(--gh-radius) * .6)}
input[aria-invalid=true]{border-color:var(--gh-danger)}
:focus-visible{outline:3px solid var(--gh-accent);outline-offset:2px}
button{display:inline-flex;align-items:center;justify-content:center;min-height:2.75rem;padding:.5rem 1.25rem;font:inherit;font-weight:600;color:var(--gh-text);background:var(--gh-surface);border:1px solid var(--gh-muted);border-radius:calc(var(--gh-radius) * .6);cursor:pointer}
button.gh-primary{color:var(--gh-accent-text);background:var(--gh-accent);border-color:var(--gh-accent)}
button:hover{filter:brightness(.95)}
form>button.gh-primary{width:100%;margin-top:.5rem}
.gh-actions{display:flex;flex-wrap:wrap;gap:.75rem}
.gh-actions button{flex:1 1 8rem}
.gh-alert{margin:0 0 1rem;padding:.75rem 1rem;color:var(--gh-danger);background:var(--gh-danger-bg);border:1px solid currentColor;border-radius:calc(var(--gh-radius) * .6)}
.gh-scopes{list-style:none;margin:0 0 1.5rem;padding:0;border:1px solid var(--gh-border);border-radius:calc(var(--gh-radius) * .6)}
.gh-scopes li{padding:.75rem 1rem}
.gh-scopes li+li{border-top:1px solid var(--gh-border)}
.gh-scopes code{display:block;font-size:.8125rem;color:var(--gh-muted)}
.gh-links{margin:1.5rem 0 0;font-size:.875rem}
.gh-links a{color:var(--gh-accent);margin-right:1rem}
@media (max-width:30rem){body{padding:0;align-items:stretch}main{border:0;border-radius:0;padding:1.5rem}}`

export interface Layout {
  /** the site's name, shown on every page and in the document title */
  readonly siteName: string
  /** `--gh-*` overrides, already validated */
  readonly theme: Readonly<Record<string, string>>
  /** extra CSS appended after the defaults, already validated */
  readonly css: string
}

const document = (layout: Layout, title: string, content: string): string => {
  const overrides = Object.keys(layout.theme).length > 0 ? `\n:root{${vars(layout.theme)}}` : ""
  const extra = layout.css ? `\n${layout.css}` : ""
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${e(title)} – ${e(layout.siteName)}</title>
<style>${BASE_CSS}${overrides}${extra}</style>
</head>
<body>
<main aria-labelledby="gh-title">
<p class="gh-site">${e(layout.siteName)}</p>
${content}
</main>
</body>
</html>
`
}

/** Only http(s) links from client metadata are shown (no `javascript:` URLs). */
const safeUrl = (url: string | undefined): string | undefined => {
  if (url === undefined || !URL.canParse(url)) return undefined
  const { protocol } = new URL(url)
  return protocol === "https:" || protocol === "http:" ? url : undefined
}

export interface ClientView {
  readonly name: string
  readonly uri?: string | undefined
  readonly policyUri?: string | undefined
  readonly tosUri?: string | undefined
}

const clientLinks = (client: ClientView): string => {
  const links = [
    [safeUrl(client.policyUri), "Privacy policy"],
    [safeUrl(client.tosUri), "Terms of service"]
  ].filter((l): l is [string, string] => l[0] !== undefined)
  if (links.length === 0) return ""
  return `<p class="gh-links">${links.map(([href, text]) => `<a href="${e(href)}" rel="noopener noreferrer">${e(text)}<span class="gh-muted"> of ${e(client.name)}</span></a>`).join("")}</p>`
}

const clientName = (client: ClientView): string => {
  const uri = safeUrl(client.uri)
  return uri === undefined ? `<strong>${e(client.name)}</strong>` : `<strong><a href="${e(uri)}" rel="noopener noreferrer">${e(client.name)}</a></strong>`
}

export interface LoginView {
  readonly action: string
  readonly csrf: string
  readonly client: ClientView
  readonly username?: string | undefined
  readonly error?: string | undefined
}

export const loginPage = (layout: Layout, v: LoginView): string => {
  const invalid = v.error === undefined ? "" : ` aria-invalid="true" aria-describedby="gh-error"`
  return document(
    layout,
    "Sign in",
    `<h1 id="gh-title">Sign in</h1>
<p>to continue to ${clientName(v.client)}</p>
${v.error === undefined ? "" : `<p class="gh-alert" id="gh-error" role="alert">${e(v.error)}</p>`}
<form method="post" action="${e(v.action)}">
<input type="hidden" name="csrf" value="${e(v.csrf)}">
<div class="gh-field">
<label for="gh-username">Username</label>
<input id="gh-username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required${v.username ? ` value="${e(v.username)}"` : " autofocus"}${invalid}>
</div>
<div class="gh-field">
<label for="gh-password">Password</label>
<input id="gh-password" name="password" type="password" autocomplete="current-password" required${v.username ? " autofocus" : ""}${invalid}>
</div>
<button type="submit" class="gh-primary">Sign in</button>
</form>
${clientLinks(v.client)}`
  )
}

export interface ConsentView {
  readonly action: string
  readonly csrf: string
  readonly client: ClientView
  readonly scopes: ReadonlyArray<string>
  readonly descriptions: Readonly<Record<string, string>>
  /** the signed-in account, when known */
  readonly account?: string | undefined
  /** the request came from a device through a user code (RFC 8628 §5.4: say so) */
  readonly device?: boolean | undefined
}

export const consentPage = (layout: Layout, v: ConsentView): string => {
  const items = v.scopes.length === 0
    ? `<li>Access your account</li>`
    : v.scopes.map((s) => `<li>${e(describeScope(s, v.descriptions))}<code>${e(s)}</code></li>`).join("\n")
  return document(
    layout,
    "Allow access",
    `<h1 id="gh-title">Allow access?</h1>
<p>${clientName(v.client)} is asking to:</p>
${v.device ? `<p class="gh-muted" id="gh-device-notice">You are connecting a device with a code. Allow only if you started this yourself on a device you have with you.</p>\n` : ""}<ul class="gh-scopes" aria-label="Requested permissions">
${items}
</ul>
${v.account === undefined ? "" : `<p class="gh-muted">Signed in as <strong>${e(v.account)}</strong></p>`}
<form method="post" action="${e(v.action)}">
<input type="hidden" name="csrf" value="${e(v.csrf)}">
<div class="gh-actions">
<button type="submit" name="action" value="deny">Deny</button>
<button type="submit" name="action" value="allow" class="gh-primary">Allow</button>
</div>
</form>
${clientLinks(v.client)}`
  )
}

export const errorPage = (layout: Layout, title: string, message: string): string =>
  document(
    layout,
    title,
    `<h1 id="gh-title">${e(title)}</h1>
<p role="alert">${e(message)}</p>
<p class="gh-muted">Go back to the application you came from and start again.</p>`
  )

export interface UserCodeView {
  readonly action: string
  readonly csrf: string
  /** what to put in the field: a code from `verification_uri_complete`, or what was typed */
  readonly userCode?: string | undefined
  /** the code came with the link: ask the user to check it against the device (RFC 8628 §5.4) */
  readonly prefilled?: boolean | undefined
  readonly error?: string | undefined
}

/**
 * The user-code entry page (RFC 8628 §3.3 `verification_uri`, RFC 9635 §4.1.2): one text
 * field named `user_code`. A code that came in the link is shown for the user to confirm,
 * never submitted for them (RFC 8628 §5.4 remote phishing).
 */
export const userCodePage = (layout: Layout, v: UserCodeView): string => {
  const invalid = v.error === undefined ? "" : ` aria-invalid="true" aria-describedby="gh-error"`
  return document(
    layout,
    "Connect a device",
    `<h1 id="gh-title">Connect a device</h1>
<p>${v.prefilled ? "Check that this is the code shown on your device, then continue." : "Enter the code shown on your device."}</p>
${v.error === undefined ? "" : `<p class="gh-alert" id="gh-error" role="alert">${e(v.error)}</p>`}
<form method="post" action="${e(v.action)}">
<input type="hidden" name="csrf" value="${e(v.csrf)}">
<div class="gh-field">
<label for="gh-user-code">Code</label>
<input id="gh-user-code" name="user_code" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="64" placeholder="XXXX-XXXX" required autofocus${v.userCode ? ` value="${e(v.userCode)}"` : ""}${invalid}>
</div>
<button type="submit" class="gh-primary">Continue</button>
</form>
<p class="gh-muted">Only enter a code from a device you are using yourself. Never enter a code someone sent you.</p>`
  )
}
