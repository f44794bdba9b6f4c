// POST /phoneCalls/{userId}/simple: Create Simple PhoneCalls, a click-to-call (reference 3.2); also
// .../callback (3.3) and .../conferenceInvite (3.4), at the end of this file.
// The source phone rings first; once it answers, the destination is dialed from its leg.
//
// Decisions (the page leaves them open):
// - source: one or more numbers: phone terminal extensions (full or short) within the path user's
//   authority (a user: its own phones; an organization account: its organization's; admin: any)
//   and/or public numbers. One phone: it is originated directly, as always. Several, or a public
//   one: Local/s@vn-sources/n rings them all at once (first to answer wins). An absent source means
//   the payload's `extension`.
// - extension: the extension charged; a phone terminal in the path user's authority, full or short.
//   Absent: the source, or else the path user's only phone terminal. List shows the call under the
//   source's extension (PhoneCall.extension is the source there).
// - destination: exactly one; an extension of the source's organization (full or short) or a
//   public number (5+ digits, optional +). Calling the source itself is pc_destination_invalid.
// - callerId: what the SOURCE's phone shows while it rings; default the destination's caller id
//   (an extension's configured one, else the bare public number). The destination is shown the
//   source extension's own caller id, or v5's callerDestination when given.
// - waitForPickup (default 25 s): how long the source rings. callDuration: Asterisk hangs the call
//   up that many seconds after it was placed (ringing included), through TIMEOUT(absolute) on the
//   source leg. allowPublicTransfer: validated and recorded on the source leg as the channel
//   variable VN_PUBLIC_TRANSFER (0/1); this engine does not restrict transfers with it. video:
//   validated and ignored (the test PBX's endpoints are audio only; SDP is the phone's business).
// - nonce: echoed as PhoneCall.nonce (1-128 of A-Z a-z 0-9 . _ : -), generated when absent. It
//   travels on the leg as VN_NONCE, so List shows it too, on every engine instance.
// - Reply: 200 with [PhoneCall]. We wait up to 1 s for the source leg's first event and answer the
//   call as List shows it; if Asterisk is slower, a minimal PhoneCall for the same id (one view,
//   the source, trying). links.self is .../phoneCalls/<userId>/<source>/<id>, the List URL to poll.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Logger } from 'pino'
import { PhoneCallSchema, Flow, Status, formatCallerId, isoDate, isPublicNumber, parseCallerId, type CallerId, type PhoneCall } from '../../calls/index.ts'
import { asteriskCallerId, clickToCall, conferenceInvite, newNonce, publicDialString } from '../../calls/index.ts'
import type { AmiClient } from '../../ami/index.ts'
import type { Extension } from '../../directory/index.ts'
import { uapiError, type UapiErrorCode } from '../errors.ts'
import { UserParams, errorResponses } from '../schemas/common.ts'
import { baseUrl, requestScope } from '../scope.ts'
import { parseWaitSeconds } from '../actions/pick-up.ts'
import { organizationContext, resolveNumber } from '../numbers.ts'
import type { RouteDeps } from './list.ts'

export interface CreateDeps extends RouteDeps {
  readonly ami: AmiClient
  readonly log: Logger
}

const QueryValue = (description: string) => Type.String({ maxLength: 64, description })
const CreateQuery = Type.Object({
  waitForPickup: Type.Optional(QueryValue('Seconds the source rings (default 25)')),
  callDuration: Type.Optional(QueryValue('Maximum duration of the call in seconds, ringing included')),
  allowPublicTransfer: Type.Optional(QueryValue('true/false: recorded on the call, not enforced')),
  video: Type.Optional(QueryValue('true/false: accepted, no video here')),
  accessRequestToken: Type.Optional(Type.String({ maxLength: 4096 }))
})

