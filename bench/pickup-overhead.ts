// PickUp overhead: engine time from the PickUp HTTP request reaching Fastify to the Originate arriving
// at the AMI peer, against a fast fake AMI peer (test/helpers/fake-ami.ts) in this process.
//
// HTTP: app.inject (light-my-request, no sockets), one request at a time. t0 is taken in an
// onRequest hook (the first hook Fastify runs for a request), keyed by a bench header naming the
// target leg; t1 when the fake peer has parsed the Originate (its onAction handler), keyed by the
// Originate's Data header (the same uniqueid: PickupChan's target). Both use process.hrtime, same
// process. t1 therefore also includes the loopback hop and the peer's read, as a real PBX would see.
//
// WARMUP pickups first, then BLOCKS blocks of BLOCK: the p99 reported is the median of the blocks'
// p99s (see blockP99 in lib.ts: robust to a burst of foreign load on a shared machine); the pooled
// p99 is reported too.
// Each PickUp targets a different ringing call (a pickup holds its target leg until its outcome,
// which never comes from a fake peer): CALLS ringing calls 0003*300 -> 0003*210 are streamed through
// the peer as Asterisk would send them (Newchannel caller Ring, Newchannel callee Down, DialBegin,
// Newstate Ringing), then user 12 (owner of 0003*210) picks each one up to 0003*024.
// Baseline for context: the bare AMI round trip, `ami.action('Ping')`, on the same connection.
import type { App } from '../src/app.ts'
import { blockP99, engineWithFakeAmi, msSince, now, round, summarize, streamThroughPeer, syntheticCall, tick, tokenFor, type Headers } from './lib.ts'

export interface PickupOverheadResult {
  pickup_overhead_p99_ms: number
  pickup_overhead_p50_ms: number
  pickup_overhead_p99_ms_pooled: number
  pickup_overhead_block_p99s_ms: number[]
  pickup_overhead_requests: number
  pickup_inject_p50_ms: number
  pickup_inject_p99_ms: number
  ami_ping_rtt_p50_ms: number
  ami_ping_rtt_p99_ms: number
}

const WARMUP = 200
const BLOCK = 1000
const BLOCKS = 3
const PINGS = 1000

export async function benchPickupOverhead (log: (msg: string) => void = () => {}): Promise<PickupOverheadResult> {
  const arrived = new Map<string, bigint>()
  const eut = await engineWithFakeAmi((app: App) => {
    app.addHook('onRequest', (request, _reply, done) => {
      const key = request.headers['x-bench-target']
      if (typeof key === 'string') arrived.set(key, now())
      done()
    })
  })
  try {
    const { app, fake } = eut
    const originated = new Map<string, bigint>()
    fake.onAction('Originate', (a) => {
      const target = a.headers.data
      if (target !== undefined) originated.set(target, now())
      return undefined // the default reply: Response: Success
    })

    const total = WARMUP + BLOCK * BLOCKS
    const events: Headers[] = []
    const targets: string[] = []
    for (let i = 0; i < total; i++) {
      const c = syntheticCall(i, '0003*300', '0003*210', false)
      events.push(...c.events)
      targets.push(c.calleeUniqueid)
    }
    const mirror = app.engine.mirror
    const started = now()
    await streamThroughPeer(eut, events, () => mirror.legs.get(targets[total - 1] as string)?.state === 5)
    log(`pickup: ${mirror.size} ringing calls mirrored through the fake peer in ${msSince(started).toFixed(0)} ms`)

    const token = await tokenFor(app, 12)
    const overhead: number[][] = Array.from({ length: BLOCKS }, () => [])
    const inject: number[] = []
    for (let i = 0; i < total; i++) {
      const uniqueid = targets[i] as string
      const leg = mirror.legs.get(uniqueid)
      if (leg === undefined) throw new Error(`pickup: leg ${uniqueid} not mirrored`)
      await tick() // let the previous request's setImmediate clean-ups run (inject settles in microtasks)
      const t = now()
      const res = await app.inject({
        method: 'PUT',
        url: `/uapi/phoneCalls/@me/@self/${leg.call.id}`,
        headers: { authorization: `Bearer ${token}`, 'x-bench-target': uniqueid },
        payload: { action: 'PickUp', sendCallTo: '0003*024', phoneCallViewId: leg.viewId }
      })
      const injectMs = msSince(t)
      if (res.statusCode !== 200) throw new Error(`pickup: ${res.statusCode} ${res.body}`)
      const t0 = arrived.get(uniqueid)
      const t1 = originated.get(uniqueid)
      if (t0 === undefined || t1 === undefined) throw new Error(`pickup: no timestamps for ${uniqueid}`)
      if (i < WARMUP) continue
      overhead[Math.floor((i - WARMUP) / BLOCK)]?.push(Number(t1 - t0) / 1e6)
      inject.push(injectMs)
    }

    const ping: number[] = []
    for (let i = 0; i < PINGS; i++) {
      await tick()
      const t = now()
      await app.engine.ami.action('Ping')
      ping.push(msSince(t))
    }
    const o = blockP99(overhead)
    const j = summarize(inject)
    const p = summarize(ping)
    log(`pickup overhead: p50 ${o.pooled.p50.toFixed(3)} ms, p99 per block of ${BLOCK} ${o.blockP99s.map((x) => x.toFixed(3)).join(' / ')} ms, pooled p99 ${o.pooled.p99.toFixed(3)} ms`)
    return {
      pickup_overhead_p99_ms: round(o.p99),
      pickup_overhead_p50_ms: round(o.pooled.p50),
      pickup_overhead_p99_ms_pooled: round(o.pooled.p99),
      pickup_overhead_block_p99s_ms: o.blockP99s.map((x) => round(x)),
      pickup_overhead_requests: o.pooled.n,
      pickup_inject_p50_ms: round(j.p50),
      pickup_inject_p99_ms: round(j.p99),
      ami_ping_rtt_p50_ms: round(p.p50),
      ami_ping_rtt_p99_ms: round(p.p99)
    }
  } finally {
    await eut.close()
  }
}
