// Schemas of the PhoneCallEvents routes (reference 9): the PhoneCallEvent resource, its create and
// update payloads, the list query and the deliveries collection.
import { Type } from 'typebox'
import { FilterOps, collectionQueryErrorCodes } from './common.ts'

const UserId = Type.String({ minLength: 1, maxLength: 64, description: '@me, @viewer, @owner or a numeric user id' })
const ExtensionNumber = Type.String({ minLength: 1, maxLength: 64, description: 'A Phone Terminal, Queue, Conference or IVR extension, e.g. 0003*210 (not @self)' })
const EventTypeParam = Type.String({ minLength: 1, maxLength: 16, description: '0 Dial-In, 1 Dial-Out, 2 Hangup, 3 Answer incoming, 4 Answer outgoing' })
const EventIdParam = Type.String({ minLength: 1, maxLength: 255, description: 'PhoneCallEvent id (alphanumeric)' })

export const EventScopeParams = Type.Object({ userId: UserId, extension: ExtensionNumber })
export const EventTypeParams = Type.Object({ userId: UserId, extension: ExtensionNumber, type: EventTypeParam })
export const EventIdParams = Type.Object({ userId: UserId, extension: ExtensionNumber, type: EventTypeParam, id: EventIdParam })

export const PhoneCallEventSchema = Type.Object({
  id: Type.String(),
  type: Type.Integer({ description: '0 Dial-In, 1 Dial-Out, 2 Hangup, 3 Answer incoming, 4 Answer outgoing' }),
  url: Type.String(),
  method: Type.Integer({ description: '0 GET, 1 POST' }),
  status: Type.Integer({ description: '0 disabled, 1 enabled' }),
  note: Type.Optional(Type.String()),
  modified: Type.String({ description: 'Date of the last change, e.g. 2026-11-28T05:13:49Z' }),
  links: Type.Object({ self: Type.String() })
}, { description: 'PhoneCallEvent' })

/** What create answers: the PhoneCalLEvent plus its signing secret, shown this once. */
export const CreatedPhoneCallEvent = Type.Intersect([
  PhoneCallEventSchema,
  Type.Object({ secret: Type.String({ description: 'HMAC-SHA256 key of X-UAPI-Signature; shown only in this answer' }) })
])

// Field types are checked by hand so that each field answers its own code (strings or numbers).
const field = (description: string) => Type.Optional(Type.Unknown({ description }))
export const CreateEventBody = Type.Object({
  type: field('0..4, as a number or a string'),
  id: field('alphanumeric, 1-255 characters; generated when absent'),
  url: field('http(s) URL the event is sent to'),
  method: field('0 GET (default), 1 POST'),
  status: field('0 disabled, 1 enabled (default)'),
  note: field('free text, up to 1024 characters')
}, { description: 'PhoneCallEvent (create payload)' })

export const UpdateEventBody = Type.Object({
  url: field('http(s) URL the event is sent to'),
  method: field('0 GET, 1 POST'),
  status: field('0 disabled, 1 enabled'),
  note: field('free text, up to 1024 characters')
}, { description: 'PhoneCallEvent (update payload): the fields to change' })

export const EVENT_FIELDS = ['id', 'type', 'url', 'method', 'status', 'note', 'modified', 'links'] as const
export const EVENT_FILTERS = ['id', 'method', 'modified', 'note', 'status', 'type', 'url'] as const

export const EventListQuery = Type.Object({
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, description: 'Page size (default 20)' })),
  startIndex: Type.Optional(Type.Integer({ minimum: 0, maximum: 5000, description: '0-based offset' })),
  fields: Type.Optional(Type.String({ maxLength: 512, description: 'Comma-separated PhoneCallEvent fields' })),
  filterBy: Type.Optional(Type.Enum(EVENT_FILTERS)),
  filterValue: Type.Optional(Type.String({ maxLength: 2048 })),
  filterOp: Type.Optional(Type.Enum(FilterOps)),
  sortOrder: Type.Optional(Type.Enum(['ascending', 'descending'], { description: 'By url' })),
  updatedSince: Type.Optional(Type.String({ maxLength: 64 })),
  format: Type.Optional(Type.Enum(['json'])),
  accessRequestToken: Type.Optional(Type.String({ maxLength: 4096 }))
})

export const DeliveriesQuery = Type.Object({
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, description: 'Page size (default 20)' })),
  startIndex: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000, description: '0-based offset' })),
  state: Type.Optional(Type.Enum(['pending', 'delivered', 'dead'], { description: 'Only deliveries in this state' })),
  type: Type.Optional(Type.String({ maxLength: 16, description: 'Only this event type' })),
  id: Type.Optional(Type.String({ maxLength: 255, description: 'Only this PhoneCallEvent id' })),
  accessRequestToken: Type.Optional(Type.String({ maxLength: 4096 }))
})

export const AccessQuery = Type.Object({ accessRequestToken: Type.Optional(Type.String({ maxLength: 4096 })) })

const Paging = Type.Optional(Type.Object({ next: Type.Optional(Type.String()), prev: Type.Optional(Type.String()) }))

export const EventCollection = Type.Object({
  startIndex: Type.Integer(),
  itemsPerPage: Type.Integer(),
  totalResults: Type.Integer(),
  filtered: Type.Boolean(),
  sorted: Type.Boolean(),
  entry: Type.Array(Type.Partial(PhoneCallEventSchema)),
  paging: Paging
}, { description: 'UAPI collection of PhoneCallEvents' })

export const DeliverySchema = Type.Object({
  id: Type.String({ description: 'The X-UAPI-Event-Id the receiver got' }),
  phoneCallEventId: Type.String(),
  type: Type.Integer(),
  eventKey: Type.String(),
  state: Type.String({ description: 'pending, delivered or dead (dead-lettered after the retry budget, or refused for good)' }),
  attempts: Type.Integer(),
  lastStatusCode: Type.Optional(Type.Integer()),
  lastError: Type.Optional(Type.String()),
  created: Type.String(),
  done: Type.Optional(Type.String()),
  nextAttempt: Type.Optional(Type.String())
})

export const DeliveryCollection = Type.Object({
  startIndex: Type.Integer(),
  itemsPerPage: Type.Integer(),
  totalResults: Type.Integer(),
  filtered: Type.Boolean(),
  sorted: Type.Boolean(),
  entry: Type.Array(DeliverySchema),
  paging: Paging
}, { description: 'Deliveries of an extension\'s PhoneCallEvents, newest first' })

export const eventErrorCodes = {
  ...collectionQueryErrorCodes,
  'querystring/state': 'pced_state_invalid',
  'querystring/type': 'pcet_type_invalid',
  'querystring/id': 'pce_id_invalid',
  'params/type': 'pcet_type_invalid',
  'params/id': 'pce_id_invalid',
  'params/extension': 'extension_invalid',
  'params/userId': 'user_invalid',
  body: 'request_invalid'
} as const