// Field types are checked by hand so that each field answers its own code.
const CreateBody = Type.Object({
  extension: Type.Optional(Type.Unknown({ description: 'Phone terminal extension charged (full or short)' })),
  nonce: Type.Optional(Type.Unknown({ description: 'Client correlation string, echoed in PhoneCall.nonce' })),
  phoneCallView: Type.Optional(Type.Unknown({ description: '[{ source, destination, callerId }]; source/destination as arrays or strings' }))
}, { description: 'PhoneCall (create payload)' })

const createErrorCodes = {
  body: 'request_invalid',
  'querystring/waitForPickup': 'pc_timeout_invalid',
  'querystring/callDuration': 'pc_callduration_invalid',
  'querystring/allowPublicTransfer': 'pc_allowpublictransfer_invalid',
  'querystring/video': 'pc_video_invalid',
  'params/userId': 'user_invalid'
} as const

const MAX_CALL_DURATION = 86_400
const NONCE = /^[A-Za-z0-9._:-]{1,128}$/
const APPEAR_WITHIN_MS = 1_000

function parseBoolean (value: string | undefined, code: UapiErrorCode): boolean {
  if (value === undefined) return false
  const v = value.trim().toLowerCase()
  if (v === 'true' || v === '1') return true
  if (v === 'false' || v === '0') return false
  throw uapiError(code)
}

function parseCallDuration (value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = /^\s*[0-9]{1,6}\s*$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(n) || n <= 0 || n > MAX_CALL_DURATION) throw uapiError('pc_callduration_invalid')
  return n
}

/** source/destination: a string or an array of strings, deduplicated; undefined when absent or empty. */
function numbers (value: unknown, code: UapiErrorCode): string[] | undefined {
  if (value === undefined || value === null) return undefined
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined
  if (list === undefined || list.length > 16 || !list.every((v): v is string => typeof v === 'string' && v.length > 0 && v.length <= 64)) throw uapiError(code)
  return list.length === 0 ? undefined : [...new Set(list)]
}

function callerIdOf (value: unknown): CallerId | undefined {
  if (value === undefined) return undefined
  const parsed = typeof value === 'string' ? parseCallerId(value) : undefined
  if (parsed === undefined) throw uapiError('pc_callerid_invalid')
  return parsed
}

/** The ConfBridge room of a scheduled conference (asterisk/confbridge.conf): conf-0003_211-3. */
export function conferenceRoom (extension: string, number: string): string {
  return `conf-${extension.replace('*', '_')}-${number}`
}

/** Asterisk caller id for a Variable value: commas would split it, so names lose them. */
const forVariable = (c: CallerId): string => asteriskCallerId(c.name?.replace(/,/g, ' '), c.number)

