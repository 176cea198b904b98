/**
 * `@gatehouse/testkit/memory`: the in-memory storage ports, the demo accounts and the GNAP
 * test client — everything in the test kit but the vitest suites, so a running app (the
 * examples, a demo, a benchmark) can import it without loading vitest.
 */
export * from "./accounts.js"
export * from "./gnap-client.js"
export * from "./memory.js"
export * from "./rate-limiter.js"
