// BargeIn, Whisper and Monitor on the real Asterisk with SIPp phones: 0003*300 talks to 0003*210 and
// a supervisor (0003*024) joins. Proof from Asterisk and the phones: the INVITE and caller id the
// supervisor's phone got, ChanSpyStart naming its leg as spyer and the right party as spyee, the
// spyer's application data (the mode's ChanSpy options) in CoreShowChannels, the supervisor leg's
// end with the call. Audio direction per mode: test/pbx/supervise-audio.test.ts.
// Run under the PBX lock: flock /tmp/uapi-pbx-tests.lock npx tap test/pbx/supervise.test.ts
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

interface Talk {
  app: App
  obs: AmiObserver
  user12: UapiClient
  reception: Phone
  caller: Phone
  call: PhoneCall
  /** Uniqueids of 300's and 210's legs. */
  leg300: string
  leg210: string
}

/** 300 calls 210, 210 answers: the call as user 12 lists it, both on call. */
async function talking (t: Test): Promise<Talk> {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const user12 = await UapiClient.as(app, 12)
  const reception = await Phone.register('0003*210', { mode: 'answer', answerAfterMs: 100 })
  const caller = await Phone.call('0003*300', '0003*210')
  await caller.waitFor('200')
  const call = await user12.until('@me/0003*210', (c) => {
    const st = statuses(c.entry[0])
    return st['0003*300'] === 5 && st['0003*210'] === 5 ? c.entry[0] : undefined
  }, '300 and 210 on call')
  const legOf = (ext: string): string => {
    for (const leg of app.engine.mirror.callById(call.id)?.legs.values() ?? []) if (leg.party?.extension === ext) return leg.uniqueid
    throw new Error(`no leg of ${ext}`)
  }
  return { app, obs, user12, reception, caller, call, leg300: legOf('0003*300'), leg210: legOf('0003*210') }
}

const SUPERVISOR = { sendCallTo: '0003*024', callerId: 'Supervisor <42420099>', waitForPickup: '20' }

/** Asks for `action` on `viewExt`'s view with ?wait=true; proves ChanSpy started as asked; returns the spyer. */
async function supervised (t: Test, s: Talk, action: string, viewExt: string, extra: Record<string, unknown>, options: RegExp): Promise<{ spyer: string, phone: Phone }> {
  const phone = await Phone.register('0003*024', { mode: 'answer', answerAfterMs: 200 })
  const spyee = viewExt === '0003*300' ? s.leg300 : s.leg210
  const mark = s.obs.mark()
  const res = await s.user12.put(`@me/0003*210/${s.call.id}?wait=true`, { action, ...SUPERVISOR, ...extra, phoneCallViewId: viewOf(s.call, viewExt)?.id })
  t.equal(res.status, 200, `${action}: ${JSON.stringify(res.body)}`)
  t.equal(res.body.id, s.call.id, 'the answer is the supervised call')
  const invite = await phone.waitFor('INVITE')
  t.match(invite.header('From'), /^"Supervisor" <sip:42420099@/, '024 rang showing the callerId')
  const start = await s.obs.waitFor({ event: 'ChanSpyStart' }, { from: mark, timeoutMs: 10_000 })
  t.match(start.spyerchannel, /^PJSIP\/0003\*024-/, 'Asterisk: 024\'s leg is the spyer')
  t.equal(start.spyeeuniqueid, spyee, `Asterisk: ${viewExt}'s leg is the spyee`)
  const spyer = start.spyeruniqueid as string
  const item = (await listChannels()).find((c) => c.Uniqueid === spyer)
  t.equal(item?.Application, 'ChanSpy', 'the spyer runs ChanSpy')
  t.match(item?.ApplicationData, options, `with the ${action} options (${item?.ApplicationData})`)
  t.notOk(s.reception.gotBye() || s.caller.gotBye(), 'both parties still up')
  return { spyer, phone }
}

