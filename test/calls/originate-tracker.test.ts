// The originate tracker following PickUps over the streams a real Asterisk 22 sent (../shared/fixtures/ami): which
// outcome each recorded pickup has, at which event it is known, and which AMI actions the tracker
// itself sends (the Hangup that releases our still-ringing phone). The AMI side is a recorder: the
// tracker only sends actions and listens for disconnects; the events are Asterisk's own.
import t from 'tap'
import { EventEmitter } from 'node:events'
import { Mirror, type Party } from '../../src/calls/mirror.ts'
import { callIdDeriver } from '../../src/calls/call-id.ts'
import { OriginateTracker, type OriginateOutcome } from '../../src/calls/actions/originate-tracker.ts'
import { pickupFollow } from '../../src/calls/actions/pick-up.ts'
import type { AmiClient, AmiEvent, AmiHeaders } from '../../src/ami/index.ts'
import { fixtureEvents } from '../helpers/fixtures.ts'

const resolve = (tech: string, resource: string): Party | undefined => {
  const m = /^(\d{4})\*\d+$/.exec(resource)
  return tech === 'PJSIP' && m !== null ? { extension: resource, organizationId: String(Number(m[1])) } : undefined
}

class RecordingAmi extends EventEmitter {
  readonly sent: Array<{ name: string, headers: AmiHeaders | undefined }> = []
  async action (name: string, headers?: AmiHeaders): Promise<Record<string, string>> {
    this.sent.push({ name, headers })
    return { response: 'Success' }
  }
}

interface Rig { mirror: Mirror, ami: RecordingAmi, tracker: { track: (channelId: string, target: string, deadlineMs: number) => Promise<PickUpOutcome>, busy: (target: string) => boolean } }
type PickUpOutcome = Exclude<OriginateOutcome, 'connected'> | 'picked-up'

function rig (): Rig {
  const mirror = new Mirror(resolve, callIdDeriver('test-secret'))
  const ami = new RecordingAmi()
  const tracker = new OriginateTracker(mirror, ami as unknown as AmiClient)
  return {
    mirror,
    ami,
    tracker: {
      // Exactly what pickUp() does with it.
      track: async (channelId, target, deadlineMs) => await tracker.follow(pickupFollow(channelId, target, deadlineMs)).then((o) => (o === 'connected' ? 'picked-up' : o)),
      busy: (target) => tracker.busy(target)
    }
  }
}

/** Applies the stream event by event; returns the index of the event after which `outcome` settled. */
async function replay (r: Rig, events: AmiEvent[], outcome: Promise<PickUpOutcome>): Promise<{ outcome: PickUpOutcome | undefined, at: number }> {
  let settled: PickUpOutcome | undefined
  void outcome.then((o) => { settled = o })
  for (let i = 0; i < events.length; i++) {
    r.mirror.apply(events[i] as AmiEvent)
    // Let promise reactions (a Ping confirmation, the outcome) run between events, as on a socket.
    for (let k = 0; k < 10; k++) await Promise.resolve()
    if (settled !== undefined) return { outcome: settled, at: i }
  }
  return { outcome: settled, at: -1 }
}

const hangups = (r: Rig): string[] => r.ami.sent.filter((a) => a.name === 'Hangup').map((a) => String(a.headers?.Channel))

t.test('answered elsewhere (pickup-lost-race): target-gone as 210 goes Up, and one Hangup releases our ringing phone', async (t) => {
  const r = rig()
  const events = fixtureEvents('pickup-lost-race')
  const outcome = r.tracker.track('pickup-0003', '1795842841.17', 60_000)
  t.ok(r.tracker.busy('1795842841.17'), 'the view is locked while the pickup is under way')
  const { outcome: got, at } = await replay(r, events, outcome)
  t.equal(got, 'target-gone')
  const e = events[at] as AmiEvent
  t.match(e, { event: 'Newstate', uniqueid: '1795842841.17', channelstate: '6' }, 'known the moment 210 answers, not when our phone hangs up')
  t.ok(r.mirror.legs.get('pickup-0003')?.state !== 6, 'our phone was still ringing then')
  t.same(hangups(r), ['pickup-0003'], 'exactly one Hangup, of our own leg')
  t.notOk(r.tracker.busy('1795842841.17'), 'the lock is released')
  // The rest of the stream (our phone answering late, PickupChan finding nothing) sends nothing more.
  for (const ev of events.slice(at + 1)) r.mirror.apply(ev)
  await Promise.resolve()
  t.same(hangups(r), ['pickup-0003'], 'still one Hangup at the end of the stream')
})

