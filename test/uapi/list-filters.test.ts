// List's filters, order and paging over the mirror's indexes, against a naive reference (every live
// call, filtered and sorted by hand) on random call sets: calls created out of order, joined later by
// other extensions, put on hold, hung up.
import t from 'tap'
import fc from 'fast-check'
import { EventEmitter } from 'node:events'
import { CallService, Mirror, callIdDeriver, type Call, type CallSelection, type Party } from '../../src/calls/index.ts'
import type { MirrorSync } from '../../src/calls/sync.ts'
import type { AmiClient, AmiEvent } from '../../src/ami/index.ts'
import { buildCollection, pagingQuery, type ListParams } from '../../src/uapi/collection.ts'

const resolve = (_tech: string, resource: string): Party | undefined => {
  const m = /^(\d{4})\*\d+$/.exec(resource)
  return m !== null ? { extension: resource, organizationId: String(Number(m[1])) } : undefined
}
const EXTENSIONS = ['0003*210', '0003*300', '0003*301', '0004*100', '0004*101']
const T0 = 1_795_842_800 // seconds

type Op =
  | { op: 'call', from: string, to: string, at: number }
  | { op: 'join', pick: number, ext: string }
  | { op: 'hold', pick: number }
  | { op: 'hangup', pick: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('call' as const), from: fc.constantFrom(...EXTENSIONS), to: fc.constantFrom(...EXTENSIONS), at: fc.integer({ min: 0, max: 30_000 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('join' as const), pick: fc.nat(), ext: fc.constantFrom(...EXTENSIONS) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('hold' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('hangup' as const), pick: fc.nat() }) }
)

interface World { readonly mirror: Mirror, readonly calls: CallService, readonly live: Array<{ key: string, legs: string[] }> }

/** Applies the ops as AMI events; every call gets its own millisecond (createdAt), in random order. */
function world (ops: readonly Op[]): World {
  const mirror = new Mirror(resolve, callIdDeriver('secret-secret-secret'))
  const calls = new CallService(new EventEmitter() as unknown as AmiClient, mirror, new EventEmitter() as unknown as MirrorSync, { organizationName: () => 'Org', nonceSecret: 'n' })
  const live: Array<{ key: string, legs: string[] }> = []
  const usedMs = new Set<number>()
  let n = 0
  let clock = T0 + 40
  const ev = (e: Record<string, string>): void => { mirror.apply(e as unknown as AmiEvent) }
  for (const o of ops) {
    const pick = 'pick' in o ? live[o.pick % Math.max(1, live.length)] : undefined
    switch (o.op) {
      case 'call': {
        if (usedMs.has(o.at)) break
        usedMs.add(o.at)
        const ts = (T0 + o.at / 1000).toFixed(3)
        const a = `${T0}.${n++}`
        const b = `${T0}.${n++}`
        ev({ event: 'Newchannel', uniqueid: a, linkedid: a, channel: `PJSIP/${o.from}-${a}`, channelstate: '4', timestamp: ts })
        ev({ event: 'Newchannel', uniqueid: b, linkedid: a, channel: `PJSIP/${o.to}-${b}`, channelstate: '0', timestamp: ts })
        ev({ event: 'DialBegin', uniqueid: a, destuniqueid: b, linkedid: a, destlinkedid: a, timestamp: ts })
        live.push({ key: a, legs: [a, b] })
        break
      }
      case 'join': { // a later leg of another extension joins the call (its linkedid)
        if (pick === undefined) break
        const u = `${T0}.${n++}`
        ev({ event: 'Newchannel', uniqueid: u, linkedid: pick.key, channel: `PJSIP/${o.ext}-${u}`, channelstate: '6', timestamp: String(clock++) })
        pick.legs.push(u)
        break
      }
      case 'hold':
        if (pick !== undefined) ev({ event: 'Hold', uniqueid: pick.legs[0] as string, linkedid: pick.key, timestamp: String(clock++) })
        break
      case 'hangup':
        if (pick === undefined) break
        for (const u of pick.legs) ev({ event: 'Hangup', uniqueid: u, cause: '16', timestamp: String(clock++) })
        live.splice(live.indexOf(pick), 1)
    }
  }
  return { mirror, calls, live }
}

// ---- the reference -------------------------------------------------------------------------------

function sees (call: Call, selection: CallSelection): boolean {
  if (selection.kind === 'all') return true
  for (const [ext, org] of call.parties) {
    if (selection.kind === 'organization' ? org === selection.organizationId : selection.extensions.includes(ext)) return true
  }
  return false
}

/** The filter as the List page describes it: published is createdAt to the second. */
function matches (call: Call, q: ListParams): boolean {
  const op = q.filterOp ?? (q.filterBy === 'id' ? 'contains' : 'equals')
  if (op === 'present') return true
  const value = q.filterValue as string
  if (q.filterBy === 'id') {
    switch (op) {
      case 'equals': return call.id === value
      case 'startsWith': return call.id.startsWith(value)
      case 'inArray': return value.split(',').includes(call.id)
      default: return call.id.includes(value)
    }
  }
  const at = Date.parse(value)
  const published = Math.floor(call.createdAt / 1000) * 1000
  return op === 'greaterThan' ? published > at : op === 'lessThan' ? published < at : published === at
}

const link = (startIndex: number, q: ListParams): string => `L?${pagingQuery(startIndex, q)}`

function reference (mirror: Mirror, selection: CallSelection, q: ListParams): { total: number, ids: string[], next?: string, prev?: string } {
  let calls = [...mirror.calls.values()].filter((c) => sees(c, selection)).sort((a, b) => a.createdAt - b.createdAt)
  if (q.filterBy !== undefined) calls = calls.filter((c) => matches(c, q))
  if (q.sortOrder === 'descending') calls.reverse()
  const start = q.startIndex ?? 0
  const count = q.count ?? 20
  const out: { total: number, ids: string[], next?: string, prev?: string } = { total: calls.length, ids: calls.slice(start, start + count).map((c) => c.id) }
  if (start + count < calls.length) out.next = link(start + count, q)
  if (start > 0) out.prev = link(Math.max(0, start - count), q)
  return out
}

