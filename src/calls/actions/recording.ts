// StartRecording / StopRecording (reference 4.3, 4.4; E.4.6): record the whole call, both
// directions, with MixMonitor on one of its legs, into the recordings directory (src/recordings).
// Resolve the call in scope (resolveCall) → pick the leg → preconditions (not recorded yet / being
// recorded) → metadata first, then one AMI MixMonitor (StopMixMonitor per recorded leg) → the
// outcome is the MixMonitorStart/Stop event the mirror sees, not the AMI response.
import type { Logger } from 'pino'
import { AmiErrorCodes, isAmiError } from '../../ami/index.ts'
import type { RecordingFormat, RecordingMeta, RecordingStore } from '../../recordings/index.ts'
import type { Call, Leg, Mirror } from '../mirror.ts'
import type { CallSelection, CallService } from '../service.ts'
import { mixMonitor, stopMixMonitor } from '../recipes.ts'
import { CallActionError } from './errors.ts'
import { isRingingCallee, partyLegs } from './parties.ts'
import { viewLeg } from './pick-up.ts'
import { resolveCall, type ActionDeps } from './context.ts'

export interface StartRecordingInput {
  readonly phoneCallId: string
  readonly selection: CallSelection
  readonly format: RecordingFormat
  /** The party whose leg carries the recording; default: the path extension's, else an answered party's. */
  readonly phoneCallViewId?: string | undefined
  /** The extension in the request path (undefined for @self). */
  readonly viewer?: string | undefined
}

export interface StopRecordingInput {
  readonly phoneCallId: string
  readonly selection: CallSelection
  /** Optional; when given it must be a view of the call. The call's recording stops either way. */
  readonly phoneCallViewId?: string | undefined
}

export interface RecordingStarted {
  readonly call: Call
  readonly leg: Leg
  readonly recording: RecordingMeta
}

// How long an answer waits for Asterisk's MixMonitorStart/Stop after it accepted the action.
const CONFIRM_MS = 3_000

export async function startRecording (deps: ActionDeps, store: RecordingStore, input: StartRecordingInput): Promise<RecordingStarted> {
  const { ami, mirror, log } = deps
  const call = resolveCall(deps, input.phoneCallId, input.selection)
  const leg = recordedLeg(call, input)
  const tracker = recordingTrackerOf(mirror, store, log)
  if (isRecorded(call) || tracker.starting.has(call.key)) throw new CallActionError('pc_recording_active', 'the call is already being recorded')
  tracker.starting.add(call.key)
  try {
    let created: Awaited<ReturnType<RecordingStore['create']>>
    try {
      created = await store.create({ phoneCallId: call.id, format: input.format, uniqueid: leg.uniqueid, parties: call.parties, started: new Date() })
    } catch (err) {
      log.error({ err, dir: store.dir }, 'cannot write recording metadata')
      throw new CallActionError('recording_unavailable', `cannot write into the recordings directory: ${(err as Error).message}`)
    }
    const { meta, pbxFile } = created
    tracker.pending.set(leg.uniqueid, meta)
    try {
      await ami.action('MixMonitor', mixMonitor({ uniqueid: leg.uniqueid, file: pbxFile }))
    } catch (err) {
      // Unconfirmed (timeout): Asterisk may still record, so the metadata stays to cover the file.
      if (!isAmiError(err, AmiErrorCodes.TIMEOUT)) {
        tracker.pending.delete(leg.uniqueid)
        await store.discard(meta).catch(() => undefined)
      }
      throw err
    }
    const confirmed = await untilLeg(mirror, leg, (l) => l.recordingAt !== undefined, CONFIRM_MS)
    log.info({ op: 'start-recording', phoneCallId: call.id, leg: leg.uniqueid, recording: meta.id, format: meta.format, confirmed }, 'recording started')
    return { call, leg, recording: meta }
  } finally {
    tracker.starting.delete(call.key)
  }
}

export async function stopRecording (deps: ActionDeps, input: StopRecordingInput): Promise<Call> {
  const { ami, mirror, log } = deps
  const call = resolveCall(deps, input.phoneCallId, input.selection)
  if (input.phoneCallViewId !== undefined && viewLeg(call, input.phoneCallViewId) === undefined) throw new CallActionError('pc_phonecallview_invalid', 'no such view in this call')
  const legs = [...call.legs.values()].filter((l) => l.recordingAt !== undefined)
  if (legs.length === 0) throw new CallActionError('pc_recording_inactive', 'the call is not being recorded')
  await Promise.all(legs.map(async (leg) => {
    try {
      await ami.action('StopMixMonitor', stopMixMonitor(leg.uniqueid))
    } catch (err) {
      // Stopped or hung up meanwhile: the goal is reached.
      if (mirror.legs.has(leg.uniqueid) && leg.recordingAt !== undefined) throw err
    }
  }))
  const confirmed = await Promise.all(legs.map((leg) => untilLeg(mirror, leg, (l) => l.recordingAt === undefined, CONFIRM_MS)))
  log.info({ op: 'stop-recording', phoneCallId: call.id, legs: legs.map((l) => l.uniqueid), confirmed: confirmed.every(Boolean) }, 'recording stopped')
  return call
}

