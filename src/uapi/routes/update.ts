// PUT /phoneCalls/{userId}/{extension}/{phoneCallId}: Update PhoneCalls (reference 3.5). The body's
// `action` selects the operation; each one validates its fields here and runs in src/calls/actions.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { PhoneCallSchema, parseCallerId, pickUp, type CallService } from '../../calls/index.ts'
import type { Directory, Extension } from '../../directory/index.ts'
import type { AmiClient } from '../../ami/index.ts'
import type { Logger } from 'pino'
import { uapiError } from '../errors.ts'
import { CallParams, errorResponses } from '../schemas/common.ts'
import { PhoneCallAction, UpdateQuery, updateErrorCodes } from '../schemas/phone-call-action.ts'
import { PHONE_CALL_ID, baseUrl, requestScope } from '../scope.ts'
import type { RouteDeps } from './list.ts'

export interface UpdateDeps extends RouteDeps {
  readonly ami: AmiClient
  readonly log: Logger
}

/** Actions UAPI defines that this engine does not implement yet: 501, not "invalid". */
const NOT_IMPLEMENTED = new Set(['OnHold', 'OffHold', 'StartRecording', 'StopRecording', 'BargeIn', 'Park', 'UnPark', 'Whisper', 'Monitor', 'Transfer', 'TransferToVoicemail'])

const DEFAULT_WAIT_SECONDS = 25
const MAX_WAIT_SECONDS = 86_400

/** waitForPickup: a number (or numeric string) greater than 0, in seconds. */
export function parseWaitSeconds (value: string | number | undefined): number | undefined {
  if (value === undefined) return DEFAULT_WAIT_SECONDS
  const n = typeof value === 'number' ? value : /^\s*[0-9]+(\.[0-9]+)?\s*$/.test(value) ? Number(value) : NaN
  return Number.isFinite(n) && n > 0 && n <= MAX_WAIT_SECONDS ? n : undefined
}

export const updateRoutes: FastifyPluginAsyncTypebox<UpdateDeps> = async (app, deps) => {
  const { calls, directory } = deps

  /** sendCallTo: a phone terminal extension (full or short number) of the organization in scope. */
  const sendCallToExtension = (number: string | undefined, orgId: number | undefined): Extension => {
    if (number === undefined || number === '') throw uapiError('pc_sendcallto_invalid')
    const ext = directory.extension(number, orgId !== undefined ? { orgId } : {})
    if (ext === undefined || ext.type !== 'phone-terminal' || ext.endpoint === undefined) throw uapiError('pc_sendcallto_invalid')
    if (orgId !== undefined && ext.organizationId !== orgId) throw uapiError('pc_sendcallto_invalid')
    return ext
  }

  app.put('/phoneCalls/:userId/:extension/:phoneCallId', {
    schema: {
      summary: 'Act on a live call (PickUp...)',
      description: 'PickUp answers 200 with the PhoneCall object (the PickUp page\'s Return-Object) as soon as Asterisk accepted the originate; add ?wait=true to answer only once the outcome is known.',
      tags: ['PhoneCalls'],
      hide: deps.hide,
      security: [{ bearer: [] }],
      params: CallParams,
      querystring: UpdateQuery,
      body: PhoneCallAction,
      response: { 200: PhoneCallSchema, ...errorResponses }
    },
    config: { errorCodes: updateErrorCodes }
  }, async (request) => {
    const { params, body } = request
    const rs = requestScope(directory, request, params.userId, params.extension)
    if (!PHONE_CALL_ID.test(params.phoneCallId)) throw uapiError('pc_phonecall_invalid')
    if (body.action !== 'PickUp') {
      throw NOT_IMPLEMENTED.has(body.action) ? uapiError('request_not_implemented', `Action ${body.action} is not implemented.`) : uapiError('pc_action_invalid')
    }
    const waitSeconds = parseWaitSeconds(body.waitForPickup ?? body.waitForPickUp)
    if (waitSeconds === undefined) throw uapiError('pc_timeout_invalid')
    const callerIdText = body.callerId ?? body.callerID
    const callerId = callerIdText !== undefined ? parseCallerId(callerIdText) : undefined
    if (callerIdText !== undefined && callerId === undefined) throw uapiError('pc_callerid_invalid')
    // The organization in scope: the path user's, or for an admin the one the addressed extension is in.
    const orgId = rs.scope.user.organizationId ?? rs.scope.extensions[0]?.organizationId
    const target = sendCallToExtension(body.sendCallTo, rs.scope.allExtensions && rs.scope.user.role === 'admin' ? undefined : orgId)
    if (!calls.available) throw uapiError('pbx_unavailable')
    const started = await pickUp({ ami: deps.ami, mirror: calls.mirror, calls, log: deps.log }, {
      phoneCallId: params.phoneCallId,
      selection: rs.selection,
      phoneCallViewId: body.phoneCallViewId ?? '',
      endpoint: target.endpoint as string,
      extension: target.number,
      organizationId: String(target.organizationId),
      callerId: callerId ?? (parseCallerId(target.callerId) as NonNullable<typeof callerId>),
      waitForPickupMs: Math.round(waitSeconds * 1000)
    })
    if (request.query.wait === true) {
      const outcome = await started.outcome
      if (outcome === 'unanswered') throw uapiError('pc_pickup_unanswered')
      if (outcome === 'target-gone') throw uapiError('pc_pickup_target_gone')
      if (outcome === 'failed') throw uapiError('pc_action_failed')
    }
    const self = `${baseUrl(request, deps.publicUrl)}${deps.basePath}/phoneCalls/${rs.userSegment}/${rs.extensionSegment}/${started.call.id}`
    return { ...calls.project(started.call, rs.viewer), links: { self } }
  })
}
