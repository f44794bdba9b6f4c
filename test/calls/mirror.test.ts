import t from 'tap'
import { Mirror, type Leg, type Party } from '../../src/calls/mirror.ts'
import { projectCall } from '../../src/calls/views.ts'
import { createHmac } from 'node:crypto'
import { callIdDeriver, derivedNonce } from '../../src/calls/call-id.ts'
import type { PhoneCall } from '../../src/calls/phone-call.ts'
import type { AmiEvent } from '../../src/ami/index.ts'
import { fixtureEvents } from '../helpers/fixtures.ts'

// Demo numbering: "0003*210" belongs to organization 3.
const resolve = (tech: string, resource: string): Party | undefined => {
  const m = /^(\d{4})\*\d+$/.exec(resource)
  return tech === 'PJSIP' && m !== null ? { extension: resource, organizationId: String(Number(m[1])) } : undefined
}
const ctx = { organizationName: (id: string) => (id === '3' ? 'Default Organization' : undefined), nonceSecret: 'n' }

function newMirror (): Mirror {
  return new Mirror(resolve, callIdDeriver('test-secret'))
}

function calls (m: Mirror): PhoneCall[] {
  return [...m.calls.values()].map((c) => projectCall(c, ctx))
}

/** The views of the only call, keyed by extension, as `status` numbers. */
function statuses (m: Mirror): Record<string, number> {
  const all = calls(m)
  const out: Record<string, number> = {}
  for (const pc of all) for (const v of pc.phoneCallView) out[v.extension] = v.status
  return out
}

/** Applies events up to and including the first one that matches. */
function applyUntil (m: Mirror, events: AmiEvent[], from: number, match: (e: AmiEvent) => boolean): number {
  for (let i = from; i < events.length; i++) {
    m.apply(events[i] as AmiEvent)
    if (match(events[i] as AmiEvent)) return i + 1
  }
  throw new Error('no event matched')
}

const is = (name: string, uniqueid?: string, extra?: (e: AmiEvent) => boolean) => (e: AmiEvent) =>
  e.event === name && (uniqueid === undefined || e.uniqueid === uniqueid) && (extra === undefined || extra(e))

t.test('a ringing call shows the callee ringing and the caller waiting, then both on call, then nothing', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('basic-call-answered')
  const ringing = ev.find(is('Newstate', undefined, (e) => e.channelstate === '5'))
  t.ok(ringing, 'the recording has the callee ringing')
  let i = applyUntil(m, ev, 0, (e) => e === ringing)
  t.equal(m.size, 1, 'one call')
  const [pc] = calls(m)
  t.same(statuses(m), { '0003*300': 4, '0003*210': 3 })
  const callee = pc?.phoneCallView.find((v) => v.extension === '0003*210')
  t.same(callee?.source, ['0003*300'])
  t.same(callee?.destination, ['0003*210'])
  t.equal(callee?.flow, 2)
  t.ok(callee?.ringing, 'ringing time is given while ringing')
  t.equal(callee?.callerId, 'Caller 0003*300 <0003*300>', 'the callee sees the caller')
  const caller = pc?.phoneCallView.find((v) => v.extension === '0003*300')
  t.same(caller?.destination, ['0003*210'])
  t.equal(pc?.extension, '0003*300', 'the caller is charged')
  t.equal(pc?.ownerId, '3')
  t.equal(pc?.ownerName, 'Default Organization')
  t.match(pc?.id, /^[0-9a-f]{20}$/)
  i = applyUntil(m, ev, i, is('BridgeEnter'))
  i = applyUntil(m, ev, i, is('BridgeEnter'))
  t.same(statuses(m), { '0003*300': 5, '0003*210': 5 })
  const [answered] = calls(m)
  t.equal(answered?.id, pc?.id, 'the call keeps its id')
  t.notOk(answered?.phoneCallView.find((v) => v.extension === '0003*210')?.ringing, 'no ringing time once answered')
  t.ok(answered?.answered)
  for (; i < ev.length; i++) m.apply(ev[i] as AmiEvent)
  t.equal(m.size, 0, 'no call is left after hangup')
  t.equal(m.legs.size, 0)
  t.equal(m.countForExtension('0003*210'), 0, 'the extension index is empty')
})

