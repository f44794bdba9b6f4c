// Shared helpers of the benchmarks: timing and percentiles, the replayed AMI stream, synthetic call
// events (as AMI frames for the fake peer, or as AmiEvents for Mirror.apply), and the engine wiring
// against a FakeAmi. Nothing here asserts on time: benchmarks report, tests never time.
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Socket } from 'node:net'
import { pino } from 'pino'
import { buildApp, type App } from '../src/app.ts'
import { loadConfig, type Config } from '../src/config.ts'
import type { AmiEvent } from '../src/ami/index.ts'
import { FakeAmi, frame } from '../test/helpers/fake-ami.ts'
import { FIXTURE_DIR } from '../test/helpers/fixtures.ts'
import { lazyTestStorage } from '../test/helpers/pglite.ts'

export { FIXTURE_DIR }

// ---- timing --------------------------------------------------------------------------------------

export const now = (): bigint => process.hrtime.bigint()
export const msSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6
export const nsToMs = (ns: bigint): number => Number(ns) / 1e6

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number
}

export interface Summary {
  readonly n: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

export function summarize (samples: readonly number[]): Summary {
  const s = samples.slice().sort((a, b) => a - b)
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)
  return { n: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN, mean }
}

/**
 * p99 robust to a noisy neighbour: samples are taken in consecutive blocks (each large enough for its
 * own p99), and the median of the blocks' p99s is reported, so one burst of foreign load on a shared
 * machine spoils one block, not the result. The pooled p99 over every sample is reported next to it.
 */
export function blockP99 (blocks: ReadonlyArray<readonly number[]>): { p99: number, pooled: Summary, blockP99s: number[] } {
  const blockP99s = blocks.map((b) => summarize(b).p99)
  return { p99: median(blockP99s), pooled: summarize(blocks.flat()), blockP99s }
}

export function median (xs: readonly number[]): number {
  return percentile(xs.slice().sort((a, b) => a - b), 50)
}

export const round = (x: number, digits = 3): number => Number.isFinite(x) ? Number(x.toFixed(digits)) : x

/** Lets pending I/O callbacks and timers run (between phases of a benchmark). */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

