// The live stream (GET /uapi/phoneCalls/{userId}/{extension}/stream) over a real socket, with the
// engine's real AMI client reading recorded Asterisk 22 streams from a fake peer.
import t, { type Test } from 'tap'
import { pino } from 'pino'
import { buildApp, type App } from '../../src/app.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import type { PhoneCall } from '../../src/calls/index.ts'
import { FakeAmi } from '../helpers/fake-ami.ts'
import { lazyTestStorage } from '../helpers/pglite.ts'
import { fixturePath } from '../helpers/fixtures.ts'
import { build, expectErrorLines, tokenFor } from '../helpers/app.ts'
import { openSse, type SseMessage } from '../helpers/sse.ts'

async function engine (t: Test, edit?: (c: Config) => void): Promise<{ app: App, fake: FakeAmi, base: string }> {
  const cfg = loadConfig({ LOG_LEVEL: 'silent' })
  const fake = await FakeAmi.start({ username: cfg.ami.username, secret: cfg.ami.secret })
  const config = structuredClone(cfg) as Config
  config.ami.host = fake.host
  config.ami.port = fake.port
  edit?.(config)
  const app = await buildApp(config, { logger: pino({ level: 'silent' }), connect: true, storage: lazyTestStorage() })
  await app.listen({ host: '127.0.0.1', port: 0 })
  await app.engine.sync.whenLive(10_000)
  t.teardown(async () => { await app.close(); await fake.close() })
  const addr = app.server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no address')
  return { app, fake, base: `http://127.0.0.1:${addr.port}` }
}

const STREAM_210 = '/uapi/phoneCalls/12/0003*210/stream'
const phoneCallOf = (m: SseMessage): PhoneCall => (JSON.parse(m.data) as { phoneCall: PhoneCall }).phoneCall
const statusOf = (m: SseMessage, ext: string): number | undefined => phoneCallOf(m).phoneCallView.find((v) => v.extension === ext)?.status

t.test('user 12 sees 210\'s call ringing, on call, ended, in order; user 40 sees nothing; resume misses nothing', async (t) => {
  const { app, fake, base } = await engine(t)
  const [t12, t40, t3] = await Promise.all([tokenFor(app, 12), tokenFor(app, 40), tokenFor(app, 3)])
  const s12 = await openSse(base + STREAM_210, t12)
  const s40 = await openSse(base + '/uapi/phoneCalls/@me/@self/stream', t40)
  const s3 = await openSse(base + '/uapi/phoneCalls/@me/@self/stream', t3)
  t.equal(s12.status, 200)
  t.match(s12.headers['content-type'], /^text\/event-stream/)
  const first = await s12.next((m) => m.event === 'snapshot')
  t.same(JSON.parse(first.data), { phoneCalls: [] }, 'first a snapshot: no calls yet')
  await s40.next((m) => m.event === 'snapshot')
  await s3.next((m) => m.event === 'snapshot')

  await fake.streamFixture(fixturePath('basic-call-answered'))
  const ended = await s12.next((m) => m.event === 'ended')
  const calls = s12.messages.filter((m) => m.event === 'call')
  const statuses = calls.map((m) => statusOf(m, '0003*210')).filter((s) => s !== undefined)
  // 3 ringing, 5 on call: never back once on call.
  const ringing = statuses.indexOf(3)
  const onCall = statuses.indexOf(5)
  t.ok(ringing >= 0 && onCall > ringing, `ringing then on call (${statuses.join(',')})`)
  t.notOk(statuses.slice(onCall).some((s) => s !== 5), 'on call until it ended')
  const id = phoneCallOf(calls[0] as SseMessage).id
  t.ok(calls.every((m) => phoneCallOf(m).id === id), 'one call')
  t.same(JSON.parse(ended.data), { id })
  t.equal(phoneCallOf(calls.at(-1) as SseMessage).extension, '0003*210', 'as 210 sees it')
  const ids = s12.messages.filter((m) => m.id !== undefined).map((m) => Number((m.id as string).split('.')[1]))
  t.ok(ids.every((n, i) => i === 0 || n > (ids[i - 1] as number)), 'ids increase')

  // The organization sees it too; user 40 (organization 4) sees nothing of it, for a while after.
  await s3.next((m) => m.event === 'ended')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.same(s40.messages.map((m) => m.event), ['snapshot'], 'user 40: its own empty snapshot only')

  // Resume after the first call message: exactly the rest, no snapshot.
  const after = calls[0] as SseMessage
  const rest = s12.messages.slice(s12.messages.indexOf(after) + 1).map((m) => `${m.id ?? ''} ${m.event}`)
  const resumed = await openSse(base + STREAM_210, t12, { 'last-event-id': after.id as string })
  await resumed.next((m) => m.event === 'ended')
  t.same(resumed.messages.map((m) => `${m.id ?? ''} ${m.event}`), rest, 'resume replays exactly what followed')
  // The same through the query parameter, for clients that cannot set the header.
  const viaQuery = await openSse(`${base}${STREAM_210}?lastEventId=${encodeURIComponent(after.id as string)}`, t12)
  await viaQuery.next((m) => m.event === 'ended')
  t.notOk(viaQuery.messages.some((m) => m.event === 'snapshot'))

  // An id this process never gave (another instance, a restart): a fresh snapshot instead.
  const foreign = await openSse(base + STREAM_210, t12, { 'last-event-id': 'zzz.5' })
  t.same(JSON.parse((await foreign.next((m) => m.event === 'snapshot')).data), { phoneCalls: [] })
  for (const s of [s12, s40, s3, resumed, viaQuery, foreign]) s.close()
})

