// AMI ingest: events per second through the engine's AMI layer (src/ami) and the live mirror
// (MirrorSync -> Mirror.apply), against asterisk-manager's own parser reading the same bytes.
//
// Streams: the event frames of the recorded Asterisk 22 fixtures, concatenated with each
// repetition's Uniqueid/Linkedid/Dest*/Target*/Bridge* ids suffixed by its number (distinct calls for
// the mirror), written by a local fake AMI peer in ~1 MiB pieces (frame-aligned) as fast as the
// socket drains. Clock: from just before the first byte is written to the moment the last event has
// been handled (both ends live in this process, so one monotonic clock serves both).
// - filtered (the headline, ami_ingest_ratio): only the frames the bundled asterisk/manager.conf
//   lets through to the engine's AMI user (its eventfilter lines, applied as Asterisk applies them,
//   bench/lib.ts passesEventFilters), repeated to ~200k events. That is what the engine receives.
// - unfiltered (ami_ingest_ratio_unfiltered): every fixture frame (VarSet, Newexten, TestEvent...
//   included), 240 times: a PBX whose manager.conf has no filter.
//
// Engine side: the real composition root (buildApp) connected to the fake peer; once the mirror is
// live, a counting 'event' listener is added after MirrorSync's, so an event counts only once the
// mirror has applied it. Baseline side: a bare asterisk-manager Manager logged in to the same peer,
// doing its parse only: its 'rawevent' dispatcher (the per-message re-emission as 'managerevent',
// '<name>' and ActionID events through process.nextTick, which the engine removes) is replaced by one
// counting listener, exactly where the engine's transport attaches its own. So the pair compares
// the same parser with and without what the engine adds (normalize, AmiClient, MirrorSync, Mirror).
//
// RUNS pairs per stream, medians. On a shared machine wall-clock rates swing by 2x between runs;
// the same ratios on events per CPU-second of this process (*_cpu, context only) are much steadier.
import { createRequire } from 'node:module'
import type { FakeConnection } from '../test/helpers/fake-ami.ts'
import { FakeAmi } from '../test/helpers/fake-ami.ts'
import { buildIngestStream, engineWithFakeAmi, filterLikeManagerConf, fixtureEventFrames, median, msSince, now, round, until, writeAll } from './lib.ts'

// The baseline measures the asterisk-manager package itself, so it is the one place outside
// src/ami that loads it directly (the engine only ever reaches it through src/ami/transport.ts).
const require = createRequire(import.meta.url)
interface BareManager {
  on (event: string, listener: (...args: any[]) => void): unknown
  removeAllListeners (event: string): unknown
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
  ami_ingest_events_per_s_unfiltered: number
  ami_ingest_ratio_unfiltered: number
  ami_ingest_baseline_events_per_s_unfiltered: number
  ami_ingest_events_unfiltered: number
  ami_ingest_bytes_unfiltered: number
  ami_ingest_runs_engine_unfiltered: number[]
  ami_ingest_runs_baseline_unfiltered: number[]
  /** Context: the same ratios on events per CPU-second of this process (robust to other load on the machine). */
  ami_ingest_ratio_cpu: number
  ami_ingest_ratio_unfiltered_cpu: number
}

const REPS_UNFILTERED = 240 // x 838 event frames = 201,120 events, ~78 MB
const TARGET_EVENTS = 200_000
const RUNS = 5

interface Stream { bytes: Buffer, events: number, reps: number }

/** Events per second of wall-clock time, and per second of this process's CPU time (user + system, all threads). */
interface Rate { wall: number, cpu: number }

const cpuSeconds = (since: NodeJS.CpuUsage): number => { const u = process.cpuUsage(since); return (u.user + u.system) / 1e6 }

async function runEngine (stream: Stream): Promise<Rate> {
  const eut = await engineWithFakeAmi()
  try {
    const conn = eut.fake.live[eut.fake.live.length - 1] as FakeConnection
    let count = 0
    let hangups = 0
    let tEnd = 0n
    let cpu = 0
    let resolveDone: () => void = () => {}
    const done = new Promise<void>((resolve) => { resolveDone = resolve })
    eut.app.engine.mirror.on('hangup', () => { hangups++ })
    // Registered after MirrorSync's listener (sync.start() ran on ready): runs once the mirror applied the event.
    eut.app.engine.ami.on('event', () => {
      if (++count === stream.events) { tEnd = now(); cpu = cpuSeconds(c0); resolveDone() }
    })
    const c0 = process.cpuUsage()
    const t0 = now()
    await writeAll(conn.socket, stream.bytes)
    await done
    // Sanity: the mirror stayed live (no resync emptied it) and really tracked the replayed calls.
    if (eut.app.engine.sync.state !== 'live' || hangups < stream.reps) throw new Error(`ingest: mirror state ${eut.app.engine.sync.state}, ${hangups} hangups`)
    return { wall: stream.events / (Number(tEnd - t0) / 1e9), cpu: stream.events / cpu }
  } finally {
    await eut.close()
  }
}

