// Outages of the real Asterisk, seen from the engine's HTTP API, /health and /metrics: Asterisk
// stopped mid-call, restarted quickly under a ringing call, gone while a PickUp is under way, and
// refusing the engine's login. SIPp phones, the bundled PBX; stop/start only via pbxScript and only
// under `flock /tmp/uapi-pbx-tests.lock` (see the project brief), always restored in a teardown.
import t, { type Test } from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { build, excuseErrorLines, noRateLimit, whenLive } from '../helpers/app.ts'
import { ensurePbx, hangupAllChannels, listChannels, pbxScript } from '../helpers/pbx.ts'
import { Phone, stopAllPhones } from '../helpers/phones.ts'
import { AmiObserver } from '../helpers/ami-observer.ts'
import { UapiClient, statuses, viewOf } from '../helpers/uapi.ts'
import { eventually } from '../helpers/wait.ts'
import { buildApp, type App } from '../../src/app.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { AmiTransport } from '../../src/ami/transport.ts'
import type { PackageAction } from '../../src/ami/serialize.ts'
import { lazyTestStorage } from '../helpers/pglite.ts'

excuseErrorLines(/"code":"pbx_unavailable"/, 'requests answered 503 pbx_unavailable while the tests hold the PBX down or refuse the login (as many as they poll)')

t.before(ensurePbx)
t.beforeEach(hangupAllChannels)
t.afterEach(async () => {
  await stopAllPhones()
  await pbxScript('up') // idempotent; a failed test must not leave the shared PBX down
  await hangupAllChannels()
})

interface Health { status: string, ami: string, mirror: string, calls: number, legs: number }

async function health (app: App): Promise<{ code: number, body: Health }> {
  const res = await app.inject('/health/ready')
  return { code: res.statusCode, body: res.json() as Health }
}

