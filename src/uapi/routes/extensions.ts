// GET /extensions/{userId}: the extensions the path's user may act on (not in UAPI 3.0's
// PhoneCalls; the operator panel needs it to offer "my phone" and transfer targets). Read-only, the
// directory only (no PBX: it answers while Asterisk is away), same authority as List on @self: a
// user sees its own extensions, an organization account those of its organization, the admin all.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { UserParams, errorResponses } from '../schemas/common.ts'
import { requestScope } from '../scope.ts'
import type { RouteDeps } from './list.ts'

const ExtensionEntry = Type.Object({
  extension: Type.String({ description: 'Full number, e.g. 0003*210' }),
  shortNumber: Type.String({ description: 'The number inside its organization, e.g. 210' }),
  type: Type.String({ description: 'phone-terminal, conference, callback...' }),
  name: Type.String({ description: 'The display name of its default caller id' }),
  ownerId: Type.String(),
  organizationId: Type.String()
})

const ExtensionCollection = Type.Object({
  startIndex: Type.Integer(),
  itemsPerPage: Type.Integer(),
  totalResults: Type.Integer(),
  filtered: Type.Boolean(),
  sorted: Type.Boolean(),
  entry: Type.Array(ExtensionEntry)
}, { description: 'The extensions in the user\'s authority, by number' })

const errorCodes = { 'params/userId': 'user_invalid' } as const

/** "Reception 210 <0003*210>" -> "Reception 210" (config validated the shape). */
const displayName = (callerId: string): string => callerId.replace(/\s*<[^>]*>\s*$/, '').trim()

export const extensionRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { directory } = deps
  app.get('/extensions/:userId', {
    schema: {
      summary: 'The extensions the user may act on (@me: the token\'s)',
      tags: ['Extensions'],
      hide: deps.hide,
      security: [{ bearer: [] }],
      params: UserParams,
      response: { 200: ExtensionCollection, ...errorResponses }
    },
    config: { errorCodes }
  }, async (request) => {
    const rs = requestScope(directory, request, request.params.userId, '@self')
    const entry = [...rs.scope.extensions]
      .sort((a, b) => a.number.localeCompare(b.number))
      .map((e) => ({
        extension: e.number,
        shortNumber: e.shortNumber,
        type: e.type,
        name: displayName(e.callerId),
        ownerId: String(e.ownerId),
        organizationId: String(e.organizationId)
      }))
    return { startIndex: 0, itemsPerPage: entry.length, totalResults: entry.length, filtered: false, sorted: true, entry }
  })
}
