// List PhoneCalls at scale: p99 of two List requests with 10,000 live calls in the mirror, and the
// ratio to the same requests with 10 live calls (same engine, same process).
//
//   one:  GET /uapi/phoneCalls/@me/@self as user 12 (owner of 0003*210), who has exactly one call;
//   page: GET /uapi/phoneCalls/@me/@self?count=20 as organization account 3, which sees every call.
//
// Calls are answered and bridged (9 events each, shaped like Asterisk 22's) and applied straight to
// the engine's mirror (app.engine.mirror.apply); the mirror is live through a fake AMI peer. One call
// is 0003*300 -> 0003*210, every other one 0003*300 -> 0003*301. HTTP goes through app.inject (no
// sockets); the two requests alternate, WARMUP rounds first, then BLOCKS blocks of BLOCK rounds; each
// p99 is the median of its blocks' p99s (blockP99 in lib.ts), the pooled p99 is logged next to it.
import type { App } from '../src/app.ts'
import { blockP99, engineWithFakeAmi, msSince, now, round, syntheticCall, tick, toEvent, tokenFor } from './lib.ts'

export interface ListScaleResult {
  list_p99_ms_10k: number
  list_scale_ratio: number
  list_one_p99_ms_10: number
  list_one_p99_ms_10k: number
  list_one_p50_ms_10k: number
  list_one_p50_ms_10: number
  list_one_ratio: number
  list_page_p99_ms_10: number
  list_page_p99_ms_10k: number
  list_page_p50_ms_10k: number
  list_page_p50_ms_10: number
  list_page_ratio: number
}

const WARMUP = 1000
const BLOCK = 1000
const BLOCKS = 3
const USER_CALL = 4 // index of the one call of user 12

let seq = 0
function addCalls (app: App, n: number, userCallAt = -1): void {
  for (let i = 0; i < n; i++) {
    const to = i === userCallAt ? '0003*210' : '0003*301'
    for (const h of syntheticCall(seq++, '0003*300', to, true).events) app.engine.mirror.apply(toEvent(h))
  }
}

async function measure (app: App, userToken: string, orgToken: string): Promise<{ one: number[][], page: number[][] }> {
  const one: number[][] = Array.from({ length: BLOCKS }, () => [])
  const page: number[][] = Array.from({ length: BLOCKS }, () => [])
  const get = async (url: string, token: string, expect: number): Promise<number> => {
    const t = now()
    const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } })
    const ms = msSince(t)
    if (res.statusCode !== 200) throw new Error(`list: ${res.statusCode} ${res.body}`)
    const n = (res.json() as { entry: unknown[] }).entry.length
    if (n !== expect) throw new Error(`list ${url}: ${n} entries, expected ${expect}`)
    return ms
  }
  for (let i = 0; i < WARMUP + BLOCK * BLOCKS; i++) {
    // inject() settles in microtasks only: without a turn of the event loop the setImmediate
    // clean-ups of every finished request would pile up (and with them each request's objects).
    await tick()
    const a = await get('/uapi/phoneCalls/@me/@self', userToken, 1)
    const b = await get('/uapi/phoneCalls/@me/@self?count=20', orgToken, Math.min(20, app.engine.mirror.size))
    if (i < WARMUP) continue
    const block = Math.floor((i - WARMUP) / BLOCK)
    one[block]?.push(a)
    page[block]?.push(b)
  }
  return { one, page }
}

export async function benchListScale (log: (msg: string) => void = () => {}): Promise<ListScaleResult> {
  const eut = await engineWithFakeAmi()
  try {
    const { app } = eut
    const userToken = await tokenFor(app, 12)
    const orgToken = await tokenFor(app, 3)

    const size = (): number => app.engine.mirror.size
    addCalls(app, 10, USER_CALL)
    if (size() !== 10) throw new Error(`list: ${size()} calls mirrored, expected 10`)
    const small = await measure(app, userToken, orgToken)

    const t = now()
    addCalls(app, 9990)
    if (size() !== 10_000 || app.engine.mirror.countForExtension('0003*210') !== 1) {
      throw new Error(`list: ${size()} calls mirrored, expected 10000 with one on 0003*210`)
    }
    log(`list: 9,990 more calls applied to the mirror in ${msSince(t).toFixed(0)} ms`)
    const large = await measure(app, userToken, orgToken)

    const b1 = blockP99(small.one)
    const b2 = blockP99(small.page)
    const c1 = blockP99(large.one)
    const c2 = blockP99(large.page)
    const fmt = (x: ReturnType<typeof blockP99>): string =>
      `p50 ${x.pooled.p50.toFixed(3)} p99 ${x.p99.toFixed(3)} (blocks ${x.blockP99s.map((v) => v.toFixed(3)).join('/')}, pooled ${x.pooled.p99.toFixed(3)})`
    log(`list one  @10: ${fmt(b1)} | @10k: ${fmt(c1)}`)
    log(`list page @10: ${fmt(b2)} | @10k: ${fmt(c2)}`)
    const s1 = { p99: b1.p99, p50: b1.pooled.p50 }
    const s2 = { p99: b2.p99, p50: b2.pooled.p50 }
    const l1 = { p99: c1.p99, p50: c1.pooled.p50 }
    const l2 = { p99: c2.p99, p50: c2.pooled.p50 }
    return {
      list_p99_ms_10k: round(Math.max(l1.p99, l2.p99)),
      list_scale_ratio: round(Math.max(l1.p99 / s1.p99, l2.p99 / s2.p99)),
      list_one_p99_ms_10: round(s1.p99),
      list_one_p99_ms_10k: round(l1.p99),
      list_one_p50_ms_10k: round(l1.p50),
      list_one_p50_ms_10: round(s1.p50),
      list_one_ratio: round(l1.p99 / s1.p99),
      list_page_p99_ms_10: round(s2.p99),
      list_page_p99_ms_10k: round(l2.p99),
      list_page_p50_ms_10k: round(l2.p50),
      list_page_p50_ms_10: round(s2.p50),
      list_page_ratio: round(l2.p99 / s2.p99)
    }
  } finally {
    await eut.close()
  }
}
