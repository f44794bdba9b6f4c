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
  // The two parties of a bridge enter it in either order: wait for the other one.
  const peer = await eventually(() => obs.events((e) => e.event === 'BridgeEnter' && e.bridgeuniqueid === b210.bridgeuniqueid && e.channel?.startsWith('Local/s@vn-sources-') === true, mark)[0], { what: '210\'s bridge peer' })
  t.pass(`210 bridged with ${peer.channel ?? '?'}`)
  const far = (peer.channel ?? '').replace(/;1$/, ';2')
  await eventually(() => obs.events((e) => e.event === 'BridgeEnter' && e.channel?.startsWith('Local/42420042@pstn-') === true && e.channel.endsWith(';1'), mark)
    .find((p) => obs.events((e) => e.event === 'BridgeEnter' && e.channel === far && e.bridgeuniqueid === p.bridgeuniqueid, mark).length > 0), { what: 'the other half bridged with the public party' })
  t.pass('whose other half is bridged with the public party')
  await eventually(async () => (await listChannels()).find((c) => c.Context === 'pstn' && c.Exten === '42420042' && c.Application === 'Echo'), { what: 'the public party answering with Echo' })
  const org3 = await UapiClient.as(app, 3)
  const listed = await org3.until(`@me/0003*210/${created.id}`, (c) => (statuses(c.entry[0])['0003*210'] === 5 ? c : undefined), '210 on call in List')
  t.equal(listed.entry[0]?.id, created.id, 'List shows 210 on call under the created id')
})

t.test('ConferenceInvite twice into scheduled conference 3 of 211: both invitees join the same ConfBridge; wrong pin or number places no call', async (t) => {
  const { app, obs } = await setup(t)
  const user12 = await UapiClient.as(app, 12)
  const p300 = await Phone.register('0003*300', { mode: 'answer', answerAfterMs: 200 })
  const p301 = await Phone.register('0003*301', { mode: 'answer', answerAfterMs: 200 })
  const mark0 = obs.mark()
  const badPin = await user12.post('@me/conferenceInvite?number=3&pin=1111', { extension: '211', phoneCallView: [{ source: ['211'], destination: ['300'] }] })
  t.same([badPin.status, badPin.body.error?.code], [400, 'pc_pin_invalid'], 'a wrong pin')
  const noPin = await user12.post('@me/conferenceInvite?number=3', { extension: '211', phoneCallView: [{ destination: ['300'] }] })
  t.same([noPin.status, noPin.body.error?.code], [400, 'pc_pin_invalid'], 'no pin')
  const badNumber = await user12.post('@me/conferenceInvite?number=9&pin=2233', { extension: '211', phoneCallView: [{ source: ['211'], destination: ['300'] }] })
  t.same([badNumber.status, badNumber.body.error?.code], [400, 'pc_number_invalid'], 'an unknown conference number')
  const notConference = await user12.post('@me/conferenceInvite?number=3&pin=2233', { extension: '210', phoneCallView: [{ destination: ['300'] }] })
  t.same([notConference.status, notConference.body.error?.code], [400, 'pc_extension_invalid'], 'not a Conference extension')
  t.same(await obs.tracesAfter(mark0), [], 'no call placed, nothing on Asterisk for 1 s')
  t.equal(p300.received('INVITE').length, 0)

  const mark = obs.mark()
  const first = await user12.post('@me/conferenceInvite?number=3&pin=2233', { extension: '211', phoneCallView: [{ source: ['211'], destination: ['0003*300'], callerId: 'Weekly <0003*211>' }] })
  t.equal(first.status, 200, JSON.stringify(first.body))
  const second = await user12.post('@me/conferenceInvite?number=3&pin=2233', { extension: '0003*211', phoneCallView: [{ source: '211', destination: '301' }] })
  t.equal(second.status, 200, JSON.stringify(second.body))
  t.not((first.body[0] as PhoneCall).id, (second.body[0] as PhoneCall).id, 'two calls')
  await p300.waitFor('INVITE')
  await p301.waitFor('INVITE')
  const join300 = await obs.waitFor((e) => e.event === 'ConfbridgeJoin' && e.channel?.startsWith('PJSIP/0003*300-') === true, { from: mark, timeoutMs: 10_000 })
  const join301 = await obs.waitFor((e) => e.event === 'ConfbridgeJoin' && e.channel?.startsWith('PJSIP/0003*301-') === true, { from: mark, timeoutMs: 10_000 })
  t.equal(join300.conference, 'conf-0003_211-3', '300 joined the scheduled conference\'s bridge')
  t.equal(join301.conference, join300.conference, '301 joined the same conference')
  t.equal(join301.bridgeuniqueid, join300.bridgeuniqueid, 'the same bridge')
})

