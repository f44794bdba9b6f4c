// /extensions/{userId}/{extension}/phoneCallEvents: PhoneCallEvents, the URLs an extension's call
// events are sent to (reference 9). Thin: validation and authority here, storage in
// src/events/subscriptions.ts, delivery in src/events/delivery.ts.
//
// Decisions (the pages leave them open):
// - Authority is PhoneCalls': a user for its own extensions, an organization account for its
//   organization's, the admin for all. `@self` and extensions other than Phone Terminal, Queue,
//   Conference and IVR answer 400 pce_extension_invalid.
// - Create answers 200 with the PhoneCallEvent plus `secret`, the HMAC key of X-UAPI-Signature,
//   shown this once. Defaults: method 0 (GET), status 1 (enabled), note empty, id generated (20 hex).
//   An id already used for that type on the extension: 409 pce_id_conflict.
// - type, method and status may be numbers or numeric strings; the body may be JSON or a form.
// - The URL must be http(s) to a public address (SSRF guard, src/events/targets.ts), unless config
//   events.allowedTargets lists it: 400 pce_url_forbidden otherwise; checked again at delivery.
// - GET with an id that does not exist is an empty collection (as List PhoneCalls); PUT and DELETE
//   of one id that does not exist answer 404 pce_not_found. DELETE answers 200 with what it deleted.
// - GET .../phoneCallEvents/deliveries lists the extension's deliveries (pending, delivered, dead).
import formbody from '@fastify/formbody'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import type { Static } from 'typebox'
import { isoDate } from '../../calls/index.ts'
import type { Directory, Extension } from '../../directory/index.ts'
import { SUBSCRIPTION_ID, type EventDelivery, type EventType, type Subscription, type SubscriptionChange, type SubscriptionStore, type TargetGuard } from '../../events/index.ts'
import { DEFAULT_PAGE, envelope, pagingQuery } from '../collection.ts'
import { uapiError } from '../errors.ts'
import { errorResponses } from '../schemas/common.ts'
import {
  AccessQuery, CreateEventBody, CreatedPhoneCallEvent, DeliveriesQuery, DeliveryCollection, EVENT_FIELDS, EventCollection,
  EventIdParams, EventListQuery, EventScopeParams, EventTypeParams, PhoneCallEventSchema, UpdateEventBody, eventErrorCodes
} from '../schemas/phone-call-event.ts'
import { baseUrl, requestScope } from '../scope.ts'
import { Type } from 'typebox'

export interface PhoneCallEventDeps {
  readonly directory: Directory
  readonly publicUrl: string | undefined
  readonly basePath: string
  readonly hide: boolean
  readonly subscriptions: SubscriptionStore
  readonly events: EventDelivery
  readonly guard: TargetGuard
}

const EVENT_EXTENSION_TYPES: ReadonlySet<Extension['type']> = new Set(['phone-terminal', 'queue', 'conference', 'ivr'])
const MAX_NOTE = 1024
const FIELD_SET: ReadonlySet<string> = new Set(EVENT_FIELDS)

type PhoneCallEvent = Static<typeof PhoneCallEventSchema>
type ListQuery = Static<typeof EventListQuery>

/** 0..4, as a number or a numeric string. */
export function parseType (value: unknown): EventType {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*[0-4]\s*$/.test(value) ? Number(value) : NaN
  if (n === 0 || n === 1 || n === 2 || n === 3 || n === 4) return n
  throw uapiError('pcet_type_invalid')
}

/** 0/1 as a number or string; method also takes GET/POST. */
function parseBit (value: unknown, code: 'pce_method_invalid' | 'pce_status_invalid'): 0 | 1 {
  let v = value
  if (typeof v === 'string') {
    const s = v.trim().toUpperCase()
    v = code === 'pce_method_invalid' && s === 'GET' ? 0 : code === 'pce_method_invalid' && s === 'POST' ? 1 : /^[01]$/.test(s) ? Number(s) : NaN
  }
  if (v === 0 || v === 1) return v
  throw uapiError(code)
}

function parseId (value: unknown): string {
  const s = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : value
  if (typeof s === 'string' && SUBSCRIPTION_ID.test(s)) return s
  throw uapiError('pce_id_invalid')
}

