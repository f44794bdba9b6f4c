// AMI faults a real Asterisk cannot produce on demand (a socket that goes silent without closing, a
// slow reply, a reply that never comes, a drop at an exact moment), played by test/helpers/fake-ami.ts
// against the real engine (buildApp, connect: true): what the HTTP API, /health and /metrics show,
// and which actions reach the peer. Asterisk outages on the real PBX: test/pbx/outage.test.ts.
import t, { type Test } from 'tap'
import { buildApp, type App } from '../../src/app.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { noRateLimit } from '../helpers/app.ts'
import { expectErrorLines, testLogger } from '../helpers/error-log.ts'
import { FakeAmi, frame, reply, type FakeAction, type FakeAmiOptions } from '../helpers/fake-ami.ts'
import { UapiClient, statuses, viewOf } from '../helpers/uapi.ts'
import { eventually } from '../helpers/wait.ts'
import { syntheticCall } from '../../bench/lib.ts'
import type { PhoneCall } from '../../src/calls/index.ts'
import { lazyTestStorage } from '../helpers/pglite.ts'

interface Rig { app: App, fake: FakeAmi, user12: UapiClient }

/** The real engine with AMI pointed at a FakeAmi; `live` waits for the first mirror sync. */
async function rig (t: Test, opts: FakeAmiOptions & { live?: boolean, script?: (fake: FakeAmi) => void } = {}): Promise<Rig> {
  const base = loadConfig({ LOG_LEVEL: 'silent' })
  const fake = await FakeAmi.start({ username: base.ami.username, secret: base.ami.secret, ...opts })
  t.teardown(() => fake.close())
  opts.script?.(fake)
  const config = noRateLimit(structuredClone(base) as Config)
  config.ami.host = fake.host
  config.ami.port = fake.port
  const app = await buildApp(config, { logger: testLogger(), connect: true, storage: lazyTestStorage() })
  t.teardown(() => app.close())
  await app.ready()
  if (opts.live !== false) await app.engine.sync.whenLive(5_000)
  return { app, fake, user12: await UapiClient.as(app, 12) }
}

async function ready (app: App): Promise<{ code: number, body: { status: string, ami: string, mirror: string } }> {
  const res = await app.inject('/health/ready')
  return { code: res.statusCode, body: res.json() }
}

async function metric (app: App, series: string): Promise<number> {
  const line = (await app.inject('/metrics')).body.split('\n').find((l) => l.startsWith(series + ' '))
  if (line === undefined) throw new Error(`no ${series} in /metrics`)
  return Number(line.slice(series.length + 1))
}

/** 0003*300 calls 0003*210, which rings: the events Asterisk 22 sends, through the fake peer. */
async function ringingCall (r: Rig, n = 1): Promise<{ call: PhoneCall, viewId: string }> {
  r.fake.send(syntheticCall(n, '0003*300', '0003*210', false).events.map((e) => frame(e)).join(''))
  const call = await r.user12.until('@me/0003*210', (c) => (statuses(c.entry[0])['0003*210'] === 3 ? c.entry[0] : undefined), '210 ringing')
  return { call, viewId: viewOf(call, '0003*210')?.id as string }
}

const pickUp = (viewId: string) => ({ action: 'PickUp', sendCallTo: '0003*024', phoneCallViewId: viewId, waitForPickup: '20' })
const originates = (fake: FakeAmi): FakeAction[] => fake.actions.filter((a) => a.name.toLowerCase() === 'originate')

