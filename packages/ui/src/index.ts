/**
 * @gatehouse/ui: default server-rendered pages for the interaction hand-off (login,
 * consent, errors), as a Fetch handler. Production apps usually replace them with their
 * own pages calling `gh.interactions.*`; these are the ready-made host the quickstart uses.
 */
export { createInteractionPages, type InteractionPages, type InteractionPagesOptions, type PagesGatehouse } from "./pages.js"
export { DEFAULT_SCOPE_DESCRIPTIONS } from "./scopes.js"
export { THEME_DEFAULTS, type ThemeVariable } from "./templates.js"
