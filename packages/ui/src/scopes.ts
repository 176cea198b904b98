/** What each scope lets the application do, in words for the consent page (OIDC Core §5.4, §11). */
export const DEFAULT_SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  openid: "Know who you are (your account identifier)",
  profile: "See your basic profile: name, username, picture and similar details",
  email: "See your email address",
  address: "See your postal address",
  phone: "See your phone number",
  offline_access: "Keep access while you are not using it, without asking you again"
}

export const describeScope = (scope: string, descriptions: Readonly<Record<string, string>>): string =>
  Object.hasOwn(descriptions, scope) ? descriptions[scope]! : `Use the “${scope}” permission`
