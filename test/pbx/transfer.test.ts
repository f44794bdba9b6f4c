// Transfer and TransferToVoicemail on the real Asterisk, the paths test/pbx/call-control.test.ts
// does not take: a blind transfer to a public number (the moved party ends up bridged with the
// public side, a channel of its own: asterisk/extensions.conf [vn-public]), the Redirect branch (a
// party in no bridge: the caller of a call still ringing), voicemail for a party that is talking,
// and every error code of both actions on a talking call, with nothing reaching Asterisk.
// Run under the PBX lock: flock /tmp/uapi-pbx-tests.lock npx tap test/pbx/transfer.test.ts
import t, { type Test } from 'tap'
import { build, noRateLimit, whenLive } from '../helpers/app.ts'
import { ensurePbx, hangupAllChannels } from '../helpers/pbx.ts'
import { Phone, stopAllPhones } from '../helpers/phones.ts'
import { AmiObserver } from '../helpers/ami-observer.ts'
import { UapiClient, statuses, viewOf } from '../helpers/uapi.ts'
import { bridgedWithPublic } from '../helpers/pstn.ts'
import type { App } from '../../src/app.ts'
import type { Config } from '../../src/config.ts'
import type { PhoneCall } from '../../src/calls/index.ts'

t.before(ensurePbx)
t.beforeEach(hangupAllChannels)
t.afterEach(async () => {
  await stopAllPhones()
  await hangupAllChannels()
})

// For the error cases: 0003*301 has no voicemail box in the directory, 0003*500 is a queue.
const testDirectory = (c: Config): Config => {
  const d = noRateLimit(c)
  return {
    ...d,
    directory: {
      ...d.directory,
      extensions: [
        ...d.directory.extensions.map((e) => (e.number === '0003*301' ? { ...e, voicemail: false } : e)),
        { number: '0003*500', type: 'queue', ownerId: 3, callerId: 'Sales queue <0003*500>', context: 'org-0003', voicemail: false }
      ]
    }
  }
}

interface Setup {
  app: App
  obs: AmiObserver
  user12: UapiClient
  reception: Phone
  caller: Phone
  call: PhoneCall
  leg300: string
  leg210: string
}

/** 300 calls 210; 210 answers (or only rings); the call as user 12 lists it. */
async function callTo210 (t: Test, mode: 'answer' | 'ring'): Promise<Setup> {
  const app = await build(t, { connect: true, config: testDirectory })
  await whenLive(app)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const user12 = await UapiClient.as(app, 12)
  const reception = await Phone.register('0003*210', mode === 'answer' ? { mode: 'answer', answerAfterMs: 100 } : { mode: 'ring' })
  const caller = await Phone.call('0003*300', '0003*210')
  await reception.waitFor('INVITE')
  if (mode === 'answer') await caller.waitFor('200')
  const want = mode === 'answer' ? 5 : 3
  const call = await user12.until('@me/0003*210', (c) => (statuses(c.entry[0])['0003*210'] === want && statuses(c.entry[0])['0003*300'] !== undefined ? c.entry[0] : undefined), `210 ${mode === 'answer' ? 'on call' : 'ringing'}`)
  const legOf = (ext: string): string => {
    for (const leg of app.engine.mirror.callById(call.id)?.legs.values() ?? []) if (leg.party?.extension === ext) return leg.uniqueid
    throw new Error(`no leg of ${ext}`)
  }
  return { app, obs, user12, reception, caller, call, leg300: legOf('0003*300'), leg210: legOf('0003*210') }
}

t.test('Transfer to a public number: 300 talks to 210; 300 is moved to 42420042 and bridged with the public party; 210 is released; same id', async (t) => {
  const s = await callTo210(t, 'answer')
  const mark = s.obs.mark()
  const res = await s.user12.put(`@me/0003*210/${s.call.id}`, { action: 'Transfer', sendCallTo: '42420042', phoneCallViewId: viewOf(s.call, '0003*300')?.id })
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.equal(res.body.id, s.call.id)
  const blind = await s.obs.waitFor({ event: 'BlindTransfer' }, { from: mark, timeoutMs: 10_000 })
  t.same([blind.result, blind.transfereeuniqueid, blind.extension], ['Success', s.leg300, '42420042'], 'Asterisk: a blind transfer of 300 to 42420042')
  t.match(blind.transfererchannel, /^PJSIP\/0003\*210-/, '210 transferred')
  await s.reception.waitFor('BYE')
  t.pass('210 was released (BYE)')
  const pub = await bridgedWithPublic(s.obs, s.leg300, '42420042', mark)
  t.pass(`Asterisk: 300's leg is bridged with ${pub.channel}, whose other half answered and echoes`)
  t.notOk(s.caller.gotBye(), '300 is still up')
  const after = await s.user12.until(`@me/0003*210/${s.call.id}`, (c) => {
    const v = viewOf(c.entry[0], '0003*300')
    return v?.status === 5 && viewOf(c.entry[0], '0003*210') === undefined ? c.entry[0] : undefined
  }, '300 on call with the public party, 210 gone')
  t.equal(after.id, s.call.id, 'the PhoneCall keeps its id')
  const view = viewOf(after, '0003*300')
  t.same([view?.source, view?.destination, view?.flow], [['0003*300'], ['42420042'], 4], 'the view: 300 to 42420042, outgoing public')
})

