// The engine's database: opened once (connect, then migrate), shared by everything that stores.
// open() is idempotent; query() and transaction() open on first use, so an app built without
// background work (tests) pays for the database only if something uses it.
import type { Logger } from 'pino'
import type { DatabaseConfig } from '../config.ts'
import { classify, pgliteDriver, postgresDriver, type Database, type Driver, type Queryable } from './database.ts'
import { migrate } from './migrations.ts'

export class Storage implements Database {
  readonly #connect: () => Promise<Driver>
  readonly #schema: string | undefined
  readonly #log: Logger
  #opening: Promise<Driver> | undefined
  #driver: Driver | undefined
  #closed = false

  /** `connect` makes the driver (see storageFromConfig); `schema` is created by the first migration. */
  constructor (connect: () => Promise<Driver>, options: { schema?: string | undefined, log: Logger }) {
    this.#connect = connect
    this.#schema = options.schema
    this.#log = options.log
  }

  /** 'postgres' or 'pglite' once open. */
  get kind (): Driver['kind'] | undefined {
    return this.#driver?.kind
  }

  get isOpen (): boolean {
    return this.#driver !== undefined
  }

  /** Connects and applies missing migrations (once; later calls wait for the same promise). */
  async open (): Promise<void> {
    await this.#open()
  }

  async #open (): Promise<Driver> {
    if (this.#driver !== undefined) return this.#driver
    if (this.#closed) throw new Error('storage is closed')
    this.#opening ??= (async () => {
      const started = performance.now()
      let driver: Driver
      try {
        driver = await this.#connect()
      } catch (err) {
        throw classify(err)
      }
      try {
        const applied = await migrate(driver, this.#schema)
        this.#log.info({ kind: driver.kind, schema: this.#schema, migrations: applied, ms: Math.round(performance.now() - started) }, 'database open')
      } catch (err) {
        await driver.close().catch(() => {})
        throw err
      }
      this.#driver = driver
      return driver
    })()
    try {
      return await this.#opening
    } catch (err) {
      // A failed open may be retried (the server was down at start).
      this.#opening = undefined
      throw err
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return await (this.#driver ?? await this.#open()).query<T>(sql, params)
  }

  async exec (sql: string): Promise<void> {
    await (this.#driver ?? await this.#open()).exec(sql)
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return await (this.#driver ?? await this.#open()).transaction(fn)
  }

  /** Closes the connections (waits for an open under way); later use throws. */
  async close (): Promise<void> {
    this.#closed = true
    const driver = this.#driver ?? (this.#opening !== undefined ? await this.#opening.catch(() => undefined) : undefined)
    this.#driver = undefined
    this.#opening = undefined
    await driver?.close()
  }
}

/** The configured database: PostgreSQL when `url` is set, else PGlite in `dataDir`. Not opened yet. */
export function storageFromConfig (config: DatabaseConfig, log: Logger): Storage {
  const url = config.url
  const connect = url !== undefined
    ? async () => postgresDriver({ ...config, url }, log)
    : async () => await pgliteDriver(config)
  return new Storage(connect, { schema: config.schema, log })
}