/** One sample of a Prometheus series from GET /metrics (labels as written, e.g. '{state="ready"}'). */
async function metric (app: App, series: string): Promise<number> {
  const res = await app.inject('/metrics')
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`)
  const line = res.body.split('\n').find((l) => l.startsWith(series + ' '))
  if (line === undefined) throw new Error(`no ${series} in /metrics`)
  return Number(line.slice(series.length + 1))
}

const sorted = (ids: Iterable<string>): string[] => [...ids].sort()
const mirrorIds = (app: App): string[] => sorted(app.engine.mirror.legs.keys())
async function pbxIds (): Promise<string[]> {
  return sorted((await listChannels()).map((c) => c.Uniqueid ?? '').filter((u) => u !== ''))
}

/** The mirror's legs equal CoreShowChannels (uniqueid sets), polled: events may be a moment behind. */
async function mirrorMatchesPbx (t: Test, app: App, what: string): Promise<string[]> {
  let last: { mirror: string[], pbx: string[] } = { mirror: [], pbx: [] }
  try {
    return await eventually(async () => {
      const pbx = await pbxIds()
      last = { mirror: mirrorIds(app), pbx }
      return JSON.stringify(last.mirror) === JSON.stringify(pbx) ? pbx : undefined
    }, { what, timeoutMs: 5_000 })
  } finally {
    t.same(last.mirror, last.pbx, `${what}: mirror legs = CoreShowChannels (${last.pbx.length} legs)`)
  }
}

/** A request that must be refused while the PBX is away: 503 pbx_unavailable, at once. */
async function provesUnavailable (t: Test, client: UapiClient, path: string): Promise<void> {
  const started = Date.now()
  const res = await client.get(path)
  const ms = Date.now() - started
  t.equal(res.status, 503, `${path}: 503 while the PBX is away`)
  t.equal(res.body.error?.code, 'pbx_unavailable', `${path}: pbx_unavailable`)
  t.ok(ms < 1_000, `${path}: answered in ${ms} ms, not after a timeout`)
}

t.test('when Asterisk stops mid-call the engine answers 503 at once, then reconnects by itself with a mirror equal to Asterisk and no stale call', async (t) => {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const [user12, org3, admin] = await Promise.all([UapiClient.as(app, 12), UapiClient.as(app, 3), UapiClient.as(app, 1)])
  const reception = await Phone.register('0003*210', { mode: 'answer' })
  const caller = await Phone.call('0003*300', '0003*210')
  await caller.waitFor('200')
  const call = await user12.until('@me/0003*210', (c) => {
    const s = statuses(c.entry[0])
    return s['0003*210'] === 5 && s['0003*300'] === 5 ? c.entry[0] : undefined
  }, 'the answered call 300 -> 210')
  await mirrorMatchesPbx(t, app, 'before the outage')
  const reconnectsBefore = await metric(app, 'uapi_ami_reconnects_total')
  const pid = process.pid
  t.equal(await metric(app, 'uapi_ami_connection_state{state="ready"}'), 1, '/metrics: AMI ready before the outage')

  await pbxScript('down')
  await eventually(async () => ((await user12.get('@me/0003*210')).status === 503 ? true : undefined), { what: 'the engine to notice', timeoutMs: 5_000 })
  for (const path of ['@me/0003*210', `@me/0003*210/${call.id}`, '@me/@self']) await provesUnavailable(t, user12, path)
  await provesUnavailable(t, org3, '@me/@self')
  const down = await health(app)
  t.equal(down.code, 503, '/health/ready: 503 while the PBX is down')
  t.equal(down.body.status, 'degraded')
  t.not(down.body.ami, 'ready', `/health: ami ${down.body.ami}`)
  t.equal(down.body.mirror, 'stale', '/health: mirror stale')
  t.equal((await app.inject('/health')).statusCode, 200, '/health (liveness) still answers 200: the engine stays up')
  t.equal(await metric(app, 'uapi_ami_connection_state{state="ready"}'), 0, '/metrics: AMI not ready')
  t.equal(process.pid, pid)

  await pbxScript('up')
  const upAt = Date.now()
  const ready = await eventually(async () => {
    const h = await health(app)
    return h.code === 200 ? h : undefined
  }, { what: '/health/ready 200 after Asterisk returned', timeoutMs: 20_000 })
  const readyMs = Date.now() - upAt
  t.ok(readyMs < 20_000, `/health/ready 200 ${readyMs} ms after pbx.sh up returned (no engine restart)`)
  t.match(ready.body, { status: 'ready', ami: 'ready', mirror: 'live' })
  const legs = await mirrorMatchesPbx(t, app, 'after the restart')
  t.same(legs, [], 'Asterisk restarted with no channel, and the mirror has none')
  t.equal(app.engine.mirror.size, 0, 'no stale call in the mirror')
  for (const [client, path] of [[user12, '@me/0003*210'], [user12, '@me/@self'], [org3, '@me/@self'], [admin, '@me/@self']] as const) {
    t.equal((await client.list(path)).totalResults, 0, `the old call is gone from ${path} (user ${client === user12 ? 12 : client === org3 ? 3 : 1})`)
  }
  t.equal((await user12.list(`@me/0003*210/${call.id}`)).totalResults, 0, 'and not found by its id')
  const reconnectsAfter = await metric(app, 'uapi_ami_reconnects_total')
  t.ok(reconnectsAfter > reconnectsBefore, `/metrics: uapi_ami_reconnects_total ${reconnectsBefore} -> ${reconnectsAfter}`)
  t.ok(await metric(app, 'uapi_mirror_resyncs_total') >= 2, '/metrics: a resync after the reconnect')
  t.equal(await metric(app, 'uapi_ami_connection_state{state="ready"}'), 1, '/metrics: AMI ready again')
  await reception.stop()
})

t.test('after a quick Asterisk restart under a ringing call, a call placed right after it returns is listed and the old one is not', async (t) => {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const [user12, org3] = await Promise.all([UapiClient.as(app, 12), UapiClient.as(app, 3)])
  await Phone.register('0003*210', { mode: 'ring' })
  await Phone.call('0003*300', '0003*210')
  const old = await user12.until('@me/0003*210', (c) => (statuses(c.entry[0])['0003*210'] === 3 ? c.entry[0] : undefined), 'the old call ringing on 210')
  const epoch = app.engine.ami.stats.epoch

  await pbxScript('down')
  await pbxScript('up')
  await stopAllPhones()
  // The new call goes out at once, whether or not the engine has logged in again yet.
  const reception = await Phone.register('0003*210', { mode: 'ring' })
  await Phone.call('0003*300', '0003*210')
  await reception.waitFor('INVITE')
  const fresh = await user12.until('@me/0003*210', (c) => {
    const e = c.entry.find((x) => x.id !== old.id)
    return e !== undefined && statuses(e)['0003*210'] === 3 ? c : undefined
  }, 'the new call ringing on 210', 20_000)
  t.ok(app.engine.ami.stats.epoch > epoch, `the engine logged in again (session ${epoch} -> ${app.engine.ami.stats.epoch})`)
  t.equal(fresh.totalResults, 1, 'exactly one call is listed for 210')
  const id = fresh.entry[0]?.id as string
  t.not(id, old.id, 'and it is the new one')
  t.same(statuses(fresh.entry[0]), { '0003*300': 4, '0003*210': 3 }, 'the new call as it stands: 300 calling, 210 ringing')
  t.same((await org3.list('@me/@self')).entry.map((c) => c.id), [id], 'organization 3 lists only the new call')
  t.equal((await user12.list(`@me/0003*210/${old.id}`)).totalResults, 0, 'the old call is not found by its id')
  const legs = await mirrorMatchesPbx(t, app, 'with the new call')
  t.equal(legs.length, 2, 'two legs: 300 and 210')
})

t.test('a PickUp under way when Asterisk goes away is not sent again after it returns, and the client gets a clear answer', async (t) => {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const user12 = await UapiClient.as(app, 12)
  // Count the Originate frames the engine writes to Asterisk's socket (a replay would go through here).
  const originates: string[] = []
  const send = AmiTransport.prototype.send
  AmiTransport.prototype.send = function (this: AmiTransport, action: PackageAction) {
    if (String(action.action).toLowerCase() === 'originate') originates.push(String(action.actionid))
    return send.call(this, action)
  }
  t.teardown(() => { AmiTransport.prototype.send = send })

  const reception = await Phone.register('0003*210', { mode: 'ring' })
  const picker = await Phone.register('0003*024', { mode: 'ring' })
  await Phone.call('0003*300', '0003*210')
  await reception.waitFor('INVITE')
  const call = await user12.until('@me/0003*210', (c) => (statuses(c.entry[0])['0003*210'] === 3 ? c.entry[0] : undefined), '210 ringing')
  const viewId = viewOf(call, '0003*210')?.id as string
  const sentBefore = app.engine.ami.stats.actionsSent

  // ?wait=true: the request is still open (024 rings, waitForPickup 20 s) when Asterisk goes away.
  const pending = user12.put(`@me/0003*210/${call.id}?wait=true`, { action: 'PickUp', sendCallTo: '0003*024', phoneCallViewId: viewId, waitForPickup: '20' })
  await picker.waitFor('INVITE')
  t.equal(originates.length, 1, 'one Originate written; 024 rings')
  const downAt = Date.now()
  const [res, downMs] = await Promise.all([
    pending.then((r) => ({ ...r, ms: Date.now() - downAt })),
    pbxScript('down').then(() => Date.now() - downAt)
  ])
  t.equal(res.status, 503, `the open PickUp answers 503 (${JSON.stringify(res.body)})`)
  t.equal(res.body.error?.code, 'pbx_unavailable', 'pbx_unavailable: the PBX went away, 024 did not refuse')
  t.ok(res.ms <= downMs, `answered ${res.ms} ms after pbx.sh down started (it took ${downMs} ms), not after waitForPickup + grace (30 s)`)

  await pbxScript('up')
  await whenLive(app, 20_000)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const mark = obs.mark()
  // A replay would be written right after the login, before the resync the engine has now done;
  // 3 s more on a fresh observer session leave its legs time to show up.
  t.same(await obs.tracesAfter(mark, { windowMs: 3_000 }), [], 'for 3 s after it returned Asterisk shows no trace of any action (no new 0003*024 leg, nothing)')
  t.equal(originates.length, 1, 'the engine wrote exactly one Originate in all')
  t.equal(picker.received('INVITE').length, 1, '024 was rung once, never again')
  const sentAfter = app.engine.ami.stats.actionsSent
  t.ok(sentAfter > sentBefore, `actionsSent ${sentBefore} -> ${sentAfter} (the Originate, Pings and the resync's CoreShowChannels)`)
  t.same(await pbxIds(), [], 'Asterisk has no channel left from before the outage')
})