t.test('Transfer of the caller of a call still ringing (no bridge): Redirect; 210 stops ringing, 024 rings, answers and is bridged with 300', async (t) => {
  const target = await Phone.register('0003*024', { mode: 'answer', answerAfterMs: 200 })
  const s = await callTo210(t, 'ring')
  const mark = s.obs.mark()
  // 210's view stands for its caller: 300 is moved, 210 (ringing) is given up.
  const res = await s.user12.put(`@me/0003*210/${s.call.id}`, { action: 'Transfer', sendCallTo: '024', phoneCallViewId: viewOf(s.call, '0003*210')?.id })
  t.equal(res.status, 200, JSON.stringify(res.body))
  // What Asterisk did: 300's own leg went on at org-0003,0003*024 (a Redirect), no bridge transfer.
  const moved = await s.obs.waitFor((e) => e.event === 'Newexten' && e.uniqueid === s.leg300 && e.context === 'org-0003' && e.extension === '0003*024', { from: mark, timeoutMs: 10_000 })
  t.equal(moved.priority, '1', 'Asterisk: 300\'s leg was sent to org-0003,0003*024,1')
  await s.reception.waitFor('CANCEL')
  t.pass('210 stopped ringing (CANCEL)')
  const invite = await target.waitFor('INVITE')
  t.match(invite.header('From'), /<sip:0003\*300@/, '024 is called by 300')
  const dial = await s.obs.waitFor((e) => e.event === 'DialBegin' && e.uniqueid === s.leg300 && e.destchannel?.startsWith('PJSIP/0003*024-') === true, { from: mark })
  const bridged = await s.obs.waitFor((e) => e.event === 'BridgeEnter' && e.uniqueid === dial.destuniqueid, { from: mark, timeoutMs: 10_000 })
  await s.obs.waitFor({ event: 'BridgeEnter', uniqueid: s.leg300, bridgeuniqueid: bridged.bridgeuniqueid as string }, { from: mark, timeoutMs: 10_000 })
  t.pass('Asterisk: 300 and 024 in one bridge')
  t.same(s.obs.events((e) => e.event === 'BlindTransfer' || e.event === 'AttendedTransfer', mark), [], 'no bridge transfer was involved')
  const after = await s.user12.until(`@me/0003*210/${s.call.id}`, (c) => {
    const st = statuses(c.entry[0])
    return st['0003*300'] === 5 && st['0003*024'] === 5 ? c.entry[0] : undefined
  }, '300 and 024 on call in List')
  t.equal(after.id, s.call.id, 'same id')
  t.notOk(viewOf(after, '0003*210'), '210 is no longer in the call')
})

t.test('TransferToVoicemail of a party that is talking: 300 reaches 024\'s voicemail, 210 is released', async (t) => {
  const s = await callTo210(t, 'answer')
  const mark = s.obs.mark()
  // The path extension (210) sends the party it talks to (300) to 024's voicemail.
  const res = await s.user12.put(`@me/0003*210/${s.call.id}`, { action: 'TransferToVoicemail', sendCallTo: '024' })
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.equal(res.body.id, s.call.id)
  const reached = await s.obs.waitFor((e) => e.event === 'UserEvent' && e.userevent === 'VoicemailReached', { from: mark, timeoutMs: 10_000 })
  t.same([reached.extension, reached.mailbox, reached.uniqueid], ['0003*024', '024@org-0003', s.leg300], 'Asterisk: 300\'s leg reached the box of 0003*024')
  await s.reception.waitFor('BYE')
  t.pass('210 was released (BYE)')
  t.notOk(s.caller.gotBye(), '300 stays, leaving a message')
  const voicemail = await s.obs.waitFor((e) => e.event === 'Newexten' && e.uniqueid === s.leg300 && e.application === 'VoiceMail', { from: mark, timeoutMs: 10_000 })
  t.equal(voicemail.appdata, '024@org-0003,u', 'running VoiceMail for 024@org-0003')
})