export async function until (probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`bench: ${what} not reached within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

// ---- the replayed ingest stream ------------------------------------------------------------------

/** Event frames (no trailing blank line) of every recorded fixture, in file order. */
/**
 * The byte-exact recordings of a real Asterisk 22 session (../shared/fixtures/ami): the ingest stream
 * is defined on these. Fixtures added later that were re-assembled from an observer's parsed events
 * (see test/fixtures/ami/README.md) are not what Asterisk wrote on the wire, and would change the
 * stream the benchmark compares over time.
 */
export const RAW_RECORDINGS: ReadonlySet<string> = new Set([
  'basic-call-answered.ami', 'blind-transfer.ami', 'caller-abandons.ami', 'click-to-call-public.ami',
  'pickup-answered.ami', 'pickup-lost-race.ami', 'pickup-no-answer.ami', 'snapshot-mixed.ami'
])

export function fixtureEventFrames (dir = FIXTURE_DIR): string[] {
  const frames: string[] = []
  for (const name of readdirSync(dir).filter((f) => RAW_RECORDINGS.has(f)).sort()) {
    const text = readFileSync(join(dir, name), 'utf8')
    for (const f of text.split('\r\n\r\n')) {
      // Event frames only: the banner, the login reply and action replies belong to the recording
      // session. FullyBooted is the recording session's login greeting: replayed, it would (rightly)
      // make MirrorSync resync mid-stream, which is not what an ingest benchmark measures.
      if (!f.startsWith('Event: ') || f.startsWith('Event: FullyBooted')) continue
      frames.push(f)
    }
  }
  return frames
}

// ---- manager.conf eventfilter -------------------------------------------------------------------

/** The AMI user's manager.conf shipped with the project (the bundled PBX uses it). */
export const MANAGER_CONF = fileURLToPath(new URL('../asterisk/manager.conf', import.meta.url))

type FilterMethod = 'regex' | 'exact' | 'starts_with' | 'ends_with' | 'contains' | 'none'

/** One `eventfilter` line of a manager.conf user section. */
export interface EventFilter {
  readonly exclude: boolean
  /** Advanced syntax: the event name (case-sensitive), if name() was given. */
  readonly name: string | undefined
  /** Advanced syntax: the header whose value the expression is matched against, if header() was given. */
  readonly header: string | undefined
  readonly method: FilterMethod
  readonly expression: string
  /** Legacy syntax (`eventfilter = [!]regex`): the regex is matched against the whole event payload. */
  readonly legacy: boolean
}

/**
 * The `eventfilter` lines of `user`'s section, as Asterisk (>= 21) reads them. Advanced syntax
 * `eventfilter(action(include|exclude),name(X),header(H),method(M)) = expression` (each criterion
 * optional, action defaults to include, method to none: the expression is then ignored) and the
 * legacy `eventfilter = regex` / `eventfilter = !regex`.
 */
export function parseEventFilters (confText: string, user: string): EventFilter[] {
  const filters: EventFilter[] = []
  let section = ''
  for (const rawLine of confText.split(/\r?\n/)) {
    const line = rawLine.replace(/(^|[^\\]);.*$/, '$1').trim()
    if (line === '') continue
    const head = /^\[([^\]]+)\]/.exec(line)
    if (head !== null) { section = head[1] as string; continue }
    if (section !== user) continue
    const m = /^eventfilter\s*(?:\((.*)\))?\s*=>?\s*(.*)$/i.exec(line)
    if (m === null) continue
    const criteria = m[1]
    let expression = (m[2] ?? '').trim()
    if (criteria === undefined) {
      const exclude = expression.startsWith('!')
      if (exclude) expression = expression.slice(1)
      filters.push({ exclude, name: undefined, header: undefined, method: 'regex', expression, legacy: true })
      continue
    }
    let exclude = false
    let name: string | undefined
    let header: string | undefined
    let method: FilterMethod = 'none'
    for (const c of criteria.matchAll(/(action|name|header|method)\(([^)]*)\)/g)) {
      const value = (c[2] as string).trim()
      switch (c[1]) {
        case 'action':
          if (value !== 'include' && value !== 'exclude') throw new Error(`manager.conf: bad eventfilter action ${value}`)
          exclude = value === 'exclude'
          break
        case 'name': name = value; break
        case 'header': header = value; break
        case 'method':
          if (!['regex', 'exact', 'starts_with', 'ends_with', 'contains', 'none'].includes(value)) throw new Error(`manager.conf: bad eventfilter method ${value}`)
          method = value as FilterMethod
      }
    }
    filters.push({ exclude, name, header, method, expression, legacy: false })
  }
  return filters
}

function matchesFilter (f: EventFilter, eventName: string, frame: string): boolean {
  if (f.legacy) return new RegExp(f.expression).test(frame)
  if (f.name !== undefined && f.name !== eventName) return false
  let data = frame
  if (f.header !== undefined) {
    // Only events carrying the header; the expression then sees its value only.
    const h = f.header.toLowerCase()
    const line = frame.split('\r\n').find((l) => l.slice(0, l.indexOf(':')).toLowerCase() === h)
    if (line === undefined) return false
    data = line.slice(line.indexOf(':') + 1).replace(/^ /, '')
  }
  switch (f.method) {
    case 'none': return true
    case 'regex': return new RegExp(f.expression).test(data)
    case 'exact': return data === f.expression
    case 'starts_with': return data.startsWith(f.expression)
    case 'ends_with': return data.endsWith(f.expression)
    case 'contains': return data.includes(f.expression)
  }
}

/**
 * Whether Asterisk would send this event frame to a user with these filters: no filters, all
 * events; include filters present, only events matching one of them; then any matching exclude
 * filter drops the event.
 */
export function passesEventFilters (frame: string, filters: readonly EventFilter[]): boolean {
  if (filters.length === 0) return true
  const eventName = /^Event: ([^\r\n]*)/.exec(frame)?.[1] ?? ''
  const includes = filters.filter((f) => !f.exclude)
  if (includes.length > 0 && !includes.some((f) => matchesFilter(f, eventName, frame))) return false
  return !filters.some((f) => f.exclude && matchesFilter(f, eventName, frame))
}

/** The frames the bundled manager.conf's `user` section lets through. */
export function filterLikeManagerConf (frames: readonly string[], user: string, confPath = MANAGER_CONF): string[] {
  const filters = parseEventFilters(readFileSync(confPath, 'utf8'), user)
  if (filters.length === 0) throw new Error(`${confPath}: no eventfilter for user ${user}`)
  return frames.filter((f) => passesEventFilters(f, filters))
}

// Every header naming a channel or bridge identity: Uniqueid, Linkedid, DestUniqueid, DestLinkedid,
// TargetUniqueid, TransfereeLinkedid, BridgeUniqueid...
const ID_HEADER = /^([A-Za-z]*(?:Uniqueid|Linkedid)): (.+)$/gm

/**
 * The fixtures' event frames concatenated `reps` times, each repetition's identities suffixed with
 * its number so the mirror sees distinct calls. Returns the wire bytes and the number of events.
 */
export function buildIngestStream (reps: number, frames: readonly string[] = fixtureEventFrames()): { bytes: Buffer, events: number, perRep: number } {
  const template = frames.join('\r\n\r\n') + '\r\n\r\n'
  const parts: string[] = []
  for (let r = 0; r < reps; r++) parts.push(template.replace(ID_HEADER, (_m, name: string, value: string) => `${name}: ${value}-${r}`))
  return { bytes: Buffer.from(parts.join(''), 'utf8'), events: frames.length * reps, perRep: frames.length }
}

const FRAME_END = Buffer.from('\r\n\r\n')

/**
 * Writes `bytes` (whole AMI frames) to a socket in pieces of about `chunkSize`, as fast as it drains.
 * Pieces end on a frame boundary, so a reply the peer writes in between (a Pong to the engine's
 * liveness Ping) lands between two frames instead of inside one.
 */
export async function writeAll (socket: Socket, bytes: Buffer, chunkSize = 1 << 20): Promise<void> {
  let i = 0
  while (i < bytes.length) {
    let end = Math.min(bytes.length, i + chunkSize)
    if (end < bytes.length) {
      const cut = bytes.lastIndexOf(FRAME_END, end - FRAME_END.length)
      end = cut > i ? cut + FRAME_END.length : bytes.indexOf(FRAME_END, end) + FRAME_END.length
      if (end < FRAME_END.length) end = bytes.length
    }
    const piece = bytes.subarray(i, end)
    i = end
    if (!socket.write(piece)) await new Promise((resolve) => socket.once('drain', resolve))
  }
}

// ---- synthetic calls -----------------------------------------------------------------------------

export type Headers = Record<string, string>

const EPOCH = 1_790_000_000

export interface SyntheticCall {
  readonly callerUniqueid: string
  readonly calleeUniqueid: string
  readonly events: Headers[]
}

function channelHeaders (p: string, channel: string, state: number, num: string, name: string, cNum: string, cName: string, exten: string, uniqueid: string, linkedid: string): Headers {
  const desc = ['Down', 'Rsrvd', 'OffHook', 'Dialing', 'Ring', 'Ringing', 'Up'][state] ?? 'Unknown'
  return {
    [`${p}Channel`]: channel,
    [`${p}ChannelState`]: String(state),
    [`${p}ChannelStateDesc`]: desc,
    [`${p}CallerIDNum`]: num,
    [`${p}CallerIDName`]: name,
    [`${p}ConnectedLineNum`]: cNum,
    [`${p}ConnectedLineName`]: cName,
    [`${p}Language`]: 'en',
    [`${p}AccountCode`]: '',
    [`${p}Context`]: 'org-0003',
    [`${p}Exten`]: exten,
    [`${p}Priority`]: '1',
    [`${p}Uniqueid`]: uniqueid,
    [`${p}Linkedid`]: linkedid
  }
}

/**
 * The events Asterisk 22 sends for `from` dialing `to` (shaped like the recorded fixtures), up to a
 * ringing callee, or (`answered`) up to both legs bridged. Uniqueids are `<epoch>.<2n>` / `.<2n+1>`.
 */
export function syntheticCall (n: number, from: string, to: string, answered: boolean): SyntheticCall {
  const a = `${EPOCH}.${2 * n}`
  const b = `${EPOCH}.${2 * n + 1}`
  const chanA = `PJSIP/${from}-${(2 * n).toString(16).padStart(8, '0')}`
  const chanB = `PJSIP/${to}-${(2 * n + 1).toString(16).padStart(8, '0')}`
  const U = '<unknown>'
  const caller = (state: number, cNum = U, cName = U): Headers => channelHeaders('', chanA, state, from, `Caller ${from}`, cNum, cName, to, a, a)
  const callee = (p: string, state: number): Headers => channelHeaders(p, chanB, state, to, U, from, `Caller ${from}`, to, b, a)
  const ev = (event: string, ...parts: Headers[]): Headers => Object.assign({ Event: event, Privilege: 'call,all' }, ...parts)
  const events: Headers[] = [
    ev('Newchannel', caller(4)),
    ev('Newchannel', channelHeaders('', chanB, 0, U, U, U, U, 's', b, a)),
    ev('DialBegin', caller(4), callee('Dest', 0), { DialString: to }),
    ev('Newstate', callee('', 5))
  ]
  if (answered) {
    const bridge = `bridge-${n}`
    events.push(
      ev('Newstate', callee('', 6)),
      ev('DialEnd', caller(4, to, U), callee('Dest', 6), { DialStatus: 'ANSWER' }),
      ev('Newstate', caller(6, to, U)),
      ev('BridgeEnter', { BridgeUniqueid: bridge, BridgeType: 'basic', BridgeTechnology: 'simple_bridge', BridgeCreator: '<unknown>', BridgeName: '<unknown>', BridgeNumChannels: '1', BridgeVideoSourceMode: 'none' }, callee('', 6)),
      ev('BridgeEnter', { BridgeUniqueid: bridge, BridgeType: 'basic', BridgeTechnology: 'simple_bridge', BridgeCreator: '<unknown>', BridgeName: '<unknown>', BridgeNumChannels: '2', BridgeVideoSourceMode: 'none' }, caller(6, to, U))
    )
  }
  return { callerUniqueid: a, calleeUniqueid: b, events }
}

/**
 * Hold (or Unhold) of the caller leg of syntheticCall(n, from, to, true), as Asterisk 22 sends it
 * when the phone puts the call on hold (the leg is Up and bridged).
 */
export function syntheticHold (n: number, from: string, to: string, hold: boolean): Headers {
  const a = `${EPOCH}.${2 * n}`
  const chanA = `PJSIP/${from}-${(2 * n).toString(16).padStart(8, '0')}`
  const h: Headers = { Event: hold ? 'Hold' : 'Unhold', Privilege: 'call,all', ...channelHeaders('', chanA, 6, from, `Caller ${from}`, to, '<unknown>', to, a, a) }
  if (hold) h.MusicClass = 'default'
  return h
}

/** The Hangup events (callee first, then caller) that end syntheticCall(n, from, to, true). */
export function syntheticHangup (n: number, from: string, to: string): Headers[] {
  const a = `${EPOCH}.${2 * n}`
  const b = `${EPOCH}.${2 * n + 1}`
  const chanA = `PJSIP/${from}-${(2 * n).toString(16).padStart(8, '0')}`
  const chanB = `PJSIP/${to}-${(2 * n + 1).toString(16).padStart(8, '0')}`
  const end = { Cause: '16', 'Cause-txt': 'Normal Clearing' }
  return [
    { Event: 'Hangup', Privilege: 'call,all', ...channelHeaders('', chanB, 6, to, '<unknown>', from, `Caller ${from}`, to, b, a), ...end },
    { Event: 'Hangup', Privilege: 'call,all', ...channelHeaders('', chanA, 6, from, `Caller ${from}`, to, '<unknown>', to, a, a), ...end }
  ]
}

/** Wire frame of a synthetic event (for the fake peer). */
export const toFrame = (h: Headers): string => frame(h)

/** The AmiEvent the AMI layer would deliver for a synthetic event (lower-cased keys). */
export function toEvent (h: Headers): AmiEvent {
  const e: Record<string, string> = {}
  for (const k in h) e[k.toLowerCase()] = h[k] as string
  return e as AmiEvent
}

// ---- the engine against a fake AMI peer ----------------------------------------------------------

export interface EngineUnderTest {
  readonly app: App
  readonly fake: FakeAmi
  close (): Promise<void>
}

/**
 * The real engine (buildApp) with AMI pointed at a local FakeAmi, logger silent, mirror live.
 * `beforeReady` may add hooks (Fastify refuses them once ready).
 */
export async function engineWithFakeAmi (beforeReady?: (app: App) => void, edit?: (config: Config) => void): Promise<EngineUnderTest> {
  const base = loadConfig({ LOG_LEVEL: 'silent' })
  const fake = await FakeAmi.start({ username: base.ami.username, secret: base.ami.secret })
  // The loaded config is deep-frozen: change a copy.
  const config = structuredClone(base) as Config
  config.ami.host = fake.host
  config.ami.port = fake.port
  // Benchmarks send tens of thousands of requests a minute from one app and one IP: lift the
  // per-app/per-IP rate limits (when this engine version has them) far above that, so the limiter's
  // hooks still run on every request but never refuse one. Set loosely so it is a no-op without them.
  ;(config.http as Record<string, unknown>).rateLimit = { max: 1_000_000, timeWindowMs: 60_000, tokenMax: 1_000_000 }
  edit?.(config)
  // A throw-away embedded database, unless `edit` named a server.
  const storage = config.database.url === undefined ? { storage: lazyTestStorage() } : {}
  const app = await buildApp(config, { logger: pino({ level: 'silent' }), connect: true, ...storage })
  beforeReady?.(app)
  await app.ready()
  await app.engine.sync.whenLive(10_000)
  return {
    app,
    fake,
    async close () {
      await app.close()
      await fake.close()
    }
  }
}

/**
 * A bearer token for a demo user (demo-<id> / demo-secret-<id>), as the tests get one. Not imported
 * from test/helpers/app.ts: that module brings tap's per-file checks along, which have no place in a
 * benchmark process.
 */
export async function tokenFor (app: App, userId: number | string): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: `demo-${userId}`, client_secret: `demo-secret-${userId}` }
  })
  if (res.statusCode !== 200) throw new Error(`token for ${userId}: ${res.statusCode} ${res.body}`)
  return (res.json() as { access_token: string }).access_token
}

/** Streams synthetic events through the fake peer and waits until the engine applied the last one. */
export async function streamThroughPeer (eut: EngineUnderTest, events: readonly Headers[], applied: () => boolean): Promise<void> {
  const conn = eut.fake.live[eut.fake.live.length - 1]
  if (conn === undefined) throw new Error('bench: the engine is not connected to the fake AMI')
  await writeAll(conn.socket, Buffer.from(events.map(toFrame).join(''), 'utf8'))
  await until(applied, 30_000, 'synthetic events applied')
}