// ---- requests ------------------------------------------------------------------------------------

const SELECTIONS: CallSelection[] = [
  { kind: 'all' },
  { kind: 'organization', organizationId: '3' },
  { kind: 'organization', organizationId: '4' },
  { kind: 'extensions', extensions: ['0003*210'] },
  { kind: 'extensions', extensions: ['0003*300'] },
  { kind: 'extensions', extensions: ['0003*210', '0004*100'] }
]

/** Filter values drawn from the live calls (what a client has) or made up. */
function queryFor (w: World, r: { pick: number, kind: number, len: number, start: number, count: number, order: number, junk: string, frac: boolean }): ListParams {
  const calls = [...w.mirror.calls.values()]
  const c = calls[r.pick % Math.max(1, calls.length)]
  const id = c?.id ?? r.junk
  const pub = c !== undefined ? new Date(Math.floor(c.createdAt / 1000) * 1000 + (r.frac ? 500 : 0)).toISOString() : '2026-11-28T05:13:49Z'
  const off = r.pick % 10
  const paging: ListParams = { startIndex: r.start, count: r.count }
  if (r.order === 1) paging.sortOrder = 'ascending'
  if (r.order === 2) paging.sortOrder = 'descending'
  const id1 = (calls[(r.pick + 1) % Math.max(1, calls.length)])?.id ?? r.junk
  const shapes: ListParams[] = [
    {},
    { fields: 'id,published' },
    { filterBy: 'id', filterOp: 'equals', filterValue: id },
    { filterBy: 'id', filterOp: 'equals', filterValue: r.junk },
    { filterBy: 'id', filterValue: id.slice(off, off + r.len) || r.junk }, // contains by default
    { filterBy: 'id', filterOp: 'contains', filterValue: r.junk },
    { filterBy: 'id', filterOp: 'startsWith', filterValue: id.slice(0, r.len) },
    { filterBy: 'id', filterOp: 'inArray', filterValue: `${id},${r.junk},${id1}` },
    { filterBy: 'id', filterOp: 'present' },
    { filterBy: 'published', filterValue: pub }, // equals by default
    { filterBy: 'published', filterOp: 'greaterThan', filterValue: pub },
    { filterBy: 'published', filterOp: 'lessThan', filterValue: pub },
    { filterBy: 'published', filterOp: 'present' }
  ]
  return { ...paging, ...shapes[r.kind % shapes.length] }
}

const requestArb = fc.record({
  pick: fc.nat(),
  kind: fc.nat(),
  len: fc.integer({ min: 1, max: 9 }),
  start: fc.oneof(fc.constant(0), fc.nat({ max: 40 })),
  count: fc.integer({ min: 1, max: 25 }),
  order: fc.nat({ max: 2 }),
  junk: fc.stringMatching(/^[0-9a-fA-F]{1,6}$/),
  frac: fc.boolean()
})

t.test('List answers exactly like filtering and sorting every live call by hand', async (t) => {
  let checked = 0
  fc.assert(fc.property(fc.array(opArb, { maxLength: 300, size: 'max' }), fc.array(fc.tuple(fc.constantFrom(...SELECTIONS), requestArb), { minLength: 1, maxLength: 25, size: 'max' }), (ops, requests) => {
    const w = world(ops)
    for (const [selection, r] of requests) {
      const q = queryFor(w, r)
      const got = buildCollection(w.calls.source(selection), q, (call) => w.calls.project(call), link)
      const want = reference(w.mirror, selection, q)
      const ids = got.entry.map((e) => e.id as string)
      checked++
      const same = got.totalResults === want.total && ids.join() === want.ids.join() &&
        got.paging?.next === want.next && got.paging?.prev === want.prev && got.filtered === (q.filterBy !== undefined)
      if (!same) {
        throw new Error(`${JSON.stringify(selection)} ${JSON.stringify(q)}: got ${JSON.stringify({ total: got.totalResults, ids, paging: got.paging })}, expected ${JSON.stringify(want)}`)
      }
    }
  }), { numRuns: 150 })
  t.ok(checked > 1000, `${checked} requests checked`)
})

t.test('a call that joins a scope late sits there in publish order', async (t) => {
  // Three calls (at T0 + 1 s, 2 s, 3 s; the third one 0003*301's), then 0003*301 joins the second:
  // that is 301's oldest call although it joined last, and 301's newest is the one created last.
  const ops: Op[] = [
    { op: 'call', from: '0003*300', to: '0003*210', at: 1000 },
    { op: 'call', from: '0003*300', to: '0003*210', at: 2000 },
    { op: 'call', from: '0003*300', to: '0003*301', at: 3000 },
    { op: 'join', pick: 1, ext: '0003*301' }
  ]
  const w = world(ops)
  const ids = [...w.mirror.calls.values()].map((c) => c.id)
  const selection: CallSelection = { kind: 'extensions', extensions: ['0003*301'] }
  const asc = buildCollection(w.calls.source(selection), {}, (call) => w.calls.project(call), link)
  t.same(asc.entry.map((e) => e.id), [ids[1], ids[2]])
  const desc = buildCollection(w.calls.source(selection), { sortOrder: 'descending', count: 1 }, (call) => w.calls.project(call), link)
  t.same(desc.entry.map((e) => e.id), [ids[2]])
  t.equal(desc.paging?.next, link(1, { sortOrder: 'descending', count: 1 }))
})
