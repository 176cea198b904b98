/**
 * One instance per process. Next may evaluate a module several times in one process (each
 * dev hot reload; a module shared by several routes), while Gatehouse must be built once: one
 * database pool, one set of keys, one background sweeper. The instance is kept on
 * `globalThis` under a registered symbol, which outlives module reloads.
 */

const registry = globalThis as unknown as Record<symbol, unknown>

/**
 * The value stored under `name` in this process, made by `create()` on first use. A `create`
 * that throws stores nothing (the next call tries again).
 *
 *   export const getGatehouse = () => singleton("gatehouse", () => createGatehouse({ ... }))
 *
 * > [!NOTE]
 * > In `next dev`, edits to the code that builds the instance take effect after a restart.
 */
export const singleton = <T>(name: string, create: () => T): T => {
  const key = Symbol.for(`@gatehouse/next/singleton/${name}`)
  if (!Object.hasOwn(registry, key)) registry[key] = create()
  return registry[key] as T
}

/**
 * Forget the value stored under `name` and give it back (to dispose of it), for tests and
 * for hosts that rebuild their instance.
 */
export const forgetSingleton = <T>(name: string): T | undefined => {
  const key = Symbol.for(`@gatehouse/next/singleton/${name}`)
  const value = registry[key] as T | undefined
  delete registry[key]
  return value
}