t.test('another instance files a picker leg in the picked call once its VN_CALL tag shows, before any Pickup', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('pickup-answered')
  let i = applyUntil(m, ev, 0, is('Newstate', undefined, (e) => e.channelstate === '5'))
  const key = [...m.calls.keys()][0] as string
  const id = calls(m)[0]?.id
  // No expect(): this instance did not send the Originate. Asterisk announces the channel before
  // Originate's variables are set, so the first event has no tag; the engine's recipe adds VN_CALL.
  const tag = (e: AmiEvent): AmiEvent => (e.uniqueid === 'pickup-0001' && e.event !== 'Newchannel' ? { ...e, 'chanvariable.VN_CALL': key } : e)
  i = applyUntil(m, ev.map(tag), i, is('Newchannel', 'pickup-0001'))
  t.equal(m.size, 2, 'untagged, the new leg is a call of its own for a moment')
  i = applyUntil(m, ev.map(tag), i, is('NewCallerid', 'pickup-0001'))
  t.equal(m.size, 1, 'tagged, it joins the picked call')
  t.equal(calls(m)[0]?.id, id, 'which keeps its id')
  t.ok(calls(m)[0]?.phoneCallView.some((v) => v.extension === '0003*024'), '024 shows as a view of it')
  applyUntil(m, ev.map(tag), i, is('Hangup', 'pickup-0001'))
  t.equal(m.size, 0, 'and everything ends with the call')
})

t.test('a pickup replaces the ringing leg with the picker and keeps the call id', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('pickup-answered')
  let i = applyUntil(m, ev, 0, is('Newstate', undefined, (e) => e.channelstate === '5'))
  const before = calls(m)
  t.equal(before.length, 1)
  const id = before[0]?.id
  const ringingView = before[0]?.phoneCallView.find((v) => v.extension === '0003*210')
  t.equal(ringingView?.id, '01', 'the callee is view 01 as on the PickUp page')
  // The engine registers the leg it originates, so it joins the call from its first event.
  m.expect('pickup-0001', [...m.calls.keys()][0] as string)
  i = applyUntil(m, ev, i, is('Newchannel', 'pickup-0001'))
  t.equal(m.size, 1, 'the picker joins the picked call at once')
  i = applyUntil(m, ev, i, is('NewConnectedLine', 'pickup-0001'))
  const picking = calls(m)[0]
  t.equal(picking?.phoneCallView.find((v) => v.extension === '0003*024')?.callerId, 'John Doe <42420042>', 'the picker is shown the requested caller id')
  i = applyUntil(m, ev, i, is('Pickup'))
  i = applyUntil(m, ev, i, is('Hangup', '1795842829.11'))
  const after = calls(m)
  t.equal(after.length, 1)
  t.equal(after[0]?.id, id, 'same call id after the pickup')
  t.notOk(after[0]?.phoneCallView.find((v) => v.extension === '0003*210'), 'the picked leg is gone')
  t.equal(m.countForExtension('0003*210'), 1, '210 still finds the call it took part in')
  t.equal(projectCall(m.calls.values().next().value as never, ctx, '0003*210').extension, '0003*210', 'seen from 210, the call is 210\'s')
  const picker = after[0]?.phoneCallView.find((v) => v.extension === '0003*024')
  t.same(picker?.source, ['0003*300'], 'the picker talks to the original caller')
  t.equal(picker?.id, '02', 'the picker is a new view')
  i = applyUntil(m, ev, i, is('BridgeEnter', '1795842829.10'))
  t.same(statuses(m), { '0003*300': 5, '0003*024': 5 })
  t.equal(calls(m)[0]?.id, id)
  const leg = m.legs.get('pickup-0001')
  t.equal(leg?.bridgeId, m.legs.get('1795842829.10')?.bridgeId, 'caller and picker are in the same bridge')
  for (; i < ev.length; i++) m.apply(ev[i] as AmiEvent)
  t.equal(m.size, 0)
})

t.test('without the engine hint, a picker is its own call until the Pickup event merges it', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('pickup-answered')
  let i = applyUntil(m, ev, 0, is('Newchannel', 'pickup-0001'))
  t.equal(m.size, 2)
  const id = m.callOfLeg('1795842829.11')?.id
  i = applyUntil(m, ev, i, is('Pickup'))
  t.equal(m.size, 1)
  t.equal(m.callOfLeg('pickup-0001')?.id, id)
  for (; i < ev.length; i++) m.apply(ev[i] as AmiEvent)
  t.equal(m.size, 0)
})

t.test('an unanswered pickup leaves the original call ringing', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('pickup-no-answer')
  const hangups: string[] = []
  m.on('hangup', (leg) => hangups.push(leg.uniqueid))
  applyUntil(m, ev, 0, is('Hangup', 'pickup-0002'))
  t.same(hangups, ['pickup-0002'])
  t.same(statuses(m), { '0003*300': 4, '0003*210': 3 })
})

