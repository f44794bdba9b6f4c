// PickUp on the real Asterisk with SIPp phones, exactly as the PickUp page specifies: 0003*300
// calls 0003*210 (ringing); the request sends the call to 0003*024 showing "John Doe <42420042>".
// Assertions are about what the phones and Asterisk did: the INVITE 024 received, who is bridged
// with whom, which phone stopped ringing.
import t, { type Test } from 'tap'
import { build, noRateLimit, whenLive } from '../helpers/app.ts'
import { ensurePbx, hangupAllChannels, listChannels } from '../helpers/pbx.ts'
import { Phone, stopAllPhones } from '../helpers/phones.ts'
import { AmiObserver } from '../helpers/ami-observer.ts'
import { UapiClient, statuses, viewOf } from '../helpers/uapi.ts'
import type { App } from '../../src/app.ts'
import type { PhoneCall } from '../../src/calls/index.ts'

t.before(ensurePbx)
t.beforeEach(hangupAllChannels)
t.afterEach(async () => {
  await stopAllPhones()
  await hangupAllChannels()
})

const PAGE_EXAMPLE = { action: 'PickUp', sendCallTo: '0003*024', callerId: 'John Doe <42420042>', waitForPickup: '20' }

interface Scene {
  app: App
  user12: UapiClient
  reception: Phone
  caller: Phone
  call: PhoneCall
  viewId: string
  obs: AmiObserver
}

type Mode = { mode: 'ring' } | { mode: 'answer', answerAfterMs: number }

/** 300 calls 210, 210 rings (never answers, unless `receptionMode` says); the call as user 12 lists it. */
async function ringingCall (t: Test, pickerMode: Mode | null, receptionMode: Mode = { mode: 'ring' }): Promise<Scene & { picker: Phone | undefined }> {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const user12 = await UapiClient.as(app, 12)
  const reception = await Phone.register('0003*210', receptionMode)
  const picker = pickerMode === null ? undefined : await Phone.register('0003*024', pickerMode)
  const caller = await Phone.call('0003*300', '0003*210')
  await reception.waitFor('INVITE')
  const call = await user12.until('@me/0003*210', (c) => (statuses(c.entry[0])['0003*210'] === 3 ? c.entry[0] : undefined), '210 ringing')
  const viewId = viewOf(call, '0003*210')?.id as string
  return { app, user12, reception, caller, call, viewId, obs, picker }
}

/** The uniqueid of the caller's leg of the call, from the engine's own mirror. */
function callerUniqueid (app: App, callId: string): string {
  for (const leg of app.engine.mirror.callById(callId)?.legs.values() ?? []) if (leg.party?.extension === '0003*300') return leg.uniqueid
  throw new Error('no caller leg')
}

async function provePickedUp (t: Test, s: Scene, picker: Phone, body: PhoneCall): Promise<void> {
  t.equal(body.id, s.call.id, 'the answer is the PhoneCall being picked up')
  t.match(body.links?.self, new RegExp(`/uapi/phoneCalls/12/0003\\*210/${s.call.id}$`))
  const invite = await picker.waitFor('INVITE')
  t.match(invite.header('From'), /^"John Doe" <sip:42420042@/, '024 is shown "John Doe" <42420042>')
  const callerId = callerUniqueid(s.app, s.call.id)
  // Asterisk's own word: the caller and the picker enter the same bridge.
  const pickup = await s.obs.waitFor((e) => e.event === 'Pickup' && e.targetchannel?.startsWith('PJSIP/0003*210-') === true, { timeoutMs: 10_000 })
  t.match(pickup.channel, /^PJSIP\/0003\*024-/, 'the picker is 024')
  const callerIn = await s.obs.waitFor({ event: 'BridgeEnter', uniqueid: callerId }, { timeoutMs: 10_000 })
  const pickerIn = await s.obs.waitFor((e) => e.event === 'BridgeEnter' && e.uniqueid === pickup.uniqueid, { timeoutMs: 10_000 })
  t.equal(pickerIn.bridgeuniqueid, callerIn.bridgeuniqueid, '300 is bridged with 024')
  await s.reception.waitFor('CANCEL')
  t.pass('210 stopped ringing')
  const after = await s.user12.until(`@me/0003*210/${s.call.id}`, (c) => {
    const st = statuses(c.entry[0])
    return st['0003*300'] === 5 && st['0003*024'] === 5 ? c.entry[0] : undefined
  }, '300 and 024 on call in List')
  t.equal(after.id, s.call.id, 'List shows the same call id')
  t.notOk(viewOf(after, '0003*210'), 'the picked leg is gone from the call')
  t.same(viewOf(after, '0003*024')?.source, ['0003*300'])
}

