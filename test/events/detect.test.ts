// Call events from the mirror's change signal, on streams recorded from a real Asterisk 22.
import t from 'tap'
import { Mirror, callIdDeriver, type CallChange, type Party } from '../../src/calls/index.ts'
import { CallEventDetector, type DetectedCallEvent as CallEvent } from '../../src/events/detect.ts'
import { fixtureEvents } from '../helpers/fixtures.ts'

const resolve = (tech: string, resource: string): Party | undefined => {
  const m = /^(\d{4})\*\d+$/.exec(resource)
  return tech === 'PJSIP' && m !== null ? { extension: resource, organizationId: String(Number(m[1])) } : undefined
}

function replay (name: string): { events: CallEvent[], changes: CallChange[], mirror: Mirror } {
  const mirror = new Mirror(resolve, callIdDeriver('test-secret'))
  const events: CallEvent[] = []
  const changes: CallChange[] = []
  mirror.on('change', (c) => { changes.push({ ...c }) }) // the mirror reuses its signal object
  const detector = new CallEventDetector(mirror, (e) => { events.push(e) })
  for (const e of fixtureEvents(name)) mirror.apply(e)
  detector.close()
  return { events, changes, mirror }
}

const brief = (e: CallEvent): string => `${e.extension} ${e.type} ${e.params.CallStatus} ${e.params.CallFlow}`

t.test('basic call: 300 calls 210, 210 answers, 300 hangs up', async (t) => {
  const { events, changes } = replay('basic-call-answered')
  t.same(events.map(brief).sort(), [
    '0003*210 0 CALLING IN',
    '0003*210 2 ANSWER IN',
    '0003*210 3 ANSWER IN',
    '0003*300 1 CALLING OUT',
    '0003*300 2 ANSWER OUT',
    '0003*300 4 ANSWER OUT'
  ], 'each type once per leg')
  t.ok(events.findIndex((e) => e.type === 0) < events.findIndex((e) => e.type === 3), 'Dial-In before Answer')
  const byType = (ext: string, type: number): CallEvent | undefined => events.find((e) => e.extension === ext && e.type === type)
  const dialIn = byType('0003*210', 0)
  t.ok(dialIn, 'Dial-In for 210')
  t.match(dialIn?.params, { CallStatus: 'CALLING', CallFlow: 'IN', CalledExtension: '0003*210', CallerExtension: '0003*300', CallerIDNum: '0003*300' })
  t.equal(dialIn?.params.CallAPIID.length, 20, 'CallAPIID is the PhoneCall id')
  t.match(byType('0003*300', 1)?.params, { CallFlow: 'OUT', CallerExtension: '0003*300', CalledExtension: '0003*210', CalledNumber: '0003*210' })
  t.equal(byType('0003*210', 2)?.params.CallStatus, 'ANSWER')
  t.equal(new Set(events.map((e) => e.key)).size, events.length, 'keys are unique')
  t.ok(events.every((e) => /^\d+\.\d+:[0-4]$/.test(e.key)), 'keys are made of Asterisk uniqueids and the type')
  // The change signal: the call appears, rings, is answered, bridged and ends, in that order.
  const kinds = changes.map((c) => c.kind)
  for (const k of ['leg', 'dial-begin', 'state', 'dial-end', 'bridge', 'leg-left', 'ended'] as const) t.ok(kinds.includes(k), `signals ${k}`)
  t.equal(kinds.at(-1), 'ended', 'ended last')
  t.equal(kinds.filter((k) => k === 'ended').length, 1, 'ended once')
  t.ok(changes.every((c) => c.at > 1_600_000_000_000), 'stamped with Asterisk time')
})

t.test('caller abandons: 210 rang and never answered', async (t) => {
  const { events } = replay('caller-abandons')
  const of210 = events.filter((e) => e.extension === '0003*210').map((e) => `${e.type} ${e.params.CallStatus}`)
  t.same(of210, ['0 CALLING', '2 UNKNOWN'])
  t.notOk(events.some((e) => e.type === 3 || e.type === 4), 'no answer events')
})

t.test('pickup: the picker gets Dial-In and Answer incoming, the picked phone Hangup UNKNOWN', async (t) => {
  const { events } = replay('pickup-answered')
  const of = (ext: string): string[] => events.filter((e) => e.extension === ext).map((e) => `${e.type} ${e.params.CallStatus}`)
  t.same(of('0003*210'), ['0 CALLING', '2 UNKNOWN'])
  t.same(of('0003*024').slice(0, 2).sort(), ['0 CALLING', '3 ANSWER'])
  t.equal(of('0003*024').at(-1), '2 ANSWER')
  const pickedIn = events.find((e) => e.extension === '0003*024' && e.type === 0)
  t.equal(pickedIn?.params.CallerExtension, '0003*300', 'the picker sees the caller')
})

t.test('click-to-call: the source is rung by the PBX, which is not Dial-In', async (t) => {
  // Recorded straight into the simulated public network (Echo, no Dial): no Dial-Out either; the
  // bundled dialplan dials public numbers (vn-public), which the real-PBX test covers.
  const { events } = replay('click-to-call-public')
  const of300 = events.filter((e) => e.extension === '0003*300').map((e) => `${e.type} ${e.params.CallStatus} ${e.params.CallFlow}`)
  t.same(of300, ['2 ANSWER OUT'])
})

t.test('blind transfer: the target is rung (Dial-In)', async (t) => {
  const { events } = replay('blind-transfer')
  t.ok(events.some((e) => e.extension === '0003*024' && e.type === 0), 'Dial-In for 024')
  t.ok(events.some((e) => e.extension === '0003*210' && e.type === 2), 'Hangup for 210')
})

t.test('a callee that rings before DialBegin (Asterisk 22 under load) still gets Dial-In, once', async (t) => {
  const mirror = new Mirror(resolve, callIdDeriver('test-secret'))
  const events: CallEvent[] = []
  const detector = new CallEventDetector(mirror, (e) => { events.push(e) })
  const all = fixtureEvents('basic-call-answered')
  // Move 210's Newstate Ringing in front of the DialBegin, as recorded on a loaded Asterisk.
  const ringing = all.findIndex((e) => e.event === 'Newstate' && e.channelstate === '5' && e.channel?.startsWith('PJSIP/0003*210') === true)
  const dialBegin = all.findIndex((e) => e.event === 'DialBegin')
  t.ok(ringing > dialBegin, 'recorded after DialBegin')
  const reordered = [...all.slice(0, dialBegin), all[ringing], ...all.slice(dialBegin, ringing), ...all.slice(ringing + 1)]
  for (const e of reordered) mirror.apply(e as (typeof all)[number])
  detector.close()
  t.same(events.filter((e) => e.extension === '0003*210').map((e) => e.type), [0, 3, 2])
})