t.test('a stream in progress: snapshot shows a live call; outage says so; the PBX back gives a fresh snapshot', async (t) => {
  const { app, fake, base } = await engine(t)
  const token = await tokenFor(app, 3)
  await fake.streamFixture(fixturePath('caller-abandons'))
  const s = await openSse(base + '/uapi/phoneCalls/@me/@self/stream', token)
  await s.next((m) => m.event === 'snapshot')
  fake.dropConnections()
  const status = await s.next((m) => m.event === 'status')
  t.same(JSON.parse(status.data), { pbx: 'unavailable' })
  const back = await s.next((m) => m.event === 'snapshot', 15_000, s.messages.indexOf(status))
  t.ok(Array.isArray((JSON.parse(back.data) as { phoneCalls: unknown[] }).phoneCalls), 'fresh snapshot after the resync')
  s.close()
})

t.test('the stream ends when the token expires, and when the engine closes', async (t) => {
  const short = await engine(t, (c) => { c.security.tokenTtlSeconds = 1 })
  const expiring = await openSse(short.base + '/uapi/phoneCalls/@me/@self/stream', await tokenFor(short.app, 3))
  await expiring.next((m) => m.event === 'snapshot')
  const expired = await expiring.next((m) => m.event === 'expired', 3000)
  await expiring.ended
  t.ok(expired, 'told "expired", then ended')

  const { app, base } = await engine(t)
  const token = await tokenFor(app, 3)
  const s = await openSse(base + '/uapi/phoneCalls/@me/@self/stream', token)
  await s.next((m) => m.event === 'snapshot')
  const closing = app.close()
  await s.ended
  await closing
  t.pass('closing the engine ended the stream')
})

t.test('refusals: another organization\'s extension, no token, PBX unavailable', async (t) => {
  expectErrorLines(1, 'one stream request answered 503 pbx_unavailable by an app with no PBX (connect: false)')
  const { app, base } = await engine(t)
  const t40 = await tokenFor(app, 40)
  const denied = await openSse(base + STREAM_210, t40)
  await denied.ended
  t.equal(denied.status, 401)
  t.match(JSON.parse(denied.body()), { error: { code: String } })
  const none = await openSse(base + STREAM_210, 'not-a-token')
  await none.ended
  t.equal(none.status, 401)
  const off = await build(t)
  const res = await off.inject({ method: 'GET', url: STREAM_210, headers: { authorization: `Bearer ${await tokenFor(off, 12)}` } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().error.code, 'pbx_unavailable')
})
