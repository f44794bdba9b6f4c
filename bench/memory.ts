// Memory per mirrored call, through the real input path: 10,000 live calls of 2 legs each (answered
// and bridged, 9 events per call) written as AMI frames by a local fake AMI peer, read by the
// engine's own AmiClient (asterisk-manager's parser, src/ami) and applied by MirrorSync to the
// Mirror, exactly as in production. Then every call is projected once, as a List would (the
// per-call view cache), and RSS and V8 heapUsed are read after global.gc(); the growth against the
// same process before the calls arrived is the result. Runs in a child process started with
// --expose-gc (node --expose-gc --import tsx bench/memory.ts), so the parent's heap (the other
// benchmarks) does not blur it. `--check-slices` adds a heap-snapshot count of the SlicedStrings
// still pointing into parser chunks (should be 0; slow, not used by `npm run bench`).
//
// The peer lives in the same process (bench/lib.ts engineWithFakeAmi): the calls are written in
// batches of BATCH calls, each batch waited for, so the peer's own transient buffers stay small
// and are garbage by the time of the measurement.
//
// Why the real path matters: asterisk-manager splits each socket chunk (a string of up to 64 KiB)
// into lines and values; V8 makes a value of 13 or more characters a SlicedString that points into
// the whole chunk. A mirror keeping such a value (a uniqueid, a channel name) keeps the chunk alive.
// Applying synthetic events straight to Mirror.apply (flat strings) cannot show that.
//
// Last, the call indexes alone (src/calls/call-index.ts): the heap growth of a CallIndex over 10,000
// calls in four scopes (all, organization 3, 0003*300 and 0003*301), and of its trigram index of ids
// alone; the calls themselves are not counted (context: they are inside the figures above).
import { fileURLToPath, pathToFileURL } from 'node:url'
import { spawn } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { writeHeapSnapshot } from 'node:v8'
import { dirname, join } from 'node:path'
import { engineWithFakeAmi, syntheticCall, tick, toFrame, until, writeAll, type EngineUnderTest, type Headers } from './lib.ts'
import { CallIndex, IdGrams } from '../src/calls/call-index.ts'
import { callIdDeriver, type Call } from '../src/calls/index.ts'

export interface MemoryResult {
  /** RSS growth for 10,000 calls through the real AMI path, views included. */
  rss_mb_per_10k_calls: number
  /** V8 heapUsed growth for the same. */
  heap_mb_per_10k_calls: number
  /** The same two before the views were projected (mirror alone). */
  rss_mb_per_10k_calls_mirror_only: number
  heap_mb_per_10k_calls_mirror_only: number
  /** The call indexes alone (context), and their id trigrams alone. */
  call_index_heap_mb_per_10k_calls: number
  id_grams_heap_mb_per_10k_calls: number
  /** With --check-slices: SlicedStrings alive whose parent is 4 KiB or more (a parser chunk), from a heap snapshot. */
  sliced_strings_into_chunks?: number
  sliced_strings_into_chunks_mb?: number
}

const CALLS = 10_000
const BATCH = 250
const HERE = fileURLToPath(import.meta.url)

async function settle (): Promise<NodeJS.MemoryUsage> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('memory: run with --expose-gc')
  for (let i = 0; i < 3; i++) { gc(); await tick() }
  return process.memoryUsage()
}

/** Writes the events as AMI frames to the engine's connection and waits until `done()`. */
async function send (eut: EngineUnderTest, events: readonly Headers[], done: () => boolean): Promise<void> {
  const conn = eut.fake.live[eut.fake.live.length - 1]
  if (conn === undefined) throw new Error('memory: the engine is not connected to the fake AMI')
  await writeAll(conn.socket, Buffer.from(events.map(toFrame).join(''), 'utf8'))
  await until(done, 30_000, 'calls applied')
}

/** The measurement itself (child process). */
async function measure (): Promise<MemoryResult> {
  const eut = await engineWithFakeAmi()
  const app = eut.app
  const mirror = app.engine.mirror
  let result: MemoryResult
  try {
    // Warm-up: the same code paths once (JIT, hidden classes, the party cache), then hung up.
    const warm: Headers[] = []
    for (let i = 0; i < 200; i++) {
      const c = syntheticCall(1_000_000 + i, '0003*300', '0003*301', true)
      warm.push(...c.events, { Event: 'Hangup', Uniqueid: c.calleeUniqueid, Cause: '16' }, { Event: 'Hangup', Uniqueid: c.callerUniqueid, Cause: '16' })
    }
    let hangups = 0
    const onHangup = (): void => { hangups++ }
    mirror.on('hangup', onHangup)
    await send(eut, warm, () => hangups === 400)
    mirror.off('hangup', onHangup)
    for (const call of mirror.calls.values()) app.engine.calls.project(call)
    const before = await settle()
    for (let first = 0; first < CALLS; first += BATCH) {
      const events: Headers[] = []
      const last = Math.min(CALLS, first + BATCH)
      for (let i = first; i < last; i++) events.push(...syntheticCall(i, '0003*300', i % 2 === 0 ? '0003*301' : '0003*210', true).events)
      // In order on one socket: once the batch's last event is applied, all of them are.
      await send(eut, events, () => bridgedBoth(mirror, last - 1))
    }
    if (mirror.size !== CALLS || mirror.legs.size !== 2 * CALLS) throw new Error(`memory: ${mirror.size} calls / ${mirror.legs.size} legs mirrored`)
    if (app.engine.sync.state !== 'live') throw new Error(`memory: mirror ${app.engine.sync.state}`)
    const mirrorOnly = await settle()
    for (const call of mirror.calls.values()) app.engine.calls.project(call)
    const after = await settle()
    const mb = (a: number, b: number): number => Number(((b - a) / 1024 / 1024).toFixed(2))
    result = {
      rss_mb_per_10k_calls: mb(before.rss, after.rss),
      heap_mb_per_10k_calls: mb(before.heapUsed, after.heapUsed),
      rss_mb_per_10k_calls_mirror_only: mb(before.rss, mirrorOnly.rss),
      heap_mb_per_10k_calls_mirror_only: mb(before.heapUsed, mirrorOnly.heapUsed),
      call_index_heap_mb_per_10k_calls: 0,
      id_grams_heap_mb_per_10k_calls: 0
    }
    if (process.argv.includes('--check-slices')) Object.assign(result, slicesIntoChunks())
  } finally {
    await eut.close()
  }
  const index = await measureIndex()
  result.call_index_heap_mb_per_10k_calls = index.all
  result.id_grams_heap_mb_per_10k_calls = index.grams
  return result
}

