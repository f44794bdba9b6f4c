// DELETE /phoneCalls/{userId}/{extension}[/{phoneCallId}]: Delete PhoneCalls, i.e. hang up
// (reference 3.6, 7.7).
//
// Decisions:
// - With an id: that call, if the scope sees it. A call that is gone (or never was visible) is
//   200 [] rather than an error, like List: clients poll and retry. A malformed id is 400
//   pc_phonecall_invalid.
// - Without an id: every live call of the extension (of every extension in scope for @self).
// - phoneNumber: only that party's leg(s) are hung up; the rest of the call goes on if it still
//   has parties (in a two-party call Asterisk then ends the other side too). The v5 text also
//   closes "the extension's leg"; we do not, so that a three-party call can drop exactly one
//   party. It is an extension (full, or short in the scope's organization) or a public number;
//   malformed, or no party of the addressed call: 400 pc_phonenumber_invalid. Without an id,
//   calls in which that number takes no part are left alone.
// - The answer is 200 with the PhoneCalls as they were just before the hangup (an array, [] when
//   nothing matched), never 204 (reference 7.7).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Logger } from 'pino'
import { PhoneCallSchema } from '../../calls/index.ts'
import { hangUp, hangUpTargets } from '../../calls/index.ts'
import type { AmiClient } from '../../ami/index.ts'
import { uapiError } from '../errors.ts'
import { CallParams, ScopeParams, errorResponses } from '../schemas/common.ts'
import { PHONE_CALL_ID, baseUrl, requestScope } from '../scope.ts'
import { resolveNumber } from '../numbers.ts'
import type { RouteDeps } from './list.ts'

export interface DeleteDeps extends RouteDeps {
  readonly ami: AmiClient
  readonly log: Logger
}

const DeleteQuery = Type.Object({
  phoneNumber: Type.Optional(Type.String({ maxLength: 64, description: 'Hang up only this party\'s leg (extension or public number)' })),
  accessRequestToken: Type.Optional(Type.String({ maxLength: 4096 }))
})

const deleteErrorCodes = {
  'querystring/phoneNumber': 'pc_phonenumber_invalid',
  'params/phoneCallId': 'pc_phonecall_invalid',
  'params/extension': 'extension_invalid',
  'params/userId': 'user_invalid'
} as const

export const deleteRoutes: FastifyPluginAsyncTypebox<DeleteDeps> = async (app, deps) => {
  const { calls, directory } = deps
  // Clients send Content-Type: application/json on DELETE with no body (reference 1.1): DELETE
  // takes no payload, so whatever comes is read (within bodyLimit) and ignored, never parsed.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => { done(null, undefined) })

  const handler = async (request: Parameters<typeof requestScope>[1], params: { userId: string, extension: string, phoneCallId?: string }, query: { phoneNumber?: string | undefined }) => {
    const scope = requestScope(directory, request, params.userId, params.extension)
    if (params.phoneCallId !== undefined && !PHONE_CALL_ID.test(params.phoneCallId)) throw uapiError('pc_phonecall_invalid')
    let phoneNumber: string | undefined
    if (query.phoneNumber !== undefined) {
      const orgId = scope.scope.user.organizationId ?? scope.scope.extensions[0]?.organizationId
      const resolved = resolveNumber(directory, query.phoneNumber, orgId)
      if (resolved === undefined) throw uapiError('pc_phonenumber_invalid')
      phoneNumber = resolved.number
    }
    if (!calls.available) throw uapiError('pbx_unavailable')
    const actionDeps = { ami: deps.ami, mirror: calls.mirror, calls, log: deps.log }
    const targets = hangUpTargets(actionDeps, { phoneCallId: params.phoneCallId, selection: scope.selection, phoneNumber })
    const self = `${baseUrl(request, deps.publicUrl)}${deps.basePath}/phoneCalls/${scope.userSegment}/${scope.extensionSegment}`
    // Snapshot first: once Asterisk hangs up, the mirror forgets the legs.
    const before = targets.map((t) => ({ ...calls.project(t.call, scope.viewer), links: { self: `${self}/${t.call.id}` } }))
    await hangUp(actionDeps, targets)
    return before
  }

  const schema = (params: typeof ScopeParams | typeof CallParams, summary: string) => ({
    summary,
    description: 'Answers 200 with the PhoneCalls hung up, as they were just before (an empty array when nothing matched). phoneNumber hangs up only that party\'s leg.',
    tags: ['PhoneCalls'],
    hide: deps.hide,
    security: [{ bearer: [] }],
    params,
    querystring: DeleteQuery,
    response: { 200: Type.Array(PhoneCallSchema), ...errorResponses }
  })
  const config = { errorCodes: deleteErrorCodes }

  app.delete('/phoneCalls/:userId/:extension', { schema: schema(ScopeParams, 'Hang up every live call of an extension (or @self)'), config },
    async (request) => await handler(request, request.params, request.query))
  app.delete('/phoneCalls/:userId/:extension/:phoneCallId', { schema: schema(CallParams, 'Hang up one live call (or one party of it with phoneNumber)'), config },
    async (request) => await handler(request, request.params, request.query))
}
