// `npm run bench`: runs every benchmark in turn, prints key | value | target | met? to stdout (progress
// goes to stderr) and writes bench/results.json. One benchmark failing leaves its keys null, the
// others still run, and the exit code is 1. A missed target is a finding, not a failure: exit 0.
// Each benchmark runs in a process of its own: the ingest run leaves ~80 MB of garbage behind, and
// its collection used to land in the next benchmark's p99.
//
//   npm run bench                       all of them (~2 min; pickup-e2e needs `npm run pbx:up`)
//   npm run bench -- ingest list        only some: memory ingest pickup list http e2e events stream startup
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { arch, cpus } from 'node:os'
import { benchMemory } from './memory.ts'
import { benchIngest } from './ingest.ts'
import { benchPickupOverhead } from './pickup-overhead.ts'
import { SHAPES, benchListScale } from './list-scale.ts'
import { benchHttpHello } from './http-hello.ts'
import { benchPickupE2e } from './pickup-e2e.ts'
import { benchStartup } from './startup.ts'
import { benchStreamFanout } from './stream-fanout.ts'
import { benchEventDelivery } from './event-delivery.ts'

type Results = Record<string, number | number[] | string | null>

interface Target { readonly key: string, readonly text: string, readonly met: (v: number) => boolean }

// The acceptance keys, in table order. Keys without a target are reported for context.
const TABLE: ReadonlyArray<{ key: string, target?: Target }> = [
  { key: 'ami_ingest_events_per_s' },
  { key: 'ami_ingest_baseline_events_per_s' },
  { key: 'ami_ingest_ratio', target: { key: 'ami_ingest_ratio', text: '>= 0.8', met: (v) => v >= 0.8 } },
  { key: 'ami_ingest_events_per_s_unfiltered' },
  { key: 'ami_ingest_baseline_events_per_s_unfiltered' },
  { key: 'ami_ingest_ratio_unfiltered' },
  { key: 'ami_ingest_ratio_cpu' },
  { key: 'ami_ingest_ratio_unfiltered_cpu' },
  { key: 'pickup_overhead_p50_ms' },
  { key: 'pickup_overhead_p99_ms', target: { key: 'pickup_overhead_p99_ms', text: '< 2 ms', met: (v) => v < 2 } },
  { key: 'ami_ping_rtt_p99_ms' },
  ...SHAPES.map((s) => ({ key: `list_${s.name}_p99_ms_10k` })),
  { key: 'list_p99_ms_10k', target: { key: 'list_p99_ms_10k', text: '< 5 ms', met: (v) => v < 5 } },
  ...SHAPES.map((s) => ({ key: `list_${s.name}_ratio` })),
  { key: 'list_scale_ratio', target: { key: 'list_scale_ratio', text: '<= 2', met: (v) => v <= 2 } },
  { key: 'http_get_call_rps' },
  { key: 'http_hello_rps' },
  { key: 'http_vs_hello_ratio', target: { key: 'http_vs_hello_ratio', text: '>= 0.5', met: (v) => v >= 0.5 } },
  { key: 'rss_mb_per_10k_calls', target: { key: 'rss_mb_per_10k_calls', text: '<= 30 MB', met: (v) => v <= 30 } },
  { key: 'heap_mb_per_10k_calls' },
  { key: 'rss_mb_per_10k_calls_mirror_only' },
  { key: 'heap_mb_per_10k_calls_mirror_only' },
  { key: 'call_index_heap_mb_per_10k_calls' },
  { key: 'pickup_e2e_ms_p50' },
  { key: 'event_delivery_ms_p50' },
  { key: 'event_delivery_ms_p99', target: { key: 'event_delivery_ms_p99', text: '< 50 ms (100 calls/s, embedded database)', met: (v) => v < 50 } },
  { key: 'event_delivery_ms_p99_postgres', target: { key: 'event_delivery_ms_p99_postgres', text: '< 50 ms (100 calls/s, PostgreSQL)', met: (v) => v < 50 } },
  { key: 'stream_fanout_ms_p50' },
  { key: 'stream_fanout_ms_p99', target: { key: 'stream_fanout_ms_p99', text: '< 20 ms (one change, 100 clients)', met: (v) => v < 20 } },
  { key: 'start_to_ready_ms' },
  { key: 'start_to_ready_ms_tsx' },
  { key: 'idle_rss_mb' },
  { key: 'idle_rss_mb_tsx' },
  { key: 'start_to_ready_ms_unbundled' },
  { key: 'idle_rss_mb_unbundled' },
  { key: 'start_to_ready_ms_embedded' },
  { key: 'idle_rss_mb_embedded' },
  { key: 'idle_rss_ratio', target: { key: 'idle_rss_ratio', text: '<= 0.75 (compiled vs tsx)', met: (v) => v <= 0.75 } }
]

