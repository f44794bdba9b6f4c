// The mirror's hold and park state, replayed from AMI streams recorded on the bundled Asterisk 22
// (test/fixtures/ami: hold-offhold, park-timeout, park-unpark), also with events repeated and
// late: what List shows (onHold/holder, parked/parkedPos/parkedBy) comes from Asterisk's events.
import t from 'tap'
import { Mirror, type Party } from '../../src/calls/mirror.ts'
import { projectCall } from '../../src/calls/views.ts'
import { callIdDeriver } from '../../src/calls/call-id.ts'
import type { PhoneCall, PhoneCallView } from '../../src/calls/phone-call.ts'
import type { AmiEvent } from '../../src/ami/index.ts'
import { fixtureEvents } from '../helpers/fixtures.ts'

const resolve = (tech: string, resource: string): Party | undefined => {
  const m = /^(\d{4})\*\d+$/.exec(resource)
  return tech === 'PJSIP' && m !== null ? { extension: resource, organizationId: String(Number(m[1])) } : undefined
}
const ctx = { organizationName: () => 'Default Organization', nonceSecret: 'n' }
const newMirror = (): Mirror => new Mirror(resolve, callIdDeriver('test-secret'))
const calls = (m: Mirror): PhoneCall[] => [...m.calls.values()].map((c) => projectCall(c, ctx))
const view = (m: Mirror, extension: string): PhoneCallView | undefined => {
  for (const pc of calls(m)) for (const v of pc.phoneCallView) if (v.extension === extension) return v
  return undefined
}
const on = (ext: string) => (e: AmiEvent): boolean => (e.channel ?? e.parkeechannel ?? '').startsWith(`PJSIP/${ext}-`)

/** Applies events (each `times` times) up to and including the nth (default first) that matches. */
function applyUntil (m: Mirror, events: AmiEvent[], from: number, match: (e: AmiEvent) => boolean, times = 1): number {
  for (let i = from; i < events.length; i++) {
    for (let k = 0; k < times; k++) m.apply(events[i] as AmiEvent)
    if (match(events[i] as AmiEvent)) return i + 1
  }
  throw new Error('no event matched')
}
const is = (name: string, extra?: (e: AmiEvent) => boolean) => (e: AmiEvent): boolean => e.event === name && (extra === undefined || extra(e))

for (const times of [1, 2]) {
  t.test(`OnHold: music for 300 shows 300 on hold and 210 as the holder, until the music stops${times === 2 ? ' (every event twice)' : ''}`, async (t) => {
    const m = newMirror()
    const ev = fixtureEvents('hold-offhold')
    let i = applyUntil(m, ev, 0, is('BridgeEnter', on('0003*300')), times)
    t.notOk(view(m, '0003*300')?.onHold, 'talking: not on hold')
    i = applyUntil(m, ev, i, is('MusicOnHoldStart', on('0003*300')), times)
    const held = view(m, '0003*300')
    const holder = view(m, '0003*210')
    t.ok(held?.onHold, 'MusicOnHoldStart: 300 is on hold')
    t.notOk(held?.holder, '300 is not the holder')
    t.equal(holder?.holder, 1, '210 (its VN_HOLD_PEER) is the holder')
    t.equal(holder?.onHold, held?.onHold, 'both show when the hold began')
    t.equal(held?.status, 5, 'still on call')
    const startedAt = held?.onHold
    i = applyUntil(m, ev, i, is('MusicOnHoldStop', on('0003*300')), times)
    t.notOk(view(m, '0003*300')?.onHold, 'MusicOnHoldStop: 300 is off hold')
    t.notOk(view(m, '0003*210')?.holder, '210 holds nothing')
    // The second hold of the recording: 210 hangs up while holding, the dialplan ends 300.
    i = applyUntil(m, ev, i, is('MusicOnHoldStart', on('0003*300')), times)
    t.ok(view(m, '0003*300')?.onHold, 'held again')
    t.not(view(m, '0003*300')?.onHold, undefined)
    t.ok(startedAt !== undefined)
    for (; i < ev.length; i++) for (let k = 0; k < times; k++) m.apply(ev[i] as AmiEvent)
    t.equal(m.size, 0, 'no call left once both hung up')
  })
}

t.test('a late MusicOnHoldStart (older than the Stop already applied) does not put the party back on hold', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('hold-offhold')
  const start = ev.find(is('MusicOnHoldStart', on('0003*300'))) as AmiEvent
  applyUntil(m, ev, 0, is('MusicOnHoldStop', on('0003*300')))
  m.apply(start)
  t.notOk(view(m, '0003*300')?.onHold, 'still off hold')
})

