// The call indexes against a naive model: random calls created (with ties and out of order), joined by
// parties, and ended; every scope and filter must page exactly like filtering and sorting a list.
import t from 'tap'
import fc from 'fast-check'
import { CallIndex, CallOrder, type CallFilter } from '../../src/calls/call-index.ts'
import type { Call } from '../../src/calls/mirror.ts'

type Op =
  | { op: 'create', id: string, createdAt: number }
  | { op: 'party', pick: number, extension: string }
  | { op: 'drop', pick: number }

const EXTENSIONS = ['0003*210', '0003*300', '0003*301', '0004*100', '0004*101']
const orgOf = (extension: string): string => String(Number(extension.slice(0, 4)))

// Ids from a few hex digits collide on substrings often; now and then one is not hex at all.
const hexId = fc.stringMatching(/^[ab01]{20}$/)
const oddId = fc.stringMatching(/^[ab01X]{1,22}$/)
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('create' as const), id: fc.oneof({ weight: 9, arbitrary: hexId }, { weight: 1, arbitrary: oddId }), createdAt: fc.integer({ min: 0, max: 40 }).map((s) => s * 250) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('party' as const), pick: fc.nat(), extension: fc.constantFrom(...EXTENSIONS) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('drop' as const), pick: fc.nat() }) }
)

interface Model {
  readonly index: CallIndex
  readonly live: Call[]
  /** scope name ("all", "org:3", "ext:0003*210") -> call -> order it joined that scope in */
  readonly joined: Map<string, Map<Call, number>>
}

function fakeCall (id: string, createdAt: number): Call {
  return { key: id, id, legs: new Map(), createdAt, nextView: 0, aliases: [], parties: new Map(), version: 0 }
}

/** `monotonic`: calls are created in time order (as live events make them), ties included. */
function run (ops: readonly Op[], monotonic = false): Model {
  const index = new CallIndex()
  let last = 0
  const live: Call[] = []
  const joined = new Map<string, Map<Call, number>>()
  let seq = 0
  const join = (scope: string, call: Call): void => {
    let m = joined.get(scope)
    if (m === undefined) joined.set(scope, m = new Map())
    if (!m.has(call)) m.set(call, seq++)
  }
  for (const o of ops) {
    if (o.op === 'create') {
      if (live.some((c) => c.id === o.id)) continue // ids are unique among live calls
      last = monotonic ? last + (o.createdAt % 3) * 250 : o.createdAt
      const call = fakeCall(o.id, last)
      live.push(call)
      index.addCall(call)
      join('all', call)
      continue
    }
    const call = live[o.pick % Math.max(1, live.length)]
    if (call === undefined) continue
    if (o.op === 'party') {
      if (call.parties.has(o.extension)) continue
      call.parties.set(o.extension, orgOf(o.extension))
      index.addParty(call, o.extension, orgOf(o.extension))
      join(`ext:${o.extension}`, call)
      join(`org:${orgOf(o.extension)}`, call)
    } else {
      index.dropCall(call)
      live.splice(live.indexOf(call), 1)
      for (const m of joined.values()) m.delete(call)
    }
  }
  return { index, live, joined }
}

/** The naive answer: the scope's calls by createdAt then joining order, filtered, reversed, sliced. */
function naive (model: Model, scope: string, filter: CallFilter, start: number, count: number, descending: boolean): { total: number, ids: string[] } {
  const m = model.joined.get(scope) ?? new Map<Call, number>()
  const keep = (c: Call): boolean => {
    switch (filter.kind) {
      case 'all': return true
      case 'ids': return filter.ids.includes(c.id)
      case 'createdAt': return c.createdAt >= filter.from && c.createdAt < filter.to
      case 'id': return filter.op === 'equals' ? c.id === filter.value : filter.op === 'startsWith' ? c.id.startsWith(filter.value) : c.id.includes(filter.value)
    }
  }
  const calls = [...m.keys()].filter(keep).sort((a, b) => a.createdAt - b.createdAt || (m.get(a) as number) - (m.get(b) as number))
  if (descending) calls.reverse()
  return { total: calls.length, ids: calls.slice(start, start + count).map((c) => c.id) }
}

function orderOf (model: Model, scope: string): CallOrder | undefined {
  if (scope === 'all') return model.index.all
  if (scope.startsWith('org:')) return model.index.organization(scope.slice(4))
  return model.index.extension(scope.slice(4))
}

const SCOPES = ['all', 'org:3', 'org:4', ...EXTENSIONS.map((e) => `ext:${e}`)]

