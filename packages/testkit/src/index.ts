/**
 * @gatehouse/testkit: in-memory storage ports, demo accounts, and the storage conformance
 * suite every storage adapter runs.
 */
export * from "./accounts.js"
export * from "./adapter-suite.js"
export * from "./conformance.js"
export * from "./gnap-client.js"
export * from "./memory.js"
export * from "./rate-limiter.js"
