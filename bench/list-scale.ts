// List PhoneCalls at scale: every documented List shape (reference 1.5, 3.1) with 10 and with
// 10,000 live calls in the mirror, while a tenth of the calls change between requests. Reported per
// shape: p99 at 10,000 calls and its ratio to the p99 at 10 (same engine, same process); overall the
// worst p99 (list_p99_ms_10k) and the worst ratio (list_scale_ratio).
//
// Calls are answered and bridged (9 events each, shaped like Asterisk 22's, with `Timestamp` as with
// timestampevents=yes: one call started a second, i.e. 10,000 calls over 2.8 hours) and applied
// straight to the engine's mirror (app.engine.mirror.apply); the mirror is live through a fake AMI
// peer. One call is 0003*300 -> 0003*210 (user 12's only call), every other one 0003*300 -> 0003*301.
//
// Before every request a tenth of the live calls (at least one) change, picked at random: 499
// changes in 500 are a Hold or Unhold of the call's caller leg, 1 in 500 hangs the call up (two Hangup
// events) and starts a new one in its place (so indexes lose calls in the middle and gain them at the
// end; at 10,000 calls that is ~2 calls replaced per request).
// Every change bumps the call's version, so its cached projection is rebuilt when a page shows it.
// Filter values are taken from live calls at random, as a client would have them (see SHAPES), and
// every shape's page holds as many calls at 10 as at 10,000 calls (count=10, or 5 for time ranges).
//
// HTTP goes through app.inject (no sockets). Shapes are requested in turn (a round = each shape once),
// WARMUP rounds first, then BLOCKS blocks of BLOCK rounds; each p99 is the median of its blocks' p99s
// (blockP99 in lib.ts). Every answer is checked (status, totalResults, entries) outside the clock.
// Between the changes and each timed request an untimed List by a user without calls runs (see WARM;
// BENCH_LIST_WARM=0 leaves it out).
import type { App } from '../src/app.ts'
import { isoDate } from '../src/calls/index.ts'
import { blockP99, engineWithFakeAmi, msSince, now, round, syntheticCall, syntheticHangup, syntheticHold, tick, toEvent, tokenFor, type Headers } from './lib.ts'

const WARMUP = 200
const BLOCK = 400
const BLOCKS = 3
const CHANGE_SHARE = 0.1
const HANGUP_EVERY = 500
const CALL_SPACING_S = 1
const T0 = 1_790_000_000
const FROM = '0003*300'
const WARM = process.env.BENCH_LIST_WARM !== '0'

interface LiveCall { readonly n: number, readonly to: string, readonly id: string, readonly createdAt: number, held: boolean, readonly stable: boolean }

interface Entry { id: string, published?: string, extension?: string }
interface Body { totalResults: number, startIndex: number, entry: Entry[] }

/** Deterministic PRNG (mulberry32): the same calls change in every run. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The live calls of the benchmark and the AMI traffic that changes them. */
class Traffic {
  /** Oldest first (calls are added in time order, and `n` grows with time). */
  readonly live: LiveCall[] = []
  private seq = 0
  private clock = T0
  private changes = 0
  readonly random = prng(20261128)
  user: LiveCall | undefined

  constructor (private readonly app: App) {}

  get size (): number { return this.live.length }

  private apply (events: Headers[]): void {
    const ts = this.clock.toFixed(6)
    for (const h of events) {
      h.Timestamp = ts
      this.app.engine.mirror.apply(toEvent(h))
    }
  }

  add (to = '0003*301', stable = false): LiveCall {
    const n = this.seq++
    this.clock += CALL_SPACING_S
    const c = syntheticCall(n, FROM, to, true)
    this.apply(c.events)
    const call = this.app.engine.mirror.callOfLeg(c.callerUniqueid)
    if (call === undefined) throw new Error(`list: call ${n} not mirrored`)
    const rec: LiveCall = { n, to, id: call.id, createdAt: call.createdAt, held: false, stable }
    this.live.push(rec)
    return rec
  }

