// GET /phoneCalls/{userId}/{extension}/stream: the live calls the token sees, as Server-Sent Events
// (not in UAPI 3.0; see src/stream/sse.ts for the messages). Same authority as List.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { openCallStream, type CallFeed } from '../../stream/index.ts'
import { uapiError } from '../errors.ts'
import { ScopeParams, errorResponses, listErrorCodes } from '../schemas/common.ts'
import { requestScope } from '../scope.ts'
import type { RouteDeps } from './list.ts'

export interface StreamRouteDeps extends RouteDeps {
  readonly feed: CallFeed
}

const StreamQuery = Type.Object({
  lastEventId: Type.Optional(Type.String({ maxLength: 64, description: 'Resume after this id, for clients that cannot send the Last-Event-ID header' }))
})

export const streamRoutes: FastifyPluginAsyncTypebox<StreamRouteDeps> = async (app, deps) => {
  const { calls, directory, feed } = deps
  app.get('/phoneCalls/:userId/:extension/stream', {
    schema: {
      summary: 'Live calls of an extension (or @self) as Server-Sent Events: snapshot, call, ended, status, expired',
      tags: ['PhoneCalls'],
      hide: deps.hide,
      security: [{ bearer: [] }],
      params: ScopeParams,
      querystring: StreamQuery,
      produces: ['text/event-stream'],
      response: errorResponses
    },
    config: { errorCodes: listErrorCodes }
  }, async (request, reply) => {
    const rs = requestScope(directory, request, request.params.userId, request.params.extension)
    if (!calls.available) throw uapiError('pbx_unavailable')
    const header = request.headers['last-event-id']
    const lastEventId = (typeof header === 'string' && header.length <= 64 ? header : undefined) ?? request.query.lastEventId
    reply.hijack()
    openCallStream(feed, calls, reply.raw, {
      selection: rs.selection,
      viewer: rs.viewer,
      lastEventId,
      expiresAt: rs.principal.expiresAt,
      headers: reply.getHeaders()
    })
  })
}
