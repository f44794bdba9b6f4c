// Soak: SOAK_CALLS (200) live answered calls on the bundled PBX and sustained API traffic over real
// HTTP for SOAK_SECONDS (120), then: zero 5xx and zero unexpected 4xx, latency p50/p99, engine RSS
// every 10 s (flat?), the mirror equal to CoreShowChannels, and an empty mirror once every call is
// hung up. Writes bench/soak-results.json; exit code 1 when a criterion fails. CI does not run it.
//
//   flock /tmp/uapi-pbx-tests.lock npx tsx bench/soak.ts      # the PBX is shared: hold its lock
//   SOAK_SECONDS=30 SOAK_CALLS=50 SOAK_CLIENTS=8 npx tsx bench/soak.ts
//
// Calls: one SIPp process (bench/soak/uac.xml) places SOAK_CALLS calls 0003*300 -> 0003*210 at
// SOAK_RATE (50) calls/s; 0003*210 is a registered SIPp UAS that answers every call
// (test/helpers/phones.ts, mode 'answer'). Each call is 2 legs (PJSIP/0003*300-..., PJSIP/0003*210-...)
// bridged by Dial: 200 calls = 400 channels, 800 RTP ports of the PBX's 1000 (rtp.conf).
// Engine: buildApp in this process (config/default.json, rate limits lifted), listening on
// 127.0.0.1:0. RSS is this process's: the engine plus the HTTP load clients (node:http, keep-alive).
// Traffic: SOAK_CLIENTS workers in a loop, each picking a request from the mix below, with no pause.
import { spawn, type ChildProcess } from 'node:child_process'
import dgram from 'node:dgram'
import http from 'node:http'
import { writeFileSync, mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { buildApp, type App } from '../src/app.ts'
import { loadConfig, type Config } from '../src/config.ts'
import { ensurePbx, hangupAllChannels, listChannels, pbxCli } from '../test/helpers/pbx.ts'
import { Phone, stopAllPhones, DEMO_SIP_PASSWORD, PBX_SIP } from '../test/helpers/phones.ts'
import { round } from './lib.ts'
import { lazyTestStorage } from '../test/helpers/pglite.ts'

const HERE = dirname(fileURLToPath(import.meta.url))
const SECONDS = Number(process.env.SOAK_SECONDS ?? 120)
const CALLS = Number(process.env.SOAK_CALLS ?? 200)
const RATE = Number(process.env.SOAK_RATE ?? 50)
const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 16)
const SAMPLE_MS = 10_000
const FROM = '0003*300'
const TO = '0003*210'
const OUT = join(HERE, 'soak-results.json')

const log = (msg: string): void => { process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`) }

async function until<T> (probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`soak: ${what} not reached within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

// ---- HTTP over loopback ---------------------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS * 2 })
let base = { host: '127.0.0.1', port: 0 }

interface Answer { status: number, body: string, ms: number }

function request (method: 'GET' | 'PUT' | 'POST', path: string, token?: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const headers: Record<string, string | number> = {}
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    if (payload !== undefined) { headers['content-type'] = 'application/json'; headers['content-length'] = payload.length }
    const t0 = process.hrtime.bigint()
    const req = http.request({ ...base, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: Number(process.hrtime.bigint() - t0) / 1e6 }))
      res.on('error', reject)
    })
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)))
    req.on('error', reject)
    req.end(payload)
  })
}

async function token (userId: number): Promise<string> {
  const res = await request('POST', '/oauth/token', undefined, { grant_type: 'client_credentials', client_id: `demo-${userId}`, client_secret: `demo-secret-${userId}` })
  if (res.status !== 200) throw new Error(`token for ${userId}: ${res.status} ${res.body}`)
  return (JSON.parse(res.body) as { access_token: string }).access_token
}

// ---- the request mix --------------------------------------------------------------------------------

interface Kind {
  readonly name: string
  readonly weight: number
  readonly run: () => Promise<Answer>
  /** The expected status, and a check of the body (a wrong answer is counted like an unexpected status). */
  readonly expect: number
  readonly check?: (body: any) => boolean
}

