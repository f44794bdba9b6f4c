// Create Simple with several sources or a public source, Callback and ConferenceInvite on the real
// Asterisk with SIPp phones. Run under the PBX lock:
//   flock /tmp/uapi-pbx-tests.lock npx tap test/pbx/create.test.ts
import t, { type Test } from 'tap'
import { build, noRateLimit, whenLive } from '../helpers/app.ts'
import { ensurePbx, hangupAllChannels, listChannels } from '../helpers/pbx.ts'
import { Phone, stopAllPhones } from '../helpers/phones.ts'
import { AmiObserver } from '../helpers/ami-observer.ts'
import { UapiClient, statuses } from '../helpers/uapi.ts'
import { eventually } from '../helpers/wait.ts'
import type { App } from '../../src/app.ts'
import type { PhoneCall } from '../../src/calls/index.ts'

t.before(ensurePbx)
t.beforeEach(hangupAllChannels)
t.afterEach(async () => {
  await stopAllPhones()
  await hangupAllChannels()
})

async function setup (t: Test): Promise<{ app: App, obs: AmiObserver }> {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  return { app, obs }
}

t.test('Simple with sources [300, 301] to 210: both ring, 301 answers, 300 is cancelled, 210 answers; one call, 301 and 210 on call', async (t) => {
  const { app, obs } = await setup(t)
  const org3 = await UapiClient.as(app, 3)
  const p300 = await Phone.register('0003*300', { mode: 'ring' })
  const p301 = await Phone.register('0003*301', { mode: 'answer', answerAfterMs: 1_000 })
  const p210 = await Phone.register('0003*210', { mode: 'answer', answerAfterMs: 300 })
  const mark = obs.mark()
  const res = await org3.post('@me/simple', { extension: '0003*301', phoneCallView: [{ source: ['0003*300', '0003*301'], destination: ['0003*210'] }] })
  t.equal(res.status, 200, JSON.stringify(res.body))
  const created = res.body[0] as PhoneCall
  t.match(created.id, /^[0-9a-f]{20}$/)
  const [i300, i301] = await Promise.all([p300.waitFor('INVITE'), p301.waitFor('INVITE')])
  t.ok(i300 !== undefined && i301 !== undefined, 'both sources ring')
  t.equal(p210.received('INVITE').length, 0, '210 does not ring before a source answers')
  await p300.waitFor('CANCEL', { timeoutMs: 10_000 })
  t.pass('300 received CANCEL once 301 answered')
  await p210.waitFor('INVITE', { timeoutMs: 10_000 })
  t.pass('210 rings after 301 answered')
  const in210 = await obs.waitFor((e) => e.event === 'BridgeEnter' && e.channel?.startsWith('PJSIP/0003*210-') === true, { from: mark, timeoutMs: 10_000 })
  t.ok(in210.bridgeuniqueid, '210 answered and is bridged')
  const listed = await org3.until(`@me/0003*210/${created.id}`, (c) => {
    const st = statuses(c.entry[0])
    return st['0003*301'] === 5 && st['0003*210'] === 5 ? c : undefined
  }, '301 and 210 on call in List')
  t.equal(listed.totalResults, 1, 'one call')
  t.equal(listed.entry[0]?.id, created.id, 'the created id')
  t.notOk(statuses(listed.entry[0])['0003*300'] === 5, '300 is not on the call')
})

t.test('Simple with the public source 42420042 to 210: the public side is called first, then 210 rings, answers and is bridged with it', async (t) => {
  const { app, obs } = await setup(t)
  const user14 = await UapiClient.as(app, 14)
  const p210 = await Phone.register('0003*210', { mode: 'answer', answerAfterMs: 300 })
  const mark = obs.mark()
  const res = await user14.post('@me/simple?callDuration=20', { extension: '300', phoneCallView: [{ source: ['42420042'], destination: ['0003*210'] }] })
  t.equal(res.status, 200, JSON.stringify(res.body))
  const created = res.body[0] as PhoneCall
  const pub = await obs.waitFor((e) => e.event === 'Newchannel' && e.channel?.startsWith('Local/42420042@pstn-') === true && e.channel.endsWith(';2'), { from: mark, timeoutMs: 5_000 })
  const invite = await p210.waitFor('INVITE', { timeoutMs: 10_000 })
  const pubAnswered = obs.events((e) => e.event === 'Newstate' && e.uniqueid === pub.uniqueid && e.channelstate === '6', mark)
  t.ok(pubAnswered.length === 1, 'the public side had answered before 210 was called')
  t.match(invite.header('From'), /<sip:42420042@/, '210 is shown the public number')
  // 210 is bridged with the Local chain whose far end is the public party (answering with Echo).
  const b210 = await obs.waitFor((e) => e.event === 'BridgeEnter' && e.channel?.startsWith('PJSIP/0003*210-') === true, { from: mark, timeoutMs: 10_000 })
  const peers = obs.events((e) => e.event === 'BridgeEnter' && e.bridgeuniqueid === b210.bridgeuniqueid && e.channel?.startsWith('Local/s@vn-sources-') === true, mark)
  t.equal(peers.length, 1, `210 bridged with ${peers[0]?.channel ?? '?'}`)
  const far = (peers[0]?.channel ?? '').replace(/;1$/, ';2')
  const pstn1 = obs.events((e) => e.event === 'BridgeEnter' && e.channel?.startsWith('Local/42420042@pstn-') === true && e.channel.endsWith(';1'), mark)
  t.ok(pstn1.some((p) => obs.events((e) => e.event === 'BridgeEnter' && e.channel === far && e.bridgeuniqueid === p.bridgeuniqueid, mark).length > 0), 'whose other half is bridged with the public party')
  await eventually(async () => (await listChannels()).find((c) => c.Context === 'pstn' && c.Exten === '42420042' && c.Application === 'Echo'), { what: 'the public party answering with Echo' })
  const org3 = await UapiClient.as(app, 3)
  const listed = await org3.until(`@me/0003*210/${created.id}`, (c) => (statuses(c.entry[0])['0003*210'] === 5 ? c : undefined), '210 on call in List')
  t.equal(listed.entry[0]?.id, created.id, 'List shows 210 on call under the created id')
})
