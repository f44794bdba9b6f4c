// The mirror's indexes of live calls: who sees which calls (every call, an organization's, an
// extension's), in publish order, and which ids contain what. The mirror tells the index when a call
// is created, when a party joins it and when it ends; List reads pages of it. No read here walks
// every call of a scope: pages, counts and createdAt ranges cost O(log n + page), id filters cost
// what their candidates cost (see IdGrams).
import type { Call } from './mirror.ts'

/** What a List may keep of a scope's calls, in the calls module's own terms. */
export type CallFilter =
  | { readonly kind: 'all' }
  | { readonly kind: 'id', readonly op: 'equals' | 'contains' | 'startsWith', readonly value: string }
  | { readonly kind: 'ids', readonly ids: readonly string[] }
  /** Calls created in [from, to) (milliseconds; either end may be infinite). */
  | { readonly kind: 'createdAt', readonly from: number, readonly to: number }

/** One page of a filtered scope, and how many calls the whole filtered scope holds. */
export interface CallPage {
  readonly total: number
  readonly calls: Call[]
}

/** The reference meaning of a filter for one call (indexes must agree with it). */
export function callMatches (call: Call, filter: CallFilter): boolean {
  switch (filter.kind) {
    case 'all': return true
    case 'ids': return filter.ids.includes(call.id)
    case 'createdAt': return call.createdAt >= filter.from && call.createdAt < filter.to
    case 'id':
      switch (filter.op) {
        case 'equals': return call.id === filter.value
        case 'startsWith': return call.id.startsWith(filter.value)
        case 'contains': return call.id.includes(filter.value)
      }
  }
}

/** A page of calls already in order (oldest first). */
export function pageOf (calls: readonly Call[], startIndex: number, count: number, descending: boolean): CallPage {
  const total = calls.length
  if (!descending) return { total, calls: calls.slice(startIndex, startIndex + count) }
  const out: Call[] = []
  for (let i = total - 1 - startIndex; i >= 0 && out.length < count; i--) out.push(calls[i] as Call)
  return { total, calls: out }
}

/**
 * The calls of one scope ordered by createdAt (publish time), ties in the order they joined the
 * scope. Calls nearly always join at the end (they are created in time order); one that joins older
 * than the newest (a picker's extension joining an older call, a call found by a resync) is put in
 * its place. Leaving makes a hole, so that positions do not move; a Fenwick tree over the live slots
 * gives the k-th call and the count of a range in O(log n), and the holes are compacted away once
 * they outnumber the calls. Relies on a call's createdAt never changing (it is set once, on creation).
 */
export class CallOrder {
  private slots: Array<Call | undefined> = []
  /** createdAt of each slot, kept for holes too: the array stays sorted for binary search. */
  private times: number[] = []
  /** Fenwick tree (1-based) of live slots: tree[i] counts the live slots in (i - lowbit(i), i]. */
  private tree: number[] = [0]
  private holes = 0

  get size (): number { return this.slots.length - this.holes }

  add (call: Call): void {
    const t = call.createdAt
    const n = this.slots.length
    if (n === 0 || (this.times[n - 1] as number) <= t) {
      this.slots.push(call)
      this.times.push(t)
      const i = n + 1
      this.tree.push(1 + this.prefix(i - 1) - this.prefix(i - (i & -i)))
      return
    }
    const at = this.bound(t, true)
    this.slots.splice(at, 0, call)
    this.times.splice(at, 0, t)
    this.compact()
  }

  /** Removes the call; false if it was not here. */
  delete (call: Call): boolean {
    const i = this.indexOf(call)
    if (i < 0) return false
    this.slots[i] = undefined
    this.holes++
    if (this.holes === this.slots.length) {
      this.slots = []
      this.times = []
      this.tree = [0]
      this.holes = 0
    } else if (this.holes > 32 && this.holes * 2 > this.slots.length) {
      this.compact()
    } else {
      for (let j = i + 1; j < this.tree.length; j += j & -j) this.tree[j] = (this.tree[j] as number) - 1
    }
    return true
  }

  has (call: Call): boolean { return this.indexOf(call) >= 0 }

  /** Every call, in order. */
  toArray (): Call[] {
    const out: Call[] = []
    for (const call of this.slots) if (call !== undefined) out.push(call)
    return out
  }

  /** Calls [startIndex, startIndex + count) of the whole scope, and its size. */
  page (startIndex: number, count: number, descending: boolean): CallPage {
    return this.pageOfSlots(0, this.slots.length, startIndex, count, descending)
  }