/** Latencies in a fixed histogram (0.01 ms buckets up to 2 s, then one overflow bucket): constant
 *  memory, so that the soak's own bookkeeping does not show up as growth in the RSS samples. */
class Latency {
  static readonly STEP = 0.01
  readonly buckets = new Uint32Array(200_001)
  n = 0
  max = 0
  add (ms: number): void {
    const i = Math.min(this.buckets.length - 1, Math.floor(ms / Latency.STEP))
    this.buckets[i] = (this.buckets[i] as number) + 1
    this.n++
    if (ms > this.max) this.max = ms
  }

  merge (o: Latency): void {
    for (let i = 0; i < o.buckets.length; i++) this.buckets[i] = (this.buckets[i] as number) + (o.buckets[i] as number)
    this.n += o.n
    this.max = Math.max(this.max, o.max)
  }

  /** Nearest-rank percentile, to the bucket's upper edge. */
  p (q: number): number {
    if (this.n === 0) return NaN
    const rank = Math.max(1, Math.ceil((q / 100) * this.n))
    let seen = 0
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i] as number
      if (seen >= rank) return i === this.buckets.length - 1 ? this.max : (i + 1) * Latency.STEP
    }
    return this.max
  }
}

interface Stats { n: number, byStatus: Record<string, number>, wrong: number, ms: Latency }

// ---- SIPp caller ------------------------------------------------------------------------------------

function udpPortFree (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4')
    s.once('error', () => resolve(false))
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

async function startCaller (): Promise<{ proc: ChildProcess, exit: Promise<number | null>, dir: string }> {
  let port = 6000 + Math.floor(Math.random() * 900)
  while (!(await udpPortFree(port)) || !(await udpPortFree(port + 10_000))) port++
  const dir = mkdtempSync(join(tmpdir(), 'soak-sipp-'))
  const args = [
    '-sf', join(HERE, 'soak', 'uac.xml'),
    '-s', TO, '-key', 'from', FROM, '-key', 'mport', String(port + 20_000),
    '-au', FROM, '-ap', DEMO_SIP_PASSWORD,
    '-i', '127.0.0.1', '-p', String(port), '-cp', String(port + 10_000),
    '-l', String(CALLS), '-r', String(RATE), '-m', String(CALLS),
    '-nostdin', '-trace_err', '-error_file', join(dir, 'errors.log'),
    '-trace_stat', '-stf', join(dir, 'stat.csv'),
    `${PBX_SIP.host}:${PBX_SIP.port}`
  ]
  const proc = spawn(process.env.SIPP_BIN ?? 'sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  proc.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000) })
  const exit = new Promise<number | null>((resolve) => {
    proc.once('error', (e) => { log(`sipp failed to start: ${e.message}`); resolve(null) })
    proc.once('exit', (code) => { if (code !== 0 && stderr !== '') log(`sipp caller stderr: ${stderr.trim()}`); resolve(code) })
  })
  process.on('exit', () => { proc.kill('SIGKILL') })
  return { proc, exit, dir }
}

// ---- memory ------------------------------------------------------------------------------------------

interface MemSample { t: number, rssMb: number, heapMb: number }

/** Least-squares slope in MB per minute. */
function slopePerMin (samples: readonly MemSample[], key: 'rssMb' | 'heapMb'): number {
  const n = samples.length
  if (n < 2) return 0
  const xs = samples.map((s) => s.t / 60_000)
  const ys = samples.map((s) => s[key])
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) { num += ((xs[i] as number) - mx) * ((ys[i] as number) - my); den += ((xs[i] as number) - mx) ** 2 }
  return den === 0 ? 0 : num / den
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort()
const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i])

// ---- main ---------------------------------------------------------------------------------------------

