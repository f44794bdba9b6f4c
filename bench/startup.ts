// Start-up and idle memory of the engine as a process: the compiled build (`npm start`: plain
// `node dist/engine.js`, the bundle) against the same sources run through the `tsx` loader (`npm run
// dev`). tsc's per-module output that the bundle is made from (`node dist/main.js`) is reported beside
// them: *_unbundled.
//
// Each run spawns the engine with a clean environment (no NODE_OPTIONS) on a local fake AMI peer and
// polls GET /health/ready every 5 ms: start_to_ready_ms is from just before spawn() to the first 200
// (AMI logged in, mirror synced). Then the process idles 3 s and its RSS is read from
// /proc/<pid>/status (VmRSS): idle_rss_mb. Compiled, tsx, unbundled and embedded runs alternate, RUNS
// each; medians. The build (npm run build: scripts/build.mjs) runs first, so the compiled side is the
// current code.
//
// The database: the compiled/tsx pair runs on the PostgreSQL server (DATABASE_URL, default the local
// `test` database, a fresh schema), so that the pair differs only by the loader, which is what the
// keys are about; the embedded database (PGlite, WASM in the process: ~120 MB of RSS) would be the
// same in both. The compiled engine on the embedded database (a fresh copy of an initialised data
// directory, as `npm start` without DATABASE_URL) is reported beside them: *_embedded. Without a
// reachable server every run uses the embedded database (and `database` says so).
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { FakeAmi } from '../test/helpers/fake-ami.ts'
import { pgliteDir } from '../test/helpers/pglite.ts'
import { EngineProcess, ROOT, TSX_MAIN } from '../test/helpers/engine-process.ts'
import { median, round } from './lib.ts'

export interface StartupResult {
  start_to_ready_ms: number
  start_to_ready_ms_tsx: number
  idle_rss_mb: number
  idle_rss_mb_tsx: number
  /** Compiled idle RSS over tsx's (target <= 0.75: at least 25 % less). */
  idle_rss_ratio: number
  /** tsc's per-module output (dist/main.js), not bundled, on the pair's database. */
  start_to_ready_ms_unbundled: number
  idle_rss_mb_unbundled: number
  /** The compiled engine on the embedded database. */
  start_to_ready_ms_embedded: number
  idle_rss_mb_embedded: number
  /** Which database the compiled/tsx pair used. */
  startup_database: string
}

const POSTGRES_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

const RUNS = 3
const IDLE_MS = 3_000

async function once (args: readonly string[], amiPort: number, database: Record<string, string>): Promise<{ readyMs: number, rssMb: number }> {
  const engine = await EngineProcess.start({ args, amiPort, logLevel: 'warn', env: database })
  try {
    const readyMs = await engine.waitReady(30_000, 5)
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS))
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${engine.child.pid}/status`, 'utf8'))?.[1])
    return { readyMs, rssMb: kb / 1024 }
  } finally {
    await engine.stop()
  }
}

export async function benchStartup (log: (msg: string) => void = () => {}): Promise<StartupResult> {
  await promisify(execFile)(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, timeout: 180_000 })
  const fake = await FakeAmi.start({ username: 'uapi', secret: 'uapi-dev-secret' })
  const compiled: Array<{ readyMs: number, rssMb: number }> = []
  const tsx: Array<{ readyMs: number, rssMb: number }> = []
  const unbundled: Array<{ readyMs: number, rssMb: number }> = []
  const embedded: Array<{ readyMs: number, rssMb: number }> = []
  const schema = `bench_startup_${randomBytes(4).toString('hex')}`
  const probe = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 })
  const server = await probe.connect().then(() => true, () => false)
  await probe.end().catch(() => {})
  const embeddedDb = async (): Promise<Record<string, string>> => ({ DATABASE_DIR: await pgliteDir() })
  const pairDb = async (): Promise<Record<string, string>> => (server ? { DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema } : await embeddedDb())
  try {
    for (let i = 0; i < RUNS; i++) {
      compiled.push(await once(['dist/engine.js'], fake.port, await pairDb()))
      tsx.push(await once(TSX_MAIN, fake.port, await pairDb()))
      unbundled.push(await once(['dist/main.js'], fake.port, await pairDb()))
      embedded.push(await once(['dist/engine.js'], fake.port, await embeddedDb()))
      log(`startup run ${i + 1}: compiled ${compiled[i]?.readyMs.toFixed(0)} ms ${compiled[i]?.rssMb.toFixed(1)} MB, tsx ${tsx[i]?.readyMs.toFixed(0)} ms ${tsx[i]?.rssMb.toFixed(1)} MB, unbundled ${unbundled[i]?.readyMs.toFixed(0)} ms ${unbundled[i]?.rssMb.toFixed(1)} MB (${server ? 'PostgreSQL' : 'embedded'}); compiled on the embedded database ${embedded[i]?.readyMs.toFixed(0)} ms ${embedded[i]?.rssMb.toFixed(1)} MB`)
    }
  } finally {
    await fake.close()
    if (server) {
      const client = new pg.Client({ connectionString: POSTGRES_URL })
      await client.connect().then(async () => { await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) }).catch(() => {})
      await client.end().catch(() => {})
    }
  }
  const rss = median(compiled.map((r) => r.rssMb))
  const rssTsx = median(tsx.map((r) => r.rssMb))
  return {
    start_to_ready_ms: round(median(compiled.map((r) => r.readyMs)), 0),
    start_to_ready_ms_tsx: round(median(tsx.map((r) => r.readyMs)), 0),
    idle_rss_mb: round(rss, 1),
    idle_rss_mb_tsx: round(rssTsx, 1),
    idle_rss_ratio: round(rss / rssTsx),
    start_to_ready_ms_unbundled: round(median(unbundled.map((r) => r.readyMs)), 0),
    idle_rss_mb_unbundled: round(median(unbundled.map((r) => r.rssMb)), 1),
    start_to_ready_ms_embedded: round(median(embedded.map((r) => r.readyMs)), 0),
    idle_rss_mb_embedded: round(median(embedded.map((r) => r.rssMb)), 1),
    startup_database: server ? 'PostgreSQL server' : 'embedded PGlite (no server answered)'
  }
}