  /** The same over the calls created in [from, to) only. */
  pageCreated (from: number, to: number, startIndex: number, count: number, descending: boolean): CallPage {
    const lo = this.bound(from, false)
    return this.pageOfSlots(lo, Math.max(lo, this.bound(to, false)), startIndex, count, descending)
  }

  /**
   * The given calls that are in this scope, in its order (for candidates found elsewhere, such as
   * by id): O(k log n) for k calls.
   */
  ordered (calls: Iterable<Call>): Call[] {
    const found: Array<{ at: number, call: Call }> = []
    for (const call of calls) {
      const at = this.indexOf(call)
      if (at >= 0) found.push({ at, call })
    }
    found.sort((a, b) => a.at - b.at)
    return found.map((f) => f.call)
  }

  // ---- internals ---------------------------------------------------------------------------------

  private pageOfSlots (lo: number, hi: number, startIndex: number, count: number, descending: boolean): CallPage {
    const first = this.prefix(lo)
    const total = this.prefix(hi) - first
    const calls: Call[] = []
    const n = Math.min(count, total - startIndex)
    if (n <= 0) return { total, calls }
    if (!descending) {
      let rank = first + startIndex
      let i = this.select(rank)
      while (calls.length < n) {
        const call = this.slots[i]
        if (call === undefined) { i = this.select(rank); continue } // a run of holes: jump over it
        calls.push(call)
        rank++
        i++
      }
    } else {
      let rank = first + total - 1 - startIndex
      let i = this.select(rank)
      while (calls.length < n) {
        const call = this.slots[i]
        if (call === undefined) { i = this.select(rank); continue }
        calls.push(call)
        rank--
        i--
      }
    }
    return { total, calls }
  }

  /** Where the call sits, or -1: binary search on its createdAt, then its ties. */
  private indexOf (call: Call): number {
    const t = call.createdAt
    for (let i = this.bound(t, false); i < this.slots.length && this.times[i] === t; i++) {
      if (this.slots[i] === call) return i
    }
    return -1
  }

  /** First slot created at or after `t` (`after`: strictly after). */
  private bound (t: number, after: boolean): number {
    let lo = 0
    let hi = this.times.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const m = this.times[mid] as number
      if (m < t || (after && m === t)) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Live slots in [0, i). */
  private prefix (i: number): number {
    let s = 0
    for (let j = i; j > 0; j -= j & -j) s += this.tree[j] as number
    return s
  }

  /** Slot of the live call of rank k (0-based); k < size. */
  private select (k: number): number {
    const n = this.slots.length
    let pos = 0
    let rem = k + 1
    for (let step = 1 << (31 - Math.clz32(n)); step > 0; step >>= 1) {
      const next = pos + step
      if (next <= n && (this.tree[next] as number) < rem) {
        pos = next
        rem -= this.tree[next] as number
      }
    }
    return pos
  }

  /** Drops the holes; every slot is then live, so tree[i] is just lowbit(i). */
  private compact (): void {
    const slots: Call[] = []
    const times: number[] = []
    for (let i = 0; i < this.slots.length; i++) {
      const call = this.slots[i]
      if (call === undefined) continue
      slots.push(call)
      times.push(this.times[i] as number)
    }
    const tree = new Array<number>(slots.length + 1)
    tree[0] = 0
    for (let i = 1; i <= slots.length; i++) tree[i] = i & -i
    this.slots = slots
    this.times = times
    this.tree = tree
    this.holes = 0
  }
}

const GRAMS = 4096 // three lowercase hex digits

function hexDigit (code: number): number {
  if (code >= 48 && code <= 57) return code - 48
  if (code >= 97 && code <= 102) return code - 87
  return -1
}

/** The distinct trigrams of a lowercase hex string (as 12-bit numbers); undefined if it is not one. */
function gramsOf (s: string): number[] | undefined {
  if (s.length < 3) return undefined
  const out: number[] = []
  let g = 0
  for (let i = 0; i < s.length; i++) {
    const d = hexDigit(s.charCodeAt(i))
    if (d < 0) return undefined
    g = ((g << 4) | d) & 0xfff
    if (i >= 2 && !out.includes(g)) out.push(g)
  }
  return out
}

/**
 * Trigram index over call ids (20 lowercase hex digits, HMACs): each id is listed under each of its
 * (at most 18) distinct three-digit substrings, 4,096 lists in all. An id that contains or starts
 * with a value of three digits or more is in the list of each of the value's trigrams, so the
 * shortest of those lists is a small superset of the answer (10,000 calls: ~44 ids per list). Ids
 * that are not lowercase hex (none are expected) are kept apart and always checked.
 */
export class IdGrams {
  private readonly lists: Array<Call[] | undefined> = new Array<Call[] | undefined>(GRAMS)
  private readonly other: Call[] = []