t.test('picked up (pickup-answered): picked-up only once the caller and the picker share a bridge', async (t) => {
  const r = rig()
  const events = fixtureEvents('pickup-answered')
  const outcome = r.tracker.track('pickup-0001', '1795842829.11', 60_000)
  const { outcome: got, at } = await replay(r, events, outcome)
  t.equal(got, 'picked-up')
  const e = events[at] as AmiEvent
  t.equal(e.event, 'BridgeEnter', 'settled by a BridgeEnter, not by the Pickup event')
  const picker = r.mirror.legs.get('pickup-0001')
  const caller = r.mirror.legs.get('1795842829.10')
  t.ok(picker?.bridgeId !== undefined && picker.bridgeId === caller?.bridgeId, '300 and 024 are in one bridge at that moment')
  t.ok(events.slice(0, at).some((x) => x.event === 'Pickup'), 'the Pickup event came before')
  t.same(hangups(r), [], 'the picked leg hanging up after the Pickup event releases nothing')
})

t.test('a Pickup event without the bridge is not yet a pickup', async (t) => {
  const r = rig()
  const events = fixtureEvents('pickup-answered')
  const cut = events.findIndex((e) => e.event === 'BridgeEnter')
  const outcome = r.tracker.track('pickup-0001', '1795842829.11', 60_000)
  const { outcome: got } = await replay(r, events.slice(0, cut), outcome)
  t.equal(got, undefined, 'no outcome from the Pickup event and the picked leg hanging up alone')
})

t.test('not answered (pickup-no-answer): unanswered after Asterisk gives up on our phone', async (t) => {
  const r = rig()
  const events = fixtureEvents('pickup-no-answer')
  const target = events.find((e) => e.event === 'DialBegin' && e.destchannel?.startsWith('PJSIP/0003*210-') === true)?.destuniqueid as string
  const outcome = r.tracker.track('pickup-0002', target, 60_000)
  const { outcome: got, at } = await replay(r, events, outcome)
  t.equal(got, 'unanswered')
  t.ok(at >= 0 && events.slice(0, at + 1).some((e) => e.event === 'OriginateResponse' && e.response === 'Failure'), 'after the OriginateResponse failure')
  t.same(hangups(r), [], 'nothing to release')
  t.ok(r.ami.sent.some((a) => a.name === 'Ping'), 'a Ping confirmed the PBX was there')
})

t.test('the caller gives up (caller-abandons): target-gone, and our leg is hung up as soon as it shows up', async (t) => {
  const r = rig()
  const events = fixtureEvents('caller-abandons')
  const target = events.find((e) => e.event === 'DialBegin')?.destuniqueid as string
  const outcome = r.tracker.track('pk-late', target, 60_000)
  const { outcome: got, at } = await replay(r, events, outcome)
  t.equal(got, 'target-gone')
  t.match(events[at], { event: 'Hangup', uniqueid: target }, 'when the ringing leg hangs up')
  t.same(hangups(r), [], 'our leg has not appeared yet: nothing to hang up so far')
  // Asterisk creates our leg only now (a slow Originate): it is released on sight, once.
  r.mirror.apply({ event: 'Newchannel', channel: 'PJSIP/0003*024-00000099', channelstate: '0', uniqueid: 'pk-late', linkedid: 'pk-late' } as AmiEvent)
  r.mirror.apply({ event: 'Newstate', channel: 'PJSIP/0003*024-00000099', channelstate: '5', uniqueid: 'pk-late', linkedid: 'pk-late' } as AmiEvent)
  t.same(hangups(r), ['pk-late'], 'one Hangup of our leg')
})

t.test('a bridge entered by the ringing leg before any Pickup means answered elsewhere', async (t) => {
  const r = rig()
  const events = fixtureEvents('pickup-lost-race')
  const up = events.findIndex((e) => e.event === 'Newstate' && e.uniqueid === '1795842841.17' && e.channelstate === '6')
  const outcome = r.tracker.track('pickup-0003', '1795842841.17', 60_000)
  const before = await replay(r, events.slice(0, up), outcome)
  t.equal(before.outcome, undefined, 'still under way while 210 rings')
  // As if the state change were missed: the BridgeEnter alone (no channel state in it) decides.
  const enter = { ...events.find((e) => e.event === 'BridgeEnter' && e.uniqueid === '1795842841.17') } as Record<string, string>
  delete enter.channelstate
  const after = await replay(r, [enter as AmiEvent], outcome)
  t.equal(after.outcome, 'target-gone')
  t.same(hangups(r), ['pickup-0003'])
})
