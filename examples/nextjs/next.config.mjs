/**
 * Next.js config for the Gatehouse example.
 *
 * The Gatehouse packages run as plain Node modules, not bundled: @gatehouse/drizzle loads
 * better-sqlite3 (a native addon) and reads its migrations folder from disk, and one copy of
 * @gatehouse/core (and of effect) must serve all of them. In an app that installs them from
 * the registry, `serverExternalPackages` is all it takes. In this repository they are
 * workspace links, which Next bundles whatever that list says (it only externalizes files
 * under node_modules), hence the `webpack` hook below and `next build --webpack`.
 * @gatehouse/next stays bundled: it imports `next/navigation`, which Next resolves itself.
 */
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const workspace = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

const GATEHOUSE_EXTERNALS = ["@gatehouse/core", "@gatehouse/drizzle", "@gatehouse/resource", "@gatehouse/testkit", "@gatehouse/ui"]

const isGatehouseExternal = (request) =>
  typeof request === "string" && GATEHOUSE_EXTERNALS.some((p) => request === p || request.startsWith(`${p}/`))

/** @type {import("next").NextConfig} */
const nextConfig = {
  serverExternalPackages: [...GATEHOUSE_EXTERNALS, "better-sqlite3", "drizzle-orm", "pg"],
  webpack: (config, { isServer }) => {
    if (isServer) {
      // loaded by Node from node_modules at run time (ESM packages: `import()`)
      const externals = Array.isArray(config.externals) ? config.externals : config.externals ? [config.externals] : []
      config.externals = [
        ({ request }, callback) => (isGatehouseExternal(request) ? callback(undefined, `module ${request}`) : callback()),
        ...externals
      ]
    }
    return config
  },
  // the workspace root (pnpm-lock.yaml), where the linked packages live
  outputFileTracingRoot: workspace,
  poweredByHeader: false
}

export default nextConfig