t.test('BargeIn: 024 rings showing the callerId, answers, and Asterisk spies on the party with barge options; List shows 024 in the call; hanging up 300 ends 024\'s leg within 1 s', async (t) => {
  const s = await talking(t)
  const { spyer, phone } = await supervised(t, s, 'BargeIn', '0003*210', {}, new RegExp(`^${s.leg210.replace('.', '\\.')},[a-zA-Z]*B`))
  const listed = await s.user12.until(`@me/0003*210/${s.call.id}`, (c) => (viewOf(c.entry[0], '0003*024')?.role === 'barge' ? c.entry[0] : undefined), '024 as a barge view')
  const view = viewOf(listed, '0003*024')
  t.equal(listed.id, s.call.id, 'one call: the supervisor leg is a view of the same call')
  t.same([view?.status, view?.source, view?.destination, view?.role], [5, ['0003*024'], ['0003*210'], 'barge'], 'the view says who barges into whom')
  const org3 = await UapiClient.as(s.app, 3)
  t.same((await org3.list('@me/@self')).entry.map((c) => c.id), [s.call.id], 'not a call of its own for the organization either')
  // The call ends: the supervisor leg goes with it.
  const mark = s.obs.mark()
  const endedAt = Date.now()
  await s.caller.stop()
  const gone = await s.obs.waitFor({ event: 'Hangup', uniqueid: spyer }, { from: mark, timeoutMs: 5_000 })
  const ms = Number(gone.timestamp) * 1000 - endedAt
  t.ok(ms <= 1_000, `024's leg hung up ${Math.round(ms)} ms after 300 hung up`)
  await phone.waitFor('BYE')
  t.pass('024 got BYE')
})

t.test('Whisper on 210\'s view: ChanSpy on 210 with whisper options; private: 1 uses private whisper', async (t) => {
  const s = await talking(t)
  await supervised(t, s, 'Whisper', '0003*210', {}, new RegExp(`^${s.leg210.replace('.', '\\.')},[a-zA-VX-Z]*w`))
  const listed = await s.user12.until(`@me/0003*210/${s.call.id}`, (c) => (viewOf(c.entry[0], '0003*024')?.role === 'whisper' ? c.entry[0] : undefined), '024 as a whisper view')
  t.same(viewOf(listed, '0003*024')?.destination, ['0003*210'], 'whispering to 210')
  await stopAllPhones()
  await hangupAllChannels()
  const s2 = await talking(t)
  await supervised(t, s2, 'Whisper', '0003*210', { private: 1 }, new RegExp(`^${s2.leg210.replace('.', '\\.')},[a-vx-zA-Z]*W`))
  await s2.user12.until(`@me/0003*210/${s2.call.id}`, (c) => (viewOf(c.entry[0], '0003*024')?.role === 'private-whisper' ? c : undefined), '024 as a private whisper view')
  t.pass('List says private-whisper')
})

t.test('Monitor: listen-only ChanSpy (no B, w or W)', async (t) => {
  const s = await talking(t)
  await supervised(t, s, 'Monitor', '0003*300', {}, new RegExp(`^${s.leg300.replace('.', '\\.')},[^BwW,]*$`))
  await s.user12.until(`@me/0003*210/${s.call.id}`, (c) => (viewOf(c.entry[0], '0003*024')?.role === 'monitor' ? c : undefined), '024 as a monitor view')
  t.pass('List says monitor')
})

