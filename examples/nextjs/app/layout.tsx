import type { Metadata } from "next"
import type { ReactNode } from "react"

export const metadata: Metadata = {
  title: "Gatehouse × Next.js",
  description: "A Next.js app that embeds an OAuth 2.1 / OpenID Connect authorization server."
}

// System fonts only: nothing is fetched at build time or by the browser.
const css = `
:root{color-scheme:light dark;--bg:#fff;--text:#1b1f24;--muted:#57606a;--code:#f2f4f7;--link:#1f4fd1}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--text:#e6edf3;--muted:#9da7b3;--code:#161b22;--link:#6ea8fe}}
body{font:16px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--text);max-width:46rem;margin:3rem auto;padding:0 1.25rem}
h1{line-height:1.2}a{color:var(--link)}p.muted{color:var(--muted)}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code);border-radius:4px}
code{padding:.1rem .3rem}pre{padding:1rem;overflow-x:auto}
`

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <head>
        <style>{css}</style>
      </head>
      <body>{children}</body>
    </html>
  )
}