function parseNote (value: unknown): string {
  if (value === null) return ''
  // Tabs and line breaks are text; other control characters are not.
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value.length > MAX_NOTE || /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)) throw uapiError('pce_note_invalid')
  return value
}

export const phoneCallEventRoutes: FastifyPluginAsyncTypebox<PhoneCallEventDeps> = async (app, deps) => {
  const { directory, subscriptions, guard } = deps
  const config = { errorCodes: eventErrorCodes }

  /** The path's extension, if the caller may manage its events and it can have them. */
  const extensionOf = (request: FastifyRequest, userId: string, extension: string) => {
    const rs = requestScope(directory, request, userId, extension)
    const ext = rs.scope.allExtensions ? undefined : rs.scope.extensions[0]
    if (ext === undefined || !EVENT_EXTENSION_TYPES.has(ext.type)) throw uapiError('pce_extension_invalid')
    const self = `${baseUrl(request, deps.publicUrl)}${deps.basePath}/extensions/${rs.userSegment}/${ext.number}/phoneCallEvents`
    return { ext, self }
  }

  const checkUrl = async (value: unknown): Promise<string> => {
    if (typeof value !== 'string') throw uapiError('pce_url_invalid')
    const checked = await guard.check(value)
    if (checked.ok) return value
    if (checked.reason === 'forbidden') throw uapiError('pce_url_forbidden', `Value supplied in url is refused: ${checked.detail}. Only public addresses may be called (or those in config events.allowedTargets).`)
    throw uapiError('pce_url_invalid', `Value supplied in url is invalid: ${checked.detail}.`)
  }

  const present = (s: Subscription, self: string): PhoneCallEvent => ({
    id: s.id,
    type: s.type,
    url: s.url,
    method: s.method,
    status: s.status,
    ...(s.note !== '' ? { note: s.note } : {}),
    modified: isoDate(s.modified),
    links: { self: `${self}/${s.type}/${s.id}` }
  })

  const schema = <P, Q, R>(params: P, querystring: Q, response: R, summary: string) => ({
    summary,
    tags: ['PhoneCallEvents'],
    hide: deps.hide,
    security: [{ bearer: [] }],
    params,
    querystring,
    response: { 200: response, ...errorResponses }
  })

  // Create, list, update: JSON or form bodies.
  const readWrite: FastifyPluginAsyncTypebox = async (app) => {
    await app.register(formbody, { bodyLimit: 16_384 })

    app.post('/extensions/:userId/:extension/phoneCallEvents', {
      schema: { ...schema(EventScopeParams, AccessQuery, CreatedPhoneCallEvent, 'Register a URL for an extension\'s call events'), body: CreateEventBody },
      config
    }, async (request) => {
      const { ext, self } = extensionOf(request, request.params.userId, request.params.extension)
      const body = request.body
      const type = parseType(body.type)
      const id = body.id === undefined ? undefined : parseId(body.id)
      const method = body.method === undefined ? 0 : parseBit(body.method, 'pce_method_invalid')
      const status = body.status === undefined ? 1 : parseBit(body.status, 'pce_status_invalid')
      const note = body.note === undefined ? '' : parseNote(body.note)
      const url = await checkUrl(body.url)
      const created = await subscriptions.create({ extension: ext.number, organizationId: String(ext.organizationId), type, id, url, method, status, note })
      if (!created.ok) throw uapiError(created.reason === 'duplicate' ? 'pce_id_conflict' : 'pce_limit_reached')
      return { ...present(created.subscription, self), secret: created.secret }
    })

    const list = async (request: FastifyRequest, params: { userId: string, extension: string, type?: string, id?: string }, q: ListQuery) => {
      const { ext, self } = extensionOf(request, params.userId, params.extension)
      const type = params.type === undefined ? undefined : parseType(params.type)
      const id = params.id === undefined ? undefined : parseId(params.id)
      const fields = fieldsOf(q.fields)
      const match = matcherOf(q)
      const all = (await subscriptions.list({ extension: ext.number, type, id })).filter(match)
      const desc = q.sortOrder === 'descending'
      all.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : a.type - b.type || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) * (desc ? -1 : 1))
      const count = q.count ?? DEFAULT_PAGE
      const startIndex = q.startIndex ?? 0
      const entry = all.slice(startIndex, startIndex + count).map((s) => trim(present(s, self), fields))
      const listUrl = `${self}${type !== undefined ? `/${type}` : ''}${id !== undefined ? `/${id}` : ''}`
      return envelope(entry, { total: all.length, startIndex, count, filtered: q.filterBy !== undefined }, (i) => `${listUrl}?${pagingQuery(i, q)}`)
    }

    app.get('/extensions/:userId/:extension/phoneCallEvents', {
      schema: schema(EventScopeParams, EventListQuery, EventCollection, 'List an extension\'s PhoneCallEvents'),
      config
    }, async (request) => await list(request, request.params, request.query))
    app.get('/extensions/:userId/:extension/phoneCallEvents/:type', {
      schema: schema(EventTypeParams, EventListQuery, EventCollection, 'List an extension\'s PhoneCallEvents of one type'),
      config
    }, async (request) => await list(request, request.params, request.query))
    app.get('/extensions/:userId/:extension/phoneCallEvents/:type/:id', {
      schema: schema(EventIdParams, EventListQuery, EventCollection, 'One PhoneCallEvent, as a collection (empty when there is none)'),
      config
    }, async (request) => await list(request, request.params, request.query))

    app.get('/extensions/:userId/:extension/phoneCallEvents/deliveries', {
      schema: schema(EventScopeParams, DeliveriesQuery, DeliveryCollection, 'Deliveries of an extension\'s PhoneCallEvents: pending, delivered, dead-lettered'),
      config
    }, async (request) => {
      const { ext, self } = extensionOf(request, request.params.userId, request.params.extension)
      const q = request.query
      const type = q.type === undefined ? undefined : parseType(q.type)
      const id = q.id === undefined ? undefined : parseId(q.id)
      const count = q.count ?? DEFAULT_PAGE
      const startIndex = q.startIndex ?? 0
      const { total, entries } = await deps.events.deliveries(ext.number, { state: q.state, type, id, startIndex, count })
      const entry = entries.map(({ done, nextAttempt, ...d }) => ({
        ...d,
        created: isoDate(d.created),
        ...(done !== undefined ? { done: isoDate(done) } : {}),
        ...(nextAttempt !== undefined ? { nextAttempt: isoDate(nextAttempt) } : {})
      }))
      const link = (i: number) => {
        const p = new URLSearchParams({ startIndex: String(i), count: String(count) })
        for (const k of ['state', 'type', 'id'] as const) if (q[k] !== undefined) p.set(k, String(q[k]))
        return `${self}/deliveries?${p.toString()}`
      }
      return envelope(entry, { total, startIndex, count, filtered: q.state !== undefined || type !== undefined || id !== undefined }, link)
    })

    app.put('/extensions/:userId/:extension/phoneCallEvents/:type/:id', {
      schema: { ...schema(EventIdParams, AccessQuery, PhoneCallEventSchema, 'Change a PhoneCallEvent\'s url, method, status or note'), body: UpdateEventBody },
      config
    }, async (request) => {
      const { ext, self } = extensionOf(request, request.params.userId, request.params.extension)
      const type = parseType(request.params.type)
      const id = parseId(request.params.id)
      const body = request.body
      const change: SubscriptionChange = {
        method: body.method === undefined ? undefined : parseBit(body.method, 'pce_method_invalid'),
        status: body.status === undefined ? undefined : parseBit(body.status, 'pce_status_invalid'),
        note: body.note === undefined ? undefined : parseNote(body.note),
        url: body.url === undefined ? undefined : await checkUrl(body.url)
      }
      if (Object.values(change).every((v) => v === undefined)) throw uapiError('request_invalid', 'Nothing to change: give url, method, status or note.')
      const updated = await subscriptions.update(ext.number, type, id, change)
      if (updated === undefined) throw uapiError('pce_not_found')
      return present(updated, self)
    })
  }
  await app.register(readWrite)

  // Delete: like DELETE PhoneCalls, a body (clients send Content-Type: application/json with none) is ignored.
  const deletes: FastifyPluginAsyncTypebox = async (app) => {
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => { done(null, undefined) })
    const remove = async (request: FastifyRequest, params: { userId: string, extension: string, type?: string, id?: string }) => {
      const { ext, self } = extensionOf(request, params.userId, params.extension)
      const type = params.type === undefined ? undefined : parseType(params.type)
      const id = params.id === undefined ? undefined : parseId(params.id)
      const deleted = await subscriptions.delete({ extension: ext.number, type, id })
      if (id !== undefined && deleted.length === 0) throw uapiError('pce_not_found')
      return deleted.map((s) => present(s, self))
    }
    const answer = Type.Array(PhoneCallEventSchema)
    app.delete('/extensions/:userId/:extension/phoneCallEvents', {
      schema: schema(EventScopeParams, AccessQuery, answer, 'Delete every PhoneCallEvent of an extension'),
      config
    }, async (request) => await remove(request, request.params))
    app.delete('/extensions/:userId/:extension/phoneCallEvents/:type', {
      schema: schema(EventTypeParams, AccessQuery, answer, 'Delete an extension\'s PhoneCallEvents of one type'),
      config
    }, async (request) => await remove(request, request.params))
    app.delete('/extensions/:userId/:extension/phoneCallEvents/:type/:id', {
      schema: schema(EventIdParams, AccessQuery, answer, 'Delete one PhoneCallEvent'),
      config
    }, async (request) => await remove(request, request.params))
  }
  await app.register(deletes)
}

