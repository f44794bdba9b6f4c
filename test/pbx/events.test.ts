// PhoneCallEvents on the real Asterisk with SIPp phones and a real HTTP receiver on loopback.
// 300 calls 210, 210 answers after 1 s, they talk 1 s, 300 hangs up. Subscriptions: on 0003*210
// Dial-In (0, POST), Answer incoming (3, POST) and Hangup (2, GET); on 0003*300 Dial-Out (1, GET),
// Answer outgoing (4, POST) and Hangup (2, POST). Each fires exactly once, with the parameters the
// reference names, the PhoneCall id List shows as CallAPIID, and a signature that verifies. Timing
// is against Asterisk: the observer's own AMI session sees Newstate Ringing of 210's leg.
// Then: the same with two engine instances on one PostgreSQL server (exactly once, and one PickUp
// sent to both rings one phone).
import t, { type Test } from 'tap'
import { build, noRateLimit, tokenFor, whenLive } from '../helpers/app.ts'
import { ensurePbx, hangupAllChannels } from '../helpers/pbx.ts'
import { Phone, stopAllPhones } from '../helpers/phones.ts'
import { AmiObserver } from '../helpers/ami-observer.ts'
import { closedPort, receiver, type Received } from '../helpers/receiver.ts'
import { databaseConfig } from '../helpers/db.ts'
import { verify } from '../../src/events/index.ts'
import type { App } from '../../src/app.ts'
import type { AmiEvent } from '../../src/ami/index.ts'
import type { Config } from '../../src/config.ts'

t.before(ensurePbx)
t.beforeEach(hangupAllChannels)
t.afterEach(async () => {
  await stopAllPhones()
  await hangupAllChannels()
})

interface Hook { readonly ext: string, readonly type: number, readonly method: 0 | 1 }

async function subscribe (app: App, token: string, hook: Hook, url: string): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: `/uapi/extensions/@me/${hook.ext}/phoneCallEvents/`,
    headers: { authorization: `Bearer ${token}` },
    payload: { type: String(hook.type), method: String(hook.method), status: '1', url: `${url}?ext=${encodeURIComponent(hook.ext)}&type=${hook.type}`, note: 'test' }
  })
  if (res.statusCode !== 200 && res.statusCode !== 201) throw new Error(`subscribe ${JSON.stringify(hook)}: ${res.statusCode} ${res.body}`)
  return (res.json() as { secret: string }).secret
}

/** The UAPI parameters of a delivery (query string for GET, form body for POST), without our own routing ones. */
function paramsOf (r: Received): Record<string, string> {
  const query = new URL(r.url, 'http://x').searchParams
  const form = r.method === 'POST' ? new URLSearchParams(r.body) : query
  const out: Record<string, string> = {}
  for (const [k, v] of form) if (k !== 'ext' && k !== 'type') out[k] = v
  return out
}
const hookOf = (r: Received): string => {
  const q = new URL(r.url, 'http://x').searchParams
  return `${q.get('ext') ?? ''}/${q.get('type') ?? ''}`
}
/** What was signed: the form body of a POST, the query string of a GET. */
const signedPayload = (r: Received): string => (r.method === 'POST' ? r.body : r.url.slice(r.url.indexOf('?') + 1))

