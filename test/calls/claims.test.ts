// The originate tracker's claims across engine instances: two trackers (two instances, each with
// its own mirror and AMI connection) sharing one claim store, as two engines on one database do.
// The store here is a Map with the database store's semantics (test/events covers the real one).
import t from 'tap'
import { EventEmitter } from 'node:events'
import { Mirror, callIdDeriver } from '../../src/calls/index.ts'
import { CallActionError } from '../../src/calls/actions/errors.ts'
import { OriginateTracker, claimTarget, type TargetClaims } from '../../src/calls/actions/originate-tracker.ts'
import { pickupFollow } from '../../src/calls/actions/pick-up.ts'
import type { AmiClient } from '../../src/ami/index.ts'

class MapClaims implements TargetClaims {
  readonly held = new Map<string, { owner: string, until: number }>()
  failing = false
  async tryClaim (key: string, owner: string, ttlMs: number): Promise<boolean> {
    await new Promise((resolve) => setImmediate(resolve)) // a round trip
    if (this.failing) throw new Error('connection refused')
    const h = this.held.get(key)
    if (h !== undefined && h.until > Date.now() && h.owner !== owner) return false
    this.held.set(key, { owner, until: Date.now() + ttlMs })
    return true
  }

  async release (key: string, owner: string): Promise<void> {
    if (this.held.get(key)?.owner === owner) this.held.delete(key)
  }
}

class QuietAmi extends EventEmitter {
  async action (): Promise<Record<string, string>> { return { response: 'Success' } }
}

function instance (claims: TargetClaims): OriginateTracker {
  const tracker = new OriginateTracker(new Mirror(() => undefined, callIdDeriver('s')), new QuietAmi() as unknown as AmiClient)
  tracker.useClaims(claims)
  return tracker
}

t.test('two instances claim the same target at once: exactly one gets it, until its follow ends', async (t) => {
  const store = new MapClaims()
  const a = instance(store)
  const b = instance(store)
  const results = await Promise.allSettled([
    claimTarget(a, '1700000000.11', 'pk-a', 30_000, 'busy'),
    claimTarget(b, '1700000000.11', 'pk-b', 30_000, 'busy')
  ])
  t.same(results.map((r) => r.status).sort(), ['fulfilled', 'rejected'])
  const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
  t.ok(lost.reason instanceof CallActionError && lost.reason.code === 'pc_phonecall_conflict', 'the other: pc_phonecall_conflict')
  const winner = results[0]?.status === 'fulfilled' ? a : b
  const channel = winner === a ? 'pk-a' : 'pk-b'
  t.ok(winner.busy('1700000000.11'), 'locally busy while claimed')
  // The follow ends (its deadline): the claim is released for everyone. (The tracker's timers do
  // not hold the process open: this one does, meanwhile.)
  const keepAlive = setTimeout(() => {}, 5_000)
  const outcome = await winner.follow(pickupFollow(channel, '1700000000.11', 20))
  clearTimeout(keepAlive)
  t.equal(outcome, 'failed')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(store.held.size, 0, 'released when the follow ended')
  await claimTarget(winner === a ? b : a, '1700000000.11', 'pk-c', 30_000, 'busy')
  t.pass('the other instance may claim it now')
})

t.test('within one instance the second claim is refused before the store is asked', async (t) => {
  const store = new MapClaims()
  const a = instance(store)
  const first = claimTarget(a, 'x.1', 'pk-1', 30_000, 'busy')
  await t.rejects(claimTarget(a, 'x.1', 'pk-2', 30_000, 'busy'), { code: 'pc_phonecall_conflict' })
  await first
})

t.test('a store that does not answer: coordination_unavailable, nothing held', async (t) => {
  const store = new MapClaims()
  store.failing = true
  const a = instance(store)
  await t.rejects(claimTarget(a, 'x.2', 'pk-1', 30_000, 'busy'), { code: 'coordination_unavailable' })
  t.notOk(a.busy('x.2'), 'not left locked')
})

t.test('a target that changed while the store was asked: the action\'s own error, the claim released', async (t) => {
  const store = new MapClaims()
  const a = instance(store)
  await t.rejects(claimTarget(a, 'x.3', 'pk-1', 30_000, 'busy', () => { throw new CallActionError('pc_phonecallview_invalid', 'stopped ringing') }), { code: 'pc_phonecallview_invalid' })
  await new Promise((resolve) => setImmediate(resolve))
  t.notOk(a.busy('x.3'))
  t.equal(store.held.size, 0)
})