  add (call: Call): void {
    const grams = gramsOf(call.id)
    if (grams === undefined) { this.other.push(call); return }
    for (const g of grams) {
      const list = this.lists[g]
      if (list === undefined) this.lists[g] = [call]
      else list.push(call)
    }
  }

  delete (call: Call): void {
    const grams = gramsOf(call.id)
    if (grams === undefined) { remove(this.other, call); return }
    for (const g of grams) {
      const list = this.lists[g]
      if (list === undefined) continue
      remove(list, call)
      if (list.length === 0) this.lists[g] = undefined
    }
  }

  /**
   * Every call whose id may contain `value`, in no order (a superset: check each), or undefined
   * when the index cannot narrow it down (fewer than three characters).
   */
  candidates (value: string): Call[] | undefined {
    if (value.length < 3) return undefined
    const grams = gramsOf(value)
    // A value that is not lowercase hex is in no hex id.
    if (grams === undefined) return this.other
    let best: Call[] = []
    let bestSize = Infinity
    for (const g of grams) {
      const list = this.lists[g]
      if (list === undefined) return this.other
      if (list.length < bestSize) { best = list; bestSize = list.length }
    }
    return this.other.length === 0 ? best : best.concat(this.other)
  }
}

function remove (list: Call[], call: Call): void {
  const i = list.lastIndexOf(call)
  if (i < 0) return
  const last = list.pop() as Call
  if (i < list.length) list[i] = last
}

/**
 * Every index of the live calls. The mirror calls `addCall` when a call is created, `addParty` once
 * an extension has joined `call.parties`, and `dropCall` when the call ends (parties still listed).
 */
export class CallIndex {
  readonly all = new CallOrder()
  private readonly byId = new Map<string, Call>()
  private readonly byExtension = new Map<string, CallOrder>()
  private readonly byOrganization = new Map<string, CallOrder>()
  private readonly grams = new IdGrams()

  addCall (call: Call): void {
    this.byId.set(call.id, call)
    this.all.add(call)
    this.grams.add(call)
  }

  addParty (call: Call, extension: string, organizationId: string): void {
    enter(this.byExtension, extension, call)
    // An organization lists a call once, from the first of its extensions that joined it.
    for (const [other, org] of call.parties) if (other !== extension && org === organizationId) return
    enter(this.byOrganization, organizationId, call)
  }

  dropCall (call: Call): void {
    if (this.byId.get(call.id) === call) this.byId.delete(call.id)
    this.all.delete(call)
    this.grams.delete(call)
    for (const [extension, organizationId] of call.parties) {
      leave(this.byExtension, extension, call)
      leave(this.byOrganization, organizationId, call)
    }
  }

  callById (id: string): Call | undefined { return this.byId.get(id) }

  extension (extension: string): CallOrder | undefined { return this.byExtension.get(extension) }

  organization (organizationId: string): CallOrder | undefined { return this.byOrganization.get(organizationId) }

  /** One page of the calls of `scope` that match `filter`, and how many match. */
  query (scope: CallOrder, filter: CallFilter, startIndex: number, count: number, descending: boolean): CallPage {
    switch (filter.kind) {
      case 'all': return scope.page(startIndex, count, descending)
      case 'createdAt': return scope.pageCreated(filter.from, filter.to, startIndex, count, descending)
      case 'ids': return pageOf(scope.ordered(this.lookUp(filter.ids)), startIndex, count, descending)
      case 'id': {
        if (filter.op === 'equals') return pageOf(scope.ordered(this.lookUp([filter.value])), startIndex, count, descending)
        const candidates = this.grams.candidates(filter.value)
        // A scope smaller than the candidate list (one extension's calls) is cheaper to read whole.
        const matched = candidates === undefined || scope.size <= candidates.length
          ? scope.toArray().filter((c) => callMatches(c, filter))
          : scope.ordered(candidates.filter((c) => callMatches(c, filter)))
        return pageOf(matched, startIndex, count, descending)
      }
    }
  }

  private lookUp (ids: readonly string[]): Set<Call> {
    const out = new Set<Call>()
    for (const id of ids) {
      const call = this.byId.get(id)
      if (call !== undefined) out.add(call)
    }
    return out
  }
}

function enter (index: Map<string, CallOrder>, name: string, call: Call): void {
  let order = index.get(name)
  if (order === undefined) {
    order = new CallOrder()
    index.set(name, order)
  }
  order.add(call)
}

function leave (index: Map<string, CallOrder>, name: string, call: Call): void {
  const order = index.get(name)
  if (order === undefined) return
  order.delete(call)
  if (order.size === 0) index.delete(name)
}