t.test('a party in MusicOnHold in a snapshot shows on hold; once a snapshot shows it elsewhere, it is not', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('hold-offhold')
  applyUntil(m, ev, 0, is('MusicOnHoldStart', on('0003*300')))
  const legs = [...m.legs.values()]
  const item = (application: string, leg = legs.find((l) => l.channel.startsWith('PJSIP/0003*300-'))) => ({ event: 'CoreShowChannel', uniqueid: leg?.uniqueid, linkedid: leg?.linkedid, channel: leg?.channel, channelstate: '6', application, duration: '00:00:05' }) as AmiEvent
  const other = legs.find((l) => l.channel.startsWith('PJSIP/0003*210-'))
  const fresh = newMirror()
  fresh.applySnapshot([item('MusicOnHold'), { ...item('Wait', other), 'chanvariable.VN_HOLD_PEER': legs.find((l) => l.channel.startsWith('PJSIP/0003*300-'))?.uniqueid } as AmiEvent])
  t.ok(view(fresh, '0003*300')?.onHold, 'a fresh instance shows 300 on hold')
  m.applySnapshot([{ ...item(''), 'chanvariable.VN_HOLD_PEER': '' } as AmiEvent, item('', other)])
  t.notOk(view(m, '0003*300')?.onHold, 'a snapshot after a missed MusicOnHoldStop clears it')
})

t.test('Park: ParkedCall shows 300 parked at 701 by 210 (not on hold); the timeout takes it out and it rings 210 in the same call', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('park-timeout')
  let i = applyUntil(m, ev, 0, is('ParkedCall'))
  const before = calls(m)[0]
  let v = view(m, '0003*300')
  t.ok(v?.parked, 'parked')
  t.equal(v?.parkedPos, 701)
  t.equal(v?.parkedBy, '0003*210')
  i = applyUntil(m, ev, i, is('MusicOnHoldStart', on('0003*300')))
  t.notOk(view(m, '0003*300')?.onHold, 'the lot\'s music is not a hold')
  i = applyUntil(m, ev, i, is('Hangup', on('0003*210')))
  t.ok(view(m, '0003*300')?.parked, 'still parked once 210 was released')
  t.notOk(view(m, '0003*210'), '210 left the call')
  i = applyUntil(m, ev, i, is('ParkedCallTimeOut'))
  t.notOk(view(m, '0003*300')?.parked, 'the time ran out: no longer parked')
  applyUntil(m, ev, i, is('BridgeEnter', on('0003*210')))
  v = view(m, '0003*210')
  t.equal(m.size, 1, 'one call')
  t.equal(calls(m)[0]?.id, before?.id, 'the ring-back is the same PhoneCall')
  t.same(v?.source, ['0003*300'], '210 was dialed by 300')
  t.equal(v?.status, 5)
})

t.test('UnPark: UnParkedCall takes 300 out of the lot; 024 talks to 300 as if 300 had called it (every event twice, too)', async (t) => {
  for (const times of [1, 2]) {
    const m = newMirror()
    const ev = fixtureEvents('park-unpark')
    let i = applyUntil(m, ev, 0, is('ParkedCall'), times)
    t.equal(view(m, '0003*300')?.parkedPos, 701)
    i = applyUntil(m, ev, i, is('UnParkedCall'), times)
    t.notOk(view(m, '0003*300')?.parked, 'out of the lot')
    const retriever = m.legs.get('up-0001')
    t.equal(retriever?.retrievedFrom, ev.find(is('UnParkedCall'))?.parkeeuniqueid, 'the retriever names the parked leg')
    i = applyUntil(m, ev, i, is('BridgeEnter', on('0003*024')), times)
    // 210 hears the space announced before it is released (recorded after 024's BridgeEnter).
    applyUntil(m, ev, i, is('Hangup', on('0003*210')), times)
    const pc = calls(m).find((c) => c.phoneCallView.some((x) => x.extension === '0003*024'))
    t.ok(pc?.phoneCallView.some((x) => x.extension === '0003*300'), '024 and 300 in one PhoneCall')
    t.same(view(m, '0003*024')?.source, ['0003*300'])
    t.same(view(m, '0003*300')?.destination, ['0003*024'])
  }
})

t.test('a late ParkedCall after the UnParkedCall does not park the call again', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('park-unpark')
  applyUntil(m, ev, 0, is('UnParkedCall'))
  m.apply(ev.find(is('ParkedCall')) as AmiEvent)
  t.notOk(view(m, '0003*300')?.parked)
})

t.test('the ParkedCalls list of a resync parks and unparks legs', async (t) => {
  const m = newMirror()
  const ev = fixtureEvents('park-timeout')
  const parked = ev.find(is('ParkedCall')) as AmiEvent
  // Everything but the ParkedCall itself, up to the moment 210 was released.
  applyUntil(m, ev.filter((e) => e !== parked), 0, is('Hangup', on('0003*210')))
  t.notOk(view(m, '0003*300')?.parked, 'the live event was missed')
  m.applyParkedList([{ ...parked, event: 'ParkedCall', actionid: 'sync-1', parkingduration: '3' }])
  const v = view(m, '0003*300')
  t.equal(v?.parkedPos, 701, 'the list parks 300')
  t.equal(v?.parkedBy, '0003*210')
  m.applyParkedList([])
  t.notOk(view(m, '0003*300')?.parked, 'a list without it unparks it')
})
