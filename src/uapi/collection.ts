// Standard request parameters over a list of calls: filter, sort, page, trim fields, and the
// collection envelope with absolute paging links (reference 1.5, 1.6).
import type { Call, CallFilter, CallSource, PhoneCall } from '../calls/index.ts'
import { uapiError } from './errors.ts'

/** The standard parameters every collection's paging links carry on. */
export interface PagingParams {
  count?: number | undefined
  fields?: string | undefined
  filterBy?: string | undefined
  filterValue?: string | undefined
  filterOp?: string | undefined
  sortOrder?: 'ascending' | 'descending' | undefined
}

export interface ListParams {
  count?: number
  startIndex?: number
  fields?: string
  filterBy?: 'id' | 'published'
  filterValue?: string
  filterOp?: string
  sortOrder?: 'ascending' | 'descending'
}

export interface CollectionOf<T> {
  startIndex: number
  itemsPerPage: number
  totalResults: number
  filtered: boolean
  sorted: boolean
  entry: T[]
  paging?: { next?: string, prev?: string }
}

const DEFAULT_COUNT = 20
const PHONE_CALL_FIELDS = new Set(['id', 'extension', 'ownerId', 'ownerName', 'published', 'answered', 'nonce', 'phoneCallView', 'links'])
const LINK_PARAMS = ['count', 'fields', 'filterBy', 'filterValue', 'filterOp', 'sortOrder'] as const

/** Checks the parameters that the schema cannot (field names, filter value shapes). */
export function checkListParams (q: ListParams): string[] | undefined {
  let fields: string[] | undefined
  if (q.fields !== undefined) {
    fields = q.fields.split(',').map((f) => f.trim()).filter((f) => f !== '')
    if (fields.length === 0 || fields.some((f) => !PHONE_CALL_FIELDS.has(f))) throw uapiError('fields_invalid')
  }
  if (q.filterBy === undefined) {
    if (q.filterValue !== undefined || q.filterOp !== undefined) throw uapiError('filterby_invalid', 'filterValue and filterOp need filterBy.')
    return fields
  }
  const op = q.filterOp ?? (q.filterBy === 'id' ? 'contains' : 'equals')
  if (op !== 'present' && (q.filterValue === undefined || q.filterValue === '')) throw uapiError('filtervalue_invalid')
  if (q.filterBy === 'published') {
    if (op === 'contains' || op === 'startsWith' || op === 'inArray') throw uapiError('filterop_invalid', `filterOp ${op} does not apply to published.`)
    if (op !== 'present' && Number.isNaN(Date.parse(q.filterValue as string))) throw uapiError('filtervalue_invalid', 'filterValue must be a date such as 2026-11-28T05:13:49Z.')
  } else if (op === 'greaterThan' || op === 'lessThan') {
    throw uapiError('filterop_invalid', `filterOp ${op} does not apply to id.`)
  }
  return fields
}

/**
 * The filter a List asks for, in the calls' own terms (after checkListParams). `published` is
 * createdAt shown to the second, so its comparisons become ranges of createdAt: published > T is
 * createdAt from the next whole second after T on, published < T is createdAt before the first
 * whole second at or after T, and published = T is the second T names (none if T has a fraction).
 */
export function filterOf (q: ListParams): CallFilter | undefined {
  if (q.filterBy === undefined) return undefined
  const op = q.filterOp ?? (q.filterBy === 'id' ? 'contains' : 'equals')
  if (op === 'present') return { kind: 'all' }
  const value = q.filterValue as string
  if (q.filterBy === 'id') {
    if (op === 'inArray') return { kind: 'ids', ids: value.split(',') }
    return { kind: 'id', op: op === 'equals' || op === 'startsWith' ? op : 'contains', value }
  }
  const at = Date.parse(value)
  switch (op) {
    case 'greaterThan': return { kind: 'createdAt', from: (Math.floor(at / 1000) + 1) * 1000, to: Infinity }
    case 'lessThan': return { kind: 'createdAt', from: -Infinity, to: Math.ceil(at / 1000) * 1000 }
    default: return at % 1000 === 0 ? { kind: 'createdAt', from: at, to: at + 1000 } : { kind: 'createdAt', from: at, to: at }
  }
}

export function buildCollection (
  from: CallSource,
  q: ListParams,
  project: (call: Call) => PhoneCall,
  link: (startIndex: number, params: ListParams) => string
): CollectionOf<Partial<PhoneCall>> {
  const fields = checkListParams(q)
  const count = q.count ?? DEFAULT_COUNT
  const startIndex = q.startIndex ?? 0
  // The source reads just this page (and the count) from its index, filtered or not.
  const { total, calls } = from.list(filterOf(q), startIndex, count, q.sortOrder === 'descending')
  const entry = calls.map((call) => trim(project(call), fields))
  return envelope(entry, { total, startIndex, count, filtered: q.filterBy !== undefined }, (i) => link(i, q))
}

/** The collection envelope around one page, with absolute paging links (reference 1.6). */
export function envelope<T> (
  entry: T[],
  page: { total: number, startIndex: number, count: number, filtered: boolean },
  link: (startIndex: number) => string
): CollectionOf<T> {
  const { total, startIndex, count } = page
  const out: CollectionOf<T> = { startIndex, itemsPerPage: count, totalResults: total, filtered: page.filtered, sorted: true, entry }
  const next = startIndex + count < total ? link(startIndex + count) : undefined
  const prev = startIndex > 0 ? link(Math.max(0, startIndex - count)) : undefined
  if (next !== undefined || prev !== undefined) {
    out.paging = {}
    if (next !== undefined) out.paging.next = next
    if (prev !== undefined) out.paging.prev = prev
  }
  return out
}

/** The page size when `count` is absent. */
export const DEFAULT_PAGE = DEFAULT_COUNT

function trim (pc: PhoneCall, fields: string[] | undefined): Partial<PhoneCall> {
  if (fields === undefined) return pc
  const out: Record<string, unknown> = { id: pc.id }
  for (const f of fields) {
    const v = (pc as Record<string, unknown>)[f]
    if (v !== undefined) out[f] = v
  }
  return out as Partial<PhoneCall>
}

/** The query string of a paging link: the caller's parameters (never its token) with a new offset. */
export function pagingQuery (startIndex: number, q: PagingParams): string {
  const params = new URLSearchParams()
  params.set('startIndex', String(startIndex))
  for (const name of LINK_PARAMS) {
    const v = q[name]
    if (v !== undefined) params.set(name, String(v))
  }
  if (q.count === undefined) params.set('count', String(DEFAULT_COUNT))
  return params.toString()
}
