// Memory per mirrored call: RSS and V8 heap growth for 10,000 live calls of 2 legs each (answered
// and bridged, 9 events per call, applied to the engine's mirror), measured after global.gc() before
// and after inserting them. Runs in a child process started with --expose-gc (node --expose-gc
// --import tsx bench/memory.ts), so the parent's heap (the other benchmarks) does not blur it.
// A second step lists every call once (the projections the views cache per call) and reports the
// growth including that cache. Last, the call indexes alone (src/calls/call-index.ts): the heap
// growth of a CallIndex over 10,000 calls in four scopes (all, organization 3, 0003*300 and 0003*301,
// as in the mirror above), and of its trigram index of ids alone; the calls themselves are not counted.
import { spawn } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join } from 'node:path'
import { pino } from 'pino'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { syntheticCall, toEvent, tick, type Headers } from './lib.ts'
import { CallIndex, IdGrams } from '../src/calls/call-index.ts'
import { callIdDeriver, type Call } from '../src/calls/index.ts'

export interface MemoryResult {
  rss_mb_per_10k_calls: number
  heap_mb_per_10k_calls: number
  rss_mb_per_10k_calls_with_views: number
  heap_mb_per_10k_calls_with_views: number
  call_index_heap_mb_per_10k_calls: number
  id_grams_heap_mb_per_10k_calls: number
}

const CALLS = 10_000
const HERE = fileURLToPath(import.meta.url)

async function settle (): Promise<NodeJS.MemoryUsage> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('memory: run with --expose-gc')
  for (let i = 0; i < 3; i++) { gc(); await tick() }
  return process.memoryUsage()
}

/** The measurement itself (child process). */
async function measure (): Promise<MemoryResult> {
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent' }), { logger: pino({ level: 'silent' }), connect: false })
  await app.ready()
  const mirror = app.engine.mirror
  const apply = (events: Headers[]): void => { for (const h of events) mirror.apply(toEvent(h)) }
  // Warm-up: the same code paths once (JIT, hidden classes, the party cache), then hung up.
  for (let i = 0; i < 200; i++) {
    const c = syntheticCall(1_000_000 + i, '0003*300', '0003*301', true)
    apply(c.events)
    apply([{ Event: 'Hangup', Uniqueid: c.calleeUniqueid, Cause: '16' }, { Event: 'Hangup', Uniqueid: c.callerUniqueid, Cause: '16' }])
  }
  const before = await settle()
  for (let i = 0; i < CALLS; i++) apply(syntheticCall(i, '0003*300', i % 2 === 0 ? '0003*301' : '0003*210', true).events)
  if (mirror.size !== CALLS || mirror.legs.size !== 2 * CALLS) throw new Error(`memory: ${mirror.size} calls / ${mirror.legs.size} legs mirrored`)
  const after = await settle()
  for (const call of mirror.calls.values()) app.engine.calls.project(call)
  const withViews = await settle()
  await app.close()
  const mb = (a: number, b: number): number => Number(((b - a) / 1024 / 1024).toFixed(2))
  const index = await measureIndex()
  return {
    call_index_heap_mb_per_10k_calls: index.all,
    id_grams_heap_mb_per_10k_calls: index.grams,
    rss_mb_per_10k_calls: mb(before.rss, after.rss),
    heap_mb_per_10k_calls: mb(before.heapUsed, after.heapUsed),
    rss_mb_per_10k_calls_with_views: mb(before.rss, withViews.rss),
    heap_mb_per_10k_calls_with_views: mb(before.heapUsed, withViews.heapUsed)
  }
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
  measure().then((r) => { process.stdout.write(JSON.stringify(r) + '\n') }, (err: unknown) => {
    process.stderr.write(`memory: ${String(err)}\n`)
    process.exitCode = 1
  })
}
