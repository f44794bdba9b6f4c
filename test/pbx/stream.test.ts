// The live stream on the real Asterisk with SIPp phones: 300 calls 210, 210 answers after 1 s,
// 300 hangs up after talking 1 s. User 12 (0003*210) sees ringing -> on call -> ended, each within
// 100 ms of the AMI event that made it (the observer's own AMI session is the clock); user 40
// (organization 4) sees nothing of it; a client that reconnects with Last-Event-ID misses nothing.
import t from 'tap'
import { build, noRateLimit, tokenFor, whenLive } from '../helpers/app.ts'
import { ensurePbx, hangupAllChannels } from '../helpers/pbx.ts'
import { Phone, stopAllPhones } from '../helpers/phones.ts'
import { AmiObserver } from '../helpers/ami-observer.ts'
import { openSse, type SseMessage } from '../helpers/sse.ts'
import type { PhoneCall } from '../../src/calls/index.ts'

t.before(ensurePbx)
t.beforeEach(hangupAllChannels)
t.afterEach(async () => {
  await stopAllPhones()
  await hangupAllChannels()
})

const statusOf = (m: SseMessage, ext: string): number | undefined =>
  (JSON.parse(m.data) as { phoneCall: PhoneCall }).phoneCall.phoneCallView.find((v) => v.extension === ext)?.status

t.test('user 12 sees 210\'s call go ringing -> on call -> ended within 100 ms of Asterisk; user 40 sees none of it', async (t) => {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const addr = app.server.address() as { port: number }
  const base = `http://127.0.0.1:${addr.port}`
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const s12 = await openSse(`${base}/uapi/phoneCalls/12/0003*210/stream`, await tokenFor(app, 12))
  const s40 = await openSse(`${base}/uapi/phoneCalls/@me/@self/stream`, await tokenFor(app, 40))
  await s12.next((m) => m.event === 'snapshot')
  await s40.next((m) => m.event === 'snapshot')

  const from = obs.mark()
  const arrival = (match: Parameters<AmiObserver['waitFor']>[0]): Promise<number> => obs.waitFor(match, { from, timeoutMs: 20_000 }).then(() => performance.now())
  // The AMI events that move 210's view: its leg rings, is answered, the call's last leg hangs up.
  const ringingAt = arrival((e) => e.event === 'Newstate' && e.channel?.startsWith('PJSIP/0003*210-') === true && e.channelstate === '5')
  const answeredAt = arrival((e) => e.event === 'Newstate' && e.channel?.startsWith('PJSIP/0003*210-') === true && e.channelstate === '6')
  const hungUpAt = arrival((e) => e.event === 'Hangup' && e.channel?.startsWith('PJSIP/0003*210-') === true)

  const reception = await Phone.register('0003*210', { mode: 'answer', answerAfterMs: 1000 })
  await Phone.call('0003*300', '0003*210', { talkMs: 1000 })
  const ringing = await s12.next((m) => m.event === 'call' && statusOf(m, '0003*210') === 3, 10_000)
  const onCall = await s12.next((m) => m.event === 'call' && statusOf(m, '0003*210') === 5, 10_000)
  const ended = await s12.next((m) => m.event === 'ended', 10_000)
  await reception.waitFor('BYE')

  const lag = { ringing: ringing.at - await ringingAt, onCall: onCall.at - await answeredAt, ended: ended.at - await hungUpAt }
  t.comment(`stream lag behind Asterisk (ms): ringing ${lag.ringing.toFixed(1)}, on call ${lag.onCall.toFixed(1)}, ended ${lag.ended.toFixed(1)}`)
  for (const [what, ms] of Object.entries(lag)) t.ok(ms < 100, `${what} within 100 ms of the AMI event (${ms.toFixed(1)} ms)`)
  const order = s12.messages.map((m) => m.event === 'call' ? `s${statusOf(m, '0003*210') ?? '-'}` : m.event)
  t.ok(order.indexOf('s3') < order.indexOf('s5') && order.indexOf('s5') < order.indexOf('ended'), `in order: ${order.join(' ')}`)

  // A second client resumes from the ringing message: it gets every later message, and no snapshot.
  const resumed = await openSse(`${base}/uapi/phoneCalls/12/0003*210/stream`, await tokenFor(app, 12), { 'last-event-id': ringing.id as string })
  await resumed.next((m) => m.event === 'ended')
  const later = s12.messages.slice(s12.messages.indexOf(ringing) + 1).map((m) => m.id)
  t.same(resumed.messages.map((m) => m.id), later, 'resume misses nothing')

  // Organization 4 watched the whole time: nothing but its own empty snapshot, for 1 s more.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.same(s40.messages.map((m) => m.event), ['snapshot'])
  t.same(JSON.parse((s40.messages[0] as SseMessage).data), { phoneCalls: [] })
  for (const s of [s12, s40, resumed]) s.close()
})