t.test('with a wrong AMI secret the engine reports auth-failed, answers 503 fast, retries slowly and logs why', async (t) => {
  const base = loadConfig({ LOG_LEVEL: 'silent' })
  const config = noRateLimit(structuredClone(base) as Config)
  config.ami.secret = 'not-the-secret-' + process.pid
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l)); done() } })
  const app = await buildApp(config, { logger: pino({ level: 'info' }, sink), connect: true, storage: lazyTestStorage() })
  t.teardown(() => app.close())
  await app.ready()
  const user12 = await UapiClient.as(app, 12)

  await eventually(() => (app.engine.ami.stats.authFailures >= 1 ? true : undefined), { what: 'the first refused login', timeoutMs: 10_000 })
  const firstFailure = Date.now()
  const h = await health(app)
  t.equal(h.code, 503)
  t.equal(h.body.ami, 'auth-failed', '/health: ami auth-failed')
  t.equal(h.body.mirror, 'stale')
  await provesUnavailable(t, user12, '@me/0003*210')
  t.equal(await metric(app, 'uapi_ami_connection_state{state="auth-failed"}'), 1, '/metrics: AMI state auth-failed')
  const warn = lines.find((l) => l.msg === 'AMI authentication failed')
  t.ok(warn, 'a clear log line says the AMI login was refused')
  t.equal(warn?.user, 'uapi', 'naming the AMI user')
  t.notOk(lines.some((l) => JSON.stringify(l).includes(config.ami.secret)), 'the secret never appears in the logs')

  // No hammering: the next attempt comes after the auth retry delay (10 s), not at reconnect speed.
  await eventually(() => (app.engine.ami.stats.authFailures >= 2 ? true : undefined), { what: 'the second refused login', timeoutMs: 15_000, intervalMs: 100 })
  const gap = Date.now() - firstFailure
  const s = app.engine.ami.stats
  t.ok(gap >= 8_000, `the second login came ${gap} ms after the first refusal`)
  t.equal(s.connectAttempts, 2, `2 connect attempts in ${Math.round((Date.now() - firstFailure) / 1000) + 1} s`)
  t.equal(s.authFailures, 2)
  t.equal(app.engine.ami.state, 'auth-failed')
})