function fieldsOf (value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined
  const fields = value.split(',').map((f) => f.trim()).filter((f) => f !== '')
  if (fields.length === 0 || fields.some((f) => !FIELD_SET.has(f))) throw uapiError('fields_invalid', `The fields parameter names an unknown PhoneCallEvent field (known: ${EVENT_FIELDS.join(', ')}).`)
  return fields
}

function trim (e: PhoneCallEvent, fields: string[] | undefined): Partial<PhoneCallEvent> {
  if (fields === undefined) return e
  const out: Record<string, unknown> = { id: e.id }
  for (const f of fields) {
    const v = (e as Record<string, unknown>)[f]
    if (v !== undefined) out[f] = v
  }
  return out as Partial<PhoneCallEvent>
}

const STRING_FIELDS = new Set(['id', 'note', 'url'])

/** filterBy/filterOp/filterValue over subscriptions: strings contain/equal/start with, numbers and dates compare. */
export function matcherOf (q: ListQuery): (s: Subscription) => boolean {
  const by = q.filterBy
  if (by === undefined) {
    if (q.filterValue !== undefined || q.filterOp !== undefined) throw uapiError('filterby_invalid', 'filterValue and filterOp need filterBy.')
    return () => true
  }
  const text = STRING_FIELDS.has(by)
  const op = q.filterOp ?? (text ? 'contains' : 'equals')
  if (op === 'present') return text ? (s) => (s[by as 'id' | 'note' | 'url']) !== '' : () => true
  const raw = q.filterValue
  if (raw === undefined || raw === '') throw uapiError('filtervalue_invalid')
  if (text) {
    const get = (s: Subscription): string => s[by as 'id' | 'note' | 'url']
    switch (op) {
      case 'contains': return (s) => get(s).includes(raw)
      case 'equals': return (s) => get(s) === raw
      case 'startsWith': return (s) => get(s).startsWith(raw)
      case 'inArray': { const set = new Set(raw.split(',')); return (s) => set.has(get(s)) }
      default: throw uapiError('filterop_invalid', `filterOp ${op} does not apply to ${by}.`)
    }
  }
  const toNumber = (v: string): number => {
    const n = by === 'modified' ? Date.parse(v) : /^\s*-?[0-9]{1,15}\s*$/.test(v) ? Number(v) : NaN
    if (Number.isNaN(n)) throw uapiError('filtervalue_invalid', by === 'modified' ? 'filterValue must be a date such as 2026-11-28T05:13:49Z.' : `filterValue must be a number for ${by}.`)
    return n
  }
  // modified is shown to the second: compare whole seconds.
  const get = (s: Subscription): number => by === 'modified' ? Math.floor(s.modified / 1000) * 1000 : s[by as 'type' | 'method' | 'status']
  switch (op) {
    case 'equals': { const n = toNumber(raw); return (s) => get(s) === n }
    case 'greaterThan': { const n = toNumber(raw); return (s) => get(s) > n }
    case 'lessThan': { const n = toNumber(raw); return (s) => get(s) < n }
    case 'inArray': { const set = new Set(raw.split(',').map(toNumber)); return (s) => set.has(get(s)) }
    default: throw uapiError('filterop_invalid', `filterOp ${op} does not apply to ${by}.`)
  }
}