t.test('a silent AMI socket makes the engine unavailable within Ping interval + Ping timeout, and it reconnects and resyncs once the peer answers', async (t) => {
  expectErrorLines(1, 'the List answered 503 while the peer is silent')
  const r = await rig(t, { silentLogin: true })
  const firstConn = r.fake.connections.length
  t.equal((await ready(r.app)).code, 200)
  r.fake.silent = true // nothing more is written, the socket stays open: a half-open peer
  const silentAt = Date.now()
  await eventually(async () => ((await ready(r.app)).code === 503 ? true : undefined), { what: 'the engine to notice the silence', timeoutMs: 12_000, intervalMs: 100 })
  const noticedMs = Date.now() - silentAt
  t.ok(noticedMs <= 8_000 + 1_000, `unavailable ${noticedMs} ms after the peer went silent (Ping every 5 s, 3 s to answer)`)
  t.ok(r.app.engine.ami.stats.pingMisses >= 1, 'through a missed Ping')
  const started = Date.now()
  const res = await r.user12.get('@me/0003*210')
  t.equal(res.status, 503)
  t.equal(res.body.error.code, 'pbx_unavailable')
  t.ok(Date.now() - started < 500, 'answered at once')
  t.not((await ready(r.app)).body.ami, 'ready', '/health: AMI not ready')
  t.equal(await metric(r.app, 'uapi_ami_connection_state{state="ready"}'), 0, '/metrics: AMI not ready')

  r.fake.silent = false
  const back = await eventually(async () => {
    const h = await ready(r.app)
    return h.code === 200 ? h : undefined
  }, { what: 'ready again once the peer answers', timeoutMs: 20_000, intervalMs: 100 })
  t.match(back.body, { status: 'ready', ami: 'ready', mirror: 'live' })
  const resyncs = r.fake.actions.filter((a) => a.name === 'CoreShowChannels' && a.conn > firstConn && r.fake.connections[a.conn - 1]?.loggedIn === true)
  t.ok(resyncs.length >= 1, `a CoreShowChannels was sent on the new session (connection ${resyncs[0]?.conn}, the first was ${firstConn})`)
  t.ok(await metric(r.app, 'uapi_ami_reconnects_total') >= 1, '/metrics: reconnects counted')
  t.equal((await r.user12.get('@me/0003*210')).status, 200, 'List answers again')
})

