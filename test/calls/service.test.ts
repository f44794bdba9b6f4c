import t from 'tap'
import { EventEmitter } from 'node:events'
import { Mirror, type Party } from '../../src/calls/mirror.ts'
import { CallService, type CallSelection } from '../../src/calls/service.ts'
import type { MirrorSync } from '../../src/calls/sync.ts'
import type { AmiClient, AmiEvent } from '../../src/ami/index.ts'
import { callIdDeriver } from '../../src/calls/call-id.ts'

const resolve = (_tech: string, resource: string): Party | undefined => {
  const m = /^(\d{4})\*\d+$/.exec(resource)
  return m !== null ? { extension: resource, organizationId: String(Number(m[1])) } : undefined
}

/** n ringing calls from `from` to `to`, created in order. */
function ringing (m: Mirror, n: number, from: string, to: string, tag: string): string[] {
  const keys: string[] = []
  for (let i = 0; i < n; i++) {
    const a = `${tag}.${i}a`
    const b = `${tag}.${i}b`
    m.apply({ event: 'Newchannel', uniqueid: a, linkedid: a, channel: `PJSIP/${from}-a${i}`, channelstate: '4' } as AmiEvent)
    m.apply({ event: 'Newchannel', uniqueid: b, linkedid: a, channel: `PJSIP/${to}-b${i}`, channelstate: '0' } as AmiEvent)
    m.apply({ event: 'DialBegin', uniqueid: a, destuniqueid: b, linkedid: a, destlinkedid: a } as AmiEvent)
    keys.push(a)
  }
  return keys
}

function service (m: Mirror): CallService {
  return new CallService(new EventEmitter() as unknown as AmiClient, m, new EventEmitter() as unknown as MirrorSync, { organizationName: () => 'Org', nonceSecret: 'n' })
}

t.test('a page of an organization reads its slice of the index, oldest first, with the right total', async (t) => {
  const m = new Mirror(resolve, callIdDeriver('secret-secret-secret'))
  const keys = ringing(m, 30, '0003*300', '0003*301', 'x')
  ringing(m, 5, '0004*100', '0004*101', 'y')
  const calls = service(m)
  const org3: CallSelection = { kind: 'organization', organizationId: '3' }
  const source = calls.source(org3)
  const page = (start: number, count: number, descending: boolean): string[] => source.list(undefined, start, count, descending).calls.map((c) => c.key)
  const total = (selection: CallSelection): number => calls.source(selection).list(undefined, 0, 1, false).total
  t.equal(total(org3), 30)
  t.same(page(10, 5, false), keys.slice(10, 15))
  t.same(page(0, 3, true), keys.slice(-3).reverse())
  t.same(page(28, 20, false), keys.slice(28))
  t.same(page(0, 100, false), keys)
  t.same(calls.select(org3).map((c) => c.key), keys)
  t.equal(total({ kind: 'all' }), 35)
  t.equal(total({ kind: 'extensions', extensions: ['0003*301'] }), 30)
  t.equal(total({ kind: 'extensions', extensions: ['0003*210'] }), 0)
  t.equal(total({ kind: 'extensions', extensions: ['0003*300', '0004*100'] }), 35, 'several extensions: the union')
})

t.test('a call is visible to a selection only through one of its parties', async (t) => {
  const m = new Mirror(resolve, callIdDeriver('secret-secret-secret'))
  const [key] = ringing(m, 1, '0003*300', '0003*210', 'z')
  const calls = service(m)
  const call = m.calls.get(key as string)
  t.ok(call)
  const id = call?.id as string
  t.ok(calls.find(id, { kind: 'extensions', extensions: ['0003*210'] }))
  t.ok(calls.find(id, { kind: 'organization', organizationId: '3' }))
  t.notOk(calls.find(id, { kind: 'organization', organizationId: '4' }))
  t.notOk(calls.find(id, { kind: 'extensions', extensions: ['0004*100'] }))
})

t.test('acting needs authority over a current party; seeing only one over a past party', async (t) => {
  const m = new Mirror(resolve, callIdDeriver('secret-secret-secret'))
  const [key] = ringing(m, 1, '0003*300', '0003*210', 'p')
  const calls = service(m)
  const call = m.calls.get(key as string)
  if (call === undefined) throw new Error('no call')
  const via210: CallSelection = { kind: 'extensions', extensions: ['0003*210'] }
  const via024: CallSelection = { kind: 'extensions', extensions: ['0003*024'] }
  const org3: CallSelection = { kind: 'organization', organizationId: '3' }
  const org4: CallSelection = { kind: 'organization', organizationId: '4' }
  t.ok(calls.sees(call, via210) && calls.mayActOn(call, via210), '210 rings: it sees and may act')
  // 210's leg is gone (picked up by 024): 210 still sees the call, but is no party any more.
  m.apply({ event: 'Newchannel', uniqueid: 'pk', linkedid: 'pk', channel: 'PJSIP/0003*024-c', channelstate: '6' } as AmiEvent)
  m.apply({ event: 'Pickup', uniqueid: 'pk', linkedid: 'pk', channel: 'PJSIP/0003*024-c', targetuniqueid: 'p.0b', targetlinkedid: 'p.0a' } as AmiEvent)
  m.apply({ event: 'Hangup', uniqueid: 'p.0b', linkedid: 'p.0a', channel: 'PJSIP/0003*210-b0', cause: '16' } as AmiEvent)
  t.equal(m.calls.get(key as string), call, 'the same call')
  t.ok(calls.sees(call, via210), '210 still sees it')
  t.notOk(calls.mayActOn(call, via210), 'but may not act on it')
  t.ok(calls.mayActOn(call, via024), '024 may')
  t.ok(calls.mayActOn(call, org3), 'organization 3 may')
  t.notOk(calls.sees(call, org4) || calls.mayActOn(call, org4), 'organization 4 neither sees nor acts')
  t.ok(calls.mayActOn(call, { kind: 'all' }), 'the admin may')
})