t.test('Callback through 212 from the public 42420001 to the public 42420042: both public legs in Asterisk, bridged through one call', async (t) => {
  const { app, obs } = await setup(t)
  const user12 = await UapiClient.as(app, 12)
  const mark0 = obs.mark()
  const notCallback = await user12.post('@me/callback', { extension: '210', phoneCallView: [{ source: ['42420001'], destination: ['42420042'] }] })
  t.same([notCallback.status, notCallback.body.error?.code], [400, 'pc_extension_invalid'], 'a phone is no Callback extension')
  const internalSource = await user12.post('@me/callback', { extension: '212', phoneCallView: [{ source: ['210'], destination: ['42420042'] }] })
  t.same([internalSource.status, internalSource.body.error?.code], [400, 'pc_source_invalid'], 'the source must be public')
  const internalDest = await user12.post('@me/callback', { extension: '212', phoneCallView: [{ source: ['42420001'], destination: ['210'] }] })
  t.same([internalDest.status, internalDest.body.error?.code], [400, 'pc_destination_invalid'], 'the destination must be public')
  const foreign = await (await UapiClient.as(app, 14)).post('@me/callback', { extension: '0003*212', phoneCallView: [{ source: ['42420001'], destination: ['42420042'] }] })
  t.same([foreign.status, foreign.body.error?.code], [400, 'pc_extension_invalid'], 'another user\'s Callback extension')
  t.same(await obs.tracesAfter(mark0), [], 'nothing on Asterisk for 1 s')

  const mark = obs.mark()
  const res = await user12.post('@me/callback', { extension: '212', phoneCallView: [{ source: ['42420001'], destination: ['42420042'], callerId: 'John Doe <4242425>' }] })
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.ok(Array.isArray(res.body) && res.body.length === 1, 'Array<PhoneCall>')
  const created = res.body[0] as PhoneCall
  t.match(created.id, /^[0-9a-f]{20}$/)
  t.equal(created.extension, '0003*212')
  const both = await eventually(async () => {
    const chans = await listChannels()
    const src = chans.find((c) => c.Context === 'pstn' && c.Exten === '42420001' && c.Application === 'Echo')
    const dst = chans.find((c) => c.Context === 'pstn' && c.Exten === '42420042' && c.Application === 'Echo')
    return src !== undefined && dst !== undefined ? { src, dst } : undefined
  }, { what: 'both public parties answering' })
  t.equal(both.src.Linkedid, both.dst.Linkedid, 'one call in Asterisk (same linkedid)')
  const srcOn = obs.events((e) => e.event === 'Newstate' && e.channel?.startsWith('Local/42420001@pstn-') === true && e.channelstate === '6', mark)
  const dstNew = obs.events((e) => e.event === 'Newchannel' && e.channel?.startsWith('Local/42420042@pstn-') === true, mark)
  t.ok(srcOn.length > 0 && dstNew.length > 0 && Number(srcOn[0]?.timestamp ?? 0) <= Number(dstNew[0]?.timestamp ?? 0), 'the source was answered before the destination was called')
  // The bridges: 42420001;1 with vn-sources;2, vn-sources;1 with 42420042;1.
  const enter = (prefix: string) => obs.events((e) => e.event === 'BridgeEnter' && e.channel?.startsWith(prefix) === true && e.channel.endsWith(';1'), mark)[0]
  await eventually(() => enter('Local/42420042@pstn-'), { what: '42420042 bridged' })
  const d1 = enter('Local/42420042@pstn-')
  const s1 = await eventually(() => enter('Local/42420001@pstn-'), { what: '42420001 bridged' })
  const midOf = (bridge: string | undefined) => obs.events((e) => e.event === 'BridgeEnter' && e.bridgeuniqueid === bridge && e.channel?.startsWith('Local/0003*212@vn-callback-') === true, mark)[0]
  const mid1 = await eventually(() => midOf(d1?.bridgeuniqueid), { what: 'the Local half bridged with 42420042' })
  const mid2 = await eventually(() => midOf(s1.bridgeuniqueid), { what: 'the Local half bridged with 42420001' })
  t.ok(mid1.channel?.replace(/;1$/, '') === mid2.channel?.replace(/;2$/, ''), 'the two public parties are bridged through the halves of one Local channel')
  t.match(mid1.channel, /^Local\/0003\*212@vn-callback-/, 'the Callback extension\'s own Local channel')
  // List: one call under the Callback extension, on call, with the created id.
  const listed = await user12.until(`@me/0003*212/${created.id}`, (c) => (c.entry[0]?.phoneCallView[0]?.status === 5 ? c : undefined), 'the callback on call in List')
  t.equal(listed.totalResults, 1, 'one call')
  const call = listed.entry[0] as PhoneCall
  t.equal(call.id, created.id, 'the created id')
  t.equal(call.phoneCallView.length, 1, 'one view: the Callback extension\'s leg (public parties are channels, not views)')
  t.same(call.phoneCallView[0]?.destination, ['42420042'])
  t.equal(call.phoneCallView[0]?.flow, 4)
  const all = await user12.list('@me/@self')
  t.equal(all.entry.filter((c: PhoneCall) => c.id === created.id).length, 1, 'once in the user\'s @self list')
})