  private hangup (rec: LiveCall): void {
    this.apply(syntheticHangup(rec.n, FROM, rec.to))
    let lo = 0
    let hi = this.live.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.live[mid] as LiveCall).n < rec.n) lo = mid + 1
      else hi = mid
    }
    this.live.splice(lo, 1)
  }

  pick (): LiveCall { return this.live[Math.floor(this.random() * this.live.length)] as LiveCall }

  /** A random call of the older (or newer) half. */
  pickHalf (older: boolean): LiveCall {
    const half = Math.floor(this.live.length / 2)
    const i = Math.floor(this.random() * half)
    return this.live[older ? i : this.live.length - 1 - i] as LiveCall
  }

  /** `count` distinct live calls. */
  pickDistinct (count: number): LiveCall[] {
    const out = new Set<LiveCall>()
    while (out.size < Math.min(count, this.live.length)) out.add(this.pick())
    return [...out]
  }

  /** Changes a tenth of the live calls (at least one). */
  change (): void {
    const k = Math.max(1, Math.round(this.live.length * CHANGE_SHARE))
    for (let i = 0; i < k; i++) {
      const rec = this.pick()
      if (!rec.stable && ++this.changes % HANGUP_EVERY === 0) {
        this.hangup(rec)
        this.add()
      } else {
        rec.held = !rec.held
        this.apply([syntheticHold(rec.n, FROM, rec.to, rec.held)])
      }
    }
  }
}

type Who = 'user' | 'org' | 'idle'
interface Request { readonly url: string, readonly check: (b: Body) => string | undefined }
interface Shape { readonly name: string, readonly who: Who, readonly sends: string, readonly request: (t: Traffic) => Request }

const LIST = '/uapi/phoneCalls/@me/@self'
// Pages hold the same number of calls at both sizes: with 10 calls a page of 20 would hold 10, and
// the ratio would compare 20 entries with 10.
const PAGE = 10
const RANGE_PAGE = 5
const enc = encodeURIComponent
const published = (c: LiveCall): string => isoDate(c.createdAt)
const secondOf = (iso: string | undefined): number => Date.parse(iso ?? '')

/** Page of `count` out of `total`: how many entries it must hold. */
const pageSize = (b: Body, count = PAGE): number => Math.max(0, Math.min(count, b.totalResults - b.startIndex))
function expect (ok: boolean, what: string): string | undefined { return ok ? undefined : what }

