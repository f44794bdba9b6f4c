// List PhoneCalls against the real Asterisk with SIPp phones: what a ringing, answered and ended
// call looks like through the API, who may see it, and what happens when the PBX goes away.
import t from 'tap'
import { build, excuseErrorLines, noRateLimit, whenLive } from '../helpers/app.ts'
import { ensurePbx, hangupAllChannels, pbxScript } from '../helpers/pbx.ts'
import { Phone, stopAllPhones } from '../helpers/phones.ts'
import { UapiClient, statuses } from '../helpers/uapi.ts'
import { eventually } from '../helpers/wait.ts'

excuseErrorLines(/"code":"pbx_unavailable"/, 'requests answered 503 pbx_unavailable while a test holds the PBX down (as many as it polls)')

t.before(ensurePbx)
t.afterEach(async () => {
  await stopAllPhones()
  await hangupAllChannels()
})

t.test('a ringing, answered and ended call as List PhoneCalls shows it', async (t) => {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const user12 = await UapiClient.as(app, 12)
  const reception = await Phone.register('0003*210', { mode: 'answer', answerAfterMs: 3_000 })
  const caller = await Phone.call('0003*300', '0003*210')
  await reception.waitFor('INVITE')

  const ringing = await user12.until('@me/0003*210', (c) => {
    const s = statuses(c.entry[0])
    return c.totalResults === 1 && s['0003*210'] === 3 && s['0003*300'] === 4 ? c.entry[0] : undefined
  }, 'the call ringing on 210')
  t.match(ringing.id, /^[0-9a-f]{20}$/)
  t.equal(ringing.ownerId, '3')
  t.equal(ringing.ownerName, 'Default Organization')
  t.equal(ringing.phoneCallView.find((v) => v.extension === '0003*210')?.callerId, 'Sales 300 <0003*300>', '210 is shown the caller')
  t.match(ringing.links?.self, /\/uapi\/phoneCalls\/12\/0003\*210\/[0-9a-f]{20}$/)

  await caller.waitFor('200')
  const answered = await user12.until(`@me/0003*210/${ringing.id}`, (c) => {
    const s = statuses(c.entry[0])
    return s['0003*210'] === 5 && s['0003*300'] === 5 ? c.entry[0] : undefined
  }, 'both parties on call')
  t.equal(answered.id, ringing.id, 'the call keeps its id once answered')
  t.ok(answered.answered, 'answered time is set')

  await caller.stop()
  await reception.waitFor('BYE')
  const ended = await user12.until(`@me/0003*210/${ringing.id}`, (c) => (c.totalResults === 0 ? c : undefined), 'the call to be gone')
  t.same(ended.entry, [], 'an ended call answers 200 with an empty collection')
})

t.test('the call is visible to its owner and organization, not to another organization', async (t) => {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const [user12, org3, user40] = await Promise.all([UapiClient.as(app, 12), UapiClient.as(app, 3), UapiClient.as(app, 40)])
  await Phone.register('0003*210', { mode: 'ring' })
  await Phone.call('0003*300', '0003*210')
  const call = await user12.until('@me/0003*210', (c) => (statuses(c.entry[0])['0003*210'] === 3 ? c.entry[0] : undefined), 'the call ringing on 210')

  const viaOrg = await org3.list('12/0003*210')
  t.same(viaOrg.entry.map((c) => c.id), [call.id], 'organization 3 sees it through user 12')
  t.same((await org3.list('@me/@self')).entry.map((c) => c.id), [call.id], 'and in its organization-wide list')
  t.same((await user12.list(`@me/@self/${call.id}`)).totalResults, 1, 'user 12 finds it by id with @self')

  t.equal((await user40.list('@me/@self')).totalResults, 0, 'user 40 does not see it')
  t.equal((await user40.list(`@me/@self/${call.id}`)).totalResults, 0, 'not even by its id')
  const foreign = await user40.get('12/0003*210')
  t.equal(foreign.status, 401)
  t.equal(foreign.body.error.code, 'access_denied')
  const direct = await user40.get(`@me/0003*210/${call.id}`)
  t.equal(direct.status, 401, 'nor can user 40 address it through org 3\'s extension')

  const anonymous = await app.inject({ method: 'GET', url: '/uapi/phoneCalls/@me/0003*210' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.json().error.code, 'access_denied')
  const unknown = await user12.get('@me/0003*999')
  t.equal(unknown.status, 400)
  t.equal(unknown.body.error.code, 'extension_invalid')
})

t.test('when Asterisk goes away requests fail fast with 503, and after it returns the list is right again', async (t) => {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const user12 = await UapiClient.as(app, 12)
  t.teardown(() => pbxScript('up'))
  await Phone.register('0003*210', { mode: 'ring' })
  await Phone.call('0003*300', '0003*210')
  const call = await user12.until('@me/0003*210', (c) => c.entry[0], 'the call ringing on 210')

  await pbxScript('down')
  const down = await eventually(async () => {
    const res = await user12.get('@me/0003*210')
    return res.status === 503 ? res : undefined
  }, { what: 'a 503 while the PBX is down', timeoutMs: 5_000 })
  t.equal(down.body.error.code, 'pbx_unavailable')
  const started = Date.now()
  const again = await user12.get(`@me/0003*210/${call.id}`)
  t.equal(again.status, 503)
  t.ok(Date.now() - started < 1_000, 'answered at once, not after a timeout')
  const health = await app.inject('/health/ready')
  t.equal(health.statusCode, 503, 'health says not ready')

  await stopAllPhones()
  await pbxScript('up')
  const after = await user12.until('@me/0003*210', (c) => c, 'the list once the PBX is back', 15_000)
  t.equal(after.totalResults, 0, 'the call that ended while the PBX was down is not listed')
  t.equal((await user12.list(`@me/0003*210/${call.id}`)).totalResults, 0)

  // And the mirror follows new calls again.
  await Phone.register('0003*210', { mode: 'ring' })
  await Phone.call('0003*300', '0003*210')
  const fresh = await user12.until('@me/0003*210', (c) => (statuses(c.entry[0])['0003*210'] === 3 ? c.entry[0] : undefined), 'a new call after the restart')
  t.not(fresh.id, call.id)
})

t.test('every engine instance gives a call the same id, even one started after the call began', async (t) => {
  const first = await build(t, { connect: true, config: noRateLimit })
  const second = await build(t, { connect: true, config: noRateLimit })
  await Promise.all([whenLive(first), whenLive(second)])
  await Phone.register('0003*210', { mode: 'ring' })
  await Phone.call('0003*300', '0003*210')
  const ringingOn = (app: typeof first) => async () => {
    const c = await (await UapiClient.as(app, 12)).list('@me/0003*210')
    return statuses(c.entry[0])['0003*210'] === 3 ? c.entry[0] : undefined
  }
  const a = await eventually(ringingOn(first), { what: 'the call on the first instance' })
  const b = await eventually(ringingOn(second), { what: 'the call on the second instance' })
  // A third instance learns the call from its CoreShowChannels snapshot, not from events.
  const late = await build(t, { connect: true, config: noRateLimit })
  await whenLive(late)
  const c = await eventually(ringingOn(late), { what: 'the call on the late instance' })
  t.equal(b.id, a.id, 'same id on two instances')
  t.equal(c.id, a.id, 'same id on an instance that started mid-call')
  t.equal(b.published, a.published, 'same published time (Asterisk\'s event time)')
  const views = (pc: typeof a) => pc.phoneCallView.map((v) => [v.id, v.extension, v.status])
  t.same(views(c), views(a), 'same views with the same ids')
})