t.test('the PickUp page example, as user 12, sends the ringing call to 024', async (t) => {
  const s = await ringingCall(t, { mode: 'answer', answerAfterMs: 300 })
  t.equal(s.viewId, '01', 'the ringing view is 01, as on the PickUp page')
  const res = await s.user12.put(`@me/0003*210/${s.call.id}`, { ...PAGE_EXAMPLE, phoneCallViewId: s.viewId })
  t.equal(res.status, 200, JSON.stringify(res.body))
  await provePickedUp(t, s, s.picker as Phone, res.body)
})

t.test('organization 3 picks up the same way through /uapi/phoneCalls/12/0003*210', async (t) => {
  const s = await ringingCall(t, { mode: 'answer', answerAfterMs: 300 })
  const org3 = await UapiClient.as(s.app, 3)
  const res = await org3.put(`12/0003*210/${s.call.id}`, { ...PAGE_EXAMPLE, phoneCallViewId: s.viewId })
  t.equal(res.status, 200, JSON.stringify(res.body))
  await provePickedUp(t, s, s.picker as Phone, res.body)
})

t.test('with ?wait=true the answer comes once Asterisk bridged the caller with the picker', async (t) => {
  const s = await ringingCall(t, { mode: 'answer', answerAfterMs: 300 })
  const callerId = callerUniqueid(s.app, s.call.id)
  const mark = s.obs.mark()
  const res = await s.user12.put(`@me/0003*210/${s.call.id}?wait=true`, { ...PAGE_EXAMPLE, phoneCallViewId: s.viewId })
  const answeredAt = Date.now()
  t.equal(res.status, 200, JSON.stringify(res.body))
  // Asterisk's own word (the observer is another AMI session: its copy may arrive a moment later,
  // so the order is read from Asterisk's event timestamps): both entered one bridge before the answer.
  const pickup = await s.obs.waitFor((e) => e.event === 'Pickup' && e.channel?.startsWith('PJSIP/0003*024-') === true, { from: mark })
  const callerIn = await s.obs.waitFor({ event: 'BridgeEnter', uniqueid: callerId }, { from: mark })
  const pickerIn = await s.obs.waitFor({ event: 'BridgeEnter', uniqueid: pickup.uniqueid as string }, { from: mark })
  t.equal(pickerIn.bridgeuniqueid, callerIn.bridgeuniqueid, 'the caller and 024 are in the same bridge')
  const enteredAt = Math.max(Number(callerIn.timestamp), Number(pickerIn.timestamp)) * 1000
  t.ok(Number.isFinite(enteredAt) && enteredAt <= answeredAt, `both were in the bridge ${Math.round(answeredAt - enteredAt)} ms before the answer arrived`)
  t.same(statuses(res.body), { '0003*300': 5, '0003*024': 5 }, 'the call as it stands after the pickup')
})