async function main (): Promise<number> {
  log(`${CALLS} calls ${FROM} -> ${TO} at ${RATE}/s, ${SECONDS} s of traffic from ${CLIENTS} clients`)
  await ensurePbx()
  await hangupAllChannels()
  const config = structuredClone(loadConfig({ LOG_LEVEL: 'silent' })) as Config
  config.http.rateLimit = { max: 1_000_000, timeWindowMs: 60_000, tokenMax: 1_000_000 }
  const app: App = await buildApp(config, { logger: pino({ level: process.env.SOAK_LOG_LEVEL ?? 'warn' }), connect: true, storage: lazyTestStorage() })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const addr = app.server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no listening address')
  base = { host: '127.0.0.1', port: addr.port }
  await app.engine.sync.whenLive(15_000)
  const { mirror } = app.engine

  const failures: string[] = []
  let caller: Awaited<ReturnType<typeof startCaller>> | undefined
  try {
    // ---- calls up
    await Phone.register(TO, { mode: 'answer' })
    const setupStart = Date.now()
    caller = await startCaller()
    const answered = (): number => {
      let n = 0
      for (const leg of mirror.legs.values()) if (leg.state === 6 && leg.party?.extension === TO) n++
      return n
    }
    await until(() => (answered() >= CALLS ? true : undefined), 60_000 + (CALLS / RATE) * 1000, `${CALLS} answered calls in the mirror`)
    const setupMs = Date.now() - setupStart
    const pbxLegs = await until(async () => {
      const ch = await listChannels()
      return ch.length >= 2 * CALLS && ch.every((c) => c.ChannelStateDesc === 'Up') ? ch : undefined
    }, 30_000, `${2 * CALLS} channels Up on the PBX`)
    log(`${CALLS} calls up in ${setupMs} ms; PBX ${pbxLegs.length} channels, mirror ${mirror.legs.size} legs / ${mirror.size} calls`)

    // ---- traffic
    const [user12, org3, admin] = await Promise.all([token(12), token(3), token(1)])
    const orgList = JSON.parse((await request('GET', `/uapi/phoneCalls/@me/@self?count=${CALLS}`, org3)).body) as { entry: Array<{ id: string, phoneCallView: Array<{ id: string, extension: string }> }> }
    const ids = orgList.entry.map((c) => c.id)
    const views = new Map(orgList.entry.map((c) => [c.id, c.phoneCallView.find((v) => v.extension === TO)?.id ?? '01']))
    if (ids.length !== CALLS) failures.push(`org 3 lists ${ids.length} calls, expected ${CALLS}`)
    const pick = (): string => ids[Math.floor(Math.random() * ids.length)] as string
    const total = (n: number) => (b: any): boolean => b?.totalResults === n
    const pickUpBody = (id: string, extra: Record<string, unknown>) => ({ action: 'PickUp', sendCallTo: '0003*024', phoneCallViewId: views.get(id), waitForPickup: '20', ...extra })
    const err = (code: string) => (b: any): boolean => b?.error?.code === code
    const kinds: Kind[] = [
      { name: 'list 12 @me/0003*210', weight: 6, run: () => request('GET', `/uapi/phoneCalls/@me/${TO}`, user12), expect: 200, check: total(CALLS) },
      { name: 'list 12 @me/@self', weight: 3, run: () => request('GET', '/uapi/phoneCalls/@me/@self?count=50', user12), expect: 200, check: total(CALLS) },
      { name: 'list 3 @me/@self (org)', weight: 3, run: () => request('GET', '/uapi/phoneCalls/@me/@self', org3), expect: 200, check: total(CALLS) },
      { name: 'list 3 14/0003*300', weight: 2, run: () => request('GET', `/uapi/phoneCalls/14/${FROM}?count=5&startIndex=100`, org3), expect: 200, check: total(CALLS) },
      { name: 'list 1 @me/@self (admin)', weight: 1, run: () => request('GET', '/uapi/phoneCalls/@me/@self?count=1', admin), expect: 200, check: total(CALLS) },
      { name: 'get 12 by id', weight: 6, run: () => request('GET', `/uapi/phoneCalls/@me/${TO}/${pick()}`, user12), expect: 200, check: total(1) },
      { name: 'get 12 unknown id', weight: 1, run: () => request('GET', `/uapi/phoneCalls/@me/${TO}/0123456789abcdef0123`, user12), expect: 200, check: total(0) },
      { name: 'health', weight: 1, run: () => request('GET', '/health'), expect: 200, check: (b) => b?.status === 'ready' && b?.calls === CALLS },
      { name: 'health/ready', weight: 1, run: () => request('GET', '/health/ready'), expect: 200 },
      { name: 'metrics', weight: 1, run: () => request('GET', '/metrics'), expect: 200, check: (b) => typeof b === 'string' && b.includes(`uapi_mirror_calls ${CALLS}`) },
      { name: 'pickup waitForPickup 0', weight: 1, run: () => { const id = pick(); return request('PUT', `/uapi/phoneCalls/@me/${TO}/${id}`, user12, pickUpBody(id, { waitForPickup: '0' })) }, expect: 400, check: err('pc_timeout_invalid') },
      { name: 'pickup answered view', weight: 1, run: () => { const id = pick(); return request('PUT', `/uapi/phoneCalls/@me/${TO}/${id}`, user12, pickUpBody(id, {})) }, expect: 400, check: err('pc_phonecallview_invalid') },
      { name: 'pickup other org', weight: 1, run: () => { const id = pick(); return request('PUT', `/uapi/phoneCalls/@me/${TO}/${id}`, user12, pickUpBody(id, { sendCallTo: '0004*100' })) }, expect: 400, check: err('pc_sendcallto_invalid') }
    ]
    const bag = kinds.flatMap((k) => Array(k.weight).fill(k) as Kind[])
    const stats = new Map<string, Stats>(kinds.map((k) => [k.name, { n: 0, byStatus: {}, wrong: 0, ms: new Latency() }]))
    const originatesBefore = app.engine.ami.stats.actionsSent
    const mem: MemSample[] = []
    const t0 = Date.now()
    const sample = (): void => {
      const m = process.memoryUsage()
      mem.push({ t: Date.now() - t0, rssMb: round(m.rss / 2 ** 20, 1), heapMb: round(m.heapUsed / 2 ** 20, 1) })
      const last = mem[mem.length - 1] as MemSample
      let n = 0
      for (const s of stats.values()) n += s.n
      log(`t=${Math.round(last.t / 1000)}s rss ${last.rssMb} MB heap ${last.heapMb} MB, ${n} requests, mirror ${mirror.size} calls`)
    }
    sample()
    const sampler = setInterval(sample, SAMPLE_MS)
    const endAt = t0 + SECONDS * 1000
    const examples: string[] = []
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < endAt) {
        const k = bag[Math.floor(Math.random() * bag.length)] as Kind
        const s = stats.get(k.name) as Stats
        let a: Answer
        try {
          a = await k.run()
        } catch (e) {
          s.n++
          s.byStatus.error = (s.byStatus.error ?? 0) + 1
          if (examples.length < 10) examples.push(`${k.name}: ${(e as Error).message}`)
          continue
        }
        s.n++
        s.ms.add(a.ms)
        s.byStatus[a.status] = (s.byStatus[a.status] ?? 0) + 1
        let ok = a.status === k.expect
        if (ok && k.check !== undefined) {
          let body: unknown = a.body
          try { body = JSON.parse(a.body) } catch { /* text (metrics) */ }
          ok = k.check(body)
        }
        if (!ok) {
          s.wrong++
          if (examples.length < 10) examples.push(`${k.name}: ${a.status} ${a.body.slice(0, 200)}`)
        }
      }
    }))
    clearInterval(sampler)
    sample()
    const trafficMs = Date.now() - t0

    // ---- the mirror against Asterisk, with every call still up
    const pbxIds = sorted((await listChannels()).map((c) => c.Uniqueid ?? ''))
    const mirrorIds = sorted(mirror.legs.keys())
    const mirrorEqual = same(pbxIds, mirrorIds)
    const callsAtEnd = mirror.size
    if (!mirrorEqual) failures.push(`mirror legs (${mirrorIds.length}) != CoreShowChannels (${pbxIds.length})`)
    if (pbxIds.length !== 2 * CALLS) failures.push(`${pbxIds.length} channels on the PBX at the end, expected ${2 * CALLS}`)
    if (callsAtEnd !== CALLS) failures.push(`${callsAtEnd} calls in the mirror at the end, expected ${CALLS}`)
    const originates = app.engine.ami.stats.actionsSent - originatesBefore

    // ---- hang everything up
    const hangStart = Date.now()
    await pbxCli('channel request hangup all')
    await until(() => (mirror.legs.size === 0 && mirror.size === 0 ? true : undefined), 30_000, 'an empty mirror')
    const emptyMs = Date.now() - hangStart
    const pbxAfter = await listChannels()
    if (pbxAfter.length !== 0) failures.push(`${pbxAfter.length} channels left on the PBX after hangup`)
    const callerExit = await Promise.race([caller.exit, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000))])

    // ---- report
    const all = [...stats.values()]
    const totalReq = all.reduce((a, s) => a + s.n, 0)
    const byStatus: Record<string, number> = {}
    for (const s of all) for (const [k, v] of Object.entries(s.byStatus)) byStatus[k] = (byStatus[k] ?? 0) + v
    const fiveXx = Object.entries(byStatus).filter(([k]) => Number(k) >= 500).reduce((a, [, v]) => a + v, 0)
    const unexpected4xx = [...stats.entries()].reduce((a, [name, s]) => {
      const k = kinds.find((x) => x.name === name) as Kind
      return a + Object.entries(s.byStatus).filter(([st]) => Number(st) >= 400 && Number(st) < 500 && Number(st) !== k.expect).reduce((x, [, v]) => x + v, 0)
    }, 0)
    const wrong = all.reduce((a, s) => a + s.wrong, 0)
    const allMs = new Latency()
    for (const s of all) allMs.merge(s.ms)
    if (fiveXx > 0) failures.push(`${fiveXx} 5xx answers`)
    if (unexpected4xx > 0) failures.push(`${unexpected4xx} unexpected 4xx answers`)
    if (wrong > 0) failures.push(`${wrong} wrong answers (status or content)`)
    if ((byStatus.error ?? 0) > 0) failures.push(`${byStatus.error} requests failed at the socket`)
    const rss = mem.map((m) => m.rssMb)
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      config: { seconds: SECONDS, calls: CALLS, rate: RATE, clients: CLIENTS },
      calls: { setupMs, pbxChannels: pbxIds.length, mirrorLegs: mirrorIds.length, mirrorCalls: callsAtEnd, mirrorEqualsCoreShowChannels: mirrorEqual, hangupToEmptyMirrorMs: emptyMs, mirrorLegsAfterHangup: mirror.legs.size, pbxChannelsAfterHangup: pbxAfter.length, sippCallerExit: callerExit },
      requests: {
        total: totalReq,
        perSecond: round(totalReq / (trafficMs / 1000), 1),
        byStatus,
        fiveXx,
        unexpected4xx,
        wrongAnswers: wrong,
        latencyMs: { p50: round(allMs.p(50), 2), p90: round(allMs.p(90), 2), p99: round(allMs.p(99), 2), max: round(allMs.max, 2) },
        byKind: Object.fromEntries([...stats.entries()].map(([name, s]) =>
          [name, { n: s.n, byStatus: s.byStatus, wrong: s.wrong, p50: round(s.ms.p(50), 2), p99: round(s.ms.p(99), 2) }])),
        examples
      },
      memory: {
        samples: mem,
        rssStartMb: rss[0],
        rssEndMb: rss[rss.length - 1],
        rssMaxMb: Math.max(...rss),
        rssSlopeMbPerMin: round(slopePerMin(mem, 'rssMb'), 2),
        heapSlopeMbPerMin: round(slopePerMin(mem, 'heapMb'), 2),
        // The first samples include warm-up (JIT, V8 growing its heap to the load): the second half is the steady state.
        rssSlopeSecondHalfMbPerMin: round(slopePerMin(mem.slice(Math.floor(mem.length / 2)), 'rssMb'), 2),
        heapSlopeSecondHalfMbPerMin: round(slopePerMin(mem.slice(Math.floor(mem.length / 2)), 'heapMb'), 2)
      },
      ami: { ...app.engine.ami.stats, actionsDuringTraffic: originates },
      failures,
      pass: failures.length === 0
    }
    writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n')
    printReport(result)
    return failures.length === 0 ? 0 : 1
  } finally {
    if (caller !== undefined && caller.proc.exitCode === null) caller.proc.kill('SIGTERM')
    if (caller !== undefined && existsSync(join(caller.dir, 'errors.log'))) {
      const errors = readFileSync(join(caller.dir, 'errors.log'), 'utf8').trim()
      if (errors !== '') log(`sipp caller errors (${caller.dir}/errors.log): ${errors.split('\n').slice(-3).join(' | ')}`)
    }
    await stopAllPhones()
    await hangupAllChannels().catch(() => undefined)
    agent.destroy()
    await app.close()
  }
}