t.test('supervision errors come back with their codes and nothing reaches Asterisk; an unanswered supervisor phone is 409', async (t) => {
  const s = await talking(t)
  await Phone.register('0003*024', { mode: 'ring' })
  const url = `@me/0003*210/${s.call.id}`
  const view = viewOf(s.call, '0003*210')?.id as string
  const mark = s.obs.mark()
  const cases: Array<[string, string, unknown, number, string]> = [
    ['BargeIn without sendCallTo', url, { action: 'BargeIn', phoneCallViewId: view }, 400, 'pc_sendcallto_invalid'],
    ['BargeIn to an unknown extension', url, { action: 'BargeIn', sendCallTo: '0003*999', phoneCallViewId: view }, 400, 'pc_sendcallto_invalid'],
    ['BargeIn from another organization', url, { action: 'BargeIn', sendCallTo: '0004*100', phoneCallViewId: view }, 400, 'pc_sendcallto_invalid'],
    ['BargeIn by a party of the call', url, { action: 'BargeIn', sendCallTo: '0003*300', phoneCallViewId: view }, 400, 'pc_sendcallto_invalid'],
    ['BargeIn on view 99', url, { action: 'BargeIn', sendCallTo: '0003*024', phoneCallViewId: '99' }, 400, 'pc_phonecallview_invalid'],
    ['BargeIn with waitForPickup 0', url, { action: 'BargeIn', sendCallTo: '0003*024', waitForPickup: 0, phoneCallViewId: view }, 400, 'pc_timeout_invalid'],
    ['BargeIn with a bad callerId', url, { action: 'BargeIn', sendCallTo: '0003*024', callerId: 'Boss', phoneCallViewId: view }, 400, 'pc_callerid_invalid'],
    ['Whisper with private 2', url, { action: 'Whisper', sendCallTo: '0003*024', private: 2, phoneCallViewId: view }, 400, 'pc_private_invalid'],
    ['Whisper with private "yes"', url, { action: 'Whisper', sendCallTo: '0003*024', private: 'yes', phoneCallViewId: view }, 400, 'pc_private_invalid'],
    ['Monitor of no live call', '@me/0003*210/0123456789abcdef0123', { action: 'Monitor', sendCallTo: '0003*024', phoneCallViewId: view }, 400, 'pc_phonecall_invalid'],
    ['Monitor through @self of user 40', '40/@self/' + s.call.id, { action: 'Monitor', sendCallTo: '0003*024', phoneCallViewId: view }, 401, 'access_denied']
  ]
  for (const [name, path, payload, status, code] of cases) {
    const res = await s.user12.put(path, payload)
    t.equal(res.status, status, name)
    t.equal(res.body.error?.code, code, `${name}: ${JSON.stringify(res.body)}`)
  }
  const user40 = await UapiClient.as(s.app, 40)
  const foreign = await user40.put(`@me/@self/${s.call.id}`, { action: 'Monitor', sendCallTo: '0004*100', phoneCallViewId: view })
  t.same([foreign.status, foreign.body.error?.code], [400, 'pc_phonecall_invalid'], 'another organization sees no such call')
  t.same(await s.obs.tracesAfter(mark), [], 'Asterisk shows no trace of any action, watched for 1 s')

  // 024 rings and never answers: waitForPickup later it stops, the call goes on untouched.
  const mark2 = s.obs.mark()
  const res = await s.user12.put(`${url}?wait=true`, { action: 'Monitor', sendCallTo: '0003*024', waitForPickup: 2, phoneCallViewId: view })
  t.same([res.status, res.body.error?.code], [409, 'pc_sendcallto_unanswered'], 'unanswered')
  t.same(s.obs.events({ event: 'ChanSpyStart' }, mark2), [], 'no ChanSpy ever started')
  t.notOk(s.reception.gotBye() || s.caller.gotBye(), '300 and 210 still talk')
})