function filterArb (): fc.Arbitrary<CallFilter> {
  const value = fc.oneof(fc.stringMatching(/^[ab01]{1,8}$/), fc.stringMatching(/^[ab01X]{0,4}$/), hexId)
  return fc.oneof(
    fc.constant({ kind: 'all' as const }),
    fc.record({ kind: fc.constant('id' as const), op: fc.constantFrom('equals' as const, 'contains' as const, 'startsWith' as const), value }),
    fc.record({ kind: fc.constant('ids' as const), ids: fc.array(value, { maxLength: 4 }) }),
    fc.record({ kind: fc.constant('createdAt' as const), from: fc.oneof(fc.constant(-Infinity), fc.integer({ min: -100, max: 10_100 })), to: fc.oneof(fc.constant(Infinity), fc.integer({ min: -100, max: 10_100 })) })
  )
}

t.test('every scope and filter pages exactly like the naive list', async (t) => {
  let checks = 0
  fc.assert(fc.property(fc.array(opArb, { maxLength: 600, size: 'max' }), fc.boolean(), fc.array(fc.tuple(fc.constantFrom(...SCOPES), filterArb(), fc.nat({ max: 60 }), fc.integer({ min: 1, max: 30 }), fc.boolean()), { minLength: 1, maxLength: 20 }), (ops, monotonic, queries) => {
    const model = run(ops, monotonic)
    // Filters that name ids use the ids of live calls too (most random ones match nothing).
    for (const [scope, rawFilter, start, count, descending] of queries) {
      const some = model.live[start % Math.max(1, model.live.length)]
      const filter: CallFilter = rawFilter.kind === 'id' && some !== undefined && count % 2 === 0
        ? { ...rawFilter, value: rawFilter.op === 'equals' ? some.id : some.id.slice(start % 5, (start % 5) + 1 + (count % 7)) }
        : rawFilter.kind === 'ids' && some !== undefined ? { kind: 'ids', ids: [...rawFilter.ids, some.id] } : rawFilter
      const expected = naive(model, scope, filter, start, count, descending)
      const order = orderOf(model, scope)
      const got = order === undefined ? { total: 0, ids: [] } : (() => { const p = model.index.query(order, filter, start, count, descending); return { total: p.total, ids: p.calls.map((c) => c.id) } })()
      checks++
      if (got.total !== expected.total || got.ids.join() !== expected.ids.join()) {
        throw new Error(`${scope} ${JSON.stringify(filter)} start ${start} count ${count} desc ${descending}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`)
      }
    }
    // Sizes and the emptied scopes agree too.
    for (const scope of SCOPES) {
      const n = model.joined.get(scope)?.size ?? 0
      const order = orderOf(model, scope)
      if ((order?.size ?? 0) !== n) throw new Error(`${scope}: size ${String(order?.size)}, expected ${n}`)
      if (scope !== 'all' && n === 0 && order !== undefined) throw new Error(`${scope}: an empty scope is kept`)
    }
  }), { numRuns: 300 })
  t.ok(checks > 1000, `${checks} queries checked`)
})

t.test('a scope keeps its order through holes, compaction and late (older) calls', async (t) => {
  const order = new CallOrder()
  const calls = Array.from({ length: 200 }, (_, i) => fakeCall(`c${i}`, i * 10))
  for (const c of calls) order.add(c)
  // Remove most of the old half: holes at the start (paging jumps over them).
  for (let i = 0; i < 100; i++) if (i % 10 !== 0) order.delete(calls[i] as Call)
  const live = calls.filter((_, i) => i >= 100 || i % 10 === 0)
  t.equal(order.size, live.length)
  t.same(order.page(0, 5, false).calls.map((c) => c.id), live.slice(0, 5).map((c) => c.id))
  t.same(order.page(3, 4, true).calls.map((c) => c.id), live.slice().reverse().slice(3, 7).map((c) => c.id))
  // A call created before the newest one joins: it goes to its place (publish order).
  const late = fakeCall('late', 1005)
  order.add(late)
  const all = order.toArray().map((c) => c.id)
  t.equal(all.indexOf('late'), all.indexOf('c100') + 1, 'after the call created just before it')
  t.equal(order.pageCreated(1000, 1010, 0, 10, false).total, 2, 'c100 and the late call')
  t.equal(order.delete(late), true)
  t.equal(order.delete(late), false, 'a call leaves once')
  t.equal(order.pageCreated(1000, 1010, 0, 10, false).total, 1)
  // Then most of the rest: the holes outnumber the calls and are compacted away.
  for (let i = 100; i < 195; i++) order.delete(calls[i] as Call)
  const rest = [...calls.filter((_, i) => i < 100 && i % 10 === 0), ...calls.slice(195)].map((c) => c.id)
  t.same(order.toArray().map((c) => c.id), rest)
  t.same(order.page(2, 100, false).calls.map((c) => c.id), rest.slice(2))
  t.same(order.page(0, 3, true).calls.map((c) => c.id), rest.slice(-3).reverse())
  t.equal(order.pageCreated(950, Infinity, 0, 100, false).total, 5)
  for (const c of calls) order.delete(c)
  t.equal(order.size, 0)
  t.same(order.page(0, 20, true), { total: 0, calls: [] })
})