t.test('if 024 does not answer, it stops ringing after waitForPickup and 210 still rings', async (t) => {
  const s = await ringingCall(t, { mode: 'ring' })
  const picker = s.picker as Phone
  const res = await s.user12.put(`@me/0003*210/${s.call.id}`, { ...PAGE_EXAMPLE, waitForPickup: '2', phoneCallViewId: s.viewId })
  t.equal(res.status, 200)
  const invite = await picker.waitFor('INVITE')
  const cancel = await picker.waitFor('CANCEL', { timeoutMs: 10_000 })
  const rang = Date.parse(cancel.time) - Date.parse(invite.time)
  t.ok(Number.isFinite(rang), `024 rang for ${rang} ms`)
  t.ok(rang >= 1_500 && rang <= 3_000, `024 stopped ringing about 2 s after it started (${rang} ms)`)
  t.notOk(s.reception.gotCancel(), '210 was not cancelled')
  // The phone hears CANCEL a moment before the engine reads Asterisk's Hangup of that leg.
  const still = await s.user12.until(`@me/0003*210/${s.call.id}`, (c) => (viewOf(c.entry[0], '0003*024') === undefined ? c : undefined), '024 gone from the call')
  t.equal(statuses(still.entry[0])['0003*210'], 3, '210 is still ringing')
  t.notOk(viewOf(still.entry[0], '0003*024'), 'no trace of 024 in the call')
  // ?wait=true reports the same outcome as an error.
  const waited = await s.user12.put(`@me/0003*210/${s.call.id}?wait=true`, { ...PAGE_EXAMPLE, waitForPickup: '1', phoneCallViewId: s.viewId })
  t.equal(waited.status, 409)
  t.equal(waited.body.error.code, 'pc_pickup_unanswered')
})

t.test('each failure of the PickUp page comes back with its code, and nothing reaches Asterisk', async (t) => {
  const s = await ringingCall(t, null)
  const url = `@me/0003*210/${s.call.id}`
  const body = { ...PAGE_EXAMPLE, phoneCallViewId: s.viewId }
  const callerView = viewOf(s.call, '0003*300')?.id as string
  const mark = s.obs.mark()
  const cases: Array<[string, string, unknown, string]> = [
    ['waitForPickup 0', url, { ...body, waitForPickup: '0' }, 'pc_timeout_invalid'],
    ['waitForPickup not a number', url, { ...body, waitForPickup: 'twenty' }, 'pc_timeout_invalid'],
    ['callerId malformed', url, { ...body, callerId: 'John Doe' }, 'pc_callerid_invalid'],
    ['phoneCallId not alphanumeric', `@me/0003*210/${s.call.id}-x`, body, 'pc_phonecall_invalid'],
    ['phoneCallId of no live call', '@me/0003*210/0123456789abcdef0123', body, 'pc_phonecall_invalid'],
    ['phoneCallViewId missing', url, { ...body, phoneCallViewId: undefined }, 'pc_phonecallview_invalid'],
    ['phoneCallViewId of no view', url, { ...body, phoneCallViewId: '99' }, 'pc_phonecallview_invalid'],
    ['phoneCallViewId of the caller (not ringing)', url, { ...body, phoneCallViewId: callerView }, 'pc_phonecallview_invalid'],
    ['sendCallTo missing', url, { ...body, sendCallTo: undefined }, 'pc_sendcallto_invalid'],
    ['sendCallTo not an extension', url, { ...body, sendCallTo: '0003*999' }, 'pc_sendcallto_invalid'],
    ['sendCallTo in another organization', url, { ...body, sendCallTo: '0004*100' }, 'pc_sendcallto_invalid'],
    ['sendCallTo the ringing phone itself', url, { ...body, sendCallTo: '0003*210' }, 'pc_sendcallto_invalid']
  ]
  for (const [name, path, payload, code] of cases) {
    const res = await s.user12.put(path, payload)
    t.equal(res.status, 400, name)
    t.equal(res.body.error?.code, code, name)
  }
  // User 40 (organization 4) can neither see nor pick up organization 3's call.
  const user40 = await UapiClient.as(s.app, 40)
  const hidden = await user40.put(`@me/@self/${s.call.id}`, { ...body, sendCallTo: '0004*100' })
  t.equal(hidden.status, 400)
  t.equal(hidden.body.error.code, 'pc_phonecall_invalid', 'user 40 gets "no such call" for it')
  const foreign = await user40.put(url.replace('@me', '12'), body)
  t.equal(foreign.status, 401)
  t.equal(foreign.body.error.code, 'access_denied')
  t.same(await s.obs.tracesAfter(mark), [], 'for 1 s after the last request Asterisk shows no trace of any action (no channel, hangup, redirect, variable)')
  t.equal(statuses((await s.user12.list(url)).entry[0])['0003*210'], 3, '210 still rings')
})