function printReport (r: any): void {
  const lines = [
    '',
    `Soak: ${r.config.calls} live calls (${r.calls.pbxChannels} channels), ${r.config.seconds} s of API traffic from ${r.config.clients} clients, ${r.node}`,
    `  calls up in ${r.calls.setupMs} ms; mirror ${r.calls.mirrorCalls} calls / ${r.calls.mirrorLegs} legs; mirror = CoreShowChannels (uniqueids): ${r.calls.mirrorEqualsCoreShowChannels ? 'yes' : 'NO'}`,
    `  requests: ${r.requests.total} (${r.requests.perSecond}/s); by status ${JSON.stringify(r.requests.byStatus)}; 5xx ${r.requests.fiveXx}; unexpected 4xx ${r.requests.unexpected4xx}; wrong answers ${r.requests.wrongAnswers}`,
    `  latency ms: p50 ${r.requests.latencyMs.p50}, p90 ${r.requests.latencyMs.p90}, p99 ${r.requests.latencyMs.p99}, max ${r.requests.latencyMs.max}`,
    '  by kind (n, p50, p99 ms):'
  ]
  for (const [name, k] of Object.entries(r.requests.byKind as Record<string, any>)) lines.push(`    ${name.padEnd(26)} ${String(k.n).padStart(7)} ${String(k.p50).padStart(8)} ${String(k.p99).padStart(8)}  ${JSON.stringify(k.byStatus)}`)
  lines.push(
    `  RSS (engine + load clients, one process) every 10 s, MB: ${r.memory.samples.map((s: MemSample) => s.rssMb).join(' ')}`,
    `  heapUsed MB: ${r.memory.samples.map((s: MemSample) => s.heapMb).join(' ')}`,
    `    RSS start ${r.memory.rssStartMb}, end ${r.memory.rssEndMb}, max ${r.memory.rssMaxMb}; slope ${r.memory.rssSlopeMbPerMin} MB/min overall, ${r.memory.rssSlopeSecondHalfMbPerMin} MB/min over the second half (heap ${r.memory.heapSlopeMbPerMin} / ${r.memory.heapSlopeSecondHalfMbPerMin})`,
    `  hangup all: mirror empty after ${r.calls.hangupToEmptyMirrorMs} ms (legs ${r.calls.mirrorLegsAfterHangup}, PBX channels ${r.calls.pbxChannelsAfterHangup}); sipp caller exit ${r.calls.sippCallerExit}`,
    `  AMI: ${r.ami.eventsReceived} events, ${r.ami.actionsSent} actions (${r.ami.actionsDuringTraffic} during traffic: Pings, drift checks; the invalid PickUps sent none), ${r.ami.reconnects} reconnects, ${r.ami.timeouts} timeouts`,
    `  ${r.pass ? 'PASS' : `FAIL: ${r.failures.join('; ')}`}`,
    `  written to ${OUT}`,
    ''
  )
  process.stdout.write(lines.join('\n'))
}

main().then((code) => { process.exitCode = code }, (err) => {
  log(`failed: ${(err as Error).stack ?? String(err)}`)
  process.exitCode = 1
}).finally(() => { setTimeout(() => process.exit(), 2_000).unref() })
