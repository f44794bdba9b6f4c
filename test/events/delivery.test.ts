// PhoneCallEvents delivery (src/events/delivery.ts) on both backends, with real HTTP receivers on
// loopback: signatures, retries with backoff, dead letters, isolation between receivers, exactly-once
// across two instances on one database, lease expiry, DNS rebinding, pruning.
import t from 'tap'
import type { Test } from 'tap'
import { EventDelivery, SubscriptionStore, TargetGuard, verify, type CallEvent, type DeliveryOptions, type EventType } from '../../src/events/index.ts'
import { storageFromConfig, type Storage } from '../../src/storage/index.ts'
import { databaseConfig, forEachBackend, openStorage, type Backend } from '../helpers/db.ts'
import { testLogger } from '../helpers/error-log.ts'
import { closedPort, eventually, percentile, receiver } from '../helpers/receiver.ts'

const FAST: DeliveryOptions = {
  // Generous: PGlite runs on the test's own thread, and this machine may be busy.
  timeoutMs: 5000,
  maxAttempts: 5,
  backoffMs: 20,
  backoffMaxMs: 200,
  leaseMs: 10_000,
  sweepMs: 200,
  concurrencyPerTarget: 4,
  queuePerTarget: 1000,
  retentionMs: 86_400_000,
  deadRetentionMs: 86_400_000
}

const EXT = '0003*210'
let seq = 0

function event (over: Partial<CallEvent> = {}): CallEvent {
  seq++
  return {
    key: `call${seq}:leg${seq}:0`,
    type: 0,
    extension: EXT,
    organizationId: '3',
    at: Date.now(),
    params: { CallID: `call${seq}`, CallerIDNum: '0003*024', CallerIDName: 'Support 024', CalledDID: '', CalledExtension: EXT, CallStatus: 'CALLING', CallFlow: 'IN', CallerExtension: '0003*024', CalledNumber: '210', CallAPIID: 'b817d2618fe6f1804333' },
    ...over
  }
}

interface Rig {
  readonly db: Storage
  readonly subs: SubscriptionStore
  readonly delivery: EventDelivery
  subscribe(url: string, opts?: { type?: EventType, method?: 0 | 1, id?: string }): Promise<string>
}

async function rig (t: Test, backend: Backend, options: Partial<DeliveryOptions> = {}, guard = new TargetGuard(['127.0.0.1']), db?: Storage): Promise<Rig> {
  const storage = db ?? await openStorage(t, backend)
  const subs = new SubscriptionStore(storage, { maxPerExtension: 100 })
  const delivery = new EventDelivery(storage, guard, { ...FAST, ...options, log: testLogger() })
  t.teardown(() => delivery.close())
  return {
    db: storage,
    subs,
    delivery,
    async subscribe (url, o = {}) {
      const r = await subs.create({ extension: EXT, organizationId: '3', type: o.type ?? 0, id: o.id, url, method: o.method ?? 0, status: 1, note: '' })
      if (!r.ok) throw new Error(r.reason)
      return r.secret
    }
  }
}

