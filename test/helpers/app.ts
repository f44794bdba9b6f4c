// Builds the engine for tests: the real app, never listening, with a logger that counts error-level
// lines (test/helpers/error-log.ts) and prints nothing unless TEST_LOG_LEVEL is set.
import type { Test } from 'tap'
import { buildApp, type App } from '../../src/app.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { testLogger } from './error-log.ts'
import { lazyTestStorage } from './pglite.ts'

export { NO_PBX, excuseErrorLines, expectErrorLines } from './error-log.ts'

export interface BuildTestOptions {
  /** Connect to the bundled PBX (default false: routes only). */
  readonly connect?: boolean
  readonly config?: (c: Config) => Config
  /**
   * Use config `database` as given (after `config`): a real server or a PGlite directory that
   * outlives the app. Default: a throw-away PGlite made on first use (see lazyTestStorage).
   */
  readonly configuredDatabase?: boolean
}

export async function build (t: Test, opts: BuildTestOptions = {}): Promise<App> {
  const base = loadConfig({ LOG_LEVEL: 'silent' })
  const config = opts.config !== undefined ? opts.config(structuredClone(base) as Config) : base
  const storage = opts.configuredDatabase === true ? {} : { storage: lazyTestStorage() }
  const app = await buildApp(config, { logger: testLogger(), connect: opts.connect ?? false, ...storage })
  t.teardown(() => app.close())
  await app.ready()
  return app
}

/** PBX tests poll the API: lift the per-app rate limit so polling is never refused. */
export const noRateLimit = (c: Config): Config => ({ ...c, http: { ...c.http, rateLimit: { max: 1_000_000, timeWindowMs: 60_000, tokenMax: 1_000 } } })

/** A bearer token for a demo user (client demo-<id>, secret demo-secret-<id>). */
export async function tokenFor (app: App, userId: number | string): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: `demo-${userId}`, client_secret: `demo-secret-${userId}` }
  })
  if (res.statusCode !== 200) throw new Error(`token for ${userId}: ${res.statusCode} ${res.body}`)
  return (res.json() as { access_token: string }).access_token
}

/** Waits for the engine's mirror to be live (AMI logged in and first sync done). */
export async function whenLive (app: App, timeoutMs = 15_000): Promise<void> {
  await app.engine.sync.whenLive(timeoutMs)
}