t.test('several sources honour waitForPickup (nobody answers: all stop ringing) and callDuration (the answered call ends)', async (t) => {
  const { app } = await setup(t)
  const org3 = await UapiClient.as(app, 3)
  const p300 = await Phone.register('0003*300', { mode: 'ring' })
  const p301 = await Phone.register('0003*301', { mode: 'ring' })
  const res = await org3.post('@me/simple?waitForPickup=2', { extension: '300', phoneCallView: [{ source: ['300', '301'], destination: ['42420042'] }] })
  t.equal(res.status, 200, JSON.stringify(res.body))
  const [i300, c300, c301] = await Promise.all([p300.waitFor('INVITE'), p300.waitFor('CANCEL', { timeoutMs: 6_000 }), p301.waitFor('CANCEL', { timeoutMs: 6_000 })])
  const rang = Date.parse(c300.time) - Date.parse(i300.time)
  t.ok(rang >= 1_500 && rang <= 3_500, `both sources were cancelled about 2 s after ringing (${rang} ms)`)
  t.ok(c301 !== undefined)
  await stopAllPhones()

  const q300 = await Phone.register('0003*300', { mode: 'ring' })
  const q301 = await Phone.register('0003*301', { mode: 'answer', answerAfterMs: 200 })
  const timed = await org3.post('@me/simple?callDuration=3', { extension: '300', phoneCallView: [{ source: ['300', '301'], destination: ['42420042'] }] })
  t.equal(timed.status, 200, JSON.stringify(timed.body))
  const invite = await q301.waitFor('INVITE')
  await q300.waitFor('CANCEL')
  const bye = await q301.waitFor('BYE', { timeoutMs: 10_000 })
  const lasted = Date.parse(bye.time) - Date.parse(invite.time)
  t.ok(lasted >= 2_500 && lasted <= 4_500, `Asterisk ended the call about 3 s after it was placed (${lasted} ms)`)
})
