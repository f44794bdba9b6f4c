// GET /phoneCalls/{userId}/{extension}/{phoneCallId}/recordings[/{recordingId}]: the recordings of
// a call (StartRecording) and their audio. Same authority as List: the path's user and extension
// give the scope; a recording is visible while its call is (any extension that is or was a
// party), and afterwards to the scopes covering an extension that was a party while it was
// recorded (maySeeRecording). Anything else is 404, whether it exists or not.
import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from 'typebox'
import { isRecordingLive, isoDate, maySeeRecording, type CallService } from '../../calls/index.ts'
import type { RecordingMeta, RecordingStore } from '../../recordings/index.ts'
import { uapiError } from '../errors.ts'
import { CallParams, ErrorEnvelope, errorResponses } from '../schemas/common.ts'
import { PHONE_CALL_ID, baseUrl, requestScope, type RequestScope } from '../scope.ts'
import type { RouteDeps } from './list.ts'

export interface RecordingRouteDeps extends RouteDeps {
  readonly recordings?: RecordingStore | undefined
}

export const RecordingSchema = Type.Object({
  id: Type.String({ description: '32 hex characters, random' }),
  phoneCallId: Type.String(),
  format: Type.Union([Type.Literal('wav'), Type.Literal('wav49')]),
  status: Type.Union([Type.Literal('recording'), Type.Literal('done'), Type.Literal('missing')], { description: 'recording: still being written; done: the file can be got; missing: Asterisk wrote no file' }),
  started: Type.String({ format: 'date-time' }),
  stopped: Type.Optional(Type.String({ format: 'date-time' })),
  duration: Type.Optional(Type.Number({ description: 'Length of the audio in seconds (from the WAV header)' })),
  size: Type.Optional(Type.Integer({ description: 'File size in bytes' })),
  contentType: Type.Literal('audio/wav'),
  links: Type.Object({ self: Type.String({ description: 'The audio file (GET, HEAD, Range)' }) })
})

const RecordingList = Type.Object({
  startIndex: Type.Integer(),
  itemsPerPage: Type.Integer(),
  totalResults: Type.Integer(),
  entry: Type.Array(RecordingSchema)
}, { description: 'The recordings of a call, oldest first' })

const RecordingParams = Type.Object({ ...CallParams.properties, recordingId: Type.String({ minLength: 1, maxLength: 64 }) })
const Query = Type.Object({ accessRequestToken: Type.Optional(Type.String({ maxLength: 4096 })) })
const errorCodes = { 'params/phoneCallId': 'pc_phonecall_invalid', 'params/extension': 'extension_invalid', 'params/userId': 'user_invalid', 'params/recordingId': 'resource_not_found' } as const

/** A single `bytes=` range (RFC 9110 14.1.2); undefined: serve the whole file (absent, or several ranges). */
export function parseRange (header: string | undefined, size: number): { start: number, end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null || (m[1] === '' && m[2] === '')) return undefined
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (start >= size || end < start) return 'unsatisfiable'
  return { start, end }
}

