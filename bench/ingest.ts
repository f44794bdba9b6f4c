// AMI ingest: events per second through the engine's AMI layer (src/ami) and the live mirror
// (MirrorSync -> Mirror.apply), against raw asterisk-manager parsing the same bytes.
//
// Stream: every event frame of the recorded Asterisk 22 fixtures, concatenated REPS times with each
// repetition's Uniqueid/Linkedid/Dest*/Target*/Bridge* ids suffixed by its number (distinct calls for
// the mirror), ~200k events, written by a local fake AMI peer in ~1 MiB pieces (frame-aligned) as fast
// as the socket drains. Clock: from just before the first byte is written to the moment the last
// event has been handled (both ends live in this process, so one monotonic clock serves both).
//
// Engine side: the real composition root (buildApp) connected to the fake peer; once the mirror is
// live, a counting 'event' listener is added after MirrorSync's, so an event counts only once the
// mirror has applied it. Baseline side: a bare asterisk-manager Manager logged in to the same peer,
// counting its 'managerevent' emissions with nothing else attached.
import { createRequire } from 'node:module'
import type { FakeConnection } from '../test/helpers/fake-ami.ts'
import { FakeAmi } from '../test/helpers/fake-ami.ts'
import { buildIngestStream, engineWithFakeAmi, median, msSince, now, round, until, writeAll } from './lib.ts'

// The baseline measures the asterisk-manager package itself, so it is the one place outside
// src/ami that loads it directly (the engine only ever reaches it through src/ami/transport.ts).
const require = createRequire(import.meta.url)
interface BareManager {
  on (event: string, listener: (...args: any[]) => void): unknown
  disconnect (): void
}
const Manager = require('asterisk-manager') as (port: number, host: string, user: string, secret: string, events: boolean) => BareManager

export interface IngestResult {
  ami_ingest_events_per_s: number
  ami_ingest_ratio: number
  ami_ingest_baseline_events_per_s: number
  ami_ingest_events: number
  ami_ingest_bytes: number
  ami_ingest_runs_engine: number[]
  ami_ingest_runs_baseline: number[]
}

const REPS = 240 // x 838 event frames = 201,120 events, ~78 MB
const RUNS = 3

interface Stream { bytes: Buffer, events: number }

async function runEngine (stream: Stream): Promise<number> {
  const eut = await engineWithFakeAmi()
  try {
    const conn = eut.fake.live[eut.fake.live.length - 1] as FakeConnection
    let count = 0
    let hangups = 0
    let tEnd = 0n
    let resolveDone: () => void = () => {}
    const done = new Promise<void>((resolve) => { resolveDone = resolve })
    eut.app.engine.mirror.on('hangup', () => { hangups++ })
    // Registered after MirrorSync's listener (sync.start() ran on ready): runs once the mirror applied the event.
    eut.app.engine.ami.on('event', () => {
      if (++count === stream.events) { tEnd = now(); resolveDone() }
    })
    const t0 = now()
    await writeAll(conn.socket, stream.bytes)
    await done
    // Sanity: the mirror stayed live (no resync emptied it) and really tracked the replayed calls.
    if (eut.app.engine.sync.state !== 'live' || hangups < REPS) throw new Error(`ingest: mirror state ${eut.app.engine.sync.state}, ${hangups} hangups`)
    return stream.events / (Number(tEnd - t0) / 1e9)
  } finally {
    await eut.close()
  }
}

async function runBaseline (stream: Stream, fake: FakeAmi): Promise<number> {
  const before = fake.connections.length
  const mgr = Manager(fake.port, fake.host, 'uapi', 'uapi-dev-secret', true)
  try {
    let count = 0
    let target = Infinity
    let tEnd = 0n
    let resolveDone: () => void = () => {}
    const done = new Promise<void>((resolve) => { resolveDone = resolve })
    mgr.on('managerevent', () => {
      if (++count === target) { tEnd = now(); resolveDone() }
    })
    const conn = await fake.waitForConnections(before + 1, 5000)
    // Logged in and the login's FullyBooted delivered (its emission is deferred by process.nextTick).
    await until(() => conn.loggedIn && count >= 1, 5000, 'baseline login')
    count = 0
    target = stream.events
    const t0 = now()
    await writeAll(conn.socket, stream.bytes)
    await done
    return stream.events / (Number(tEnd - t0) / 1e9)
  } finally {
    mgr.disconnect()
  }
}

export async function benchIngest (log: (msg: string) => void = () => {}): Promise<IngestResult> {
  const started = now()
  const stream = buildIngestStream(REPS)
  log(`ingest: ${stream.events} events, ${(stream.bytes.length / 1e6).toFixed(1)} MB (built in ${msSince(started).toFixed(0)} ms)`)
  const fake = await FakeAmi.start({ username: 'uapi', secret: 'uapi-dev-secret' })
  const engine: number[] = []
  const baseline: number[] = []
  try {
    // Interleaved so that machine noise hits both sides alike.
    for (let i = 0; i < RUNS; i++) {
      baseline.push(await runBaseline(stream, fake))
      engine.push(await runEngine(stream))
      log(`ingest run ${i + 1}: baseline ${baseline[i]?.toFixed(0)} ev/s, engine ${engine[i]?.toFixed(0)} ev/s`)
    }
  } finally {
    await fake.close()
  }
  const e = median(engine)
  const b = median(baseline)
  return {
    ami_ingest_events_per_s: Math.round(e),
    ami_ingest_ratio: round(e / b),
    ami_ingest_baseline_events_per_s: Math.round(b),
    ami_ingest_events: stream.events,
    ami_ingest_bytes: stream.bytes.length,
    ami_ingest_runs_engine: engine.map(Math.round),
    ami_ingest_runs_baseline: baseline.map(Math.round)
  }
}
