#!/usr/bin/env node
// A committed shim so the bin exists at install time (before `tsc -b` builds dist/).
await import("../dist/bin/gatehouse-migrate.js")