export const recordingRoutes: FastifyPluginAsyncTypebox<RecordingRouteDeps> = async (app, deps) => {
  const { calls, directory } = deps

  /** The store, the scope and the call id, once the path is checked. */
  const resolve = (request: Parameters<typeof requestScope>[1], params: Static<typeof CallParams>): { store: RecordingStore, rs: RequestScope } => {
    const rs = requestScope(directory, request, params.userId, params.extension)
    if (!PHONE_CALL_ID.test(params.phoneCallId)) throw uapiError('pc_phonecall_invalid')
    if (deps.recordings === undefined) throw uapiError('request_not_implemented', 'Recording is not configured on this engine.')
    return { store: deps.recordings, rs }
  }

  const describe = async (store: RecordingStore, meta: RecordingMeta, self: string): Promise<Static<typeof RecordingSchema>> => {
    const live = isRecordingLive(calls.mirror, meta)
    const audio = live ? undefined : await store.audio(meta)
    const out: Static<typeof RecordingSchema> = {
      id: meta.id,
      phoneCallId: meta.phoneCallId,
      format: meta.format,
      status: live ? 'recording' : audio === undefined ? 'missing' : 'done',
      started: isoDate(Date.parse(meta.started)),
      contentType: 'audio/wav',
      links: { self: `${self}/${meta.id}` }
    }
    // Without the starting instance's stop time (it may be finishing, or gone): Asterisk's last write.
    if (meta.stopped !== undefined) out.stopped = isoDate(Date.parse(meta.stopped))
    else if (audio !== undefined) out.stopped = isoDate(audio.modified.getTime())
    if (audio !== undefined) {
      out.size = audio.size
      if (audio.wav !== undefined) out.duration = Math.round(audio.wav.duration * 100) / 100
    }
    return out
  }

  const visible = (calls: CallService, rs: RequestScope, metas: RecordingMeta[]): RecordingMeta[] => metas.filter((m) => maySeeRecording(calls, m, rs.selection))

  app.get('/phoneCalls/:userId/:extension/:phoneCallId/recordings', {
    schema: {
      summary: 'The recordings of a call (StartRecording), while it lives and afterwards',
      tags: ['PhoneCalls'],
      hide: deps.hide,
      security: [{ bearer: [] }],
      params: CallParams,
      querystring: Query,
      response: { 200: RecordingList, ...errorResponses }
    },
    config: { errorCodes }
  }, async (request) => {
    const { store, rs } = resolve(request, request.params)
    const self = `${baseUrl(request, deps.publicUrl)}${deps.basePath}/phoneCalls/${rs.userSegment}/${rs.extensionSegment}/${request.params.phoneCallId}/recordings`
    const entry = await Promise.all(visible(calls, rs, await store.list(request.params.phoneCallId)).map((m) => describe(store, m, self)))
    return { startIndex: 0, itemsPerPage: entry.length, totalResults: entry.length, entry }
  })

  // GET and HEAD (Fastify derives HEAD from GET): the audio, whole or one byte range.
  app.get('/phoneCalls/:userId/:extension/:phoneCallId/recordings/:recordingId', {
    schema: {
      summary: 'The audio of one recording (audio/wav); Range and HEAD supported',
      tags: ['PhoneCalls'],
      hide: deps.hide,
      security: [{ bearer: [] }],
      params: RecordingParams,
      querystring: Query,
      response: {
        200: Type.Unknown({ description: 'The WAV file (audio/wav); headers X-Recording-Duration (seconds) and X-Recording-Format' }),
        206: Type.Unknown({ description: 'One byte range of it (Content-Range)' }),
        ...errorResponses,
        416: ErrorEnvelope
      }
    },
    config: { errorCodes }
  }, async (request, reply) => {
    const { store, rs } = resolve(request, request.params)
    const meta = await store.get(request.params.phoneCallId, request.params.recordingId)
    if (meta === undefined || !maySeeRecording(calls, meta, rs.selection)) throw uapiError('resource_not_found', 'No such recording.')
    if (isRecordingLive(calls.mirror, meta)) throw uapiError('recording_in_progress')
    const audio = await store.audio(meta)
    if (audio === undefined) throw uapiError('resource_not_found', 'The recording has no audio file (Asterisk did not write one, or it was removed).')
    void reply
      .header('content-type', 'audio/wav')
      .header('accept-ranges', 'bytes')
      .header('content-disposition', `attachment; filename="${meta.id}.wav"`)
      // Call audio is personal data: never kept by shared caches.
      .header('cache-control', 'private, no-store')
      .header('x-recording-format', meta.format)
    if (audio.wav !== undefined) void reply.header('x-recording-duration', audio.wav.duration.toFixed(2))
    const range = parseRange(request.headers.range, audio.size)
    if (range === 'unsatisfiable') {
      void reply.header('content-range', `bytes */${audio.size}`)
      throw uapiError('range_not_satisfiable')
    }
    const { start, end } = range ?? { start: 0, end: audio.size - 1 }
    void reply.header('content-length', String(Math.max(0, end - start + 1)))
    if (range !== undefined) void reply.status(206).header('content-range', `bytes ${start}-${end}/${audio.size}`)
    // HEAD: an empty stream, which Fastify's HEAD handling drains without touching Content-Length
    // (an undefined body would make it 0), and without reading the file.
    if (request.method === 'HEAD' || audio.size === 0) return await reply.send(Readable.from([]))
    return await reply.send(createReadStream(audio.path, { start, end }))
  })
}