/** Heap growth (MB) of the call indexes over CALLS calls, not counting the calls. */
async function measureIndex (): Promise<{ all: number, grams: number }> {
  const id = callIdDeriver('bench-secret-bench-secret')
  const calls: Call[] = []
  for (let i = 0; i < CALLS; i++) {
    const key = `1790000000.${2 * i}`
    calls.push({ key, id: id(key), legs: new Map(), createdAt: 1_790_000_000_000 + i * 1000, nextView: 0, aliases: [], parties: new Map([['0003*300', '3'], ['0003*301', '3']]), version: 0 })
  }
  const heap = async (): Promise<number> => (await settle()).heapUsed
  const before = await heap()
  const index = new CallIndex()
  for (const call of calls) {
    index.addCall(call)
    index.addParty(call, '0003*300', '3')
    index.addParty(call, '0003*301', '3')
  }
  const withIndex = await heap()
  const grams = new IdGrams()
  for (const call of calls) grams.add(call)
  const withGrams = await heap()
  if (index.all.size !== CALLS || calls.length !== CALLS || grams.candidates('000') === undefined) throw new Error('memory: index not built')
  const mb = (b: number): number => Number((b / 1024 / 1024).toFixed(2))
  return { all: mb(withIndex - before), grams: mb(withGrams - withIndex) }
}

/**
 * Counts, in a heap snapshot of this process, the SlicedStrings whose parent string is 4 KiB or
 * more (a socket chunk of the parser), and the distinct parents' size: what the mirror keeps alive
 * that it does not need.
 */
function slicesIntoChunks (): { sliced_strings_into_chunks: number, sliced_strings_into_chunks_mb: number } {
  const file = writeHeapSnapshot(join(tmpdir(), `memory-${process.pid}.heapsnapshot`))
  try {
    const snap = JSON.parse(readFileSync(file, 'utf8')) as {
      snapshot: { meta: { node_fields: string[], edge_fields: string[], node_types: [string[]], edge_types: [string[]] } }
      nodes: number[]
      edges: number[]
      strings: string[]
    }
    const { node_fields: nf, edge_fields: ef, node_types: nt, edge_types: et } = snap.snapshot.meta
    const N = nf.length
    const E = ef.length
    const type = nf.indexOf('type')
    const size = nf.indexOf('self_size')
    const edgeCount = nf.indexOf('edge_count')
    const edgeType = ef.indexOf('type')
    const edgeName = ef.indexOf('name_or_index')
    const edgeTo = ef.indexOf('to_node')
    const sliced = nt[0].indexOf('sliced string')
    const internal = et[0].indexOf('internal')
    const { nodes, edges, strings } = snap
    let count = 0
    const parents = new Map<number, number>()
    for (let n = 0, e = 0; n < nodes.length; n += N) {
      const edgesHere = nodes[n + edgeCount] as number
      if (nodes[n + type] === sliced) {
        for (let k = e; k < e + edgesHere * E; k += E) {
          if (edges[k + edgeType] !== internal || strings[edges[k + edgeName] as number] !== 'parent') continue
          const to = edges[k + edgeTo] as number
          const parentSize = nodes[to + size] as number
          if (parentSize >= 4096) { count++; parents.set(to, parentSize) }
        }
      }
      e += edgesHere * E
    }
    let bytes = 0
    for (const s of parents.values()) bytes += s
    return { sliced_strings_into_chunks: count, sliced_strings_into_chunks_mb: Number((bytes / 1024 / 1024).toFixed(2)) }
  } finally {
    rmSync(file, { force: true })
  }
}

/** The last event of synthetic call n (the caller's BridgeEnter) has been applied. */
function bridgedBoth (mirror: EngineUnderTest['app']['engine']['mirror'], n: number): boolean {
  const c = syntheticCall(n, '', '', true)
  return mirror.legs.get(c.callerUniqueid)?.bridgeId !== undefined && mirror.legs.get(c.calleeUniqueid)?.bridgeId !== undefined
}

/** Runs the measurement in a child `node --expose-gc --import tsx bench/memory.ts`. */
export async function benchMemory (): Promise<MemoryResult> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', HERE], {
    cwd: join(dirname(HERE), '..'),
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  if (code !== 0) throw new Error(`memory: child exited with ${code}`)
  const last = out.trim().split('\n').pop() ?? ''
  return JSON.parse(last) as MemoryResult
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  measure().then((r) => {
    process.stdout.write(JSON.stringify(r) + '\n')
    // The closed app may leave sockets behind: the result is out, end the child.
    process.exit(0)
  }, (err: unknown) => {
    process.stderr.write(`memory: ${String(err)}\n`)
    process.exit(1)
  })
}
