import { NOT_FOUND_TEXT } from "@/lib/not-found"

export default function NotFound() {
  return (
    <main id="host-not-found">
      <h1>Page not found</h1>
      <p>{NOT_FOUND_TEXT}</p>
      <p>
        <a href="/">Home</a>
      </p>
    </main>
  )
}