t.test('a lost pickup race shows the call answered by the original callee', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('pickup-lost-race')
  let pickups = 0
  m.on('pickup', () => pickups++)
  applyUntil(m, ev, 0, is('Hangup', 'pickup-0003'))
  t.equal(pickups, 0, 'no Pickup event')
  t.same(statuses(m), { '0003*300': 5, '0003*210': 5 })
})

t.test('a blind transfer keeps the call and connects the transferee to the new party', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('blind-transfer')
  let i = applyUntil(m, ev, 0, is('BridgeEnter', '1795842848.19'))
  const id = calls(m)[0]?.id
  const transfers: AmiEvent[] = []
  m.on('transfer', (e) => transfers.push(e))
  i = applyUntil(m, ev, i, (e) => e.event === 'BridgeEnter' && e.uniqueid === '1795842848.19')
  t.equal(transfers.length, 1)
  t.same(statuses(m), { '0003*300': 5, '0003*024': 5 })
  t.equal(calls(m)[0]?.id, id, 'same call id')
  t.equal(m.size, 1)
  for (; i < ev.length; i++) m.apply(ev[i] as AmiEvent)
  t.equal(m.size, 0)
})

t.test('a click-to-call to a public number is an outgoing public call of the source', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('click-to-call-public')
  applyUntil(m, ev, 0, is('OriginateResponse'))
  const [pc] = calls(m)
  const view = pc?.phoneCallView[0]
  t.equal(pc?.phoneCallView.length, 1)
  t.equal(view?.extension, '0003*300')
  t.same(view?.source, ['0003*300'])
  t.same(view?.destination, ['42420042'])
  t.equal(view?.flow, 4)
  t.equal(view?.status, 5)
})

t.test('a snapshot rebuilds calls, dial relations and statuses', async (t) => {
  const m = newMirror()
  const items = fixtureEvents('snapshot-mixed').filter((e) => e.event === 'CoreShowChannel')
  t.equal(items.length, 4)
  const drift = m.applySnapshot(items)
  t.same(drift, { added: 4, removed: 0 })
  t.equal(m.size, 2)
  t.same(statuses(m), { '0003*300': 4, '0003*210': 3, '0003*301': 5, '0003*024': 5 })
  const ringing = calls(m).find((c) => c.phoneCallView.some((v) => v.extension === '0003*210'))
  t.same(ringing?.phoneCallView.map((v) => [v.id, v.extension]), [['00', '0003*300'], ['01', '0003*210']], 'view ids follow creation order')
  t.same(ringing?.phoneCallView.find((v) => v.extension === '0003*210')?.source, ['0003*300'])
})

t.test('a snapshot drops legs Asterisk no longer has and keeps known legs and their view ids', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('basic-call-answered')
  applyUntil(m, ev, 0, is('BridgeEnter'))
  const before = calls(m)[0]
  const snapshot = [...m.legs.values()].filter(() => true).map((l) => ({
    event: 'CoreShowChannel',
    uniqueid: l.uniqueid,
    linkedid: l.linkedid,
    channel: l.channel,
    channelstate: String(l.state),
    calleridnum: l.callerNum,
    calleridname: l.callerName,
    connectedlinenum: l.connectedNum,
    connectedlinename: l.connectedName,
    application: l.role === 'callee' ? 'AppDial' : 'Dial',
    duration: '00:00:03',
    bridgeid: ''
  }))
  t.equal(m.applySnapshot(snapshot).removed, 0)
  t.same(calls(m)[0]?.phoneCallView.map((v) => v.id), before?.phoneCallView.map((v) => v.id))
  const drift = m.applySnapshot(snapshot.filter((s) => s.application === 'Dial'))
  t.same(drift, { added: 0, removed: 1 })
  t.equal(calls(m)[0]?.phoneCallView.length, 1)
  t.equal(m.applySnapshot([]).removed, 1)
  t.equal(m.size, 0)
})

/** Final and checkpoint states of a scenario must not depend on duplicates or local reordering. */
function finalState (events: AmiEvent[]): { size: number, legs: number } {
  const m = newMirror()
  for (const e of events) m.apply(e)
  return { size: m.size, legs: m.legs.size }
}

