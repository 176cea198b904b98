import { basePath, issuer } from "@/lib/gatehouse"

// rendered per request: the issuer comes from the environment `next start` runs in
export const dynamic = "force-dynamic"

export default function Home() {
  const iss = issuer()
  const base = basePath()
  const discovery = `${iss}/.well-known/openid-configuration`
  return (
    <main>
      <h1>Gatehouse × Next.js</h1>
      <p>
        This is an ordinary Next.js App Router app with its own pages (like this one). It also embeds{" "}
        <strong>Gatehouse</strong>, an OAuth 2.1 and OpenID Connect authorization server, at its own origin: the
        issuer is <code>{iss}</code>.
      </p>
      <h2>Endpoints</h2>
      <ul>
        <li>
          OpenID Connect discovery: <a href={discovery}>{discovery}</a>
        </li>
        <li>
          OAuth server metadata: <a href="/.well-known/oauth-authorization-server">/.well-known/oauth-authorization-server</a>
        </li>
        <li>
          OAuth endpoints under <code>{base || "/"}</code>: <a href={`${base}/jwks`}>{`${base}/jwks`}</a>,{" "}
          <code>{`${base}/authorize`}</code>, <code>{`${base}/token`}</code>, <code>{`${base}/userinfo`}</code>
        </li>
        <li>
          The protected API route: <code>GET /api/me</code> with <code>Authorization: Bearer &lt;access token&gt;</code>
        </li>
      </ul>
      <h2>Try it</h2>
      <p>Register a client (dynamic registration is open in this demo):</p>
      <pre>{`curl -s ${iss}${base}/register -H 'content-type: application/json' \\
  -d '{"redirect_uris":["http://localhost:8080/callback"],"client_name":"My app"}'`}</pre>
      <p>
        Point any OpenID Connect client library at the issuer above, start the authorization code flow with PKCE, and
        sign in with the demo account: username <code>alice</code>, password <code>wonderland</code>. Then call{" "}
        <code>/api/me</code> with the access token.
      </p>
    </main>
  )
}
