// Call control on the real Asterisk with SIPp phones: Create Simple (click-to-call), Delete (hang
// up, whole call or one party), Transfer and TransferToVoicemail. Assertions are about what the
// phones and Asterisk did (INVITE/BYE/CANCEL received, bridges, dialplan reached), then what List
// shows. Run under the PBX lock: flock /tmp/uapi-pbx-tests.lock npx tap test/pbx/call-control.test.ts
import t, { type Test } from 'tap'
import { build, noRateLimit, whenLive } from '../helpers/app.ts'
import { ensurePbx, hangupAllChannels } from '../helpers/pbx.ts'
import { Phone, stopAllPhones } from '../helpers/phones.ts'
import { AmiObserver } from '../helpers/ami-observer.ts'
import { UapiClient, statuses, viewOf } from '../helpers/uapi.ts'
import { bridgedWithPublic } from '../helpers/pstn.ts'
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

/** The path after /uapi/phoneCalls/ of an absolute links.self. */
const pathOf = (self: string | undefined): string => (self ?? '').replace(/^.*\/uapi\/phoneCalls\//, '')

/** The uniqueid of an extension's leg in a call, from the engine's mirror. */
function legOf (app: App, callId: string, extension: string): string {
  for (const leg of app.engine.mirror.callById(callId)?.legs.values() ?? []) if (leg.party?.extension === extension) return leg.uniqueid
  throw new Error(`no leg of ${extension} in call ${callId}`)
}

const C2C_PUBLIC = { extension: '0003*300', nonce: 'order-4711', phoneCallView: [{ source: ['0003*300'], destination: ['42420042'], callerId: 'Echo Line <42420042>' }] }

/** 300 calls 210; 210 answers (or rings); the call as user 12 lists it. */
async function callTo210 (app: App, mode: 'answer' | 'ring'): Promise<{ user12: UapiClient, reception: Phone, caller: Phone, call: PhoneCall }> {
  const user12 = await UapiClient.as(app, 12)
  const reception = await Phone.register('0003*210', mode === 'answer' ? { mode: 'answer', answerAfterMs: 200 } : { mode: 'ring' })
  const caller = await Phone.call('0003*300', '0003*210')
  await reception.waitFor('INVITE')
  const want = mode === 'answer' ? 5 : 3
  const call = await user12.until('@me/0003*210', (c) => (statuses(c.entry[0])['0003*210'] === want ? c.entry[0] : undefined), `210 ${mode === 'answer' ? 'on call' : 'ringing'}`)
  return { user12, reception, caller, call }
}

t.test('Create Simple as user 14: 300 rings showing the callerId, answers and is connected to the public number; DELETE ends it', async (t) => {
  const { app, obs } = await setup(t)
  const user14 = await UapiClient.as(app, 14)
  const phone300 = await Phone.register('0003*300', { mode: 'answer', answerAfterMs: 200 })
  const started = Date.now()
  const res = await user14.post('@me/simple', C2C_PUBLIC)
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.ok(Array.isArray(res.body) && res.body.length === 1, 'an array of one PhoneCall')
  const created = res.body[0] as PhoneCall
  t.match(created.id, /^[0-9a-f]{20}$/)
  t.equal(created.nonce, 'order-4711', 'the nonce is echoed')
  t.equal(created.extension, '0003*300')
  t.equal(created.ownerId, '3')
  t.match(created.links?.self, new RegExp(`^http://[^/]+/uapi/phoneCalls/14/0003\\*300/${created.id}$`))
  t.ok(Date.now() - started < 1_500, `answered in ${Date.now() - started} ms, before anyone picked up`)

  const invite = await phone300.waitFor('INVITE')
  t.match(invite.header('From'), /^"Echo Line" <sip:42420042@/, '300 is shown "Echo Line" <42420042>')
  const leg = legOf(app, created.id, '0003*300')
  t.equal(app.engine.mirror.callOfLeg(leg)?.key, leg, 'the call key is the ChannelId we chose')
  // Asterisk: the leg answered, dialed 42420042 and is bridged with the public party (a Local
  // channel into the simulated public network, whose far half answers and echoes).
  await obs.waitFor({ event: 'Newstate', uniqueid: leg, channelstate: '6' }, { timeoutMs: 10_000 })
  const publicSide = await bridgedWithPublic(obs, leg, '42420042')
  t.pass(`bridged with ${publicSide.channel}, the public party 42420042`)

  const listed = await user14.until(pathOf(created.links?.self), (c) => (statuses(c.entry[0])['0003*300'] === 5 ? c : undefined), '300 on call in List')
  t.equal(listed.totalResults, 1)
  const call = listed.entry[0] as PhoneCall
  t.equal(call.id, created.id, 'List shows the created id')
  t.equal(call.nonce, 'order-4711', 'List shows the nonce too')
  const view = viewOf(call, '0003*300')
  t.same(view?.source, ['0003*300'])
  t.same(view?.destination, ['42420042'])
  t.equal(view?.flow, 4, 'outgoing public call')
  t.equal(view?.status, 5)
  // The call lasts (no callDuration given).
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  t.equal((await user14.list(pathOf(created.links?.self))).totalResults, 1, 'still up 1.5 s later')
  t.notOk(phone300.gotBye(), '300 was not hung up')

  const del = await user14.delete(pathOf(created.links?.self))
  t.equal(del.status, 200, JSON.stringify(del.body))
  t.same(del.body.map((c: PhoneCall) => c.id), [created.id], 'DELETE answers the call it hung up')
  t.equal(del.body[0].phoneCallView[0].status, 5, 'as it was just before')
  await phone300.waitFor('BYE')
  t.pass('300 received BYE')
  const gone = await user14.until(pathOf(created.links?.self), (c) => (c.totalResults === 0 ? c : undefined), 'the call to be gone')
  t.same(gone.entry, [])
  const again = await user14.delete(pathOf(created.links?.self))
  t.same([again.status, again.body], [200, []], 'deleting an ended call answers 200 []')
})

t.test('callDuration ends a click-to-call after N seconds, ringing included; /unifiedapi and string source/destination work', async (t) => {
  const { app } = await setup(t)
  const token = (await UapiClient.as(app, 14)).token
  const phone300 = await Phone.register('0003*300', { mode: 'answer', answerAfterMs: 200 })
  const res = await app.inject({
    method: 'POST',
    url: '/unifiedapi/phoneCalls/@me/simple/?callDuration=3',
    headers: { authorization: `Bearer ${token}` },
    payload: { extension: '300', phoneCallView: [{ source: '300', destination: '+42420042' }] }
  })
  t.equal(res.statusCode, 200, res.body)
  const created = res.json()[0] as PhoneCall
  t.match(created.links?.self, /\/unifiedapi\/phoneCalls\/14\/0003\*300\/[0-9a-f]{20}$/)
  t.match(created.nonce, /^[0-9a-f]{32}$/, 'a nonce is generated when none is given')
  const invite = await phone300.waitFor('INVITE')
  t.match(invite.header('From'), /<sip:\+42420042@/, 'default callerId: the destination')
  const bye = await phone300.waitFor('BYE', { timeoutMs: 10_000 })
  const lasted = Date.parse(bye.time) - Date.parse(invite.time)
  t.ok(lasted >= 2_500 && lasted <= 4_500, `Asterisk hung up about 3 s after the call was placed (${lasted} ms)`)
})

t.test('Transfer: 300 talks to 210; 300 is sent to 024, which rings, answers and is bridged with 300; 210 is released; same id', async (t) => {
  const { app, obs } = await setup(t)
  const transferTarget = await Phone.register('0003*024', { mode: 'answer', answerAfterMs: 300 })
  const { user12, reception, caller, call } = await callTo210(app, 'answer')
  await caller.waitFor('200')
  const callerLeg = legOf(app, call.id, '0003*300')
  const mark = obs.mark()
  // The samples' minimal form on @self: the view given is the party moved (300's).
  const res = await user12.put(`@me/@self/${call.id}`, { action: 'Transfer', sendCallTo: '024', phoneCallViewId: viewOf(call, '0003*300')?.id })
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.equal(res.body.id, call.id, 'the answer is the PhoneCall')
  const blind = await obs.waitFor((e) => e.event === 'BlindTransfer', { from: mark, timeoutMs: 10_000 })
  t.equal(blind.result, 'Success')
  t.equal(blind.transfereeuniqueid, callerLeg, 'Asterisk moved 300')
  const invite = await transferTarget.waitFor('INVITE')
  t.match(invite.header('From'), /<sip:0003\*300@/, '024 is called by 300')
  await reception.waitFor('BYE')
  t.pass('210 was released (BYE)')
  const targetIn = await obs.waitFor((e) => e.event === 'BridgeEnter' && e.channel?.startsWith('PJSIP/0003*024-') === true, { from: mark, timeoutMs: 10_000 })
  const callerIn = await obs.waitFor((e) => e.event === 'BridgeEnter' && e.uniqueid === callerLeg && e.bridgeuniqueid === targetIn.bridgeuniqueid, { from: mark, timeoutMs: 10_000 })
  t.equal(callerIn.bridgeuniqueid, targetIn.bridgeuniqueid, '300 and 024 are in the same bridge')
  const after = await user12.until(`@me/0003*210/${call.id}`, (c) => {
    const st = statuses(c.entry[0])
    return st['0003*300'] === 5 && st['0003*024'] === 5 ? c.entry[0] : undefined
  }, '300 and 024 on call in List')
  t.equal(after.id, call.id, 'the PhoneCall keeps its id across the blind transfer')
  t.notOk(viewOf(after, '0003*210'), '210 is no longer in the call')
  t.same(viewOf(after, '0003*024')?.source, ['0003*300'])
})

t.test('Transfer in the page\'s explicit form: transferNumber moves, transferFromNumber is released', async (t) => {
  const { app, obs } = await setup(t)
  const target = await Phone.register('0003*024', { mode: 'answer', answerAfterMs: 200 })
  const { user12, reception, caller, call } = await callTo210(app, 'answer')
  await caller.waitFor('200')
  const mark = obs.mark()
  const res = await user12.put(`12/0003*210/${call.id}`, { action: 'Transfer', sendCallTo: '0003*024', transferFromNumber: '0003*210', transferNumber: '0003*300' })
  t.equal(res.status, 200, JSON.stringify(res.body))
  await target.waitFor('INVITE')
  await reception.waitFor('BYE')
  const blind = await obs.waitFor((e) => e.event === 'BlindTransfer', { from: mark })
  t.match(blind.transfererchannel, /^PJSIP\/0003\*210-/, '210 transferred')
})

t.test('TransferToVoicemail of a call ringing on 210: the caller reaches 024\'s voicemail and 210 stops ringing', async (t) => {
  const { app, obs } = await setup(t)
  const { user12, reception, call } = await callTo210(app, 'ring')
  const callerLeg = legOf(app, call.id, '0003*300')
  const mark = obs.mark()
  const res = await user12.put(`@me/0003*210/${call.id}`, { action: 'TransferToVoicemail', sendCallTo: '0003*024' })
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.equal(res.body.id, call.id)
  const reached = await obs.waitFor((e) => e.event === 'UserEvent' && e.userevent === 'VoicemailReached', { from: mark, timeoutMs: 10_000 })
  t.equal(reached.extension, '0003*024', 'voicemail of 0003*024')
  t.equal(reached.uniqueid, callerLeg, 'reached by the caller (300)')
  await reception.waitFor('CANCEL')
  t.pass('210 stopped ringing (CANCEL)')
})

t.test('DELETE with phoneNumber closes only that party\'s leg of a three-party call', async (t) => {
  const { app, obs } = await setup(t)
  // 300 calls 210 (ringing); a PickUp toward 024 (ringing too) makes a third leg in the call.
  const picker = await Phone.register('0003*024', { mode: 'ring' })
  const { user12, reception, call } = await callTo210(app, 'ring')
  const pick = await user12.put(`@me/0003*210/${call.id}`, { action: 'PickUp', sendCallTo: '0003*024', phoneCallViewId: viewOf(call, '0003*210')?.id })
  t.equal(pick.status, 200, JSON.stringify(pick.body))
  await picker.waitFor('INVITE')
  const three = await user12.until(`@me/0003*210/${call.id}`, (c) => (c.entry[0]?.phoneCallView.length === 3 ? c.entry[0] : undefined), 'three legs')
  t.same(Object.keys(statuses(three)).sort(), ['0003*024', '0003*210', '0003*300'])
  const pickerLeg = legOf(app, call.id, '0003*024')

  const notParty = await user12.delete(`@me/0003*210/${call.id}?phoneNumber=0003*301`)
  t.same([notParty.status, notParty.body.error?.code], [400, 'pc_phonenumber_invalid'], 'a number that is no party')
  const malformed = await user12.delete(`@me/0003*210/${call.id}?phoneNumber=abc`)
  t.same([malformed.status, malformed.body.error?.code], [400, 'pc_phonenumber_invalid'], 'a malformed number')

  const mark = obs.mark()
  const res = await user12.delete(`@me/0003*210/${call.id}?phoneNumber=024`)
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.same(res.body.map((c: PhoneCall) => c.id), [call.id])
  await picker.waitFor('CANCEL')
  t.pass('024 stopped ringing')
  await obs.waitFor({ event: 'Hangup', uniqueid: pickerLeg }, { from: mark })
  const still = await user12.until(`@me/0003*210/${call.id}`, (c) => (c.entry[0]?.phoneCallView.length === 2 ? c.entry[0] : undefined), 'two legs left')
  t.same(statuses(still), { '0003*300': 4, '0003*210': 3 }, '300 still calls, 210 still rings')
  t.notOk(reception.gotCancel(), '210 was not cancelled')
  t.same(await obs.tracesAfter(mark, { match: (e) => /Hangup/.test(e.event) && e.uniqueid !== pickerLeg }), [], 'no other leg hung up or asked to, watched for 1 s more')

  // Without an id: every call of the extension.
  const all = await user12.delete('@me/0003*210')
  t.same(all.body.map((c: PhoneCall) => c.id), [call.id])
  await reception.waitFor('CANCEL')
  await user12.until(`@me/0003*210/${call.id}`, (c) => (c.totalResults === 0 ? c : undefined), 'the call to be gone')
})

t.test('another organization can neither create from, hang up nor transfer organization 3\'s calls', async (t) => {
  const { app, obs } = await setup(t)
  const user40 = await UapiClient.as(app, 40)
  const mark = obs.mark()
  const fromForeign = await user40.post('@me/simple', C2C_PUBLIC)
  t.same([fromForeign.status, fromForeign.body.error?.code], [400, 'pc_extension_invalid'], 'extension of another organization')
  const sourceForeign = await user40.post('@me/simple', { phoneCallView: [{ source: '0003*300', destination: '42420042' }] })
  t.same([sourceForeign.status, sourceForeign.body.error?.code], [400, 'pc_source_invalid'], 'source of another organization')
  const asUser14 = await user40.post('14/simple', C2C_PUBLIC)
  t.same([asUser14.status, asUser14.body.error?.code], [401, 'access_denied'], 'in the name of user 14')
  // User 15 (same organization) cannot ring user 14's phone either.
  const user15 = await UapiClient.as(app, 15)
  const colleague = await user15.post('@me/simple', { phoneCallView: [{ source: '0003*300', destination: '42420042' }] })
  t.same([colleague.status, colleague.body.error?.code], [400, 'pc_source_invalid'], 'a colleague\'s phone')

  t.same(await obs.tracesAfter(mark), [], 'no phone rung, nothing at all on Asterisk for 1 s')

  const { user12, reception, call } = await callTo210(app, 'ring')
  const mark2 = obs.mark()
  const del = await user40.delete(`@me/@self/${call.id}`)
  t.same([del.status, del.body], [200, []], 'user 40 hangs up nothing')
  const delAll = await user40.delete('@me/@self')
  t.same([delAll.status, delAll.body], [200, []])
  const xfer = await user40.put(`@me/@self/${call.id}`, { action: 'Transfer', sendCallTo: '0004*100' })
  t.same([xfer.status, xfer.body.error?.code], [400, 'pc_phonecall_invalid'])
  const vm = await user40.put(`@me/@self/${call.id}`, { action: 'TransferToVoicemail', sendCallTo: '0004*100' })
  t.same([vm.status, vm.body.error?.code], [400, 'pc_phonecall_invalid'])
  const direct = await user40.delete(`12/0003*210/${call.id}`)
  t.same([direct.status, direct.body.error?.code], [401, 'access_denied'])
  t.same(await obs.tracesAfter(mark2), [], 'no hangup, redirect or transfer reached Asterisk, watched for 1 s')
  t.equal(statuses((await user12.list(`@me/0003*210/${call.id}`)).entry[0])['0003*210'], 3, '210 still rings')
  t.notOk(reception.gotCancel())
})

t.test('validation codes on live calls, and nothing reaches Asterisk', async (t) => {
  const { app, obs } = await setup(t)
  const { user12, reception, call } = await callTo210(app, 'ring')
  const url = `@me/0003*210/${call.id}`
  const view210 = viewOf(call, '0003*210')?.id as string
  const mark = obs.mark()
  const cases: Array<[string, string, unknown, string]> = [
    ['Transfer without sendCallTo', url, { action: 'Transfer' }, 'pc_sendcallto_invalid'],
    ['Transfer to no number', url, { action: 'Transfer', sendCallTo: 'nowhere' }, 'pc_sendcallto_invalid'],
    ['Transfer to an unknown extension', url, { action: 'Transfer', sendCallTo: '0003*999' }, 'pc_sendcallto_invalid'],
    ['Transfer to another organization', url, { action: 'Transfer', sendCallTo: '0004*100' }, 'pc_sendcallto_invalid'],
    ['Transfer of no party', url, { action: 'Transfer', sendCallTo: '0003*024', transferNumber: '0003*301' }, 'pc_transfernumber_invalid'],
    ['Transfer of a ringing phone by number', url, { action: 'Transfer', sendCallTo: '0003*024', transferNumber: '0003*210' }, 'pc_transfernumber_invalid'],
    ['Transfer from no party', url, { action: 'Transfer', sendCallTo: '0003*024', transferFromNumber: '0003*301' }, 'pc_transferfromnumber_invalid'],
    ['Transfer from a malformed number', url, { action: 'Transfer', sendCallTo: '0003*024', transferFromNumber: 'x' }, 'pc_transferfromnumber_invalid'],
    ['Transfer of view 99', url, { action: 'Transfer', sendCallTo: '0003*024', phoneCallViewId: '99' }, 'pc_phonecallview_invalid'],
    ['Transfer of the party to itself', url, { action: 'Transfer', sendCallTo: '0003*300', phoneCallViewId: view210 }, 'pc_sendcallto_invalid'],
    ['Transfer of no live call', '@me/0003*210/0123456789abcdef0123', { action: 'Transfer', sendCallTo: '0003*024' }, 'pc_phonecall_invalid'],
    ['Voicemail without sendCallTo', url, { action: 'TransferToVoicemail' }, 'pc_sendcallto_invalid'],
    ['Voicemail of a public number', url, { action: 'TransferToVoicemail', sendCallTo: '42420042' }, 'pc_sendcallto_invalid'],
    ['Voicemail in another organization', url, { action: 'TransferToVoicemail', sendCallTo: '0004*100' }, 'pc_sendcallto_invalid'],
    ['Voicemail of no party', url, { action: 'TransferToVoicemail', sendCallTo: '0003*024', transferNumber: '0003*301' }, 'pc_transfernumber_invalid'],
    ['Voicemail of view 99', url, { action: 'TransferToVoicemail', sendCallTo: '0003*024', phoneCallViewId: '99' }, 'pc_phonecallview_invalid']
  ]
  for (const [name, path, payload, code] of cases) {
    const res = await user12.put(path, payload)
    t.equal(res.status, 400, name)
    t.equal(res.body.error?.code, code, `${name}: ${JSON.stringify(res.body)}`)
  }
  const badId = await user12.delete('@me/0003*210/not-an-id!')
  t.same([badId.status, badId.body.error?.code], [400, 'pc_phonecall_invalid'])
  const user14 = await UapiClient.as(app, 14)
  const c2cCases: Array<[string, string, unknown, string]> = [
    ['waitForPickup 0', '@me/simple?waitForPickup=0', C2C_PUBLIC, 'pc_timeout_invalid'],
    ['callDuration -1', '@me/simple?callDuration=-1', C2C_PUBLIC, 'pc_callduration_invalid'],
    ['allowPublicTransfer maybe', '@me/simple?allowPublicTransfer=maybe', C2C_PUBLIC, 'pc_allowpublictransfer_invalid'],
    ['video 2', '@me/simple?video=2', C2C_PUBLIC, 'pc_video_invalid'],
    ['source neither extension nor public', '@me/simple', { ...C2C_PUBLIC, phoneCallView: [{ source: ['300', '4242x'], destination: '42420042' }] }, 'pc_source_invalid'],
    ['two sources', '@me/simple', { ...C2C_PUBLIC, phoneCallView: [{ source: ['0003*300', '0003*210'], destination: '42420042' }] }, 'pc_source_invalid'],
    ['destination missing', '@me/simple', { ...C2C_PUBLIC, phoneCallView: [{ source: '300' }] }, 'pc_destination_invalid'],
    ['destination garbage', '@me/simple', { ...C2C_PUBLIC, phoneCallView: [{ source: '300', destination: '12\r\nAction: Hangup' }] }, 'pc_destination_invalid'],
    ['destination itself', '@me/simple', { ...C2C_PUBLIC, phoneCallView: [{ source: '300', destination: '0003*300' }] }, 'pc_destination_invalid'],
    ['callerId broken', '@me/simple', { ...C2C_PUBLIC, phoneCallView: [{ source: '300', destination: '42420042', callerId: 'Echo <x>' }] }, 'pc_callerid_invalid'],
    ['nonce with spaces', '@me/simple', { ...C2C_PUBLIC, nonce: 'a b' }, 'pc_nonce_invalid']
  ]
  for (const [name, path, payload, code] of c2cCases) {
    const res = await user14.post(path, payload)
    t.equal(res.status, 400, name)
    t.equal(res.body.error?.code, code, `${name}: ${JSON.stringify(res.body)}`)
  }
  t.same(await obs.tracesAfter(mark), [], 'Asterisk shows no trace of any action, watched for 1 s after the last request')
  t.equal(statuses((await user12.list(url)).entry[0])['0003*210'], 3, '210 still rings')
  t.notOk(reception.gotCancel())
})
