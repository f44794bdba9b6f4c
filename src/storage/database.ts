// One small database face over either a PostgreSQL server (`pg`, config database.url) or an embedded
// PGlite (a data directory on disk, or memory://). Callers see the same three things: query,
// transaction, close. Both speak PostgreSQL, so the SQL is the same everywhere.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join, resolve } from 'node:path'
import pg from 'pg'
import type { Logger } from 'pino'
import type { DatabaseConfig } from '../config.ts'

/** Anything that runs SQL: the database itself, or a transaction. */
export interface Queryable {
  /** Runs one statement with $1.. parameters; the rows, as objects keyed by column name. */
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>
  /** Runs a script of several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>
}

/** What the stores need: statements, and transactions on one connection. */
export interface Database extends Queryable {
  /** Runs fn in BEGIN/COMMIT (ROLLBACK when it throws) on one connection. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
}

export interface Driver extends Database {
  readonly kind: 'postgres' | 'pglite'
  close(): Promise<void>
}

/** The database could not be reached (connection refused, lost, timed out): a 503, not a bug. */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError'
  readonly code = 'UAPI_ERR_STORAGE_UNAVAILABLE'
}

// Node's socket errors and SQLSTATE classes 08 (connection exception) and 57P (operator intervention).
const UNAVAILABLE = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE|EHOSTUNREACH|08...|57P..)$/

/** Wraps connection-level failures in StorageUnavailableError; SQL errors pass unchanged. */
export function classify (err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && UNAVAILABLE.test(code)) return new StorageUnavailableError(`database unavailable: ${(err as Error).message}`, { cause: err })
  if (err instanceof Error && /Connection terminated|timeout exceeded when trying to connect/i.test(err.message)) {
    return new StorageUnavailableError(`database unavailable: ${err.message}`, { cause: err })
  }
  return err
}

/** A pool of connections to a PostgreSQL server. `schema`: every connection's search_path. */
export function postgresDriver (config: DatabaseConfig & { url: string }, log: Logger): Driver {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize,
    connectionTimeoutMillis: config.connectTimeoutMs,
    // A schema name is validated by the config schema ([a-z_][a-z0-9_]*), so it is safe here.
    ...(config.schema !== undefined ? { options: `-c search_path=${config.schema}` } : {})
  })
  // An idle connection that dies (server restart) is an event, not a crash.
  pool.on('error', (err) => { log.warn({ err: err.message }, 'database connection lost (idle); the pool reconnects on next use') })
  const run = async <T>(client: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]): Promise<T[]> => {
    try {
      return (await client.query(sql, params as unknown[] | undefined)).rows as T[]
    } catch (err) {
      throw classify(err)
    }
  }
  return {
    kind: 'postgres',
    query: async (sql, params) => await run(pool, sql, params),
    exec: async (sql) => { await run(pool, sql) },
    async transaction (fn) {
      let client: pg.PoolClient
      try {
        client = await pool.connect()
      } catch (err) {
        throw classify(err)
      }
      let broken = false
      try {
        await run(client, 'BEGIN')
        const result = await fn({ query: async (sql, params) => await run(client, sql, params), exec: async (sql) => { await run(client, sql) } })
        await run(client, 'COMMIT')
        return result
      } catch (err) {
        try { await client.query('ROLLBACK') } catch { broken = true }
        throw err
      } finally {
        client.release(broken)
      }
    },
    close: async () => { await pool.end() }
  }
}

// PGlite has no lock of its own: two processes on one directory would corrupt it.
const LOCK_FILE = 'uapi-engine.lock'
const lockedHere = new Set<string>()

/** Takes the directory for this process, or throws naming the process that has it. */
function lockDataDir (dir: string): () => void {
  const file = join(dir, LOCK_FILE)
  if (lockedHere.has(dir)) throw new Error(`PGlite data directory ${dir} is already open in this process`)
  for (let tries = 0; ; tries++) {
    try {
      const fd = openSync(file, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0) throw err
      const pid = Number(readFileSync(file, 'utf8'))
      let alive = false
      try { alive = Number.isInteger(pid) && pid > 0 && pid !== process.pid && process.kill(pid, 0) } catch { alive = false }
      if (alive) throw new Error(`PGlite data directory ${dir} is in use by process ${pid}: one engine per directory (several instances need a PostgreSQL server, database.url)`)
      rmSync(file, { force: true }) // left by a process that is gone
    }
  }
  lockedHere.add(dir)
  return () => {
    lockedHere.delete(dir)
    rmSync(file, { force: true })
  }
}

/** An embedded PGlite: one connection in this process, its files in `dataDir` (or memory://). */
export async function pgliteDriver (config: Pick<DatabaseConfig, 'dataDir' | 'schema'>): Promise<Driver> {
  // Imported on demand: a server-backed engine never loads the WASM build.
  const { PGlite } = await import('@electric-sql/pglite')
  const memory = config.dataDir.startsWith('memory://')
  const dir = memory ? config.dataDir : resolve(config.dataDir)
  let unlock = (): void => {}
  if (!memory) {
    mkdirSync(dir, { recursive: true })
    unlock = lockDataDir(dir)
  }
  // PostgreSQL's default 128 MB of shared buffers are allocated in the WASM heap and cost that much
  // RSS at once; the engine's tables (subscriptions, an outbox, claims) need far less: 16 MB saves
  // ~127 MB of RSS (measured: 295 -> 168 MB after opening a data directory).
  const db = await PGlite.create({ dataDir: dir, postgresqlconf: ['shared_buffers=16MB'] }).catch((err: unknown) => {
    unlock()
    throw err
  })
  if (config.schema !== undefined) {
    // One connection: setting search_path once holds for every later statement.
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${config.schema}; SET search_path TO ${config.schema}`)
  }
  return {
    kind: 'pglite',
    query: async <T>(sql: string, params?: readonly unknown[]) => (await db.query<T>(sql, params as unknown[] | undefined)).rows,
    exec: async (sql) => { await db.exec(sql) },
    transaction: async (fn) => await db.transaction(async (tx) => await fn({
      query: async <T>(sql: string, params?: readonly unknown[]) => (await tx.query<T>(sql, params as unknown[] | undefined)).rows,
      exec: async (sql) => { await tx.exec(sql) }
    })),
    close: async () => {
      try {
        await db.close()
      } finally {
        unlock()
      }
    }
  }
}
