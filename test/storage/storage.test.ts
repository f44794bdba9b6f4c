// The database face (src/storage) on both backends: query, transaction, migrations (once, also
// when two instances start at once), close; and the cross-instance claims.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { MIGRATIONS, Storage, StorageUnavailableError, migrate, pgliteDriver, storageFromConfig } from '../../src/storage/index.ts'
import { Claims } from '../../src/events/index.ts'
import { databaseConfig, forEachBackend, openStorage } from '../helpers/db.ts'
import { testLogger } from '../helpers/error-log.ts'

forEachBackend(t, async (t, backend) => {
  t.test('query, parameters and transactions', async (t) => {
    const db = await openStorage(t, backend)
    t.equal(db.kind, backend)
    t.same(await db.query('SELECT $1::int + 1 AS n, $2::text AS s', [41, 'x']), [{ n: 42, s: 'x' }])
    await db.exec('CREATE TABLE kv (k text PRIMARY KEY, v int NOT NULL)')
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO kv VALUES ($1, $2)', ['a', 1])
      await tx.query('INSERT INTO kv VALUES ($1, $2)', ['b', 2])
    })
    await t.rejects(db.transaction(async (tx) => {
      await tx.query('INSERT INTO kv VALUES ($1, $2)', ['c', 3])
      throw new Error('changed my mind')
    }), /changed my mind/)
    t.same((await db.query<{ k: string }>('SELECT k FROM kv ORDER BY k')).map((r) => r.k), ['a', 'b'], 'the failed transaction left nothing')
    await t.rejects(db.query('SELECT nope FROM kv'), /nope/, 'SQL errors pass through')
  })

  t.test('migrations are recorded and applied once', async (t) => {
    const config = await databaseConfig(t, backend)
    const db = await openStorage(t, backend, config)
    const rows = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')
    t.same(rows.map((r) => Number(r.version)), MIGRATIONS.map((m) => m.version))
    t.same(await migrate(db, config.schema), [], 'nothing left to apply')
    const extra = [...MIGRATIONS, { version: 999, name: 'test', sql: 'CREATE TABLE later (x int); CREATE TABLE later2 (y int)' }]
    t.same(await migrate(db, config.schema, extra), [999])
    t.same(await migrate(db, config.schema, extra), [])
  })

  if (backend === 'postgres') {
    t.test('two instances starting at once on one schema migrate it once', async (t) => {
      const config = await databaseConfig(t, backend)
      const a = storageFromConfig(config, testLogger())
      const b = storageFromConfig(config, testLogger())
      t.teardown(async () => { await a.close(); await b.close() })
      await Promise.all([a.open(), b.open(), a.open()])
      const rows = await a.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations')
      t.equal(Number(rows[0]?.n), MIGRATIONS.length)
    })

    t.test('an unreachable server is StorageUnavailableError, and open can be retried', async (t) => {
      const db = storageFromConfig({ url: 'postgres://postgres@127.0.0.1:1/test', dataDir: 'memory://', poolSize: 1, connectTimeoutMs: 1000 }, pino({ level: 'silent' }))
      t.teardown(() => db.close())
      await t.rejects(db.open(), StorageUnavailableError)
      await t.rejects(db.query('SELECT 1'), StorageUnavailableError)
    })
  }

  t.test('claims: one owner at a time, expired claims are taken over, release', async (t) => {
    const db = await openStorage(t, backend)
    const claims = new Claims(db)
    t.equal(await claims.tryClaim('pickup:1', 'a', 60_000), true)
    t.equal(await claims.tryClaim('pickup:1', 'b', 60_000), false, 'held by a')
    t.equal(await claims.tryClaim('pickup:1', 'a', 60_000), true, 'a renews its own')
    t.equal(await claims.release('pickup:1', 'b'), false, 'b cannot release a\'s claim')
    t.equal(await claims.release('pickup:1', 'a'), true)
    t.equal(await claims.tryClaim('pickup:1', 'b', 20), true, 'free again')
    await new Promise((resolve) => setTimeout(resolve, 40))
    t.equal(await claims.tryClaim('pickup:1', 'c', 60_000), true, 'b\'s claim expired: c takes it over')
    const racers = await Promise.all(['d', 'e', 'f', 'g'].map(async (o) => await claims.tryClaim('pickup:2', o, 60_000)))
    t.equal(racers.filter(Boolean).length, 1, 'concurrent claims: exactly one wins')
    t.equal(await claims.tryClaim('pickup:3', 'x', 1), true)
    await new Promise((resolve) => setTimeout(resolve, 10))
    t.ok(await claims.prune() >= 1, 'expired claims are pruned')
  })

  t.test('close is clean and final', async (t) => {
    const db = storageFromConfig(await databaseConfig(t, backend), testLogger())
    await db.open()
    await db.close()
    await t.rejects(db.query('SELECT 1'), /closed/)
    await db.close()
  })
})

t.test('a PGlite directory keeps its data across a reopen', async (t) => {
  const config = await databaseConfig(t, 'pglite')
  const first = new Storage(async () => await pgliteDriver(config), { log: testLogger() })
  await first.open()
  await first.exec('CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)')
  await first.close()
  const second = await openStorage(t, 'pglite', config)
  t.same(await second.query('SELECT x FROM kept'), [{ x: 7 }])
})

t.test('a PGlite directory is one engine\'s: a second opener is refused, a stale lock is taken over', async (t) => {
  const config = await databaseConfig(t, 'pglite')
  const first = await openStorage(t, 'pglite', config)
  await t.rejects(pgliteDriver(config), /already open in this process/)
  await first.close()
  writeFileSync(join(config.dataDir, 'uapi-engine.lock'), '999999999')
  const again = await openStorage(t, 'pglite', config)
  t.same(await again.query('SELECT 1 AS one'), [{ one: 1 }], 'the lock of a process that is gone does not block')
})