forEachBackend(t, async (t, backend) => {
  t.test('GET and POST deliveries carry the parameters and a signature the receiver can verify', async (t) => {
    const r = await rig(t, backend)
    const rx = await receiver(t)
    const getSecret = await r.subscribe(`${rx.url}?token=abc`, { method: 0, id: 'viaGet' })
    const postSecret = await r.subscribe(rx.url, { method: 1, id: 'viaPost' })
    await r.subscribe(rx.url, { type: 2, id: 'otherType' })
    const e = event()
    t.equal(await r.delivery.publish(e), 2, 'one outbox row per enabled subscription of (extension, type)')
    const [a, b] = await rx.until(2)
    const get = [a, b].find((x) => x?.method === 'GET')
    const post = [a, b].find((x) => x?.method === 'POST')
    if (get === undefined || post === undefined) throw new Error('missing a request')
    const query = get.url.slice(get.url.indexOf('?') + 1)
    t.ok(query.startsWith('token=abc&'), 'the subscriber\'s own query is kept')
    t.equal(new URLSearchParams(query).get('CallID'), e.params.CallID)
    t.equal(new URLSearchParams(query).get('CalledExtension'), EXT)
    t.ok(verify(get.headers['x-uapi-signature'] as string, query, getSecret), 'GET: signature over the query string')
    t.notOk(verify(get.headers['x-uapi-signature'] as string, query, postSecret), 'not under another subscription\'s secret')
    t.equal(post.headers['content-type'], 'application/x-www-form-urlencoded')
    t.same(Object.fromEntries(new URLSearchParams(post.body)), e.params)
    t.ok(verify(post.headers['x-uapi-signature'] as string, post.body, postSecret), 'POST: signature over the body')
    t.notOk(verify(post.headers['x-uapi-signature'] as string, post.body + 'x', postSecret), 'a changed body fails')
    t.notOk(verify(post.headers['x-uapi-signature'] as string, post.body, postSecret, { now: Math.floor(Date.now() / 1000) + 3600 }), 'an old signature fails (replay)')
    t.match(post.headers['x-uapi-event-id'], /^[0-9a-f]{32}$/)
    t.not(post.headers['x-uapi-event-id'], get.headers['x-uapi-event-id'], 'one event id per subscription')
    t.equal(await r.delivery.publish(e), 0, 'the same event again: already recorded, not delivered twice')
    await r.delivery.idle()
    t.equal(rx.requests.length, 2)
    t.equal(r.delivery.stats.delivered, 2)
    const { entries } = await r.delivery.deliveries(EXT, { state: 'delivered', startIndex: 0, count: 10 })
    t.equal(entries.length, 2)
    t.same(entries.map((d) => d.attempts), [1, 1], JSON.stringify(entries))
  })

  t.test('a receiver that answers 500 three times gets the event on the fourth attempt', async (t) => {
    const r = await rig(t, backend)
    const rx = await receiver(t, (_req, i) => i < 3 ? 500 : 200)
    await r.subscribe(rx.url, { method: 1 })
    r.delivery.start()
    await r.delivery.publish(event())
    const all = await rx.until(4)
    t.same(all.map((x) => x.headers['x-uapi-attempt']), ['1', '2', '3', '4'])
    t.equal(new Set(all.map((x) => x.headers['x-uapi-event-id'])).size, 1, 'the same event id on every attempt')
    const done = await eventually(async () => (await r.delivery.deliveries(EXT, { state: 'delivered', startIndex: 0, count: 1 })).entries[0], 'delivered row')
    t.equal(done.attempts, 4)
    t.equal(done.lastStatusCode, 200)
    // The row is committed before the attempt's own bookkeeping runs: wait for the attempts in flight.
    await r.delivery.idle()
    t.equal(r.delivery.stats.retried, 3)
    t.equal(r.delivery.stats.delivered, 1)
    const gaps = all.slice(1).map((x, i) => x.at - (all[i] as { at: number }).at)
    t.ok(gaps.every((g) => g >= 9), `backoff between attempts (${gaps.map((g) => g.toFixed(0)).join(', ')} ms)`)
  })

  t.test('4xx is final, 429 and 408 are retried', async (t) => {
    const r = await rig(t, backend, { maxAttempts: 2 })
    const gone = await receiver(t, () => 404)
    const busy = await receiver(t, () => 429)
    await r.subscribe(gone.url, { id: 'gone' })
    await r.subscribe(busy.url, { id: 'busy' })
    r.delivery.start()
    await r.delivery.publish(event())
    await busy.until(2)
    const dead = await eventually(async () => {
      const d = await r.delivery.deliveries(EXT, { state: 'dead', startIndex: 0, count: 10 })
      return d.total === 2 ? d.entries : undefined
    }, 'two dead rows')
    t.same(dead.map((d) => [d.phoneCallEventId, d.attempts, d.lastStatusCode]).sort(), [['busy', 2, 429], ['gone', 1, 404]])
    t.equal(gone.requests.length, 1, '404 is not retried')
  })

  t.test('a receiver down or hanging past the budget is dead-lettered; another receiver keeps its latency', async (t) => {
    // A hanging receiver holds each attempt for timeoutMs: a good receiver held up behind it would
    // see latencies of a second or more.
    const r = await rig(t, backend, { maxAttempts: 2, timeoutMs: 1000, concurrencyPerTarget: 8 })
    const good = await receiver(t)
    const hanging = await receiver(t, () => 'hang')
    await r.subscribe(good.url, { id: 'good' })
    await r.subscribe(hanging.url, { id: 'hanging' })
    await r.subscribe(`http://127.0.0.1:${await closedPort()}/down`, { id: 'down' })
    r.delivery.start()
    // Baseline: the good receiver alone (another extension's subscription, same receiver).
    const n = 20
    const latencies: number[] = []
    for (let i = 0; i < n; i++) {
      const sent = performance.now()
      const before = good.requests.length
      const won = await r.delivery.publish(event())
      t.equal(won, 3)
      const req = (await good.until(before + 1))[before]
      latencies.push((req?.at ?? Infinity) - sent)
    }
    const p50 = percentile(latencies, 50)
    const p99 = percentile(latencies, 99)
    t.comment(`${backend}: publish -> good receiver while the others hang or refuse: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`)
    t.ok(p99 < 800, `the good receiver is not held up by the others (p99 ${p99.toFixed(1)} ms, under the 1000 ms a hanging attempt takes)`)
    const dead = await eventually(async () => {
      const d = await r.delivery.deliveries(EXT, { state: 'dead', startIndex: 0, count: 100 })
      return d.total === 2 * n ? d : undefined
    }, `${2 * n} dead rows`, 30_000)
    t.equal(dead.entries.filter((d) => d.phoneCallEventId === 'hanging').length, n)
    t.ok(dead.entries.every((d) => d.attempts === 2 && d.lastError !== undefined), 'each dead row spent the budget and says why')
    t.match(dead.entries.find((d) => d.phoneCallEventId === 'down')?.lastError, /ECONNREFUSED/)
    t.match(dead.entries.find((d) => d.phoneCallEventId === 'hanging')?.lastError, /no answer within 1000 ms/)
    await r.delivery.idle()
    t.equal(r.delivery.stats.delivered, n)
    t.equal(r.delivery.stats.deadLettered, 2 * n)
  })

  t.test('publish never waits for HTTP', async (t) => {
    const r = await rig(t, backend, { timeoutMs: 2000 })
    const hanging = await receiver(t, () => 'hang')
    await r.subscribe(hanging.url)
    const started = performance.now()
    await r.delivery.publish(event())
    t.ok(performance.now() - started < 1000, 'publish resolved before the receiver answered (it never does)')
    await hanging.until(1)
  })

  t.test('two instances on one database publishing the same 50 events deliver each exactly once', async (t) => {
    let a: Rig
    let b: Rig
    if (backend === 'postgres') {
      // Two engines: two connection pools on the same schema.
      const config = await databaseConfig(t, backend)
      const dbA = await openStorage(t, backend, config)
      const dbB = storageFromConfig(config, testLogger())
      t.teardown(() => dbB.close())
      a = await rig(t, backend, {}, undefined, dbA)
      b = await rig(t, backend, {}, undefined, dbB)
    } else {
      // PGlite is one process's database: two delivery objects over it.
      a = await rig(t, backend)
      b = await rig(t, backend, {}, undefined, a.db)
    }
    const rx = await receiver(t)
    await a.subscribe(rx.url)
    const events = Array.from({ length: 50 }, () => event())
    const won = await Promise.all(events.flatMap((e, i) => i % 2 === 0 ? [a.delivery.publish(e), b.delivery.publish(e)] : [b.delivery.publish(e), a.delivery.publish(e)]))
    t.equal(won.reduce((s, n) => s + n, 0), 50, 'each event was recorded by one instance only')
    await rx.until(50)
    await Promise.all([a.delivery.idle(), b.delivery.idle()])
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.equal(rx.requests.length, 50, 'exactly 50 deliveries')
    t.equal(new Set(rx.requests.map((x) => new URLSearchParams(x.url.split('?')[1]).get('CallID'))).size, 50, 'one per event')
    t.comment(`instance A delivered ${a.delivery.stats.delivered}, B ${b.delivery.stats.delivered}`)
  })

  t.test('a row leased by an instance that died is delivered by another once the lease expires', async (t) => {
    const r = await rig(t, backend)
    const rx = await receiver(t)
    await r.subscribe(rx.url)
    await r.db.query(`INSERT INTO event_outbox (event_id, subscription_pk, event_key, event_at, payload, lease_owner, lease_until)
      SELECT 'deadbeef', pk, 'crashed:1', now(), 'CallID=crashed', 'gone-instance', clock_timestamp() + interval '150 milliseconds' FROM event_subscriptions`)
    t.equal(await r.delivery.sweep(), 0, 'still leased: nobody may take it')
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.equal(await r.delivery.sweep(), 1, 'lease expired: taken over')
    const [req] = await rx.until(1)
    t.match(req?.url, /CallID=crashed/)
  })

  t.test('DNS rebinding: the address is checked again when delivering', async (t) => {
    let answer = '127.0.0.1'
    const guard = new TargetGuard(['127.0.0.1'], async () => [{ address: answer, family: 4 }])
    const r = await rig(t, backend, {}, guard)
    const rx = await receiver(t)
    const url = rx.url.replace('127.0.0.1', 'rebind.example')
    t.equal((await guard.check(url)).ok, true, 'at subscription time the host resolved to an allowed address')
    await r.subscribe(url)
    answer = '10.0.0.1'
    await r.delivery.publish(event())
    const dead = await eventually(async () => (await r.delivery.deliveries(EXT, { state: 'dead', startIndex: 0, count: 1 })).entries[0], 'dead row')
    t.equal(dead.attempts, 1, 'refused for good at the first attempt, no retries')
    t.match(dead.lastError, /10\.0\.0\.1 is not a public address/)
    t.equal(rx.requests.length, 0)
  })

  t.test('delivered rows are pruned after the retention period; dead ones after theirs', async (t) => {
    const r = await rig(t, backend, { retentionMs: 0, deadRetentionMs: 3_600_000 })
    const rx = await receiver(t)
    await r.subscribe(rx.url)
    await r.delivery.publish(event())
    await r.delivery.idle()
    await new Promise((resolve) => setTimeout(resolve, 5))
    t.same(await r.delivery.prune(), { delivered: 1, dead: 0 })
    t.equal((await r.delivery.deliveries(EXT, { startIndex: 0, count: 10 })).total, 0)
  })

  t.test('a disabled subscription gets nothing', async (t) => {
    const r = await rig(t, backend)
    const rx = await receiver(t)
    const created = await r.subs.create({ extension: EXT, organizationId: '3', type: 1, url: rx.url, method: 0, status: 0, note: '' })
    t.ok(created.ok)
    t.equal(await r.delivery.publish(event({ type: 1 })), 0)
  })
})
