// StartRecording / StopRecording's HTTP side (reference 4.3, 4.4): field validation, then
// src/calls/actions/recording.ts. Both answer the PhoneCall; its views show `recording` (since
// when) once Asterisk confirmed the start, and no longer once it confirmed the stop.
//
// - format: wav (default) or wav49, any case; else pc_format_invalid.
// - phoneCallViewId: optional; StartRecording records on that party's leg (a ringing phone's
//   view stands for its caller), by default the path extension's own leg, else an answered
//   party's. MixMonitor records what that leg hears and says: the whole two-party conversation.
// - A call already recorded: 409 pc_recording_active; StopRecording of a call not recorded:
//   409 pc_recording_inactive. Recording not configured: 501; directory not writable: 503.
import { RECORDING_FORMATS, type RecordingFormat } from '../../recordings/index.ts'
import { startRecording, stopRecording } from '../../calls/index.ts'
import { uapiError } from '../errors.ts'
import type { ActionHandler } from './types.ts'

export function parseFormat (value: string | undefined): RecordingFormat | undefined {
  if (value === undefined) return 'wav'
  const v = value.toLowerCase()
  return (RECORDING_FORMATS as readonly string[]).includes(v) ? v as RecordingFormat : undefined
}

export const startRecordingAction: ActionHandler = async (ctx) => {
  const format = parseFormat(ctx.body.format)
  if (format === undefined) throw uapiError('pc_format_invalid')
  const store = ctx.recordings
  if (store === undefined) throw uapiError('request_not_implemented', 'Recording is not configured on this engine (config recordings).')
  if (!ctx.calls.available) throw uapiError('pbx_unavailable')
  const started = await startRecording(ctx.deps, store, {
    phoneCallId: ctx.phoneCallId,
    selection: ctx.scope.selection,
    format,
    phoneCallViewId: ctx.body.phoneCallViewId,
    viewer: ctx.scope.viewer
  })
  return ctx.present(started.call)
}

export const stopRecordingAction: ActionHandler = async (ctx) => {
  if (!ctx.calls.available) throw uapiError('pbx_unavailable')
  const call = await stopRecording(ctx.deps, { phoneCallId: ctx.phoneCallId, selection: ctx.scope.selection, phoneCallViewId: ctx.body.phoneCallViewId })
  return ctx.present(call)
}