export const createRoutes: FastifyPluginAsyncTypebox<CreateDeps> = async (app, deps) => {
  const { calls, directory } = deps

  app.post('/phoneCalls/:userId/simple', {
    schema: {
      summary: 'Create a simple PhoneCall (click-to-call): ring the source, then dial the destination',
      description: 'Answers 200 with an array of one PhoneCall whose links.self is the List URL to poll.',
      tags: ['PhoneCalls'],
      hide: deps.hide,
      security: [{ bearer: [] }],
      params: UserParams,
      querystring: CreateQuery,
      body: CreateBody,
      response: { 200: Type.Array(PhoneCallSchema), ...errorResponses }
    },
    config: { errorCodes: createErrorCodes }
  }, async (request) => {
    const { query, params } = request
    const body = request.body ?? {}
    const rs = requestScope(directory, request, params.userId, '@self')
    const user = rs.scope.user
    const authority = rs.scope.extensions
    const inAuthority = (ext: Extension): boolean => ext.type === 'phone-terminal' && ext.endpoint !== undefined && authority.some((e) => e.number === ext.number)

    // Query.
    const waitSeconds = parseWaitSeconds(query.waitForPickup)
    if (waitSeconds === undefined) throw uapiError('pc_timeout_invalid')
    const callDuration = parseCallDuration(query.callDuration)
    const allowPublicTransfer = parseBoolean(query.allowPublicTransfer, 'pc_allowpublictransfer_invalid')
    parseBoolean(query.video, 'pc_video_invalid')

    // Payload.
    const orgId = user.organizationId
    let charged: Extension | undefined
    if (body.extension !== undefined) {
      const r = resolveNumber(directory, body.extension, orgId)
      if (r?.kind !== 'extension' || !inAuthority(r.extension)) throw uapiError('pc_extension_invalid')
      charged = r.extension
    }
    const views = body.phoneCallView
    if (!Array.isArray(views) || views.length !== 1 || typeof views[0] !== 'object' || views[0] === null || Array.isArray(views[0])) throw uapiError('pc_source_invalid', 'phoneCallView must hold one object with source and destination.')
    const view = views[0] as Record<string, unknown>
    const sources = numbers(view.source, 'pc_source_invalid')
    // The phone the call is listed under (and whose organization's dialplan dials the destination):
    // the single internal source, else the extension charged.
    let source: Extension
    // Several sources, or a public one: dial strings rung at once (undefined: one phone, as before).
    let dialSources: string[] | undefined
    let sourceNumbers: string[]
    if (sources === undefined) {
      const own = authority.filter((e) => e.ownerId === user.id && inAuthority(e))
      const fallback = charged ?? (own.length === 1 ? own[0] : undefined)
      if (fallback === undefined) throw uapiError(body.extension === undefined ? 'pc_extension_invalid' : 'pc_source_invalid')
      source = fallback
      sourceNumbers = [source.number]
    } else {
      const resolved = sources.map((s) => resolveNumber(directory, s, orgId))
      const parts: Array<{ number: string, dial: string, extension: Extension | undefined }> = []
      for (const r of resolved) {
        if (r === undefined) throw uapiError('pc_source_invalid', 'Each source must be a phone terminal extension within your authority or a public number.')
        if (r.kind === 'extension' && !inAuthority(r.extension)) throw uapiError('pc_source_invalid', 'The source must be a phone terminal extension within your authority.')
        const number = r.kind === 'public' ? r.number.replace(/^\+/, '') : r.number
        if (parts.some((p) => p.number === number)) continue
        parts.push(r.kind === 'extension' ? { number, dial: r.extension.endpoint as string, extension: r.extension } : { number: r.number, dial: publicDialString(r.number), extension: undefined })
      }
      const internal = parts.map((p) => p.extension).filter((e): e is Extension => e !== undefined)
      const own = authority.filter((e) => e.ownerId === user.id && inAuthority(e))
      const lead = parts.length === 1 && internal.length === 1 ? internal[0] : (charged ?? internal[0] ?? (own.length === 1 ? own[0] : undefined))
      if (lead === undefined) throw uapiError('pc_extension_invalid', 'A public source needs the extension charged.')
      source = lead
      sourceNumbers = parts.map((p) => p.number)
      if (parts.length > 1 || internal.length === 0) dialSources = parts.map((p) => p.dial)
    }
    charged ??= source
    const destinations = numbers(view.destination, 'pc_destination_invalid')
    if (destinations?.length !== 1) throw uapiError('pc_destination_invalid')
    const dest = resolveNumber(directory, destinations[0], source.organizationId)
    if (dest === undefined || sourceNumbers.includes(dest.number) || sourceNumbers.includes(dest.number.replace(/^\+/, '')) || (dest.kind === 'extension' && dest.extension.organizationId !== source.organizationId)) throw uapiError('pc_destination_invalid')
    const callerId = callerIdOf(view.callerId ?? view.callerID)
    const callerDestination = callerIdOf(view.callerDestination)
    let nonce: string
    if (body.nonce === undefined) nonce = newNonce()
    else if (typeof body.nonce === 'string' && NONCE.test(body.nonce)) nonce = body.nonce
    else throw uapiError('pc_nonce_invalid')
    const context = source.context !== '' ? source.context : organizationContext(directory, source.organizationId)
    if (context === undefined) throw uapiError('pc_source_invalid')

    if (!calls.available) throw uapiError('pbx_unavailable')
    // Configured caller ids were validated at load; parseCallerId accepts them.
    const destinationCallerId = dest.kind === 'extension' ? parseCallerId(dest.extension.callerId) : undefined
    const sourceSees = callerId ?? destinationCallerId ?? { name: undefined, number: dest.number }
    const publicSource = dialSources !== undefined && sourceNumbers.length === 1 ? sourceNumbers[0] : undefined
    const destinationSees = callerDestination ?? (publicSource !== undefined ? { name: undefined, number: publicSource } : undefined) ?? parseCallerId(source.callerId) ?? { name: undefined, number: source.number }
    const started = await clickToCall({ ami: deps.ami, mirror: calls.mirror, calls, log: deps.log }, {
      endpoint: source.endpoint as string,
      sourceExtension: source.number,
      context,
      destination: dest.number,
      sourceSees: forVariable(sourceSees),
      destinationSees: forVariable(destinationSees),
      waitForPickupMs: Math.round(waitSeconds * 1000),
      callDurationSeconds: callDuration,
      nonce,
      allowPublicTransfer,
      appearWithinMs: APPEAR_WITHIN_MS,
      ...(dialSources === undefined ? {} : { sources: dialSources })
    })
    const self = `${baseUrl(request, deps.publicUrl)}${deps.basePath}/phoneCalls/${rs.userSegment}/${source.number}/${started.id}`
    // Several sources: the originated leg is a Local channel (never a view); the sources' legs come later.
    if (started.call !== undefined && dialSources === undefined) return [{ ...calls.project(started.call, source.number), links: { self } }]
    const ownerId = String(source.organizationId)
    const minimal: PhoneCall = {
      id: started.id,
      extension: source.number,
      ownerId,
      ownerName: directory.organization(source.organizationId)?.name ?? '',
      published: isoDate(Date.now()),
      nonce,
      phoneCallView: sourceNumbers.map((n, i) => ({
        id: String(i).padStart(2, '0'),
        extension: isPublicNumber(n) ? source.number : n,
        source: [n],
        destination: [dest.number],
        flow: isPublicNumber(dest.number) ? Flow.outgoingPublic : isPublicNumber(n) ? Flow.incomingPublic : Flow.local,
        status: Status.trying,
        callerId: formatCallerId(sourceSees.name ?? '', sourceSees.number)
      })),
      links: { self }
    }
    return [minimal]
  })

  /** The one-element phoneCallView of a create payload (pc_source_invalid otherwise). */
  const onlyView = (body: { phoneCallView?: unknown }): Record<string, unknown> => {
    const views = body.phoneCallView
    if (!Array.isArray(views) || views.length !== 1 || typeof views[0] !== 'object' || views[0] === null || Array.isArray(views[0])) throw uapiError('pc_source_invalid', 'phoneCallView must hold one object with source and destination.')
    return views[0] as Record<string, unknown>
  }
  const nonceOf = (value: unknown): string => {
    if (value === undefined) return newNonce()
    if (typeof value === 'string' && NONCE.test(value)) return value
    throw uapiError('pc_nonce_invalid')
  }
  const onePublic = (value: unknown, code: UapiErrorCode): string => {
    const list = numbers(value, code)
    if (list?.length !== 1 || !isPublicNumber(list[0] as string)) throw uapiError(code, 'One public number is required.')
    return list[0] as string
  }
  const minimalCall = (id: string, ext: Extension, nonce: string, views: PhoneCall['phoneCallView'], self: string): PhoneCall => ({
    id,
    extension: ext.number,
    ownerId: String(ext.organizationId),
    ownerName: directory.organization(ext.organizationId)?.name ?? '',
    published: isoDate(Date.now()),
    nonce,
    phoneCallView: views,
    links: { self }
  })

  // POST /phoneCalls/{userId}/callback (reference 3.3): through a Callback extension within the path
  // user's authority, the PBX calls the public source first and, once it answers, the public
  // destination from the extension's dialplan context. Both parties are public channels.
  app.post('/phoneCalls/:userId/callback', {
    schema: {
      summary: 'Create a callback PhoneCall: call a public source, then connect it to a public destination',
      description: 'Answers 200 with an array of one PhoneCall.',
      tags: ['PhoneCalls'],
      hide: deps.hide,
      security: [{ bearer: [] }],
      params: UserParams,
      querystring: CreateQuery,
      body: CreateBody,
      response: { 200: Type.Array(PhoneCallSchema), ...errorResponses }
    },
    config: { errorCodes: createErrorCodes }
  }, async (request) => {
    const { query, params } = request
    const body = request.body ?? {}
    const rs = requestScope(directory, request, params.userId, '@self')
    const waitSeconds = parseWaitSeconds(query.waitForPickup)
    if (waitSeconds === undefined) throw uapiError('pc_timeout_invalid')
    const callDuration = parseCallDuration(query.callDuration)
    parseBoolean(query.allowPublicTransfer, 'pc_allowpublictransfer_invalid')
    parseBoolean(query.video, 'pc_video_invalid')
    const r = resolveNumber(directory, body.extension, rs.scope.user.organizationId)
    if (r?.kind !== 'extension' || r.extension.type !== 'callback' || !rs.scope.extensions.some((e) => e.number === r.number)) throw uapiError('pc_extension_invalid', 'extension must be a Callback extension of the user.')
    const ext = r.extension
    const view = onlyView(body)
    const source = onePublic(view.source, 'pc_source_invalid')
    const destination = onePublic(view.destination, 'pc_destination_invalid')
    if (source.replace(/^\+/, '') === destination.replace(/^\+/, '')) throw uapiError('pc_destination_invalid')
    const callerId = callerIdOf(view.callerId ?? view.callerID)
    const nonce = nonceOf(body.nonce)
    if (!calls.available) throw uapiError('pbx_unavailable')
    const sourceSees = callerId ?? { name: undefined, number: destination }
    const started = await clickToCall({ ami: deps.ami, mirror: calls.mirror, calls, log: deps.log }, {
      endpoint: publicDialString(source),
      sources: [publicDialString(source)],
      // The extension's own Local channel (config endpoint Local/<ext>@vn-callback): its ;1 half is
      // the call's view in List, under the Callback extension, on every engine instance.
      ...(ext.endpoint?.startsWith('Local/') === true ? { sourcesChannel: `${ext.endpoint}/n` } : {}),
      sourceExtension: ext.number,
      context: ext.context,
      destination,
      sourceSees: forVariable(sourceSees),
      destinationSees: forVariable({ name: undefined, number: source }),
      waitForPickupMs: Math.round(waitSeconds * 1000),
      callDurationSeconds: callDuration,
      nonce,
      allowPublicTransfer: false,
      appearWithinMs: APPEAR_WITHIN_MS
    })
    const self = `${baseUrl(request, deps.publicUrl)}${deps.basePath}/phoneCalls/${rs.userSegment}/${ext.number}/${started.id}`
    return [minimalCall(started.id, ext, nonce, [{
      id: '00',
      extension: ext.number,
      source: [source],
      destination: [destination],
      flow: Flow.outgoingPublic,
      status: Status.trying,
      callerId: formatCallerId(sourceSees.name ?? '', sourceSees.number)
    }], self)]
  })

  // POST /phoneCalls/{userId}/conferenceInvite?number=&pin= (reference 3.4): rings the destination
  // (a phone of the organization or a public number) and, once it answers, puts it into the
  // scheduled conference `number` of the Conference extension (a ConfBridge room). The PIN is
  // checked here; nothing reaches Asterisk when it or the number is wrong.
  const InviteQuery = Type.Object({
    waitForPickup: Type.Optional(QueryValue('Seconds the invitee rings (default 25)')),
    number: Type.Optional(QueryValue('Number of the scheduled conference')),
    pin: Type.Optional(QueryValue('PIN of the scheduled conference')),
    accessRequestToken: Type.Optional(Type.String({ maxLength: 4096 }))
  })
  app.post('/phoneCalls/:userId/conferenceInvite', {
    schema: {
      summary: 'Invite a number into a scheduled conference of a Conference extension',
      description: 'Answers 200 with an array of one PhoneCall, the invitee\'s.',
      tags: ['PhoneCalls'],
      hide: deps.hide,
      security: [{ bearer: [] }],
      params: UserParams,
      querystring: InviteQuery,
      body: CreateBody,
      response: { 200: Type.Array(PhoneCallSchema), ...errorResponses }
    },
    config: { errorCodes: { body: 'request_invalid', 'querystring/waitForPickup': 'pc_timeout_invalid', 'querystring/number': 'pc_number_invalid', 'querystring/pin': 'pc_pin_invalid', 'params/userId': 'user_invalid' } }
  }, async (request) => {
    const { query, params } = request
    const body = request.body ?? {}
    const rs = requestScope(directory, request, params.userId, '@self')
    const waitSeconds = parseWaitSeconds(query.waitForPickup)
    if (waitSeconds === undefined) throw uapiError('pc_timeout_invalid')
    const r = resolveNumber(directory, body.extension, rs.scope.user.organizationId)
    if (r?.kind !== 'extension' || r.extension.type !== 'conference' || !rs.scope.extensions.some((e) => e.number === r.number)) throw uapiError('pc_extension_invalid', 'extension must be a Conference extension of the user.')
    const ext = r.extension
    const scheduled = ext.conferences?.find((c) => c.number === query.number?.trim())
    if (scheduled === undefined) throw uapiError('pc_number_invalid')
    if ((query.pin ?? '') !== scheduled.pin) throw uapiError('pc_pin_invalid')
    const view = onlyView(body)
    const sources = numbers(view.source, 'pc_source_invalid')
    if (sources !== undefined && (sources.length !== 1 || resolveNumber(directory, sources[0], ext.organizationId)?.number !== ext.number)) throw uapiError('pc_source_invalid', 'The source, when given, is the Conference extension.')
    const destinations = numbers(view.destination, 'pc_destination_invalid')
    if (destinations?.length !== 1) throw uapiError('pc_destination_invalid')
    const dest = resolveNumber(directory, destinations[0], ext.organizationId)
    if (dest === undefined || (dest.kind === 'extension' && (dest.extension.organizationId !== ext.organizationId || dest.extension.type !== 'phone-terminal' || dest.extension.endpoint === undefined))) throw uapiError('pc_destination_invalid')
    const callerId = callerIdOf(view.callerId ?? view.callerID) ?? parseCallerId(ext.callerId) ?? { name: undefined, number: ext.number }
    const nonce = nonceOf(body.nonce)
    if (!calls.available) throw uapiError('pbx_unavailable')
    const started = await conferenceInvite({ ami: deps.ami, mirror: calls.mirror, calls, log: deps.log }, {
      endpoint: dest.kind === 'extension' ? dest.extension.endpoint as string : publicDialString(dest.number),
      room: conferenceRoom(ext.number, scheduled.number),
      destination: dest.number,
      callerId: forVariable(callerId),
      waitForPickupMs: Math.round(waitSeconds * 1000),
      nonce,
      appearWithinMs: APPEAR_WITHIN_MS
    })
    const self = `${baseUrl(request, deps.publicUrl)}${deps.basePath}/phoneCalls/${rs.userSegment}/${ext.number}/${started.id}`
    return [minimalCall(started.id, ext, nonce, [{
      id: '00',
      extension: dest.kind === 'extension' ? dest.number : ext.number,
      source: [ext.number],
      destination: [dest.number],
      flow: isPublicNumber(dest.number) ? Flow.outgoingPublic : Flow.local,
      status: Status.trying,
      callerId: formatCallerId(callerId.name ?? '', callerId.number)
    }], self)]
  })
}
