// GET /phoneCalls/{userId}/{extension}[/{phoneCallId}]: List PhoneCalls (reference 3.1).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Static } from 'typebox'
import { arraySource, type CallService, type CallSource } from '../../calls/index.ts'
import type { Directory } from '../../directory/index.ts'
import { buildCollection, pagingQuery } from '../collection.ts'
import { uapiError } from '../errors.ts'
import { CallParams, Collection, ListQuery, ScopeParams, errorResponses, listErrorCodes } from '../schemas/common.ts'
import { PHONE_CALL_ID, baseUrl, requestScope } from '../scope.ts'

export interface RouteDeps {
  readonly calls: CallService
  readonly directory: Directory
  readonly publicUrl: string | undefined
  /** "/uapi" or "/unifiedapi": links point back to the prefix the client used. */
  readonly basePath: string
  readonly hide: boolean
}

export const listRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { calls, directory } = deps
  const config = { errorCodes: listErrorCodes }

  const list = (request: Parameters<typeof requestScope>[1], params: { userId: string, extension: string, phoneCallId?: string }, query: Static<typeof ListQuery>) => {
    const rs = requestScope(directory, request, params.userId, params.extension)
    if (params.phoneCallId !== undefined && !PHONE_CALL_ID.test(params.phoneCallId)) throw uapiError('pc_phonecall_invalid')
    if (!calls.available) throw uapiError('pbx_unavailable')
    let selected: CallSource
    if (params.phoneCallId !== undefined) {
      // A call that has ended is an empty collection, not an error: clients poll for it (reference 1.6).
      const call = calls.find(params.phoneCallId, rs.selection)
      selected = arraySource(call === undefined ? [] : [call])
    } else {
      selected = calls.source(rs.selection)
    }
    const base = baseUrl(request, deps.publicUrl)
    const self = `${base}${deps.basePath}/phoneCalls/${rs.userSegment}/${rs.extensionSegment}`
    // Links are built from resolved values only, never by echoing the raw path back.
    const listUrl = params.phoneCallId !== undefined ? `${self}/${params.phoneCallId}` : self
    return buildCollection(
      selected,
      query,
      (call) => ({ ...calls.project(call, rs.viewer), links: { self: `${self}/${call.id}` } }),
      (startIndex, q) => `${listUrl}?${pagingQuery(startIndex, q)}`
    )
  }

  const schema = (params: typeof ScopeParams | typeof CallParams, summary: string) => ({
    summary,
    tags: ['PhoneCalls'],
    hide: deps.hide,
    security: [{ bearer: [] }],
    params,
    querystring: ListQuery,
    response: { 200: Collection, ...errorResponses }
  })

  app.get('/phoneCalls/:userId/:extension', { schema: schema(ScopeParams, 'List the live calls of an extension (or @self)'), config },
    async (request) => list(request, request.params, request.query))
  app.get('/phoneCalls/:userId/:extension/:phoneCallId', { schema: schema(CallParams, 'Get one live call (empty collection once it ended)'), config },
    async (request) => list(request, request.params, request.query))
}