t.test('a callerId carrying CR/LF cannot inject anything into AMI', async (t) => {
  const s = await ringingCall(t, { mode: 'answer', answerAfterMs: 0 })
  const mark = s.obs.mark()
  const callerLeg = callerUniqueid(s.app, s.call.id)
  const evil = [
    'John Doe <42420042>\r\nAction: Hangup\r\nChannel: ' + callerLeg,
    'John\r\n\r\nAction: Hangup\r\nChannel: ' + callerLeg + '\r\n\r\n <42420042>',
    'John Doe <42420042>\nAction: Hangup',
    'John Doe <42420042\r\nAction: Hangup>'
  ]
  for (const callerId of evil) {
    const res = await s.user12.put(`@me/0003*210/${s.call.id}`, { ...PAGE_EXAMPLE, callerId, phoneCallViewId: s.viewId })
    t.equal(res.status, 400)
    t.equal(res.body.error.code, 'pc_callerid_invalid')
  }
  // The engine's AMI layer would refuse such a value too, before writing anything.
  await t.rejects(s.app.engine.ami.action('Originate', { Channel: 'PJSIP/0003*024', Application: 'PickupChan', CallerID: evil[0] as string }), { code: 'AMI_ERR_BAD_HEADER' })
  // Asterisk saw nothing: the caller's leg is intact, no hangup request, no phone rung.
  t.ok((await listChannels()).some((c) => c.Uniqueid === callerLeg), 'the caller is still connected')
  t.same(await s.obs.tracesAfter(mark), [], 'no trace of any action on Asterisk, watched for 1 s')
  t.notOk((s.picker as Phone).received('INVITE').length, '024 never rang')
})

t.test('two PickUps of the same ringing view at once: exactly one proceeds, the other gets a conflict', async (t) => {
  const s = await ringingCall(t, { mode: 'answer', answerAfterMs: 1_000 })
  const phone301 = await Phone.register('0003*301', { mode: 'answer', answerAfterMs: 1_000 })
  const body = { ...PAGE_EXAMPLE, phoneCallViewId: s.viewId }
  const results = await Promise.all([
    s.user12.put(`@me/0003*210/${s.call.id}`, body),
    s.user12.put(`@me/0003*210/${s.call.id}`, { ...body, sendCallTo: '0003*301' })
  ])
  const codes = results.map((r) => r.status).sort()
  t.same(codes, [200, 409], JSON.stringify(results.map((r) => r.body)))
  const conflict = results.find((r) => r.status === 409)
  t.equal(conflict?.body.error.code, 'pc_phonecall_conflict')
  // The winner completes.
  const after = await s.user12.until(`@me/0003*210/${s.call.id}`, (c) => (statuses(c.entry[0])['0003*024'] === 5 || statuses(c.entry[0])['0003*301'] === 5 ? c : undefined), 'the winning pickup')
  t.equal(after.entry[0]?.id, s.call.id)
  const winner = statuses(after.entry[0])['0003*024'] === 5 ? s.picker as Phone : phone301
  const loser = winner === phone301 ? s.picker as Phone : phone301
  // A new call's INVITE has no To tag (re-INVITEs inside the call, e.g. connected line updates, do).
  const newCalls = (p: Phone): number => p.received((m) => m.method === 'INVITE' && !/;\s*tag=/.test(m.header('To') ?? '')).length
  t.equal(newCalls(winner), 1, `the winner (${winner === phone301 ? '301' : '024'}) was rung once`)
  // Watched for 1 s more: the loser's phone never rang, and Asterisk never created a leg for it.
  const mark = s.obs.mark()
  await s.obs.tracesAfter(mark)
  t.same(loser.received('INVITE'), [], `the losing phone (${loser === phone301 ? '301' : '024'}) never received an INVITE`)
  const loserDevice = loser === phone301 ? 'PJSIP/0003*301-' : 'PJSIP/0003*024-'
  t.same(s.obs.events((e) => e.event === 'Newchannel' && e.channel?.startsWith(loserDevice) === true), [], 'no channel towards the losing phone, ever')
})