t.test('while a slow CoreShowChannels is under way requests answer 503 at once, never a 500 or a hang, and the engine turns ready when it arrives', async (t) => {
  const delayMs = 2_500
  // When the fake peer got the action (waitForAction below polls, and may see it late under load).
  let receivedAt = 0
  const r = await rig(t, {
    live: false,
    script: (fake) => fake.onAction('CoreShowChannels', (a, conn) => {
      receivedAt = Date.now()
      setTimeout(() => {
        conn.socket.write(reply(a, { EventList: 'start', Message: 'Channels will follow' }) +
          frame({ Event: 'CoreShowChannelsComplete', ActionID: a.headers.actionid ?? '', EventList: 'Complete', ListItems: 0 }))
      }, delayMs)
      return null
    })
  })
  await r.fake.waitForAction((a) => a.name === 'CoreShowChannels', 5_000)
  const askedAt = receivedAt
  const seen = new Map<number, number>()
  const codes = new Set<string>()
  const healths = new Set<string>()
  let slowest = 0
  let during = 0
  while (r.app.engine.sync.state !== 'live' && Date.now() - askedAt < delayMs + 5_000) {
    const started = Date.now()
    const res = await r.user12.get('@me/0003*210')
    slowest = Math.max(slowest, Date.now() - started)
    seen.set(res.status, (seen.get(res.status) ?? 0) + 1)
    if (res.status === 503) codes.add(res.body.error.code)
    const h = await ready(r.app)
    if (h.code === 503) { during++; healths.add(`${h.body.ami}/${h.body.mirror}`) }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  expectErrorLines(seen.get(503) ?? 0, 'each List answered 503 while the snapshot was slow')
  t.same([...codes], ['pbx_unavailable'], 'every 503 is pbx_unavailable')
  t.same([...healths], ['ready/syncing'], '/health/ready: AMI ready, mirror syncing')
  const liveMs = Date.now() - askedAt
  t.ok(liveMs >= delayMs - 200 && liveMs < delayMs + 2_000, `live ${liveMs} ms after the snapshot was asked for (reply delayed ${delayMs} ms)`)
  t.ok((seen.get(503) ?? 0) > 5, `requests meanwhile: ${JSON.stringify(Object.fromEntries(seen))}`)
  t.notOk([...seen.keys()].some((s) => s >= 500 && s !== 503), 'no 500 and no other 5xx')
  t.ok(slowest < 500, `slowest answer ${slowest} ms`)
  t.ok(during > 5, '/health/ready said syncing meanwhile')
  t.equal((await r.user12.get('@me/0003*210')).status, 200, 'then List answers 200')
  t.equal(r.fake.actions.filter((a) => a.name === 'CoreShowChannels').length, 1, 'the snapshot was asked for once')
})

t.test('an Originate the AMI never answers gives 504 after the action deadline, is sent once, locks its view, and its late reply is ignored', async (t) => {
  expectErrorLines(1, 'the Originate timeout answered 504')
  const held: FakeAction[] = []
  const r = await rig(t, { script: (fake) => fake.onAction('Originate', (a) => { held.push(a); return null }) })
  const { call, viewId } = await ringingCall(r)
  const started = Date.now()
  const res = await r.user12.put(`@me/0003*210/${call.id}`, pickUp(viewId))
  const ms = Date.now() - started
  t.equal(res.status, 504, JSON.stringify(res.body))
  t.equal(res.body.error.code, 'pbx_timeout', 'not "retry shortly": the pickup may still happen')
  t.ok(ms >= 9_500 && ms < 12_000, `answered ${ms} ms later (Originate deadline 10 s), no hang`)
  t.equal(originates(r.fake).length, 1, 'one Originate reached the peer')
  const retry = await r.user12.put(`@me/0003*210/${call.id}`, pickUp(viewId))
  t.equal(retry.status, 409, 'a retry meets the pickup that may still be under way')
  t.equal(retry.body.error.code, 'pc_phonecall_conflict')
  t.equal(originates(r.fake).length, 1, 'and sends nothing')
  t.equal(r.app.engine.ami.stats.timeouts, 1, 'counted as an AMI timeout')
  t.equal(await metric(r.app, 'uapi_ami_action_timeouts_total'), 1, '/metrics: uapi_ami_action_timeouts_total 1')

  const unmatched = r.app.engine.ami.stats.unmatchedResponses
  const late = held[0] as FakeAction
  r.fake.send(reply(late, { Message: 'Originate successfully queued' }))
  await eventually(() => (r.app.engine.ami.stats.unmatchedResponses > unmatched ? true : undefined), { what: 'the late reply to arrive' })
  t.pass('the late reply matched nothing and was dropped')
  t.equal((await ready(r.app)).code, 200, 'the engine is still ready')
  t.equal(originates(r.fake).length, 1, 'and the Originate was never sent again')
  const again = await r.user12.list(`@me/0003*210/${call.id}`)
  t.equal(statuses(again.entry[0])['0003*210'], 3, 'the call still rings on 210')
})

t.test('an Originate in flight when the connection drops fails at once with 503 and is never replayed on the next session', async (t) => {
  expectErrorLines(1, 'the dropped Originate answered 503')
  const r = await rig(t, { script: (fake) => fake.onAction('Originate', () => null) })
  const { call, viewId } = await ringingCall(r)
  const pending = r.user12.put(`@me/0003*210/${call.id}`, pickUp(viewId))
  await r.fake.waitForAction((a) => a.name.toLowerCase() === 'originate', 5_000)
  const droppedAt = Date.now()
  r.fake.dropConnections()
  const res = await pending
  const ms = Date.now() - droppedAt
  t.equal(res.status, 503, JSON.stringify(res.body))
  t.equal(res.body.error.code, 'pbx_unavailable')
  t.ok(ms < 1_000, `answered ${ms} ms after the drop`)
  await r.app.engine.sync.whenLive(10_000)
  t.ok(r.fake.connections.length >= 2, 'the engine reconnected')
  t.equal(originates(r.fake).length, 1, 'one Originate in all: nothing replayed on the new session')
  t.notOk(r.fake.actions.some((a) => a.conn > 1 && a.name.toLowerCase() === 'originate'), 'none on the new connection')
})

t.test('a PickUp with ?wait=true whose outcome is pending answers 503 as soon as the AMI connection drops', async (t) => {
  expectErrorLines(1, 'the PickUp answered 503 on the drop')
  // Regression: it used to wait waitForPickup + 10 s and answer 502 pc_action_failed.
  const r = await rig(t)
  const { call, viewId } = await ringingCall(r)
  const pending = r.user12.put(`@me/0003*210/${call.id}?wait=true`, pickUp(viewId))
  await r.fake.waitForAction((a) => a.name.toLowerCase() === 'originate', 5_000)
  const droppedAt = Date.now()
  r.fake.dropConnections()
  const res = await pending
  const ms = Date.now() - droppedAt
  t.equal(res.status, 503, JSON.stringify(res.body))
  t.equal(res.body.error.code, 'pbx_unavailable')
  t.ok(ms < 1_000, `answered ${ms} ms after the drop, not after waitForPickup (20 s) + grace`)
  await r.app.engine.sync.whenLive(10_000)
  t.equal(originates(r.fake).length, 1, 'the Originate was not sent again after the reconnect')
})

t.test('a PickUp with ?wait=true answers 503 when Asterisk announces Shutdown after hanging up the picker leg', async (t) => {
  expectErrorLines(1, 'the PickUp answered 503 on Shutdown')
  // Asterisk's own order on `core stop now`: Hangup of every channel, then Shutdown, then close.
  const r = await rig(t)
  const { call, viewId } = await ringingCall(r, 7)
  const pending = r.user12.put(`@me/0003*210/${call.id}?wait=true`, pickUp(viewId))
  const originate = await r.fake.waitForAction((a) => a.name.toLowerCase() === 'originate', 5_000)
  const channelId = originate.headers.channelid as string
  r.fake.send(frame({ Event: 'OriginateResponse', Privilege: 'call,all', Response: 'Failure', Channel: 'PJSIP/0003*024', Context: '', Exten: '', Reason: '1', Uniqueid: channelId, CallerIDNum: '<unknown>', CallerIDName: '<unknown>' }) +
    frame({ Event: 'Shutdown', Privilege: 'system,all', Shutdown: 'Cleanly', Restart: 'False' }))
  const res = await pending
  t.equal(res.status, 503, JSON.stringify(res.body))
  t.equal(res.body.error.code, 'pbx_unavailable', 'the PBX went away, the phone did not refuse')
})

t.test('a PickUp that fails while the PBX stays up still answers its own error after the liveness check', async (t) => {
  const r = await rig(t)
  const { call, viewId } = await ringingCall(r, 9)
  const pending = r.user12.put(`@me/0003*210/${call.id}?wait=true`, pickUp(viewId))
  const originate = await r.fake.waitForAction((a) => a.name.toLowerCase() === 'originate', 5_000)
  const pings = r.fake.actions.filter((a) => a.name === 'Ping').length
  // Reason 3: 024 rang until the Originate timeout (no answer).
  r.fake.send(frame({ Event: 'OriginateResponse', Privilege: 'call,all', Response: 'Failure', Channel: 'PJSIP/0003*024', Context: '', Exten: '', Reason: '3', Uniqueid: originate.headers.channelid as string, CallerIDNum: '<unknown>', CallerIDName: '<unknown>' }))
  const res = await pending
  t.equal(res.status, 409, JSON.stringify(res.body))
  t.equal(res.body.error.code, 'pc_pickup_unanswered')
  t.ok(r.fake.actions.filter((a) => a.name === 'Ping').length > pings, 'a Ping confirmed the PBX was still there')
})
