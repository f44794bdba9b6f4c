// Databases for tests, on both backends the engine supports:
// - postgres: the server at 127.0.0.1:5432 (TEST_DATABASE_URL overrides), database `test`; each
//   call gets a fresh schema (search_path) that is dropped when the test ends;
// - pglite: a data directory in a temp dir, copied from a template made once per machine (a fresh
//   PGlite runs initdb, seconds to tens of seconds; opening a copy takes about one second).
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { pino } from 'pino'
import type { Test } from 'tap'
import type { DatabaseConfig } from '../../src/config.ts'
import { Storage, pgliteDriver, storageFromConfig } from '../../src/storage/index.ts'
import { testLogger } from './error-log.ts'

export type Backend = 'postgres' | 'pglite'
export const BACKENDS: readonly Backend[] = ['postgres', 'pglite']

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

// The template is per PGlite version: another version may not read its files.
const pgliteVersion = (JSON.parse(readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')) as { version: string }).version

/** A PGlite data directory that has been through initdb (made once, shared read-only by copies). */
export async function pgliteTemplate (): Promise<string> {
  const dir = join(tmpdir(), `uapi-pglite-template-${pgliteVersion}`)
  if (existsSync(join(dir, 'PG_VERSION'))) return dir
  const building = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}`
  const driver = await pgliteDriver({ dataDir: building })
  await driver.close()
  try {
    renameSync(building, dir)
  } catch {
    // Another test process made it first.
    rmSync(building, { recursive: true, force: true })
  }
  return dir
}

// Removed when the test process exits: by then every database on them is closed, whatever order
// the tests' teardowns ran in.
const tempDirs: string[] = []
process.on('exit', () => { for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true }) })

/** A fresh PGlite data directory (a copy of the template), removed when the test process exits. */
export async function pgliteDir (): Promise<string> {
  const template = await pgliteTemplate()
  const dir = mkdtempSync(join(tmpdir(), 'uapi-pglite-'))
  tempDirs.push(dir)
  cpSync(template, dir, { recursive: true })
  return dir
}

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

/**
 * The database test apps get by default: PGlite in a temp dir copied from the template, made on
 * first use only (an app built with connect: false opens its database when a route needs it), so
 * tests that never touch events pay nothing.
 */
export function lazyTestStorage (): Storage {
  return new Storage(async () => await pgliteDriver({ dataDir: await pgliteDir() }), { log: pino({ level: 'silent' }) })
}

/** Runs `fn` once per backend, each in its own subtest named after it. */
export function forEachBackend (t: Test, fn: (t: Test, backend: Backend) => Promise<void>): void {
  for (const backend of BACKENDS) t.test(backend, async (t) => { await fn(t, backend) })
}
