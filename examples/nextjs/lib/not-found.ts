/**
 * The app's own "page not found", for the paths a catch-all Gatehouse route receives but
 * Gatehouse does not serve (same text as app/not-found.tsx).
 */
export const NOT_FOUND_TEXT = "There is no page at this address."

export const notFoundResponse = (): Response =>
  new Response(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Page not found</title></head>` +
      `<body style="font:16px/1.6 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1.25rem"><main id="host-not-found"><h1>Page not found</h1><p>${NOT_FOUND_TEXT}</p><p><a href="/">Home</a></p></main></body></html>`,
    { status: 404, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } }
  )