/** Every documented List shape; `sends` is what bench/README.md says about it. */
export const SHAPES: readonly Shape[] = [
  {
    name: 'own',
    who: 'user',
    sends: 'user 12, `@me/@self`: the one call of its extension',
    request: (t) => ({ url: LIST, check: (b) => expect(b.totalResults === 1 && b.entry[0]?.id === t.user?.id, 'own call') })
  },
  {
    name: 'one',
    who: 'org',
    sends: '`@me/@self/{id}`: one call by id (a random live call)',
    request: (t) => {
      const c = t.pick()
      return { url: `${LIST}/${c.id}`, check: (b) => expect(b.totalResults === 1 && b.entry[0]?.id === c.id, 'one call') }
    }
  },
  {
    name: 'page',
    who: 'org',
    sends: '`?count=10`: the first page, oldest first',
    request: (t) => ({ url: `${LIST}?count=${PAGE}`, check: (b) => expect(b.totalResults === t.size && b.entry.length === pageSize(b), 'first page') })
  },
  {
    name: 'desc',
    who: 'org',
    sends: '`?count=10&sortOrder=descending`: the first page, newest first',
    request: (t) => ({
      url: `${LIST}?count=${PAGE}&sortOrder=descending`,
      check: (b) => expect(b.totalResults === t.size && b.entry.length === pageSize(b) &&
        secondOf(b.entry[0]?.published) >= secondOf(b.entry[b.entry.length - 1]?.published), 'descending page')
    })
  },
  {
    name: 'fields',
    who: 'org',
    sends: '`?count=10&fields=id,published,phoneCallView`: the first page, trimmed',
    request: (t) => ({
      url: `${LIST}?count=${PAGE}&fields=id,published,phoneCallView`,
      check: (b) => expect(b.totalResults === t.size && b.entry.length === pageSize(b) && b.entry[0]?.extension === undefined, 'fields')
    })
  },
  {
    name: 'id_equals',
    who: 'org',
    sends: '`filterBy=id&filterOp=equals&filterValue=<id>` (a random live call\'s id)',
    request: (t) => {
      const c = t.pick()
      return { url: `${LIST}?filterBy=id&filterOp=equals&filterValue=${c.id}`, check: (b) => expect(b.totalResults === 1 && b.entry[0]?.id === c.id, 'id equals') }
    }
  },
  {
    name: 'id_contains',
    who: 'org',
    sends: '`filterBy=id&filterOp=contains&filterValue=<6 hex chars>` (from a random offset of a random live call\'s id)',
    request: (t) => {
      const c = t.pick()
      const at = Math.floor(t.random() * (c.id.length - 6))
      const v = c.id.slice(at, at + 6)
      return {
        url: `${LIST}?filterBy=id&filterOp=contains&filterValue=${v}`,
        check: (b) => expect(b.totalResults >= 1 && b.entry.length === pageSize(b, 20) && b.entry.every((e) => e.id.includes(v)) && (b.totalResults > 20 || b.entry.some((e) => e.id === c.id)), 'id contains')
      }
    }
  },
  {
    name: 'id_startsWith',
    who: 'org',
    sends: '`filterBy=id&filterOp=startsWith&filterValue=<8 hex chars>` (the start of a random live call\'s id)',
    request: (t) => {
      const c = t.pick()
      const v = c.id.slice(0, 8)
      return {
        url: `${LIST}?filterBy=id&filterOp=startsWith&filterValue=${v}`,
        check: (b) => expect(b.totalResults >= 1 && b.entry.every((e) => e.id.startsWith(v)) && b.entry.some((e) => e.id === c.id), 'id startsWith')
      }
    }
  },
  {
    name: 'id_inArray',
    who: 'org',
    sends: '`filterBy=id&filterOp=inArray&filterValue=<id>,<id>,<id>` (three random live calls)',
    request: (t) => {
      const cs = t.pickDistinct(3)
      return {
        url: `${LIST}?filterBy=id&filterOp=inArray&filterValue=${cs.map((c) => c.id).join(',')}`,
        check: (b) => expect(b.totalResults === cs.length && b.entry.length === cs.length, 'id inArray')
      }
    }
  },
  {
    name: 'id_present',
    who: 'org',
    sends: '`filterBy=id&filterOp=present&count=10`: every call, first page',
    request: (t) => ({ url: `${LIST}?filterBy=id&filterOp=present&count=${PAGE}`, check: (b) => expect(b.totalResults === t.size && b.entry.length === pageSize(b), 'id present') })
  },
  {
    name: 'published_equals',
    who: 'org',
    sends: '`filterBy=published&filterOp=equals&filterValue=<published>` (a random live call\'s, e.g. 2026-09-21T14:13:20Z: one call a second, so that call)',
    request: (t) => {
      const c = t.pick()
      const v = published(c)
      return {
        url: `${LIST}?filterBy=published&filterOp=equals&filterValue=${enc(v)}`,
        check: (b) => expect(b.totalResults >= 1 && b.entry.length === pageSize(b, 20) && b.entry.every((e) => e.published === v), 'published equals')
      }
    }
  },
  {
    name: 'published_greaterThan',
    who: 'org',
    sends: '`filterBy=published&filterOp=greaterThan&filterValue=<published>&count=5` (of a random call of the older half: half the calls or more match)',
    request: (t) => {
      const v = published(t.pickHalf(true))
      return {
        url: `${LIST}?filterBy=published&filterOp=greaterThan&filterValue=${enc(v)}&count=${RANGE_PAGE}`,
        check: (b) => expect(b.totalResults < t.size && b.entry.length === RANGE_PAGE && b.entry.every((e) => secondOf(e.published) > secondOf(v)), 'published greaterThan')
      }
    }
  },
  {
    name: 'published_lessThan',
    who: 'org',
    sends: '`filterBy=published&filterOp=lessThan&filterValue=<published>&count=5` (of a random call of the newer half: half the calls or more match)',
    request: (t) => {
      const v = published(t.pickHalf(false))
      return {
        url: `${LIST}?filterBy=published&filterOp=lessThan&filterValue=${enc(v)}&count=${RANGE_PAGE}`,
        check: (b) => expect(b.totalResults < t.size && b.entry.length === RANGE_PAGE && b.entry.every((e) => secondOf(e.published) < secondOf(v)), 'published lessThan')
      }
    }
  },
  {
    name: 'published_present',
    who: 'org',
    sends: '`filterBy=published&filterOp=present&count=10`: every call, first page',
    request: (t) => ({ url: `${LIST}?filterBy=published&filterOp=present&count=${PAGE}`, check: (b) => expect(b.totalResults === t.size && b.entry.length === pageSize(b), 'published present') })
  }
]

export type ListScaleResult = Record<string, number>

