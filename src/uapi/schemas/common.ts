// Schemas shared by the UAPI routes: the error envelope, path parameters, the list query and the
// collection envelope (reference 1.5-1.7).
import { Type } from 'typebox'
import { PhoneCallSchema } from '../../calls/index.ts'

export const ErrorEnvelope = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() })
}, { $id: 'UapiError', description: 'UAPI error envelope' })

/** The error responses every UAPI route declares, so their serializer is compiled too. */
export const errorResponses = {
  400: ErrorEnvelope,
  401: ErrorEnvelope,
  404: ErrorEnvelope,
  409: ErrorEnvelope,
  413: ErrorEnvelope,
  415: ErrorEnvelope,
  429: ErrorEnvelope,
  500: ErrorEnvelope,
  501: ErrorEnvelope,
  502: ErrorEnvelope,
  503: ErrorEnvelope,
  504: ErrorEnvelope
}

// Lengths are bounded so that no path segment can make lookups or logs expensive.
const UserId = Type.String({ minLength: 1, maxLength: 64, description: '@me, @viewer, @owner or a numeric user id' })
const ExtensionNumber = Type.String({ minLength: 1, maxLength: 64, description: 'e.g. 0003*210 (raw or %2A), a short number, or @self' })
const PhoneCallId = Type.String({ minLength: 1, maxLength: 128, description: 'PhoneCall id from List PhoneCalls' })

export const ScopeParams = Type.Object({ userId: UserId, extension: ExtensionNumber })
export const CallParams = Type.Object({ userId: UserId, extension: ExtensionNumber, phoneCallId: PhoneCallId })
export const UserParams = Type.Object({ userId: UserId })

export const FilterOps = ['contains', 'equals', 'startsWith', 'present', 'greaterThan', 'lessThan', 'inArray'] as const

export const ListQuery = Type.Object({
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, description: 'Page size (default 20)' })),
  startIndex: Type.Optional(Type.Integer({ minimum: 0, maximum: 5000, description: '0-based offset' })),
  fields: Type.Optional(Type.String({ maxLength: 512, description: 'Comma-separated PhoneCall fields' })),
  filterBy: Type.Optional(Type.Enum(['id', 'published'])),
  filterValue: Type.Optional(Type.String({ maxLength: 256 })),
  filterOp: Type.Optional(Type.Enum(FilterOps)),
  sortOrder: Type.Optional(Type.Enum(['ascending', 'descending'])),
  updatedSince: Type.Optional(Type.String({ maxLength: 64 })),
  format: Type.Optional(Type.Enum(['json'])),
  accessRequestToken: Type.Optional(Type.String({ maxLength: 4096 }))
})

/** The standard collection parameters' codes (reference 1.5), shared by every collection route. */
export const collectionQueryErrorCodes = {
  'querystring/count': 'count_invalid',
  'querystring/startIndex': 'startindex_invalid',
  'querystring/fields': 'fields_invalid',
  'querystring/filterBy': 'filterby_invalid',
  'querystring/filterValue': 'filtervalue_invalid',
  'querystring/filterOp': 'filterop_invalid',
  'querystring/sortOrder': 'sortorder_invalid'
} as const

export const listErrorCodes = {
  ...collectionQueryErrorCodes,
  'params/phoneCallId': 'pc_phonecall_invalid',
  'params/extension': 'extension_invalid',
  'params/userId': 'user_invalid'
} as const

// Entries are PhoneCalls, possibly trimmed by `fields`, so every property is optional here.
export const PartialPhoneCall = Type.Partial(PhoneCallSchema)

export const Collection = Type.Object({
  startIndex: Type.Integer(),
  itemsPerPage: Type.Integer(),
  totalResults: Type.Integer(),
  filtered: Type.Boolean(),
  sorted: Type.Boolean(),
  entry: Type.Array(PartialPhoneCall),
  paging: Type.Optional(Type.Object({ next: Type.Optional(Type.String()), prev: Type.Optional(Type.String()) }))
}, { description: 'UAPI collection of PhoneCalls' })
