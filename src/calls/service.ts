// The calls facade the HTTP layer uses: which calls a scope sees, in what order, and whether the
// mirror can be trusted right now. Actions live in ./actions, one module per UAPI verb.
import type { AmiClient } from '../ami/index.ts'
import type { Call, Mirror, Party } from './mirror.ts'
import type { MirrorSync } from './sync.ts'
import { projectCall, type ProjectionContext } from './views.ts'
import type { PhoneCall } from './phone-call.ts'

/**
 * A selection's calls, oldest first, readable a page at a time: an unfiltered page walks the
 * index only up to its end instead of listing every call (10,000 calls in one organization must
 * not cost more than ten).
 */
export interface CallSource {
  readonly total: number
  page (startIndex: number, count: number, descending: boolean): Call[]
  all (): Call[]
}

export function arraySource (calls: Call[]): CallSource {
  return {
    total: calls.length,
    page: (startIndex, count, descending) => (descending ? calls.slice().reverse() : calls).slice(startIndex, startIndex + count),
    all: () => calls
  }
}

/** What a request may see: every call, an organization's, or those of some extensions. */
export type CallSelection =
  | { readonly kind: 'all' }
  | { readonly kind: 'organization', readonly organizationId: string }
  | { readonly kind: 'extensions', readonly extensions: readonly string[] }

export class CallService {
  constructor (
    readonly ami: AmiClient,
    readonly mirror: Mirror,
    readonly sync: MirrorSync,
    private readonly ctx: ProjectionContext
  ) {}

  /** True when AMI is logged in and the mirror has completed a full sync since. */
  get available (): boolean {
    return this.ami.state === 'ready' && this.sync.state === 'live'
  }

  /** Live calls of a selection, oldest first. */
  select (selection: CallSelection): Call[] {
    const calls = this.mirror.calls
    switch (selection.kind) {
      case 'all': return [...calls.values()]
      case 'organization': return keysToCalls(calls, this.mirror.callsOfOrganization(selection.organizationId)?.keys())
      case 'extensions': {
        if (selection.extensions.length === 1) {
          return keysToCalls(calls, this.mirror.callsOfExtension(selection.extensions[0] as string))
        }
        const keys = new Set<string>()
        for (const ext of selection.extensions) {
          const own = this.mirror.callsOfExtension(ext)
          if (own !== undefined) for (const key of own) keys.add(key)
        }
        return keysToCalls(calls, keys.values()).sort((a, b) => a.createdAt - b.createdAt)
      }
    }
  }

  /** The calls of a selection as a pageable source (see CallSource). */
  source (selection: CallSelection): CallSource {
    let keys: ReadonlySet<string> | undefined
    switch (selection.kind) {
      case 'all': return indexSource(this.mirror.calls, this.mirror.calls)
      case 'organization': keys = this.mirror.callsOfOrganization(selection.organizationId); break
      case 'extensions':
        if (selection.extensions.length !== 1) return arraySource(this.select(selection))
        keys = this.mirror.callsOfExtensionIndex(selection.extensions[0] as string)
    }
    return keys === undefined ? arraySource([]) : indexSource(keys, this.mirror.calls)
  }

  /** The live call with this id if the selection may see it. */
  find (id: string, selection: CallSelection): Call | undefined {
    const call = this.mirror.callById(id)
    if (call === undefined || !this.sees(call, selection)) return undefined
    return call
  }

  /** Whether the selection may see the call: through any extension that is or was a party of it. */
  sees (call: Call, selection: CallSelection): boolean {
    if (selection.kind === 'all') return true
    for (const [extension, organizationId] of call.parties) {
      if (selection.kind === 'organization' ? organizationId === selection.organizationId : selection.extensions.includes(extension)) return true
    }
    return false
  }

  /**
   * Whether the selection may act on the call: it has authority over a party the call has now (not
   * one that has left it, see sees()). Local/ halves carry no party. While a party is parked, the
   * extension that parked it (rung back when the time runs out) still counts as one: it left the
   * call only to let the party wait, and may take it out again.
   */
  mayActOn (call: Call, selection: CallSelection): boolean {
    if (selection.kind === 'all') return true
    for (const leg of call.legs.values()) {
      if (inSelection(leg.party, selection) || inSelection(leg.parked?.parker, selection)) return true
    }
    return false
  }

  /**
   * The id of the call keyed `key` (its root linkedid), computed with the mirror's deriver: an
   * engine-originated leg's call id is known as soon as its ChannelId is chosen.
   */
  idForKey (key: string): string {
    return this.mirror.idForKey(key)
  }

  project (call: Call, viewer?: string): PhoneCall {
    return projectCall(call, this.ctx, viewer)
  }
}

function inSelection (party: Party | undefined, selection: CallSelection): boolean {
  if (party === undefined) return false
  if (selection.kind === 'all') return true
  return selection.kind === 'organization' ? party.organizationId === selection.organizationId : selection.extensions.includes(party.extension)
}

/** Pages over an index (call key -> anything) in insertion order, i.e. when the call entered the scope. */
function indexSource (index: { readonly size: number, keys: () => IterableIterator<string> }, calls: Map<string, Call>): CallSource {
  return {
    total: index.size,
    page (startIndex, count, descending) {
      if (descending) return keysToCalls(calls, [...index.keys()].reverse().slice(startIndex, startIndex + count))
      const out: Call[] = []
      let i = 0
      for (const key of index.keys()) {
        if (i++ < startIndex) continue
        const call = calls.get(key)
        if (call !== undefined) out.push(call)
        if (out.length === count) break
      }
      return out
    },
    all: () => keysToCalls(calls, index.keys())
  }
}

function keysToCalls (calls: Map<string, Call>, keys: Iterable<string> | undefined): Call[] {
  const out: Call[] = []
  if (keys === undefined) return out
  for (const key of keys) {
    const call = calls.get(key)
    if (call !== undefined) out.push(call)
  }
  return out
}