const BENCHES: ReadonlyArray<{ name: string, keys: string[], run: (log: (m: string) => void) => Promise<object> }> = [
  { name: 'memory', keys: ['rss_mb_per_10k_calls', 'heap_mb_per_10k_calls', 'rss_mb_per_10k_calls_mirror_only', 'heap_mb_per_10k_calls_mirror_only', 'call_index_heap_mb_per_10k_calls', 'id_grams_heap_mb_per_10k_calls'], run: async () => benchMemory() },
  {
    name: 'ingest',
    keys: ['ami_ingest_events_per_s', 'ami_ingest_ratio', 'ami_ingest_baseline_events_per_s',
      'ami_ingest_events_per_s_unfiltered', 'ami_ingest_ratio_unfiltered', 'ami_ingest_baseline_events_per_s_unfiltered'],
    run: benchIngest
  },
  { name: 'pickup', keys: ['pickup_overhead_p99_ms', 'pickup_overhead_p50_ms', 'ami_ping_rtt_p99_ms'], run: benchPickupOverhead },
  { name: 'list', keys: ['list_p99_ms_10k', 'list_scale_ratio', ...SHAPES.flatMap((s) => [`list_${s.name}_p99_ms_10k`, `list_${s.name}_ratio`])], run: benchListScale },
  { name: 'http', keys: ['http_vs_hello_ratio', 'http_get_call_rps', 'http_hello_rps'], run: benchHttpHello },
  { name: 'e2e', keys: ['pickup_e2e_ms_p50'], run: benchPickupE2e },
  { name: 'events', keys: ['event_delivery_ms_p99', 'event_delivery_ms_p50', 'event_delivery_ms_p99_postgres', 'event_delivery_ms_p50_postgres'], run: benchEventDelivery },
  { name: 'stream', keys: ['stream_fanout_ms_p99', 'stream_fanout_ms_p50'], run: benchStreamFanout },
  { name: 'startup', keys: ['start_to_ready_ms', 'start_to_ready_ms_tsx', 'idle_rss_mb', 'idle_rss_mb_tsx', 'idle_rss_ratio', 'start_to_ready_ms_unbundled', 'idle_rss_mb_unbundled', 'start_to_ready_ms_embedded', 'idle_rss_mb_embedded'], run: benchStartup }
]

const log = (msg: string): void => { process.stderr.write(`[bench] ${msg}\n`) }

/** Runs one benchmark in a fresh Node process; its results come back as JSON on stdout. */
function runInChild (name: string): Promise<object> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', name], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${name} exited with ${String(code)}`))
      try {
        resolve(JSON.parse(out) as object)
      } catch (err) {
        reject(new Error(`${name} printed no results: ${(err as Error).message}`))
      }
    })
  })
}

async function main (): Promise<number> {
  const child = process.argv.indexOf('--child')
  if (child !== -1) {
    const bench = BENCHES.find((b) => b.name === process.argv[child + 1])
    if (bench === undefined) throw new Error(`no benchmark ${String(process.argv[child + 1])}`)
    process.stdout.write(JSON.stringify(await bench.run(log)))
    return 0
  }
  const only = process.argv.slice(2).filter((a) => !a.startsWith('-'))
  const results: Results = {}
  let failed = 0
  const started = Date.now()
  for (const b of BENCHES) {
    if (only.length > 0 && !only.includes(b.name)) continue
    const t = Date.now()
    log(`${b.name}...`)
    try {
      Object.assign(results, await runInChild(b.name))
    } catch (err) {
      failed++
      log(`${b.name} FAILED: ${(err as Error).stack ?? String(err)}`)
      for (const k of b.keys) results[k] = null
    }
    log(`${b.name} done in ${((Date.now() - t) / 1000).toFixed(1)} s`)
  }
  if (typeof results.pickup_e2e_skipped === 'string') log(`pickup_e2e_ms_p50 is null: ${results.pickup_e2e_skipped}`)
  results.machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}, ${arch()}`
  results.total_s = Math.round((Date.now() - started) / 1000)

  const file = fileURLToPath(new URL('./results.json', import.meta.url))
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
  process.stdout.write(table(results) + '\n')
  process.stdout.write(`\n${String(results.machine)}; ${String(results.total_s)} s; written ${file}\n`)
  return failed > 0 ? 1 : 0
}

function table (results: Results): string {
  const rows: string[][] = [['key', 'value', 'target', 'met?']]
  for (const { key, target } of TABLE) {
    if (!(key in results)) continue
    const v = results[key]
    const value = v === null || v === undefined ? 'null' : String(v)
    const met = target === undefined ? '' : typeof v === 'number' ? (target.met(v) ? 'yes' : 'NO') : 'n/a'
    rows.push([key, value, target?.text ?? '', met])
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? []
  const line = (r: string[]): string => '| ' + r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ') + ' |'
  return [line(rows[0] ?? []), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.slice(1).map(line)].join('\n')
}

main().then((code) => {
  process.exitCode = code
  // A child's benchmark may leave handles open (sockets of a closed app): its results are out, end it.
  if (process.argv.includes('--child')) process.exit(code)
}, (err: unknown) => {
  log(`FAILED: ${String(err)}`)
  process.exitCode = 1
})
