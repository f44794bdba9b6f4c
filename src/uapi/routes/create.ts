// POST /phoneCalls/{userId}/simple: Create Simple PhoneCalls, a click-to-call (reference 3.2).
// The source phone rings first; once it answers, the destination is dialed from its leg.
//
// Decisions (the page leaves them open):
// - source: exactly one number, a phone terminal extension (full or short) within the path user's
//   authority (a user: its own phones; an organization account: its organization's; admin: any).
//   Several distinct sources, or a public source (callback-like), are pc_source_invalid: this
//   engine rings one phone. An absent source means the payload's `extension`.
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
import { asteriskCallerId, clickToCall, newNonce, publicDialString } from '../../calls/index.ts'
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
}