t.test('Transfer and TransferToVoicemail errors on a talking call: each code for its case, nothing reaches Asterisk', async (t) => {
  const s = await callTo210(t, 'answer')
  const url = `@me/0003*210/${s.call.id}`
  const view300 = viewOf(s.call, '0003*300')?.id as string
  const mark = s.obs.mark()
  const cases: Array<[string, string, unknown, number, string]> = [
    ['Transfer with a malformed phoneCallId', '@me/0003*210/not-an-id!', { action: 'Transfer', sendCallTo: '0003*024' }, 400, 'pc_phonecall_invalid'],
    ['Transfer to a number too short to be public', url, { action: 'Transfer', sendCallTo: '4242', phoneCallViewId: view300 }, 400, 'pc_sendcallto_invalid'],
    ['Transfer to a number with control characters', url, { action: 'Transfer', sendCallTo: '42420042\r\nAction: Hangup', phoneCallViewId: view300 }, 400, 'pc_sendcallto_invalid'],
    ['Transfer of a malformed transferNumber', url, { action: 'Transfer', sendCallTo: '0003*024', transferNumber: 'x' }, 400, 'pc_transfernumber_invalid'],
    ['Transfer of 300 by 300', url, { action: 'Transfer', sendCallTo: '0003*024', transferNumber: '0003*300', transferFromNumber: '0003*300' }, 400, 'pc_transferfromnumber_invalid'],
    ['Transfer of 300 to 300', url, { action: 'Transfer', sendCallTo: '300', transferNumber: '0003*300' }, 400, 'pc_sendcallto_invalid'],
    ['Transfer on @self naming no party', `@me/@self/${s.call.id}`, { action: 'Transfer', sendCallTo: '0003*024' }, 400, 'pc_phonecallview_invalid'],
    ['Voicemail with a malformed phoneCallId', '@me/0003*210/not-an-id!', { action: 'TransferToVoicemail', sendCallTo: '0003*024' }, 400, 'pc_phonecall_invalid'],
    ['Voicemail of no live call', '@me/0003*210/0123456789abcdef0123', { action: 'TransferToVoicemail', sendCallTo: '0003*024' }, 400, 'pc_phonecall_invalid'],
    ['Voicemail of an extension without a box', url, { action: 'TransferToVoicemail', sendCallTo: '0003*301' }, 400, 'pc_sendcallto_invalid'],
    ['Voicemail of a queue', url, { action: 'TransferToVoicemail', sendCallTo: '0003*500' }, 400, 'pc_sendcallto_invalid'],
    ['Voicemail of an unknown extension', url, { action: 'TransferToVoicemail', sendCallTo: '0003*999' }, 400, 'pc_sendcallto_invalid'],
    ['Voicemail of a party to its own box', url, { action: 'TransferToVoicemail', sendCallTo: '0003*300', transferNumber: '0003*300' }, 400, 'pc_sendcallto_invalid'],
    ['Voicemail of a malformed transferNumber', url, { action: 'TransferToVoicemail', sendCallTo: '0003*024', transferNumber: 'x' }, 400, 'pc_transfernumber_invalid'],
    ['Voicemail from no party', url, { action: 'TransferToVoicemail', sendCallTo: '0003*024', transferFromNumber: '0003*301' }, 400, 'pc_transferfromnumber_invalid'],
    ['Voicemail from a malformed number', url, { action: 'TransferToVoicemail', sendCallTo: '0003*024', transferFromNumber: '+x' }, 400, 'pc_transferfromnumber_invalid'],
    ['Voicemail of 300 by 300', url, { action: 'TransferToVoicemail', sendCallTo: '0003*024', transferNumber: '0003*300', transferFromNumber: '0003*300' }, 400, 'pc_transferfromnumber_invalid'],
    ['Voicemail on @self naming no party', `@me/@self/${s.call.id}`, { action: 'TransferToVoicemail', sendCallTo: '0003*024' }, 400, 'pc_phonecallview_invalid'],
    ['Voicemail through the phone of another user', `12/0003*024/${s.call.id}`, { action: 'TransferToVoicemail', sendCallTo: '0003*024' }, 401, 'access_denied']
  ]
  for (const [name, path, payload, status, code] of cases) {
    const res = await s.user12.put(path, payload)
    t.equal(res.status, status, name)
    t.equal(res.body.error?.code, code, `${name}: ${JSON.stringify(res.body)}`)
  }
  // User 15 owns 301, never a party of this call.
  const user15 = await UapiClient.as(s.app, 15)
  const notMine = await user15.put(`@me/0003*301/${s.call.id}`, { action: 'Transfer', sendCallTo: '0003*024' })
  t.same([notMine.status, notMine.body.error?.code], [400, 'pc_phonecall_invalid'], 'a call 301 was never part of is not found through 301')
  t.same(await s.obs.tracesAfter(mark), [], 'Asterisk shows no trace of any action, watched for 1 s')
  t.notOk(s.reception.gotBye() || s.caller.gotBye(), '300 and 210 still talk')

  // After a transfer, 210 is no party any more: acting through it is refused (it may still list the call).
  const target = await Phone.register('0003*024', { mode: 'answer', answerAfterMs: 100 })
  const moved = await s.user12.put(url, { action: 'Transfer', sendCallTo: '0003*024', phoneCallViewId: view300 })
  t.equal(moved.status, 200, JSON.stringify(moved.body))
  await target.waitFor('INVITE')
  await s.reception.waitFor('BYE')
  await s.user12.until(url, (c) => {
    const st = statuses(c.entry[0])
    return st['0003*210'] === undefined && st['0003*300'] === 5 && st['0003*024'] === 5 ? c : undefined
  }, '300 and 024 on call, 210 gone from the call (which 210 still lists)')
  const mark2 = s.obs.mark()
  const again = await s.user12.put(url, { action: 'Transfer', sendCallTo: '42420042', phoneCallViewId: view300 })
  t.same([again.status, again.body.error?.code], [401, 'access_denied'], 'Transfer through 210 after it left')
  const vm = await s.user12.put(url, { action: 'TransferToVoicemail', sendCallTo: '0003*210', phoneCallViewId: view300 })
  t.same([vm.status, vm.body.error?.code], [401, 'access_denied'], 'TransferToVoicemail through 210 after it left')
  t.same(await s.obs.tracesAfter(mark2, { match: (e) => e.uniqueid === s.leg300 && e.event !== 'VarSet' }), [], 'nothing more happened to 300\'s leg, watched for 1 s')
})