t.test('when the caller hangs up while the picker rings, the picker stops ringing and ?wait=true says target gone', async (t) => {
  const s = await ringingCall(t, { mode: 'ring' })
  const pending = s.user12.put(`@me/0003*210/${s.call.id}?wait=true`, { ...PAGE_EXAMPLE, phoneCallViewId: s.viewId })
  await (s.picker as Phone).waitFor('INVITE')
  // The caller gives up while 024 is still ringing: the ringing leg is gone.
  await s.caller.stop()
  const res = await pending
  t.equal(res.status, 409)
  t.equal(res.body.error.code, 'pc_pickup_target_gone')
  await (s.picker as Phone).waitFor('CANCEL')
  t.pass('024 stopped ringing at once')
})

t.test('when 210 itself answers while the picker rings, the picker is cancelled within 1 s and ?wait=true says target gone', async (t) => {
  // 210 answers 3 s after its INVITE; the PickUp to 024 (which never answers) goes out before that.
  const s = await ringingCall(t, { mode: 'ring' }, { mode: 'answer', answerAfterMs: 3_000 })
  const picker = s.picker as Phone
  const callerId = callerUniqueid(s.app, s.call.id)
  const mark = s.obs.mark()
  const pending = s.user12.put(`@me/0003*210/${s.call.id}?wait=true`, { ...PAGE_EXAMPLE, phoneCallViewId: s.viewId })
  const invite = await picker.waitFor('INVITE')
  t.notOk(s.reception.answered(), '024 was rung while 210 still rang')
  const ok210 = await s.reception.waitFor((m) => m.status === 200 && m.cseqMethod === 'INVITE', { direction: 'sent', timeoutMs: 10_000 })
  const res = await pending
  t.equal(res.status, 409, JSON.stringify(res.body))
  t.equal(res.body.error.code, 'pc_pickup_target_gone')
  const cancel = await picker.waitFor('CANCEL', { timeoutMs: 5_000 })
  const ms = Date.parse(cancel.time) - Date.parse(ok210.time)
  t.ok(Date.parse(invite.time) < Date.parse(ok210.time), '024 was ringing when 210 answered')
  t.ok(ms >= 0 && ms <= 1_000, `024 received CANCEL ${ms} ms after 210 answered`)
  // Asterisk's word: 300 and 210 share a bridge, and 024's leg was never bridged or picked.
  const callerIn = await s.obs.waitFor({ event: 'BridgeEnter', uniqueid: callerId }, { from: mark, timeoutMs: 5_000 })
  const receptionIn = await s.obs.waitFor((e) => e.event === 'BridgeEnter' && e.channel?.startsWith('PJSIP/0003*210-') === true, { from: mark, timeoutMs: 5_000 })
  t.equal(receptionIn.bridgeuniqueid, callerIn.bridgeuniqueid, '300 is bridged with 210')
  const pickerLeg = s.obs.events((e) => e.event === 'Newchannel' && e.channel?.startsWith('PJSIP/0003*024-') === true, mark)[0]?.uniqueid
  t.ok(pickerLeg, 'the engine\'s leg towards 024 existed')
  t.same(await s.obs.tracesAfter(s.obs.mark(), { match: (e) => e.event === 'Pickup' || (e.event === 'BridgeEnter' && e.uniqueid === pickerLeg) }), [], 'no Pickup, and 024 never in a bridge')
  t.same(s.obs.events((e) => e.event === 'Pickup', mark), [], 'no Pickup at any time')
  t.equal((await listChannels()).filter((c) => c.Channel?.startsWith('PJSIP/0003*024-')).length, 0, '024\'s leg is gone')
  const stillTalking = (await listChannels()).filter((c) => c.Uniqueid === callerId && c.BridgeId === callerIn.bridgeuniqueid)
  t.equal(stillTalking.length, 1, '300 is still in that bridge')
  t.equal(s.obs.events((e) => e.event === 'SoftHangupRequest' && e.uniqueid === pickerLeg, mark).length <= 1, true, 'one hangup request for our leg at most')
})

