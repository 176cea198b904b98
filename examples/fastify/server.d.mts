/** Types for server.mjs (the example is plain JavaScript; these are for TypeScript callers such as its tests). */
import type { GatehouseInstance } from "@gatehouse/core"
import type { ResourceServerInstance } from "@gatehouse/resource"
import type { FastifyInstance, FastifyServerOptions } from "fastify"

export interface DemoUser {
  id: string
  username: string
  password: string
  claims: Record<string, unknown>
}

export declare const DEMO_USERS: ReadonlyArray<DemoUser>
export declare const defaultDatabaseUrl: () => string
export declare const createGatehouseFor: (issuer: string, databaseUrl?: string) => GatehouseInstance
export declare const createResourceServerFor: (gatehouse: GatehouseInstance) => ResourceServerInstance
export declare const createApp: (
  gatehouse: GatehouseInstance,
  resourceServer?: ResourceServerInstance,
  options?: FastifyServerOptions
) => Promise<FastifyInstance>

export interface StartOptions {
  /** default 3000; 0 picks a free port */
  port?: number
  /** default http://localhost:<port> */
  issuer?: string
  /** interface to listen on; default all */
  host?: string
  /** file:/path.sqlite or postgres://...; default DATABASE_URL or .data/gatehouse.sqlite */
  databaseUrl?: string
}

export interface Example {
  /** the issuer, which is the app's origin */
  url: string
  port: number
  gatehouse: GatehouseInstance
  close(): Promise<void>
}

export declare const startExample: (options?: StartOptions) => Promise<Example>
