// The calls facade the HTTP layer uses: which calls a scope sees, in what order, and whether the
// mirror can be trusted right now. Actions live in ./actions, one module per UAPI verb.
import type { AmiClient } from '../ami/index.ts'
import type { Call, Mirror, Party } from './mirror.ts'
import type { MirrorSync } from './sync.ts'
import { projectCall, type ProjectionContext } from './views.ts'
import { callMatches, pageOf, type CallFilter, type CallIndex, type CallOrder, type CallPage } from './call-index.ts'
import type { PhoneCall } from './phone-call.ts'

/**
 * A selection's calls in publish order, read a page at a time, filtered or not: a page of a scope's
 * index never lists every call of it (10,000 calls in one organization must not cost more than ten).
 */
export interface CallSource {
  /** The calls matching `filter` (all of them without one): how many, and [startIndex, startIndex + count) of them, newest first when descending. */
  list (filter: CallFilter | undefined, startIndex: number, count: number, descending: boolean): CallPage
}

/** A source over calls already in order (one call, a few extensions' union). */
export function arraySource (calls: Call[]): CallSource {
  return {
    list: (filter, startIndex, count, descending) =>
      pageOf(filter === undefined ? calls : calls.filter((c) => callMatches(c, filter)), startIndex, count, descending)
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

  /** Live calls of a selection, in publish order. */
  select (selection: CallSelection): Call[] {
    const index = this.mirror.callIndex
    switch (selection.kind) {
      case 'all': return index.all.toArray()
      case 'organization': return index.organization(selection.organizationId)?.toArray() ?? []
      case 'extensions': {
        if (selection.extensions.length === 1) return index.extension(selection.extensions[0] as string)?.toArray() ?? []
        const calls = new Set<Call>()
        for (const ext of selection.extensions) {
          const own = index.extension(ext)
          if (own !== undefined) for (const call of own.toArray()) calls.add(call)
        }
        return [...calls].sort((a, b) => a.createdAt - b.createdAt)
      }
    }
  }

  /** The calls of a selection as a pageable source (see CallSource). */
  source (selection: CallSelection): CallSource {
    const index = this.mirror.callIndex
    let order: CallOrder | undefined
    switch (selection.kind) {
      case 'all': order = index.all; break
      case 'organization': order = index.organization(selection.organizationId); break
      case 'extensions':
        // Several extensions (a user's @self): their union, as long as that user's calls.
        if (selection.extensions.length !== 1) return arraySource(this.select(selection))
        order = index.extension(selection.extensions[0] as string)
    }
    return order === undefined ? arraySource([]) : indexSource(order, index)
  }

  /** The live call with this id if the selection may see it. */
  find (id: string, selection: CallSelection): Call | undefined {
    const call = this.mirror.callById(id)
    if (call === undefined || !this.sees(call, selection)) return undefined
    return call
  }

  /** Whether the selection may see the call: through any extension that is or was a party of it. */
  sees (call: Call, selection: CallSelection): boolean {
    return partiesSeenBy(call.parties, selection)
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

/** Whether a selection sees a call with these parties (extension -> organization): see CallService.sees(). */
export function partiesSeenBy (parties: ReadonlyMap<string, string>, selection: CallSelection): boolean {
  if (selection.kind === 'all') return true
  for (const [extension, organizationId] of parties) {
    if (selection.kind === 'organization' ? organizationId === selection.organizationId : selection.extensions.includes(extension)) return true
  }
  return false
}

function inSelection (party: Party | undefined, selection: CallSelection): boolean {
  if (party === undefined) return false
  if (selection.kind === 'all') return true
  return selection.kind === 'organization' ? party.organizationId === selection.organizationId : selection.extensions.includes(party.extension)
}

/** Pages over a scope's index; a filter reads the index too (see CallIndex.query). */
function indexSource (order: CallOrder, index: CallIndex): CallSource {
  return {
    list: (filter, startIndex, count, descending) => index.query(order, filter ?? { kind: 'all' }, startIndex, count, descending)
  }
}
