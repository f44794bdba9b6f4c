// Databases for tests, on both backends the engine supports:
// - postgres: the server at 127.0.0.1:5432 (TEST_DATABASE_URL overrides), database `test`; each
//   call gets a fresh schema (search_path) that is dropped when the test ends;
// - pglite: a data directory in a temp dir, copied from a template made once per machine (a fresh
//   PGlite runs initdb, seconds to tens of seconds; opening a copy takes about one second).
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import type { DatabaseConfig } from '../../src/config.ts'
import { storageFromConfig, type Storage } from '../../src/storage/index.ts'
import { testLogger } from './error-log.ts'
import { pgliteDir } from './pglite.ts'

export { lazyTestStorage, pgliteDir, pgliteTemplate } from './pglite.ts'

export type Backend = 'postgres' | 'pglite'
export const BACKENDS: readonly Backend[] = ['postgres', 'pglite']

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A fresh schema on the PostgreSQL server, dropped when `t` ends. */
export async function postgresSchema (t: Test): Promise<string> {
  const schema = `t_${process.pid}_${randomBytes(4).toString('hex')}`
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL })
    await client.connect()
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    } finally {
      await client.end()
    }
  })
  return schema
}

/** config.database for a fresh database of that backend. */
export async function databaseConfig (t: Test, backend: Backend): Promise<DatabaseConfig> {
  const base = { dataDir: 'memory://', poolSize: 10, connectTimeoutMs: 5000 }
  if (backend === 'postgres') return { ...base, url: POSTGRES_URL, schema: await postgresSchema(t) }
  return { ...base, dataDir: await pgliteDir() }
}

/** An open Storage on a fresh database of that backend, closed when `t` ends. */
export async function openStorage (t: Test, backend: Backend, config?: DatabaseConfig): Promise<Storage> {
  const storage = storageFromConfig(config ?? await databaseConfig(t, backend), testLogger())
  t.teardown(() => storage.close())
  await storage.open()
  return storage
}

/** Runs `fn` once per backend, each in its own subtest named after it. */
export function forEachBackend (t: Test, fn: (t: Test, backend: Backend) => Promise<void>): void {
  for (const backend of BACKENDS) t.test(backend, async (t) => { await fn(t, backend) })
}