for (const name of ['basic-call-answered', 'caller-abandons', 'pickup-answered', 'pickup-no-answer', 'pickup-lost-race', 'blind-transfer', 'click-to-call-public']) {
  t.test(`${name}: duplicated events change nothing`, async (t) => {
    const ev = fixtureEvents(name)
    const doubled = ev.flatMap((e) => [e, e])
    t.same(finalState(doubled), { size: 0, legs: 0 })
    // Checkpoint: the state after every prefix equals the state with each event doubled.
    const a = newMirror()
    const b = newMirror()
    for (const e of ev) {
      a.apply(e)
      b.apply(e); b.apply(e)
    }
    t.same(calls(b), calls(a))
  })

  t.test(`${name}: reordered neighbours never resurrect a hung-up leg`, async (t) => {
    const ev = fixtureEvents(name)
    // Swap every pair of neighbours (a worst case of wazo-style in-batch reversal).
    for (const offset of [0, 1]) {
      const swapped = ev.slice()
      for (let i = offset; i + 1 < swapped.length; i += 2) {
        const tmp = swapped[i] as AmiEvent
        swapped[i] = swapped[i + 1] as AmiEvent
        swapped[i + 1] = tmp
      }
      const hungUp = new Set(ev.filter((e) => e.event === 'Hangup').map((e) => e.uniqueid))
      const m = newMirror()
      for (const e of swapped) m.apply(e)
      for (const id of hungUp) t.notOk(m.legs.has(id as string), `leg ${id} stays gone`)
      t.equal(m.legs.size, 0, `no leg is left (offset ${offset})`)
    }
  })
}

t.test('a late event after the hangup does not bring a leg back', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('caller-abandons')
  for (const e of ev) m.apply(e)
  const late = ev.find(is('Newstate'))
  t.ok(late)
  m.apply(late as AmiEvent)
  t.equal(m.legs.size, 0)
  t.ok(m.isTombstoned(late?.uniqueid as string))
})

t.test('state only moves forward on ambiguous order', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('basic-call-answered')
  applyUntil(m, ev, 0, is('BridgeEnter'))
  const ringing = ev.find(is('Newstate', undefined, (e) => e.channelstate === '5')) as AmiEvent
  m.apply(ringing)
  t.equal(statuses(m)['0003*210'], 5, 'an old Ringing does not undo Up')
})

t.test('call ids are stable, opaque and differ between calls', async (t) => {
  const derive = callIdDeriver('k')
  t.equal(derive('1795842829.10'), derive('1795842829.10'))
  t.not(derive('1795842829.10'), derive('1795842829.11'))
  t.not(callIdDeriver('other')('1795842829.10'), derive('1795842829.10'), 'the secret matters')
  // Ids are public and shared between engine instances: their derivation must never change.
  t.equal(derive('1795842829.10'), createHmac('sha256', 'k').update('1795842829.10').digest('hex').slice(0, 20))
  t.equal(derivedNonce('k', '1795842829.10'), createHmac('sha256', 'k').update('nonce\0' + '1795842829.10').digest('hex').slice(0, 32))
})

t.test('Local channels join the call but never show as parties', async (t) => {
  const m = newMirror()
  const ev = (e: Record<string, string>): void => m.apply({ event: 'Newchannel', channelstate: '0', ...e } as AmiEvent)
  // 300 dials through a Local pair (as a queue or a follow-me would), whose ;2 half dials 210.
  ev({ uniqueid: 'L.1', linkedid: 'L.1', channel: 'PJSIP/0003*300-00000001', channelstate: '4', exten: '0003*210' })
  ev({ uniqueid: 'L.2', linkedid: 'L.1', channel: 'Local/0003*210@vn-internal-00000001;1' })
  ev({ uniqueid: 'L.3', linkedid: 'L.1', channel: 'Local/0003*210@vn-internal-00000001;2' })
  ev({ uniqueid: 'L.4', linkedid: 'L.1', channel: 'PJSIP/0003*210-00000002' })
  m.apply({ event: 'DialBegin', uniqueid: 'L.1', destuniqueid: 'L.2', linkedid: 'L.1', destlinkedid: 'L.1' } as AmiEvent)
  m.apply({ event: 'DialBegin', uniqueid: 'L.3', destuniqueid: 'L.4', linkedid: 'L.1', destlinkedid: 'L.1' } as AmiEvent)
  m.apply({ event: 'Newstate', uniqueid: 'L.4', linkedid: 'L.1', channel: 'PJSIP/0003*210-00000002', channelstate: '5' } as AmiEvent)
  t.equal(m.size, 1, 'one call')
  t.equal(m.legs.size, 4, 'the mirror tracks all four channels')
  const [pc] = calls(m)
  t.same(pc?.phoneCallView.map((v) => v.extension), ['0003*300', '0003*210'], 'only the two phones are parties')
  t.same(pc?.phoneCallView.map((v) => v.id), ['00', '01'], 'Local legs take no view id')
  t.equal(statuses(m)['0003*210'], 3)
  // The Local pair optimises away: its halves hang up, the phones stay in the call.
  m.apply({ event: 'Hangup', uniqueid: 'L.2', linkedid: 'L.1', channel: 'Local/0003*210@vn-internal-00000001;1', cause: '16' } as AmiEvent)
  m.apply({ event: 'Hangup', uniqueid: 'L.3', linkedid: 'L.1', channel: 'Local/0003*210@vn-internal-00000001;2', cause: '16' } as AmiEvent)
  t.equal(calls(m)[0]?.id, pc?.id, 'same call')
  t.equal(calls(m)[0]?.phoneCallView.length, 2)
})

