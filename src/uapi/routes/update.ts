// PUT /phoneCalls/{userId}/{extension}/{phoneCallId}: Update PhoneCalls (reference 3.5). The body's
// `action` selects a handler in src/uapi/actions; each validates its own fields and acts through
// src/calls/actions.
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Logger } from 'pino'
import { PhoneCallSchema } from '../../calls/index.ts'
import type { AmiClient } from '../../ami/index.ts'
import { uapiError } from '../errors.ts'
import { CallParams, ScopeParams, errorResponses } from '../schemas/common.ts'
import { PhoneCallAction, UpdateQuery, updateErrorCodes } from '../schemas/phone-call-action.ts'
import { PHONE_CALL_ID, baseUrl, requestScope } from '../scope.ts'
import { pickUpAction } from '../actions/pick-up.ts'
import { transferAction } from '../actions/transfer.ts'
import { transferToVoicemailAction } from '../actions/transfer-to-voicemail.ts'
import { bargeInAction, monitorAction, whisperAction } from '../actions/supervise.ts'
import { startRecordingAction, stopRecordingAction } from '../actions/recording.ts'
import { offHoldAction, onHoldAction } from '../actions/hold.ts'
import { parkAction, unParkAction, unParkAllAction } from '../actions/park.ts'
import type { ActionHandler } from '../actions/types.ts'
import type { RecordingStore } from '../../recordings/index.ts'
import type { RouteDeps } from './list.ts'

export interface UpdateDeps extends RouteDeps {
  readonly ami: AmiClient
  readonly log: Logger
  readonly recordings?: RecordingStore | undefined
}

const ACTIONS: Readonly<Record<string, ActionHandler>> = {
  PickUp: pickUpAction,
  Transfer: transferAction,
  TransferToVoicemail: transferToVoicemailAction,
  BargeIn: bargeInAction,
  Whisper: whisperAction,
  Monitor: monitorAction,
  StartRecording: startRecordingAction,
  StopRecording: stopRecordingAction,
  OnHold: onHoldAction,
  OffHold: offHoldAction,
  Park: parkAction,
  UnPark: unParkAction
}

/** Park answers Array<PhoneCall> (its page's Return-Object), the other actions the PhoneCall. */
const ActionAnswer = Type.Union([PhoneCallSchema, Type.Array(PhoneCallSchema)])

export const updateRoutes: FastifyPluginAsyncTypebox<UpdateDeps> = async (app, deps) => {
  const { calls, directory } = deps

  app.put('/phoneCalls/:userId/:extension/:phoneCallId', {
    schema: {
      summary: 'Act on a live call (PickUp...)',
      description: 'Answers 200 with the PhoneCall object (the PickUp page\'s Return-Object) as soon as Asterisk accepted the action; PickUp with ?wait=true answers only once the outcome is known.',
      tags: ['PhoneCalls'],
      hide: deps.hide,
      security: [{ bearer: [] }],
      params: CallParams,
      querystring: UpdateQuery,
      body: PhoneCallAction,
      response: { 200: ActionAnswer, ...errorResponses }
    },
    config: { errorCodes: updateErrorCodes }
  }, async (request) => {
    const { params, body } = request
    const scope = requestScope(directory, request, params.userId, params.extension)
    if (!PHONE_CALL_ID.test(params.phoneCallId)) throw uapiError('pc_phonecall_invalid')
    const handler = Object.hasOwn(ACTIONS, body.action) ? ACTIONS[body.action] : undefined
    // Every action of UAPI 3.0 (and v5's Monitor) has a handler: anything else is not an action.
    if (handler === undefined) throw uapiError('pc_action_invalid')
    const self = `${baseUrl(request, deps.publicUrl)}${deps.basePath}/phoneCalls/${scope.userSegment}/${scope.extensionSegment}`
    return await handler({
      deps: { ami: deps.ami, mirror: calls.mirror, calls, log: deps.log },
      ami: deps.ami,
      calls,
      directory,
      log: deps.log,
      request,
      scope,
      phoneCallId: params.phoneCallId,
      body,
      recordings: deps.recordings,
      wait: request.query.wait === true,
      present: (call) => ({ ...calls.project(call, scope.viewer), links: { self: `${self}/${call.id}` } })
    })
  })
}

/**
 * PUT without a phoneCallId (reference 7.1): only UnPark acts on "all the extension's calls" (its
 * parked ones, 4.8); any other action needs the id and answers pc_phonecall_invalid.
 */
export const updateAllRoutes: FastifyPluginAsyncTypebox<UpdateDeps> = async (app, deps) => {
  const { calls, directory } = deps

  app.put('/phoneCalls/:userId/:extension', {
    schema: {
      summary: 'UnPark every parked call of an extension (or @self)',
      description: 'Only UnPark may omit the phoneCallId: every parked call the extension may act on is sent to sendCallTo. Answers the array of those calls (empty when none).',
      tags: ['PhoneCalls'],
      hide: deps.hide,
      security: [{ bearer: [] }],
      params: ScopeParams,
      querystring: UpdateQuery,
      body: PhoneCallAction,
      response: { 200: Type.Array(PhoneCallSchema), ...errorResponses }
    },
    config: { errorCodes: updateErrorCodes }
  }, async (request) => {
    const { params, body } = request
    const scope = requestScope(directory, request, params.userId, params.extension)
    if (body.action !== 'UnPark') {
      throw Object.hasOwn(ACTIONS, body.action) ? uapiError('pc_phonecall_invalid') : uapiError('pc_action_invalid')
    }
    const self = `${baseUrl(request, deps.publicUrl)}${deps.basePath}/phoneCalls/${scope.userSegment}/${scope.extensionSegment}`
    return await unParkAllAction({
      deps: { ami: deps.ami, mirror: calls.mirror, calls, log: deps.log },
      ami: deps.ami,
      calls,
      directory,
      log: deps.log,
      request,
      scope,
      body,
      recordings: deps.recordings,
      wait: request.query.wait === true,
      present: (call) => ({ ...calls.project(call, scope.viewer), links: { self: `${self}/${call.id}` } })
    })
  })
}