t.test('after 024 picked up 300\'s call, 210\'s user may still list it but not act on it; 024\'s user and organization 3 may', async (t) => {
  const s = await ringingCall(t, { mode: 'answer', answerAfterMs: 300 })
  const picker = s.picker as Phone
  const picked = await s.user12.put(`@me/0003*210/${s.call.id}?wait=true`, { ...PAGE_EXAMPLE, phoneCallViewId: s.viewId })
  t.equal(picked.status, 200, JSON.stringify(picked.body))
  const callerId = callerUniqueid(s.app, s.call.id)
  const phone301 = await Phone.register('0003*301', { mode: 'answer', answerAfterMs: 200 })

  // User 12 reaches the call only through 0003*210, which left it: refused, and Asterisk does nothing.
  const mark = s.obs.mark()
  const url = `@me/0003*210/${s.call.id}`
  const del = await s.user12.delete(url)
  t.same([del.status, del.body.error?.code], [401, 'access_denied'], 'DELETE by 210\'s user is refused')
  t.match(del.body.error?.message, /no longer|any more/, 'and says why')
  const xfer = await s.user12.put(url, { action: 'Transfer', sendCallTo: '0003*301' })
  t.same([xfer.status, xfer.body.error?.code], [401, 'access_denied'], 'Transfer by 210\'s user is refused')
  const vm = await s.user12.put(url, { action: 'TransferToVoicemail', sendCallTo: '0003*210' })
  t.same([vm.status, vm.body.error?.code], [401, 'access_denied'], 'TransferToVoicemail by 210\'s user is refused')
  const delAll = await s.user12.delete('@me/0003*210')
  t.same([delAll.status, delAll.body], [200, []], 'hanging up "every call of 210" leaves this one alone')
  const org3 = await UapiClient.as(s.app, 3)
  const viaPath = await org3.delete(`12/0003*210/${s.call.id}`)
  t.same([viaPath.status, viaPath.body.error?.code], [401, 'access_denied'], 'through 210\'s URL even the organization is refused')
  t.same(await s.obs.tracesAfter(mark), [], 'Asterisk shows no trace of any action, watched for 1 s')
  t.notOk(picker.gotBye(), '024 still talks')
  // Reading keeps its rule: the PickUp page's follow-up List through 210 still shows the call.
  const listed = await s.user12.list(url)
  t.equal(listed.entry[0]?.id, s.call.id, 'List through /12/0003*210 still shows the call')
  t.same(statuses(listed.entry[0]), { '0003*300': 5, '0003*024': 5 })

  // User 13 owns 024, a current party: it transfers the party it talks to (300) to 301.
  const user13 = await UapiClient.as(s.app, 13)
  const mark2 = s.obs.mark()
  const moved = await user13.put(`@me/0003*024/${s.call.id}`, { action: 'Transfer', sendCallTo: '0003*301' })
  t.equal(moved.status, 200, JSON.stringify(moved.body))
  const blind = await s.obs.waitFor((e) => e.event === 'BlindTransfer', { from: mark2, timeoutMs: 10_000 })
  t.equal(blind.transfereeuniqueid, callerId, 'Asterisk moved 300')
  await phone301.waitFor('INVITE')
  const in301 = await s.obs.waitFor((e) => e.event === 'BridgeEnter' && e.channel?.startsWith('PJSIP/0003*301-') === true, { from: mark2, timeoutMs: 10_000 })
  await s.obs.waitFor((e) => e.event === 'BridgeEnter' && e.uniqueid === callerId && e.bridgeuniqueid === in301.bridgeuniqueid, { from: mark2, timeoutMs: 10_000 })
  t.pass('300 and 301 share a bridge')
  await picker.waitFor('BYE')
  t.pass('024 was released')

  // Organization 3 has authority over 300 and 301: it hangs the call up through its own scope.
  await user13.until(`@me/0003*024/${s.call.id}`, (c) => (c.totalResults === 1 && statuses(c.entry[0])['0003*301'] === 5 ? c : undefined), '301 on call')
  const mark3 = s.obs.mark()
  const ended = await org3.delete(`@me/@self/${s.call.id}`)
  t.equal(ended.status, 200, JSON.stringify(ended.body))
  t.same(ended.body.map((c: PhoneCall) => c.id), [s.call.id])
  await s.obs.waitFor({ event: 'Hangup', uniqueid: callerId }, { from: mark3, timeoutMs: 5_000 })
  await phone301.waitFor('BYE')
  t.pass('300 hung up by Asterisk and 301 got BYE')
})

