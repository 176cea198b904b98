import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    // run the TypeScript sources of workspace packages, not their dist
    conditions: ["source"]
  },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