t.test('Dial-In, Answer, Dial-Out and Hangup: each once, with List\'s id, signed, Dial-In within 200 ms of Asterisk', async (t) => {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const rx = await receiver(t)
  const org = await tokenFor(app, 3)
  const hooks: Hook[] = [
    { ext: '0003*210', type: 0, method: 1 }, { ext: '0003*210', type: 3, method: 1 }, { ext: '0003*210', type: 2, method: 0 },
    { ext: '0003*300', type: 1, method: 0 }, { ext: '0003*300', type: 4, method: 1 }, { ext: '0003*300', type: 2, method: 1 }
  ]
  const secrets = new Map<string, string>()
  for (const h of hooks) secrets.set(`${h.ext}/${h.type}`, await subscribe(app, org, h, rx.url))
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const from = obs.mark()
  const ringing = obs.waitFor((e) => e.event === 'Newstate' && e.channel?.startsWith('PJSIP/0003*210-') === true && e.channelstate === '5', { from, timeoutMs: 15_000 }).then(() => performance.now())

  await Phone.register('0003*210', { mode: 'answer', answerAfterMs: 1000 })
  await Phone.call('0003*300', '0003*210', { talkMs: 1000 })
  const user12 = await tokenFor(app, 12)
  let listedId: string | undefined
  for (let i = 0; i < 100 && listedId === undefined; i++) {
    const list = await app.inject({ method: 'GET', url: '/uapi/phoneCalls/@me/0003*210', headers: { authorization: `Bearer ${user12}` } })
    listedId = (list.json() as { entry: Array<{ id: string }> }).entry[0]?.id
    if (listedId === undefined) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await rx.until(6, 20_000)
  // Anything more would arrive now: watch a while for duplicates.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const got = rx.requests.map(hookOf).sort()
  t.same(got, hooks.map((h) => `${h.ext}/${h.type}`).sort(), 'each subscribed event exactly once')

  const one = (hook: string): Received => rx.requests.find((r) => hookOf(r) === hook) as Received
  const dialIn = one('0003*210/0')
  t.equal(dialIn.method, 'POST')
  t.match(dialIn.headers['content-type'], /application\/x-www-form-urlencoded/)
  const p = paramsOf(dialIn)
  t.match(p, { CallStatus: 'CALLING', CallFlow: 'IN', CalledExtension: '0003*210', CallerExtension: '0003*300', CallerIDNum: '0003*300' })
  t.ok(p.CallID !== undefined && p.CallID !== '', 'CallID: the Asterisk call')
  t.ok(listedId !== undefined, 'List showed the call')
  t.equal(p.CallAPIID, listedId, 'CallAPIID is the id List shows')
  const lag = dialIn.at - await ringing
  t.comment(`Dial-In delivered ${lag.toFixed(1)} ms after Asterisk's Ringing`)
  t.ok(lag < 200, `Dial-In within 200 ms of Asterisk's Ringing (${lag.toFixed(1)} ms)`)
  const hangup210 = one('0003*210/2')
  t.equal(hangup210.method, 'GET')
  t.match(paramsOf(hangup210), { CallStatus: 'ANSWER', CallFlow: 'IN', CallAPIID: listedId })
  t.ok(hangup210.at > one('0003*210/3').at && one('0003*210/3').at > dialIn.at, 'Dial-In, then Answer, then Hangup')
  t.match(paramsOf(one('0003*210/3')), { CallStatus: 'ANSWER', CallFlow: 'IN' })
  t.match(paramsOf(one('0003*300/1')), { CallStatus: 'CALLING', CallFlow: 'OUT', CallerExtension: '0003*300', CalledExtension: '0003*210', CalledNumber: '0003*210', CallAPIID: listedId })
  t.match(paramsOf(one('0003*300/4')), { CallStatus: 'ANSWER', CallFlow: 'OUT' })
  t.match(paramsOf(one('0003*300/2')), { CallStatus: 'ANSWER', CallFlow: 'OUT' })
  for (const r of rx.requests) {
    const secret = secrets.get(hookOf(r)) as string
    t.ok(verify(r.headers['x-uapi-signature'] as string | undefined, signedPayload(r), secret), `${hookOf(r)}: signature verifies`)
  }
  t.equal(new Set(rx.requests.map((r) => r.headers['x-uapi-event-id'])).size, 6, 'six distinct event ids')
})

async function twoInstances (t: Test): Promise<[App, App]> {
  const database = await databaseConfig(t, 'postgres')
  const config = (c: Config): Config => ({ ...noRateLimit(c), database })
  const a = await build(t, { connect: true, config, configuredDatabase: true })
  const b = await build(t, { connect: true, config, configuredDatabase: true })
  await Promise.all([whenLive(a), whenLive(b)])
  return [a, b]
}

t.test('two instances on one PostgreSQL server: 50 calls give exactly 50 Dial-In deliveries', async (t) => {
  const [a, b] = await twoInstances(t)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const rx = await receiver(t)
  await subscribe(a, await tokenFor(a, 12), { ext: '0003*210', type: 0, method: 1 }, rx.url)
  // Instance b learns of a's subscription at its next reload (within 2 s).
  await new Promise((resolve) => setTimeout(resolve, 2500))
  await Phone.register('0003*210', { mode: 'answer', answerAfterMs: 300, hangupAfterMs: 200 })
  const from = obs.mark()
  await Phone.call('0003*300', '0003*210', { calls: 50, ratePerS: 10 })
  const rang = (): AmiEvent[] => obs.events((e) => e.event === 'Newstate' && e.channelstate === '5' && e.channel?.startsWith('PJSIP/0003*210-') === true, from)
  await rx.until(50, 60_000).catch(() => undefined)
  await new Promise((resolve) => setTimeout(resolve, 2000))
  t.equal(rang().length, 50, `Asterisk rang 210 50 times (${rang().length})`)
  const ids = rx.requests.map((r) => paramsOf(r).CallID)
  t.equal(rx.requests.length, 50, `exactly 50 deliveries (got ${rx.requests.length})`)
  t.equal(new Set(ids).size, 50, '50 different calls')
  const byInstance = (app: App): number => app.engine.events.stats.delivered
  t.comment(`delivered by instance a: ${byInstance(a)}, b: ${byInstance(b)}; stats a ${JSON.stringify(a.engine.events.stats)} b ${JSON.stringify(b.engine.events.stats)}`)
  const delivered = new Set(rx.requests.map((r) => paramsOf(r).CallID))
  const missing = rang().map((e) => e.linkedid).filter((id) => !delivered.has(id))
  if (missing.length > 0) t.comment(`calls rung without a delivery: ${missing.join(', ')}`)
  for (const id of missing.slice(0, 1)) {
    for (const e of obs.events((e) => e.linkedid === id || e.destlinkedid === id, from)) t.comment(`${e.event} ${e.channel ?? ''} ${e.channelstate ?? ''} ${e.destchannel ?? ''} ${e.destchannelstate ?? ''} ${e.uniqueid ?? ''} ${e.timestamp ?? ''}`)
  }
  t.equal(byInstance(a) + byInstance(b), 50, 'the two instances delivered 50 between them')
})

t.test('two instances on one PostgreSQL server: the same PickUp sent to both at once rings one phone', async (t) => {
  const [a, b] = await twoInstances(t)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const reception = await Phone.register('0003*210', { mode: 'ring' })
  const picker = await Phone.register('0003*024', { mode: 'ring' })
  await Phone.call('0003*300', '0003*210')
  await reception.waitFor('INVITE')
  const [ta, tb] = [await tokenFor(a, 12), await tokenFor(b, 12)]
  interface Listed { id: string, phoneCallView: Array<{ id: string, extension: string, status: number }> }
  let call: Listed | undefined
  for (let i = 0; i < 100 && call === undefined; i++) {
    const res = await a.inject({ method: 'GET', url: '/uapi/phoneCalls/@me/0003*210', headers: { authorization: `Bearer ${ta}` } })
    const c = (res.json() as { entry: Listed[] }).entry[0]
    if (c?.phoneCallView.find((v) => v.extension === '0003*210')?.status === 3) call = c
    else await new Promise((resolve) => setTimeout(resolve, 50))
  }
  if (call === undefined) throw new Error('210 never rang')
  const viewId = call.phoneCallView.find((v) => v.extension === '0003*210')?.id as string
  const from = obs.mark()
  const body = { action: 'PickUp', sendCallTo: '0003*024', phoneCallViewId: viewId, waitForPickup: '10' }
  const url = `/uapi/phoneCalls/@me/0003*210/${call.id}`
  const [ra, rb] = await Promise.all([
    a.inject({ method: 'PUT', url, headers: { authorization: `Bearer ${ta}` }, payload: body }),
    b.inject({ method: 'PUT', url, headers: { authorization: `Bearer ${tb}` }, payload: body })
  ])
  const codes = [ra.statusCode, rb.statusCode].sort()
  t.same(codes, [200, 409], `one accepted, the other pc_phonecall_conflict (${ra.body} | ${rb.body})`)
  t.equal((ra.statusCode === 409 ? ra : rb).json().error.code, 'pc_phonecall_conflict')
  await picker.waitFor('INVITE')
  // Asterisk's word, over a window: one Originate, one channel for 024, one INVITE at 024's phone.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const channels = obs.events((e) => e.event === 'Newchannel' && e.channel?.startsWith('PJSIP/0003*024-') === true, from)
  t.equal(channels.length, 1, 'Asterisk made one channel for 024 (watched 2 s)')
  t.equal(picker.received('INVITE').length, 1, '024 received one INVITE')
})

t.test('a receiver that fails three times gets the fourth attempt; one that is down is dead-lettered, visible; a good one is not slowed', async (t) => {
  const app = await build(t, {
    connect: true,
    config: (c) => ({ ...noRateLimit(c), events: { ...c.events, backoffMs: 200, backoffMaxMs: 1000, maxAttempts: 4, timeoutMs: 1000, sweepMs: 200 } })
  })
  await whenLive(app)
  const good = await receiver(t)
  // 500 to the first three attempts of every event, then 200.
  const tries = new Map<string, number>()
  const flaky = await receiver(t, (r) => {
    const id = String(r.headers['x-uapi-event-id'])
    tries.set(id, (tries.get(id) ?? 0) + 1)
    return (tries.get(id) ?? 0) <= 3 ? 500 : 200
  })
  const down = `http://127.0.0.1:${await closedPort()}/hook`
  const org = await tokenFor(app, 3)
  await subscribe(app, org, { ext: '0003*210', type: 0, method: 1 }, good.url)
  await subscribe(app, org, { ext: '0003*210', type: 0, method: 0 }, flaky.url)
  await subscribe(app, org, { ext: '0003*210', type: 0, method: 1 }, down)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const from = obs.mark()
  const ringing = obs.waitFor((e) => e.event === 'Newstate' && e.channel?.startsWith('PJSIP/0003*210-') === true && e.channelstate === '5', { from, timeoutMs: 15_000 }).then(() => performance.now())
  await Phone.register('0003*210', { mode: 'ring' })
  await Phone.call('0003*300', '0003*210')
  const [first] = await good.until(1)
  t.comment(`first call: the good receiver got Dial-In ${((first as Received).at - await ringing).toFixed(1)} ms after Asterisk's Ringing (a fresh database's first write)`)
  // A second call while the other two receivers are being retried: the good one is not slowed.
  const mark2 = obs.mark()
  const ringing2 = obs.waitFor((e) => e.event === 'Newstate' && e.channel?.startsWith('PJSIP/0003*210-') === true && e.channelstate === '5', { from: mark2, timeoutMs: 15_000 }).then(() => performance.now())
  await Phone.call('0003*301', '0003*210')
  const second = (await good.until(2))[1] as Received
  const lag = second.at - await ringing2
  t.ok(flaky.requests.length < 4, 'measured while the flaky receiver was still failing')
  t.ok(lag < 200, `the good receiver got the second Dial-In ${lag.toFixed(1)} ms after Asterisk's Ringing, beside a failing and a dead one`)
  await flaky.until(8, 15_000)
  t.same([...tries.values()], [4, 4], 'the flaky receiver: 500, 500, 500, then each event delivered on the fourth attempt')
  // The dead one: four attempts fail (connection refused), then it is a dead letter the API shows.
  const deadline = Date.now() + 15_000
  let dead: Array<{ state: string, attempts: number }> = []
  while (Date.now() < deadline && dead.length === 0) {
    const res = await app.inject({ method: 'GET', url: '/uapi/extensions/@me/0003*210/phoneCallEvents/deliveries?state=dead', headers: { authorization: `Bearer ${org}` } })
    dead = (res.json() as { entry: Array<{ state: string, attempts: number }> }).entry
    if (dead.length === 0) await new Promise((resolve) => setTimeout(resolve, 200))
  }
  t.ok(dead.length >= 1, 'dead letters, visible through the API')
  t.match(dead[0], { state: 'dead', attempts: 4 })
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal(good.requests.length, 2, 'the good receiver got each event once')
  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  t.match(metrics.body, /dead/, 'metrics count dead letters')
})
