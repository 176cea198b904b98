export interface StartBuiltExampleOptions {
  /** default: a free port */
  readonly port?: number | undefined
  /** default: http://localhost:<port> */
  readonly issuer?: string | undefined
  /** default: the example's .data/gatehouse.sqlite; tests should pass a temporary file */
  readonly databaseUrl?: string | undefined
  /** where the OAuth endpoints are mounted: default "/oauth"; "" for the origin's root */
  readonly basePath?: string | undefined
  /** more environment variables for `next start` */
  readonly env?: Readonly<Record<string, string>> | undefined
}

export interface BuiltExample {
  /** the issuer (the app's origin) */
  readonly url: string
  readonly port: number
  /** what `next start` printed so far */
  output(): string
  close(): Promise<void>
}

export declare const startBuiltExample: (options?: StartBuiltExampleOptions) => Promise<BuiltExample>
export declare const ensureBuilt: () => Promise<{ readonly seconds: number; readonly output: string }>
export declare const freePort: () => Promise<number>
