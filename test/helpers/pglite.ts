// PGlite data directories for tests and benchmarks, without tap (benchmark processes import it).
// A fresh PGlite runs initdb (seconds to tens of seconds); a copy of a template made once per
// machine and PGlite version opens in about a second.
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { Storage, pgliteDriver } from '../../src/storage/index.ts'

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

/**
 * The database test apps get by default: PGlite in a temp dir copied from the template, made on
 * first use only (an app built with connect: false opens its database when a route needs it), so
 * tests that never touch events pay nothing.
 */
export function lazyTestStorage (): Storage {
  return new Storage(async () => await pgliteDriver({ dataDir: await pgliteDir() }), { log: pino({ level: 'silent' }) })
}
