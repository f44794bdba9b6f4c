// Event delivery: AMI event to webhook receiver, at 100 calls/s. The engine runs with its real AMI
// client on a fake peer; every call is the AMI frames Asterisk 22 sends for 0003*300 calling
// 0003*210 up to 210 ringing, written to the engine's AMI socket (the real parser), so a Dial-In goes
// through the mirror's change signal, the detector, the outbox insert in the database and an HTTP
// POST (form body, signed) to a receiver on loopback in a worker thread (its own event loop).
// Latency: receiver arrival minus the write of the call's frames (performance.timeOrigin + now()).
// 100 warm-up calls, then 1,000 measured, one every 10 ms. Keys: event_delivery_ms_p99 on the
// embedded database (the default) and event_delivery_ms_p99_postgres on the PostgreSQL server
// (DATABASE_URL, default the local test server; skipped with a note when it does not answer).
import { Worker } from 'node:worker_threads'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { engineWithFakeAmi, round, summarize, syntheticCall, syntheticHangup, toFrame, tokenFor, writeAll } from './lib.ts'

const WARMUP = 100
const CALLS = 1000
const SPACING_MS = 10
const abs = (): number => performance.timeOrigin + performance.now()
const POSTGRES_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

async function run (label: string, databaseUrl: string | undefined, log: (m: string) => void): Promise<{ p50: number, p99: number }> {
  const schema = `bench_${randomBytes(4).toString('hex')}`
  const eut = await engineWithFakeAmi(undefined, (c) => {
    if (databaseUrl !== undefined) c.database = { ...c.database, url: databaseUrl, schema }
  })
  const worker = new Worker(new URL('./event-receiver.mjs', import.meta.url))
  try {
    const { app, fake } = eut
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', (m: { port: number }) => { resolve(m.port) })
      worker.once('error', reject)
    })
    const token = await tokenFor(app, 12)
    const res = await app.inject({
      method: 'POST',
      url: '/uapi/extensions/@me/0003*210/phoneCallEvents/',
      headers: { authorization: `Bearer ${token}` },
      payload: { type: 0, method: 1, status: 1, url: `http://127.0.0.1:${port}/hook` }
    })
    if (res.statusCode >= 300) throw new Error(`subscribe: ${res.statusCode} ${res.body}`)
    const conn = fake.live[fake.live.length - 1]
    if (conn === undefined) throw new Error('not connected')
    const written = new Map<string, number>()
    for (let n = 0; n < WARMUP + CALLS; n++) {
      const call = syntheticCall(n, '0003*300', '0003*210', false)
      const bytes = Buffer.from(call.events.map(toFrame).join(''), 'utf8')
      if (n >= WARMUP) written.set(call.callerUniqueid, abs())
      await writeAll(conn.socket, bytes)
      // Calls end a second later, so that about 100 are live at a time.
      if (n >= 100) await writeAll(conn.socket, Buffer.from(syntheticHangup(n - 100, '0003*300', '0003*210').map(toFrame).join(''), 'utf8'))
      await new Promise((resolve) => setTimeout(resolve, SPACING_MS))
    }
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const arrivals = await new Promise<Record<string, number[]>>((resolve) => {
      worker.once('message', (m: { arrivals: Record<string, number[]> }) => { resolve(m.arrivals) })
      worker.postMessage({ report: true })
    })
    const samples: number[] = []
    for (const [id, t0] of written) {
      const got = arrivals[id]
      if (got?.length !== 1) throw new Error(`${label}: call ${id} delivered ${got?.length ?? 0} times`)
      samples.push((got[0] as number) - t0)
    }
    const s = summarize(samples)
    log(`event delivery (${label}): p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, max ${s.max.toFixed(2)} ms over ${samples.length} calls at ${1000 / SPACING_MS}/s`)
    return { p50: s.p50, p99: s.p99 }
  } finally {
    await worker.terminate()
    await eut.close()
    if (databaseUrl !== undefined) {
      const client = new pg.Client({ connectionString: databaseUrl })
      await client.connect().then(async () => { await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) }).catch(() => {})
      await client.end().catch(() => {})
    }
  }
}

export async function benchEventDelivery (log: (m: string) => void = () => {}): Promise<Record<string, number | string>> {
  const embedded = await run('embedded PGlite', undefined, log)
  const out: Record<string, number | string> = { event_delivery_ms_p99: round(embedded.p99), event_delivery_ms_p50: round(embedded.p50) }
  const probe = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 })
  const reachable = await probe.connect().then(() => true, () => false)
  await probe.end().catch(() => {})
  if (!reachable) {
    out.event_delivery_postgres_skipped = `no PostgreSQL at ${POSTGRES_URL}`
    return out
  }
  const server = await run('PostgreSQL', POSTGRES_URL, log)
  out.event_delivery_ms_p99_postgres = round(server.p99)
  out.event_delivery_ms_p50_postgres = round(server.p50)
  return out
}
