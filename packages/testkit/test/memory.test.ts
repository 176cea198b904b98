/** The in-memory storage runs the conformance suite: five "connections" over one database. */
import { makeMemoryDatabase, MemoryStorage, storageConformance } from "@gatehouse/testkit"

const db = makeMemoryDatabase()

storageConformance("memory", { connect: () => MemoryStorage.layer(db) })