t.test('two engine instances given the same PickUp at once: Asterisk bridges the caller with one leg, the other is released, both list one call', async (t) => {
  // What the README claims for several instances without a shared store: each may ring the picker;
  // Asterisk's PickupChan lets exactly one leg take the call and the other instance releases its own
  // leg as soon as the ringing leg is taken; both show the picker inside the same call (VN_CALL).
  const s = await ringingCall(t, { mode: 'answer', answerAfterMs: 500 })
  const other = await build(t, { connect: true, config: noRateLimit })
  await whenLive(other)
  const otherUser12 = await UapiClient.as(other, 12)
  const org3 = [await UapiClient.as(s.app, 3), await UapiClient.as(other, 3)]
  const callerId = callerUniqueid(s.app, s.call.id)
  const mark = s.obs.mark()
  const body = { ...PAGE_EXAMPLE, phoneCallViewId: s.viewId }
  // Before any answer: the ringing picker leg(s) show inside the call on both instances.
  const a = s.user12.put(`@me/0003*210/${s.call.id}?wait=true`, body)
  const b = otherUser12.put(`@me/0003*210/${s.call.id}?wait=true`, body)
  const ringing = await Promise.all(org3.map(async (c) => await c.until('@me/@self', (l) => (l.entry.some((x) => viewOf(x, '0003*024') !== undefined) ? l : undefined), '024 ringing listed')))
  for (const l of ringing) t.same(l.entry.map((c) => c.id), [s.call.id], 'the ringing picker is part of the picked call on this instance, not a call of its own')
  const results = await Promise.all([a, b])
  const codes = results.map((r) => r.status === 200 ? 'picked-up' : r.body.error?.code).sort()
  t.same(codes, ['pc_pickup_target_gone', 'picked-up'], JSON.stringify(results.map((r) => r.body)))
  const pickups = s.obs.events({ event: 'Pickup' }, mark)
  t.equal(pickups.length, 1, 'Asterisk performed exactly one pickup')
  const winner = pickups[0]?.uniqueid as string
  const callerIn = await s.obs.waitFor({ event: 'BridgeEnter', uniqueid: callerId }, { from: mark })
  const winnerIn = await s.obs.waitFor({ event: 'BridgeEnter', uniqueid: winner }, { from: mark })
  t.equal(winnerIn.bridgeuniqueid, callerIn.bridgeuniqueid, 'the caller is bridged with the winning leg')
  const legs = s.obs.events((e) => e.event === 'Newchannel' && e.channel?.startsWith('PJSIP/0003*024-') === true, mark).map((e) => e.uniqueid as string)
  t.ok(legs.length >= 1 && legs.length <= 2, `${legs.length} leg(s) rang 024`)
  for (const leg of legs.filter((l) => l !== winner)) {
    await s.obs.waitFor({ event: 'Hangup', uniqueid: leg }, { from: mark, timeoutMs: 5_000 })
    t.pass(`the losing leg ${leg} was hung up`)
  }
  for (const [name, c] of [['first', s.user12], ['second', otherUser12]] as const) {
    const l = await c.until(`@me/0003*210/${s.call.id}`, (x) => (Object.keys(statuses(x.entry[0])).length === 2 && statuses(x.entry[0])['0003*024'] === 5 ? x : undefined), `${name} instance settled`)
    t.same(statuses(l.entry[0]), { '0003*300': 5, '0003*024': 5 }, `the ${name} instance lists one call: 300 and 024 on call`)
  }
})