async function measure (app: App, traffic: Traffic, tokens: Record<Who, string>): Promise<number[][][]> {
  const samples = SHAPES.map(() => Array.from({ length: BLOCKS }, (): number[] => []))
  for (let round = 0; round < WARMUP + BLOCK * BLOCKS; round++) {
    for (let s = 0; s < SHAPES.length; s++) {
      const shape = SHAPES[s] as Shape
      traffic.change()
      const req = shape.request(traffic)
      // inject() settles in microtasks only: without a turn of the event loop the setImmediate
      // clean-ups of every finished request would pile up (and with them each request's objects).
      await tick()
      if (WARM) {
        // Untimed: user 40 (organization 4) lists its calls, of which it has none. It runs the HTTP
        // path once after the AMI events, so that the timed request does not pay for the CPU caches
        // those events evicted (a cost of the event traffic that grows with the number of events,
        // not with List's work); it projects none of the changed calls.
        await app.inject({ method: 'GET', url: LIST, headers: { authorization: `Bearer ${tokens.idle}` } })
        await tick()
      }
      const t = now()
      const res = await app.inject({ method: 'GET', url: req.url, headers: { authorization: `Bearer ${tokens[shape.who]}` } })
      const ms = msSince(t)
      if (res.statusCode !== 200) throw new Error(`list ${shape.name} ${req.url}: ${res.statusCode} ${res.body}`)
      const failed = req.check(res.json())
      if (failed !== undefined) throw new Error(`list ${shape.name} ${req.url} with ${traffic.size} calls: wrong answer (${failed}): ${res.body.slice(0, 400)}`)
      if (round >= WARMUP) samples[s]?.[Math.floor((round - WARMUP) / BLOCK)]?.push(ms)
    }
  }
  return samples
}

export async function benchListScale (log: (msg: string) => void = () => {}): Promise<ListScaleResult> {
  const eut = await engineWithFakeAmi()
  const after: Array<() => void> = []
  try {
    const { app } = eut
    const tokens = { user: await tokenFor(app, 12), org: await tokenFor(app, 3), idle: await tokenFor(app, 40) }
    const traffic = new Traffic(app)
    const mirror = app.engine.mirror
    const size = (): number => mirror.size
    // The fake peer knows none of these calls: its periodic drift check (an empty CoreShowChannels)
    // would empty the mirror. Stop the sync (the mirror stays live) and keep its tombstone sweep.
    app.engine.sync.stop()
    const sweep = setInterval(() => { mirror.sweep() }, 30_000)
    after.push(() => { clearInterval(sweep) })

    for (let i = 0; i < 10; i++) {
      const rec = traffic.add(i === 4 ? '0003*210' : '0003*301', i === 4)
      if (i === 4) traffic.user = rec
    }
    if (size() !== 10) throw new Error(`list: ${size()} calls mirrored, expected 10`)
    let t = now()
    const small = await measure(app, traffic, tokens)
    log(`list: 10 calls measured in ${(msSince(t) / 1000).toFixed(1)} s`)

    t = now()
    while (traffic.size < 10_000) traffic.add()
    if (size() !== 10_000 || mirror.countForExtension('0003*210') !== 1) {
      throw new Error(`list: ${size()} calls mirrored, expected 10000 with one on 0003*210`)
    }
    log(`list: ${10_000 - 10} more calls applied to the mirror in ${msSince(t).toFixed(0)} ms`)
    t = now()
    const large = await measure(app, traffic, tokens)
    log(`list: 10,000 calls measured in ${(msSince(t) / 1000).toFixed(1)} s`)
    if (size() !== 10_000) throw new Error(`list: ${size()} calls at the end, expected 10000`)

    const out: ListScaleResult = {}
    let worstP99 = 0
    let worstRatio = 0
    let worstShape = ''
    const fmt = (x: ReturnType<typeof blockP99>): string =>
      `p50 ${x.pooled.p50.toFixed(3)} p99 ${x.p99.toFixed(3)} (blocks ${x.blockP99s.map((v) => v.toFixed(3)).join('/')})`
    SHAPES.forEach((shape, i) => {
      const a = blockP99(small[i] ?? [])
      const b = blockP99(large[i] ?? [])
      const ratio = b.p99 / a.p99
      log(`list ${shape.name.padEnd(21)} @10: ${fmt(a)} | @10k: ${fmt(b)} | ratio ${ratio.toFixed(2)}`)
      out[`list_${shape.name}_p99_ms_10`] = round(a.p99)
      out[`list_${shape.name}_p99_ms_10k`] = round(b.p99)
      out[`list_${shape.name}_p50_ms_10k`] = round(b.pooled.p50)
      out[`list_${shape.name}_ratio`] = round(ratio)
      worstP99 = Math.max(worstP99, b.p99)
      if (ratio > worstRatio) { worstRatio = ratio; worstShape = shape.name }
    })
    log(`list: worst ratio ${worstRatio.toFixed(2)} (${worstShape})`)
    return { list_p99_ms_10k: round(worstP99), list_scale_ratio: round(worstRatio), ...out }
  } finally {
    for (const f of after) f()
    await eut.close()
  }
}
