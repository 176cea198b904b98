/**
 * @gatehouse/testkit: in-memory storage ports, demo accounts, and the storage conformance
 * suite every storage adapter runs.
 */
export * from "./accounts.js"
export * from "./conformance.js"
export * from "./memory.js"