/**
 * Who may get a recording: those who may see its call while it lives (the List rule, through any
 * extension that is or was a party), and afterwards those whose authority covers an extension that
 * was a party while it was recorded (its user, its organization's account, the admin).
 */
export function maySeeRecording (calls: Pick<CallService, 'find'>, meta: RecordingMeta, selection: CallSelection): boolean {
  if (selection.kind === 'all') return true
  if (calls.find(meta.phoneCallId, selection) !== undefined) return true
  return Object.entries(meta.parties).some(([extension, organizationId]) =>
    selection.kind === 'organization' ? organizationId === selection.organizationId : selection.extensions.includes(extension))
}

/** Whether Asterisk is recording the leg a recording was made on, as the mirror knows it now. */
export function isRecordingLive (mirror: Mirror, meta: RecordingMeta): boolean {
  return mirror.legs.get(meta.uniqueid)?.recordingAt !== undefined
}

function isRecorded (call: Call): boolean {
  for (const leg of call.legs.values()) if (leg.recordingAt !== undefined) return true
  return false
}

/** The view's leg (a phone still ringing stands for its caller); else the path extension's; else an answered party's. */
function recordedLeg (call: Call, input: StartRecordingInput): Leg {
  const legs = partyLegs(call)
  let leg: Leg | undefined
  if (input.phoneCallViewId !== undefined) {
    leg = viewLeg(call, input.phoneCallViewId)
    if (leg === undefined) throw new CallActionError('pc_phonecallview_invalid', 'no such view in this call')
  } else {
    leg = legs.find((l) => input.viewer !== undefined && l.party?.extension === input.viewer) ??
      legs.find((l) => l.answeredAt !== undefined) ?? legs[0]
  }
  if (leg !== undefined && isRingingCallee(leg) && leg.dialedBy !== undefined) leg = call.legs.get(leg.dialedBy) ?? leg
  if (leg === undefined) throw new CallActionError('pc_phonecallview_invalid', 'the call has no party to record')
  return leg
}

/** Resolves true once `done(leg)` holds (checked on every recording change), false at the deadline or hangup. */
function untilLeg (mirror: Mirror, leg: Leg, done: (leg: Leg) => boolean, timeoutMs: number): Promise<boolean> {
  if (done(leg)) return Promise.resolve(true)
  return new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer)
      mirror.off('recording', onRecording)
      mirror.off('hangup', onHangup)
      resolve(ok)
    }
    const onRecording = (l: Leg): void => { if (l === leg && done(leg)) finish(true) }
    const onHangup = (l: Leg): void => { if (l === leg) finish(done(leg)) }
    const timer = setTimeout(() => finish(false), timeoutMs)
    mirror.on('recording', onRecording)
    mirror.on('hangup', onHangup)
  })
}

/**
 * Per mirror and store: starts under way (one at a time per call in this process), and the
 * recordings this instance started, finalized (stop time, parties meanwhile) when Asterisk stops
 * them or their leg hangs up.
 */
class RecordingTracker {
  readonly starting = new Set<string>()
  readonly pending = new Map<string, RecordingMeta>()

  constructor (mirror: Mirror, private readonly store: RecordingStore, private readonly log: Logger) {
    mirror.on('recording', (leg, active) => { if (!active) this.finish(leg) })
    mirror.on('hangup', (leg) => this.finish(leg))
  }

  private finish (leg: Leg): void {
    const meta = this.pending.get(leg.uniqueid)
    if (meta === undefined) return
    this.pending.delete(leg.uniqueid)
    this.store.finalize(meta, new Date(), leg.call.parties).catch((err: unknown) => {
      this.log.warn({ err, recording: meta.id }, 'cannot finalize recording metadata')
    })
  }
}

const trackers = new WeakMap<Mirror, RecordingTracker>()

function recordingTrackerOf (mirror: Mirror, store: RecordingStore, log: Logger): RecordingTracker {
  let tracker = trackers.get(mirror)
  if (tracker === undefined) {
    tracker = new RecordingTracker(mirror, store, log)
    trackers.set(mirror, tracker)
  }
  return tracker
}