t.test('a supervisor\'s leg is no party to move: Transfer or TransferToVoicemail of it is pc_phonecallview_invalid / pc_transfernumber_invalid, nothing reaches Asterisk', async (t) => {
  const s = await callTo210(t, 'answer')
  const supervisor = await Phone.register('0003*024', { mode: 'answer', answerAfterMs: 100 })
  const url = `@me/0003*210/${s.call.id}`
  const monitor = await s.user12.put(`${url}?wait=true`, { action: 'Monitor', sendCallTo: '0003*024', phoneCallViewId: viewOf(s.call, '0003*210')?.id })
  t.equal(monitor.status, 200, JSON.stringify(monitor.body))
  const view024 = viewOf(monitor.body, '0003*024')?.id
  t.ok(view024, '024 is a view of the call')
  const mark = s.obs.mark()
  const cases: Array<[string, unknown, string]> = [
    ['Transfer of the supervisor\'s view', { action: 'Transfer', sendCallTo: '42420042', phoneCallViewId: view024 }, 'pc_phonecallview_invalid'],
    ['Transfer of the supervisor by number', { action: 'Transfer', sendCallTo: '42420042', transferNumber: '0003*024' }, 'pc_transfernumber_invalid'],
    ['Voicemail of the supervisor\'s view', { action: 'TransferToVoicemail', sendCallTo: '0003*300', phoneCallViewId: view024 }, 'pc_phonecallview_invalid'],
    ['Voicemail of the supervisor by number', { action: 'TransferToVoicemail', sendCallTo: '0003*300', transferNumber: '0003*024' }, 'pc_transfernumber_invalid']
  ]
  for (const [name, payload, code] of cases) {
    const res = await s.user12.put(url, payload)
    t.same([res.status, res.body.error?.code], [400, code], `${name}: ${JSON.stringify(res.body)}`)
  }
  t.same(await s.obs.tracesAfter(mark), [], 'Asterisk shows no trace of any action, watched for 1 s')
  t.notOk(supervisor.gotBye() || s.reception.gotBye() || s.caller.gotBye(), 'everyone still up')
})