t.test('more supervision errors: bad fields, no party named, a party already being supervised, a supervisor leg; nothing reaches Asterisk', async (t) => {
  const s = await talking(t)
  const url = `@me/0003*210/${s.call.id}`
  const view210 = viewOf(s.call, '0003*210')?.id as string
  const view300 = viewOf(s.call, '0003*300')?.id as string
  const mark = s.obs.mark()
  const cases: Array<[string, string, unknown, number, string]> = [
    ['Monitor without sendCallTo', url, { action: 'Monitor', phoneCallViewId: view210 }, 400, 'pc_sendcallto_invalid'],
    ['Whisper by a public number', url, { action: 'Whisper', sendCallTo: '42420042', phoneCallViewId: view210 }, 400, 'pc_sendcallto_invalid'],
    ['BargeIn by a short number of no extension', url, { action: 'BargeIn', sendCallTo: '999', phoneCallViewId: view210 }, 400, 'pc_sendcallto_invalid'],
    ['Monitor with waitForPickup "abc"', url, { action: 'Monitor', sendCallTo: '0003*024', waitForPickup: 'abc', phoneCallViewId: view210 }, 400, 'pc_timeout_invalid'],
    ['Whisper with waitForPickup over a day', url, { action: 'Whisper', sendCallTo: '0003*024', waitForPickup: 86_401, phoneCallViewId: view210 }, 400, 'pc_timeout_invalid'],
    ['BargeIn with a callerId carrying CR/LF', url, { action: 'BargeIn', sendCallTo: '0003*024', callerId: 'Boss <42420099>\r\nAction: Hangup', phoneCallViewId: view210 }, 400, 'pc_callerid_invalid'],
    ['Monitor with a malformed phoneCallId', '@me/0003*210/not-an-id!', { action: 'Monitor', sendCallTo: '0003*024', phoneCallViewId: view210 }, 400, 'pc_phonecall_invalid'],
    ['Monitor on @self without a view', `@me/@self/${s.call.id}`, { action: 'Monitor', sendCallTo: '0003*024' }, 400, 'pc_phonecallview_invalid'],
    ['Whisper through the phone of another user', `12/0003*024/${s.call.id}`, { action: 'Whisper', sendCallTo: '0003*301', phoneCallViewId: view210 }, 401, 'access_denied']
  ]
  for (const [name, path, payload, status, code] of cases) {
    const res = await s.user12.put(path, payload)
    t.equal(res.status, status, name)
    t.equal(res.body.error?.code, code, `${name}: ${JSON.stringify(res.body)}`)
  }
  t.same(await s.obs.tracesAfter(mark), [], 'Asterisk shows no trace of any action, watched for 1 s')

  // 024 is being rung to monitor 210: 210 is taken, and 024's leg is in the call already.
  const phone024 = await Phone.register('0003*024', { mode: 'ring' })
  const phone301 = await Phone.register('0003*301', { mode: 'ring' })
  const first = await s.user12.put(url, { action: 'Monitor', sendCallTo: '0003*024', phoneCallViewId: view210 })
  t.equal(first.status, 200, JSON.stringify(first.body))
  await phone024.waitFor('INVITE')
  const ringing = await s.user12.until(url, (c) => (viewOf(c.entry[0], '0003*024') !== undefined ? c.entry[0] : undefined), '024\'s leg in the call')
  const mark2 = s.obs.mark()
  const more: Array<[string, unknown, number, string]> = [
    ['a second supervisor for 210', { action: 'BargeIn', sendCallTo: '0003*301', phoneCallViewId: view210 }, 409, 'pc_phonecall_conflict'],
    ['024 again, for 300', { action: 'Monitor', sendCallTo: '0003*024', phoneCallViewId: view300 }, 400, 'pc_sendcallto_invalid'],
    ['the supervisor leg as the party', { action: 'Whisper', sendCallTo: '0003*301', phoneCallViewId: viewOf(ringing, '0003*024')?.id }, 400, 'pc_phonecallview_invalid']
  ]
  for (const [name, payload, status, code] of more) {
    const res = await s.user12.put(url, payload)
    t.same([res.status, res.body.error?.code], [status, code], `${name}: ${JSON.stringify(res.body)}`)
  }
  t.same(await s.obs.tracesAfter(mark2, { match: (e) => e.channel?.startsWith('PJSIP/0003*024-') !== true }), [], 'nothing but 024\'s ringing leg on Asterisk, watched for 1 s')
  t.same(phone301.received('INVITE'), [], '301 never rang')
})

t.test('a party that is not talking cannot be supervised: 300 calls 210, which rings', async (t) => {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const user12 = await UapiClient.as(app, 12)
  const reception = await Phone.register('0003*210', { mode: 'ring' })
  await Phone.register('0003*024', { mode: 'answer' })
  await Phone.call('0003*300', '0003*210')
  await reception.waitFor('INVITE')
  const call = await user12.until('@me/0003*210', (c) => (statuses(c.entry[0])['0003*210'] === 3 ? c.entry[0] : undefined), '210 ringing')
  const mark = obs.mark()
  for (const [action, ext] of [['BargeIn', '0003*210'], ['Monitor', '0003*300'], ['Whisper', '0003*210']] as const) {
    const res = await user12.put(`@me/0003*210/${call.id}`, { action, sendCallTo: '0003*024', phoneCallViewId: viewOf(call, ext)?.id })
    t.same([res.status, res.body.error?.code], [400, 'pc_phonecallview_invalid'], `${action} of ${ext}'s view (${viewOf(call, ext)?.status === 3 ? 'ringing' : 'calling'})`)
  }
  t.same(await obs.tracesAfter(mark), [], 'Asterisk shows no trace of any action, watched for 1 s')
  t.notOk(reception.gotCancel(), '210 still rings')
})