t.test('Hold marks the holding party as holder and its bridge peer as on hold; Unhold clears both', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('basic-call-answered')
  // Up to the second BridgeEnter: both parties are in the bridge.
  applyUntil(m, ev, applyUntil(m, ev, 0, is('BridgeEnter')), is('BridgeEnter'))
  const caller = [...m.legs.values()].find((l) => l.party?.extension === '0003*300')
  m.apply({ event: 'Hold', uniqueid: caller?.uniqueid, linkedid: caller?.linkedid, channel: caller?.channel, timestamp: '1795842830.5' } as AmiEvent)
  const held = calls(m)[0]
  const holder = held?.phoneCallView.find((v) => v.extension === '0003*300')
  const peer = held?.phoneCallView.find((v) => v.extension === '0003*210')
  t.equal(holder?.onHold, '2026-11-28T05:13:50Z', 'when the call was put on hold (Asterisk\'s time)')
  t.equal(holder?.holder, 1, '300 put the call on hold')
  t.equal(peer?.onHold, holder?.onHold, '210 is on hold too')
  t.notOk(peer?.holder, '210 is not the holder')
  m.apply({ event: 'Unhold', uniqueid: caller?.uniqueid, linkedid: caller?.linkedid, channel: caller?.channel } as AmiEvent)
  const after = calls(m)[0]
  t.notOk(after?.phoneCallView.some((v) => v.onHold !== undefined || v.holder !== undefined), 'nothing is on hold')
})

t.test('MixMonitorStart shows recording (Asterisk\'s time) on every view of the call; MixMonitorStop clears it', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('basic-call-answered')
  applyUntil(m, ev, applyUntil(m, ev, 0, is('BridgeEnter')), is('BridgeEnter'))
  const callee = [...m.legs.values()].find((l) => l.party?.extension === '0003*210') as Leg
  const seen: Array<[string, boolean]> = []
  m.on('recording', (leg, active) => seen.push([leg.uniqueid, active]))
  const mix = (event: string, timestamp: string): AmiEvent => ({ event, uniqueid: callee.uniqueid, linkedid: callee.linkedid, channel: callee.channel, channelstate: '6', timestamp } as AmiEvent)
  m.apply(mix('MixMonitorStart', '1795842830.5'))
  const recorded = calls(m)[0]
  t.same(recorded?.phoneCallView.map((v) => v.recording), ['2026-11-28T05:13:50Z', '2026-11-28T05:13:50Z'], 'both views show since when the call is recorded')
  // A second MixMonitor on the channel (e.g. one the dialplan started) keeps the first time.
  m.apply(mix('MixMonitorStart', '1795842832.0'))
  t.equal(calls(m)[0]?.phoneCallView[0]?.recording, '2026-11-28T05:13:50Z')
  m.apply(mix('MixMonitorStop', '1795842833.0'))
  t.notOk(calls(m)[0]?.phoneCallView.some((v) => v.recording !== undefined), 'no view shows recording once stopped')
  t.same(seen, [[callee.uniqueid, true], [callee.uniqueid, true], [callee.uniqueid, false]], 'the mirror tells actions about each change')
})

t.test('MixMonitor events of an unknown or hung-up channel change nothing', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('basic-call-answered')
  for (const e of ev) m.apply(e)
  t.equal(m.size, 0, 'the call is over')
  const hungUp = ev.find(is('Hangup')) as AmiEvent
  m.apply({ event: 'MixMonitorStop', uniqueid: hungUp.uniqueid, linkedid: hungUp.linkedid, channel: hungUp.channel } as AmiEvent)
  t.equal(m.size, 0, 'a late MixMonitorStop (sent after the Hangup) does not bring the leg back')
})
