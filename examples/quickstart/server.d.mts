/** Types for server.mjs (the quickstart is plain JavaScript; these are for TypeScript callers such as its tests). */
import type { GatehouseInstance } from "@gatehouse/core"
import type { Express } from "express"

export interface DemoUser {
  id: string
  username: string
  password: string
  claims: Record<string, unknown>
}

export declare const DEMO_USERS: ReadonlyArray<DemoUser>
export declare const defaultDatabaseUrl: () => string
export declare const storage: (databaseUrl?: string) => Parameters<typeof import("@gatehouse/core").createGatehouse>[0]["storage"]
export interface GnapResourceKey {
  privateJwk: JsonWebKey & { kid: string; alg: string }
  publicJwk: JsonWebKey & { kid: string; alg: string }
}
/** An ES256 key for the app's GNAP API to prove itself with at introspection (RFC 9767 §3.2). */
export declare const createGnapResourceKey: () => Promise<GnapResourceKey>
export interface GatehouseForOptions {
  gnap?: {
    /** RFC 9635 §3.1 `wait`, seconds (integer > 0); Gatehouse's default 5 */
    wait?: number | undefined
    /** the public JWK of the app's GNAP API (RFC 9767 §3.2) */
    resourceKey?: GnapResourceKey["publicJwk"] | undefined
  }
}
export declare const createGatehouseFor: (issuer: string, databaseUrl?: string, options?: GatehouseForOptions) => GatehouseInstance
export interface AppOptions {
  /** the private JWK of the app's GNAP API: mounts `GET /api/gnap/me` */
  gnapResourceKey?: GnapResourceKey["privateJwk"] | undefined
}
export declare const createApp: (gatehouse: GatehouseInstance, options?: AppOptions) => Express
/** The resource server behind `GET /api/me` (audience: the issuer). */
export declare const createResourceServerFor: (gatehouse: GatehouseInstance) => import("@gatehouse/resource").ResourceServerInstance
/** The resource server behind `GET /api/gnap/me`: GNAP tokens (RFC 9635 §7.2), introspected with `privateJwk` (RFC 9767 §3.3). */
export declare const createGnapResourceServerFor: (gatehouse: GatehouseInstance, privateJwk: GnapResourceKey["privateJwk"]) => import("@gatehouse/resource").ResourceServerInstance

export interface StartOptions {
  /** default 3000; 0 picks a free port */
  port?: number
  /** default http://localhost:<port> */
  issuer?: string
  /** interface to listen on; default all */
  host?: string
  /** file:/path.sqlite or postgres://...; default DATABASE_URL or .data/gatehouse.sqlite */
  databaseUrl?: string
  /** GNAP `wait` (RFC 9635 §3.1) in whole seconds; default Gatehouse's 5 */
  gnapWait?: number
}

export interface Quickstart {
  /** the issuer, which is the app's origin */
  url: string
  port: number
  gatehouse: GatehouseInstance
  close(): Promise<void>
}

export declare const startQuickstart: (options?: StartOptions) => Promise<Quickstart>