async function runBaseline (stream: Stream, fake: FakeAmi): Promise<Rate> {
  const before = fake.connections.length
  const mgr = Manager(fake.port, fake.host, 'uapi', 'uapi-dev-secret', true)
  try {
    // Parse only: the package's dispatcher goes, one synchronous counter takes its place (see top).
    mgr.removeAllListeners('rawevent')
    let count = 0
    let target = Infinity
    let tEnd = 0n
    let cpu = 0
    let c0 = process.cpuUsage()
    let resolveDone: () => void = () => {}
    const done = new Promise<void>((resolve) => { resolveDone = resolve })
    mgr.on('rawevent', () => {
      if (++count === target) { tEnd = now(); cpu = cpuSeconds(c0); resolveDone() }
    })
    const conn = await fake.waitForConnections(before + 1, 5000)
    // Logged in: the login reply and the FullyBooted after it have been parsed.
    await until(() => conn.loggedIn && count >= 2, 5000, 'baseline login')
    count = 0
    target = stream.events
    c0 = process.cpuUsage()
    const t0 = now()
    await writeAll(conn.socket, stream.bytes)
    await done
    return { wall: stream.events / (Number(tEnd - t0) / 1e9), cpu: stream.events / cpu }
  } finally {
    mgr.disconnect()
  }
}

interface Pair { engine: number[], baseline: number[], engineCpu: number[], baselineCpu: number[] }

async function pair (stream: Stream, fake: FakeAmi, label: string, log: (msg: string) => void): Promise<Pair> {
  const p: Pair = { engine: [], baseline: [], engineCpu: [], baselineCpu: [] }
  // Interleaved so that machine noise hits both sides alike.
  for (let i = 0; i < RUNS; i++) {
    const b = await runBaseline(stream, fake)
    const e = await runEngine(stream)
    p.baseline.push(b.wall); p.baselineCpu.push(b.cpu)
    p.engine.push(e.wall); p.engineCpu.push(e.cpu)
    log(`ingest ${label} run ${i + 1}: baseline ${b.wall.toFixed(0)} ev/s (${b.cpu.toFixed(0)} per cpu-s), engine ${e.wall.toFixed(0)} ev/s (${e.cpu.toFixed(0)} per cpu-s)`)
  }
  return p
}

function build (frames: readonly string[], reps: number, label: string, log: (msg: string) => void): Stream {
  const started = now()
  const s = buildIngestStream(reps, frames)
  log(`ingest ${label}: ${frames.length} frames x ${reps} = ${s.events} events, ${(s.bytes.length / 1e6).toFixed(1)} MB (built in ${msSince(started).toFixed(0)} ms)`)
  return { bytes: s.bytes, events: s.events, reps }
}

export async function benchIngest (log: (msg: string) => void = () => {}): Promise<IngestResult> {
  const all = fixtureEventFrames()
  const allowed = filterLikeManagerConf(all, 'uapi')
  const fake = await FakeAmi.start({ username: 'uapi', secret: 'uapi-dev-secret' })
  try {
    let stream: Stream | undefined = build(allowed, Math.ceil(TARGET_EVENTS / allowed.length), 'filtered', log)
    const filtered = await pair(stream, fake, 'filtered', log)
    const fStream = { events: stream.events, bytes: stream.bytes.length }
    stream = undefined
    const uStream = build(all, REPS_UNFILTERED, 'unfiltered', log)
    const unfiltered = await pair(uStream, fake, 'unfiltered', log)
    const e = median(filtered.engine)
    const b = median(filtered.baseline)
    const eu = median(unfiltered.engine)
    const bu = median(unfiltered.baseline)
    return {
      ami_ingest_events_per_s: Math.round(e),
      ami_ingest_ratio: round(e / b),
      ami_ingest_baseline_events_per_s: Math.round(b),
      ami_ingest_events: fStream.events,
      ami_ingest_bytes: fStream.bytes,
      ami_ingest_runs_engine: filtered.engine.map(Math.round),
      ami_ingest_runs_baseline: filtered.baseline.map(Math.round),
      ami_ingest_events_per_s_unfiltered: Math.round(eu),
      ami_ingest_ratio_unfiltered: round(eu / bu),
      ami_ingest_baseline_events_per_s_unfiltered: Math.round(bu),
      ami_ingest_events_unfiltered: uStream.events,
      ami_ingest_bytes_unfiltered: uStream.bytes.length,
      ami_ingest_runs_engine_unfiltered: unfiltered.engine.map(Math.round),
      ami_ingest_runs_baseline_unfiltered: unfiltered.baseline.map(Math.round),
      ami_ingest_ratio_cpu: round(median(filtered.engineCpu) / median(filtered.baselineCpu)),
      ami_ingest_ratio_unfiltered_cpu: round(median(unfiltered.engineCpu) / median(unfiltered.baselineCpu))
    }
  } finally {
    await fake.close()
  }
}
