// OnHold/OffHold and Park/UnPark on the real Asterisk with SIPp phones. 300 calls 210, they talk;
// the requests come from 210's user (12). Assertions are about what Asterisk and the phones did
// (MusicOnHoldStart, ParkedCall, bridges, INVITE/BYE/CANCEL), then what List shows.
// Run under the PBX lock: flock /tmp/uapi-pbx-tests.lock npx tap test/pbx/hold-park.test.ts
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

interface Scene {
  app: App
  obs: AmiObserver
  user12: UapiClient
  reception: Phone
  caller: Phone
  call: PhoneCall
  url: string
  /** 300's view id (the party held or parked). */
  view300: string
  leg300: string
  leg210: string
}

/** The uniqueid of an extension's leg in a call, from the engine's mirror. */
function legOf (app: App, callId: string, extension: string): string {
  for (const leg of app.engine.mirror.callById(callId)?.legs.values() ?? []) if (leg.party?.extension === extension) return leg.uniqueid
  throw new Error(`no leg of ${extension} in call ${callId}`)
}

/** 300 calls 210, 210 answers; both on call as user 12 lists it. */
async function talking (t: Test): Promise<Scene> {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const user12 = await UapiClient.as(app, 12)
  const reception = await Phone.register('0003*210', { mode: 'answer', answerAfterMs: 200 })
  const caller = await Phone.call('0003*300', '0003*210')
  const call = await user12.until('@me/0003*210', (c) => {
    const st = statuses(c.entry[0])
    return st['0003*210'] === 5 && st['0003*300'] === 5 ? c.entry[0] : undefined
  }, '300 and 210 on call')
  return {
    app,
    obs,
    user12,
    reception,
    caller,
    call,
    url: `@me/0003*210/${call.id}`,
    view300: viewOf(call, '0003*300')?.id as string,
    leg300: legOf(app, call.id, '0003*300'),
    leg210: legOf(app, call.id, '0003*210')
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

t.test('OnHold of 300 plays music to 300, both phones stay up; OffHold puts 300 and 210 in one bridge again', async (t) => {
  const s = await talking(t)
  const mark = s.obs.mark()
  const res = await s.user12.put(s.url, { action: 'OnHold', phoneCallViewId: s.view300 })
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.equal(res.body.id, s.call.id, 'the answer is the PhoneCall')
  t.ok(viewOf(res.body, '0003*300')?.onHold, 'the answer already shows 300 on hold')
  // Asterisk's word: music on hold for 300's channel, none for 210's.
  const moh = await s.obs.waitFor({ event: 'MusicOnHoldStart', uniqueid: s.leg300 }, { from: mark, timeoutMs: 5_000 })
  t.match(moh.channel, /^PJSIP\/0003\*300-/, 'MusicOnHoldStart names 300\'s channel')
  const listed = await s.user12.list(s.url)
  const held = viewOf(listed.entry[0], '0003*300')
  const holder = viewOf(listed.entry[0], '0003*210')
  t.ok(held?.onHold, `List shows onHold on 300's view (${held?.onHold})`)
  t.notOk(held?.holder, '300 is not the holder')
  t.equal(holder?.holder, 1, '210 is the holder')
  t.ok(holder?.onHold, '210\'s view shows the hold too')
  t.same(statuses(listed.entry[0]), { '0003*300': 5, '0003*210': 5 }, 'both parties still on call')
  const channels = await listChannels()
  t.equal(channels.find((c) => c.Uniqueid === s.leg300)?.Application, 'MusicOnHold', '300 is in MusicOnHold')
  t.equal(channels.find((c) => c.Uniqueid === s.leg210)?.Application, 'Wait', '210 waits in silence')
  await sleep(1_000)
  t.notOk(s.caller.gotBye(), '300 got no BYE')
  t.notOk(s.reception.gotBye(), '210 got no BYE')
  t.same(s.obs.events((e) => e.event === 'Hangup', mark), [], 'no channel hung up')

  const again = await s.user12.put(s.url, { action: 'OnHold', phoneCallViewId: s.view300 })
  t.equal(again.status, 200, 'OnHold of a held party changes nothing')

  const mark2 = s.obs.mark()
  const off = await s.user12.put(s.url, { action: 'OffHold', phoneCallViewId: s.view300 })
  t.equal(off.status, 200, JSON.stringify(off.body))
  await s.obs.waitFor({ event: 'MusicOnHoldStop', uniqueid: s.leg300 }, { from: mark2, timeoutMs: 5_000 })
  t.pass('Asterisk stopped the music for 300')
  const in300 = await s.obs.waitFor({ event: 'BridgeEnter', uniqueid: s.leg300 }, { from: mark2, timeoutMs: 5_000 })
  const in210 = await s.obs.waitFor({ event: 'BridgeEnter', uniqueid: s.leg210 }, { from: mark2, timeoutMs: 5_000 })
  t.equal(in300.bridgeuniqueid, in210.bridgeuniqueid, '300 and 210 share one bridge again')
  const after = await s.user12.until(s.url, (c) => (viewOf(c.entry[0], '0003*300')?.onHold === undefined ? c.entry[0] : undefined), 'the hold gone from List')
  t.notOk(viewOf(after, '0003*210')?.holder, 'no holder any more')
  t.same(statuses(after), { '0003*300': 5, '0003*210': 5 })
  t.notOk(s.caller.gotBye() || s.reception.gotBye(), 'nobody was hung up')
  // The bridge settles a moment after BridgeEnter (Asterisk sets BRIDGEPEER on both): wait for it.
  for (const uniqueid of [s.leg300, s.leg210]) await s.obs.waitFor({ event: 'VarSet', variable: 'BRIDGEPEER', uniqueid }, { from: mark2, timeoutMs: 5_000 })

  const mark3 = s.obs.mark()
  const notHeld = await s.user12.put(s.url, { action: 'OffHold', phoneCallViewId: s.view300 })
  t.same([notHeld.status, notHeld.body.error?.code], [409, 'pc_phonecall_not_on_hold'], 'OffHold of a call not on hold')
  t.same(await s.obs.tracesAfter(mark3), [], 'and nothing reached Asterisk (watched 1 s)')

  // After OffHold, a hangup ends the call as before: 300 hangs up, 210 gets BYE.
  await s.caller.stop()
  await s.reception.waitFor('BYE')
  t.pass('300 hung up after OffHold: 210 was released')
})

t.test('while 300 is held, 210 hanging up ends 300 too: nobody is left alone with the music', async (t) => {
  const s = await talking(t)
  const res = await s.user12.put(s.url, { action: 'OnHold', phoneCallViewId: s.view300 })
  t.equal(res.status, 200, JSON.stringify(res.body))
  await s.obs.waitFor({ event: 'MusicOnHoldStart', uniqueid: s.leg300 }, { timeoutMs: 5_000 })
  const mark = s.obs.mark()
  await s.reception.stop()
  await s.obs.waitFor({ event: 'Hangup', uniqueid: s.leg300 }, { from: mark, timeoutMs: 5_000 })
  await s.caller.waitFor('BYE')
  t.pass('300 received BYE once 210 hung up')
  await s.user12.until(s.url, (c) => (c.totalResults === 0 ? c : undefined), 'the call gone')
})

t.test('Park 300 for 10 s: ParkedCall at the answered space, 210 released; UnPark to 024 as "Lot <42420042>" bridges 024 with 300', async (t) => {
  const s = await talking(t)
  const phone024 = await Phone.register('0003*024', { mode: 'answer', answerAfterMs: 300 })
  const mark = s.obs.mark()
  const res = await s.user12.put(s.url, { action: 'Park', maxInParking: '10', phoneCallViewId: s.view300 })
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.ok(Array.isArray(res.body) && res.body.length === 1, 'Park answers an array of one PhoneCall')
  const parkedView = viewOf(res.body[0], '0003*300')
  t.ok(Number.isInteger(parkedView?.parkedPos), `the answer carries the position (${parkedView?.parkedPos})`)
  t.equal(parkedView?.parkedBy, '0003*210', 'parked by 210')
  t.ok(parkedView?.parked, 'with the time it was parked')
  const parked = await s.obs.waitFor({ event: 'ParkedCall', parkeeuniqueid: s.leg300 }, { from: mark, timeoutMs: 5_000 })
  t.match(parked.parkeechannel, /^PJSIP\/0003\*300-/, 'ParkedCall names 300\'s channel')
  t.equal(parked.parkingspace, String(parkedView?.parkedPos), 'at the position the answer returned')
  t.equal(parked.parkingtimeout, '10', 'for 10 s')
  await s.reception.waitFor('BYE', { timeoutMs: 10_000 })
  t.pass('210 was released')
  const listed = await s.user12.until(s.url, (c) => (viewOf(c.entry[0], '0003*210') === undefined ? c.entry[0] : undefined), '210 gone from the call')
  t.equal(viewOf(listed, '0003*300')?.parkedPos, parkedView?.parkedPos, 'List shows 300 parked at that position')
  t.equal(viewOf(listed, '0003*300')?.parkedBy, '0003*210')
  t.notOk(s.caller.gotBye(), '300 is still connected')

  // 210's user parked it: it may take it out, although 210 left the call.
  const mark2 = s.obs.mark()
  const unpark = await s.user12.put(`${s.url}?wait=true`, { action: 'UnPark', sendCallTo: '0003*024', callerId: 'Lot <42420042>', waitForPickup: '10' })
  t.equal(unpark.status, 200, JSON.stringify(unpark.body))
  const invite = await phone024.waitFor('INVITE')
  t.match(invite.header('From'), /^"Lot" <sip:42420042@/, '024 rang showing "Lot" <42420042>')
  t.ok(phone024.answered(), '024 answered')
  const unparked = await s.obs.waitFor({ event: 'UnParkedCall', parkeeuniqueid: s.leg300 }, { from: mark2, timeoutMs: 5_000 })
  t.match(unparked.retrieverchannel, /^PJSIP\/0003\*024-/, '024 took 300 out of the lot')
  const in300 = await s.obs.waitFor({ event: 'BridgeEnter', uniqueid: s.leg300 }, { from: mark2, timeoutMs: 5_000 })
  const in024 = await s.obs.waitFor({ event: 'BridgeEnter', uniqueid: unparked.retrieveruniqueid as string }, { from: mark2, timeoutMs: 5_000 })
  t.equal(in024.bridgeuniqueid, in300.bridgeuniqueid, '024 shares a bridge with 300')
  const after = await s.user12.until(s.url, (c) => (statuses(c.entry[0])['0003*024'] === 5 ? c.entry[0] : undefined), '024 on call in List')
  t.equal(after.id, s.call.id, 'the same PhoneCall')
  t.same(statuses(after), { '0003*300': 5, '0003*024': 5 })
  t.same(viewOf(after, '0003*024')?.source, ['0003*300'], '024 talks to 300 as if 300 had called it')
  t.notOk(viewOf(after, '0003*300')?.parked, 'no longer parked')
  // No ring-back after the 10 s: the call left the lot.
  t.same(s.obs.events({ event: 'ParkedCallTimeOut' }, mark), [], 'no timeout')
})

t.test('a parked call left alone rings 210 back after about 10 s', async (t) => {
  const s = await talking(t)
  const mark = s.obs.mark()
  const res = await s.user12.put(s.url, { action: 'Park', maxInParking: 10, phoneCallViewId: s.view300 })
  t.equal(res.status, 200, JSON.stringify(res.body))
  const parked = await s.obs.waitFor({ event: 'ParkedCall', parkeeuniqueid: s.leg300 }, { from: mark, timeoutMs: 5_000 })
  await s.reception.waitFor('BYE', { timeoutMs: 10_000 })
  const timeout = await s.obs.waitFor({ event: 'ParkedCallTimeOut', parkeeuniqueid: s.leg300 }, { from: mark, timeoutMs: 15_000 })
  const waited = Number(timeout.timestamp) - Number(parked.timestamp)
  t.ok(waited >= 9.5 && waited <= 11, `the time ran out ${waited.toFixed(2)} s after parking`)
  const ringBack = await s.reception.waitFor('INVITE', { nth: 2, timeoutMs: 5_000 })
  t.ok(ringBack, '210 rang again')
  const dial = await s.obs.waitFor((e) => e.event === 'DialBegin' && e.uniqueid === s.leg300 && e.destchannel?.startsWith('PJSIP/0003*210-') === true, { from: mark, timeoutMs: 5_000 })
  t.ok(dial, 'Asterisk dialed 210 for the parked 300')
  const back = await s.user12.until(s.url, (c) => (statuses(c.entry[0])['0003*210'] === 5 ? c.entry[0] : undefined), '300 and 210 on call again')
  t.same(statuses(back), { '0003*300': 5, '0003*210': 5 })
  t.notOk(viewOf(back, '0003*300')?.parked, 'no longer parked')
})

t.test('UnPark to a phone that does not answer: it stops ringing after waitForPickup, the call stays parked; a second UnPark meanwhile is a conflict', async (t) => {
  const s = await talking(t)
  const phone301 = await Phone.register('0003*301', { mode: 'ring' })
  const res = await s.user12.put(s.url, { action: 'Park', maxInParking: '60', phoneCallViewId: s.view300 })
  t.equal(res.status, 200, JSON.stringify(res.body))
  const pending = s.user12.put(`${s.url}?wait=true`, { action: 'UnPark', sendCallTo: '301', waitForPickup: '2', phoneCallViewId: s.view300 })
  const invite = await phone301.waitFor('INVITE')
  const second = await s.user12.put(s.url, { action: 'UnPark', sendCallTo: '0003*024' })
  t.same([second.status, second.body.error?.code], [409, 'pc_phonecall_conflict'], 'a second UnPark of the same parked call')
  const done = await pending
  t.same([done.status, done.body.error?.code], [409, 'pc_unpark_unanswered'], JSON.stringify(done.body))
  const cancel = await phone301.waitFor('CANCEL', { timeoutMs: 5_000 })
  const rang = Date.parse(cancel.time) - Date.parse(invite.time)
  t.ok(rang >= 1_500 && rang <= 3_000, `301 rang for ${rang} ms`)
  const still = await s.user12.until(s.url, (c) => (viewOf(c.entry[0], '0003*301') === undefined ? c.entry[0] : undefined), '301 gone from the call')
  t.ok(viewOf(still, '0003*300')?.parked, 'the call is still parked')
  t.notOk(s.caller.gotBye(), '300 is still connected')
})

t.test('UnPark ?wait=true says target gone when the parked caller hangs up while the phone rings', async (t) => {
  const s = await talking(t)
  const phone301 = await Phone.register('0003*301', { mode: 'ring' })
  const res = await s.user12.put(s.url, { action: 'Park', phoneCallViewId: s.view300 })
  t.equal(res.status, 200, JSON.stringify(res.body))
  const pending = s.user12.put(`${s.url}?wait=true`, { action: 'UnPark', sendCallTo: '0003*301' })
  await phone301.waitFor('INVITE')
  await s.caller.stop()
  const done = await pending
  t.same([done.status, done.body.error?.code], [409, 'pc_unpark_target_gone'], JSON.stringify(done.body))
  await phone301.waitFor('CANCEL', { timeoutMs: 5_000 })
  t.pass('301 stopped ringing')
})

t.test('each error of OnHold, OffHold, Park and UnPark comes back with its code, and nothing reaches Asterisk', async (t) => {
  const s = await talking(t)
  const { url, view300 } = s
  const mark = s.obs.mark()
  const cases: Array<[string, string, unknown, number, string]> = [
    ['OnHold without phoneCallViewId', url, { action: 'OnHold' }, 400, 'pc_phonecallview_invalid'],
    ['OnHold of no view', url, { action: 'OnHold', phoneCallViewId: '99' }, 400, 'pc_phonecallview_invalid'],
    ['OnHold, phoneCallId not alphanumeric', `${url}-x`, { action: 'OnHold', phoneCallViewId: view300 }, 400, 'pc_phonecall_invalid'],
    ['OnHold of no live call', '@me/0003*210/0123456789abcdef0123', { action: 'OnHold', phoneCallViewId: view300 }, 400, 'pc_phonecall_invalid'],
    ['OffHold without phoneCallViewId', url, { action: 'OffHold' }, 400, 'pc_phonecallview_invalid'],
    ['OffHold of no view', url, { action: 'OffHold', phoneCallViewId: '99' }, 400, 'pc_phonecallview_invalid'],
    ['OffHold of a call not on hold', url, { action: 'OffHold', phoneCallViewId: view300 }, 409, 'pc_phonecall_not_on_hold'],
    ['Park for 9 s', url, { action: 'Park', maxInParking: '9', phoneCallViewId: view300 }, 400, 'pc_maxinparking_invalid'],
    ['Park for 3601 s', url, { action: 'Park', maxInParking: 3601, phoneCallViewId: view300 }, 400, 'pc_maxinparking_invalid'],
    ['Park for "soon"', url, { action: 'Park', maxInParking: 'soon', phoneCallViewId: view300 }, 400, 'pc_maxinparking_invalid'],
    ['Park without phoneCallViewId', url, { action: 'Park', maxInParking: '30' }, 400, 'pc_phonecallview_invalid'],
    ['Park of no view', url, { action: 'Park', phoneCallViewId: '99' }, 400, 'pc_phonecallview_invalid'],
    ['Park of no live call', '@me/0003*210/0123456789abcdef0123', { action: 'Park', phoneCallViewId: view300 }, 400, 'pc_phonecall_invalid'],
    ['UnPark of a call not parked', url, { action: 'UnPark', sendCallTo: '0003*024' }, 409, 'pc_phonecall_not_parked'],
    ['UnPark of a view not parked', url, { action: 'UnPark', sendCallTo: '0003*024', phoneCallViewId: view300 }, 400, 'pc_phonecallview_invalid'],
    ['UnPark without sendCallTo', url, { action: 'UnPark' }, 400, 'pc_sendcallto_invalid'],
    ['UnPark to no extension', url, { action: 'UnPark', sendCallTo: '0003*999' }, 400, 'pc_sendcallto_invalid'],
    ['UnPark to another organization', url, { action: 'UnPark', sendCallTo: '0004*100' }, 400, 'pc_sendcallto_invalid'],
    ['UnPark with a bad callerId', url, { action: 'UnPark', sendCallTo: '0003*024', callerId: 'Lot' }, 400, 'pc_callerid_invalid'],
    ['UnPark waiting 0 s', url, { action: 'UnPark', sendCallTo: '0003*024', waitForPickup: '0' }, 400, 'pc_timeout_invalid'],
    ['UnPark of no live call', '@me/0003*210/0123456789abcdef0123', { action: 'UnPark', sendCallTo: '0003*024' }, 400, 'pc_phonecall_invalid'],
    ['OnHold without a phoneCallId', '@me/0003*210', { action: 'OnHold', phoneCallViewId: view300 }, 400, 'pc_phonecall_invalid']
  ]
  for (const [name, path, payload, status, code] of cases) {
    const res = await s.user12.put(path, payload)
    t.same([res.status, res.body.error?.code], [status, code], name)
  }
  const none = await s.user12.put('@me/0003*210', { action: 'UnPark', sendCallTo: '0003*024' })
  t.same([none.status, none.body], [200, []], 'UnPark of every parked call of 210: there is none')
  // Another organization's user neither sees nor acts on the call.
  const user40 = await UapiClient.as(s.app, 40)
  for (const action of ['OnHold', 'OffHold', 'Park']) {
    const hidden = await user40.put(`@me/@self/${s.call.id}`, { action, phoneCallViewId: view300 })
    t.same([hidden.status, hidden.body.error?.code], [400, 'pc_phonecall_invalid'], `${action} by user 40: no such call`)
    const foreign = await user40.put(`12/0003*210/${s.call.id}`, { action, phoneCallViewId: view300 })
    t.same([foreign.status, foreign.body.error?.code], [401, 'access_denied'], `${action} by user 40 through 12's path`)
  }
  t.same(await s.obs.tracesAfter(mark), [], 'for 1 s after the last request Asterisk shows no trace of any action')
  t.same(statuses((await s.user12.list(url)).entry[0]), { '0003*300': 5, '0003*210': 5 }, 'the call is as it was')
})
