export * from "./errors.js"
export * from "./ports/index.js"
export * from "./config.js"
export * from "./schema/client.js"
