/**
 * The app's OWN login and consent page, in place of @gatehouse/ui's default ones: used when
 * the app runs with GATEHOUSE_PAGES=own (lib/gatehouse.ts points `interactionUrl` here). A
 * Server Component reads the pending interaction; Server Actions sign the user in your way
 * (here: the demo accounts) and hand the result back to Gatehouse, which redirects the
 * browser on to the client. Next's Server Actions bring their own CSRF protection.
 */
import { completeInteraction, denyInteraction, getInteraction } from "@gatehouse/next"
import { notFound, redirect } from "next/navigation"
import { getGatehouse } from "@/lib/gatehouse"

export const dynamic = "force-dynamic"

type Props = { params: Promise<{ id: string }>; searchParams: Promise<{ error?: string }> }

async function signIn(id: string, form: FormData) {
  "use server"
  const gh = getGatehouse()
  // your own credential check goes here
  const accountId = await gh.accounts.authenticate(String(form.get("username") ?? ""), String(form.get("password") ?? ""))
  if (accountId === undefined) redirect(`/signin/${encodeURIComponent(id)}?error=credentials`)
  // RFC 8176 §2: "pwd"
  const { consentRequired } = await gh.interactions.authenticate(id, { accountId, amr: ["pwd"] })
  if (consentRequired) redirect(`/signin/${encodeURIComponent(id)}`)
  await completeInteraction(gh, id)
}

async function decide(id: string, form: FormData) {
  "use server"
  const gh = getGatehouse()
  const interaction = await getInteraction(gh, id)
  if (!interaction) notFound()
  if (form.get("decision") === "allow") await completeInteraction(gh, id, { grantedScopes: interaction.scope })
  await denyInteraction(gh, id)
}

export default async function SignIn({ params, searchParams }: Props) {
  const { id } = await params
  const { error } = await searchParams
  const interaction = await getInteraction(getGatehouse, id)
  if (!interaction) notFound()
  const client = interaction.clientName ?? interaction.clientId
  if (interaction.prompt.includes("login")) {
    return (
      <main>
        <h1>Sign in to continue to {client}</h1>
        {error ? <p role="alert">Incorrect username or password.</p> : null}
        <form action={signIn.bind(null, id)}>
          <p>
            <label htmlFor="username">Username</label>
            <br />
            <input id="username" name="username" autoComplete="username" required defaultValue={interaction.loginHint} />
          </p>
          <p>
            <label htmlFor="password">Password</label>
            <br />
            <input id="password" name="password" type="password" autoComplete="current-password" required />
          </p>
          <button type="submit">Sign in</button>
        </form>
      </main>
    )
  }
  return (
    <main>
      <h1>{client} asks for access</h1>
      <ul>
        {interaction.scope.map((scope) => <li key={scope}>{scope}</li>)}
      </ul>
      <form action={decide.bind(null, id)}>
        <button type="submit" name="decision" value="allow">Allow</button>{" "}
        <button type="submit" name="decision" value="deny">Deny</button>
      </form>
    </main>
  )
}
