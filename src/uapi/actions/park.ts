// Park / UnPark's HTTP side (reference 4.7, 4.8).
//
// Park: maxInParking in seconds (number or numeric string, 10-3600, default 180) and
// phoneCallViewId (the party parked, required). Answers an ARRAY holding the PhoneCall (the Park
// page's Return-Object is Array<PhoneCall>) once Asterisk parked it: the view shows parked,
// parkedPos (the space) and parkedBy.
// UnPark: sendCallTo (a phone terminal of the organization), callerId (default: its own),
// waitForPickup (default 25 s), phoneCallViewId (optional: the parked party; default the call's).
// Answers the PhoneCall as soon as Asterisk accepted the originate; ?wait=true answers once the
// phone answered and is bridged with the parked caller (or pc_unpark_unanswered /
// pc_unpark_target_gone). Without a phoneCallId (PUT .../{extension}), every parked call the
// extension can act on is sent to sendCallTo, oldest first (reference 4.8, 7.1).
import { park, unPark, type CallerId } from '../../calls/index.ts'
import { uapiError } from '../errors.ts'
import { ringFields, settleOutcome } from './pick-up.ts'
import type { ActionContext } from './types.ts'
import type { PhoneCall } from '../../calls/index.ts'

const DEFAULT_MAX_IN_PARKING_SECONDS = 180
const MIN_MAX_IN_PARKING_SECONDS = 10
const MAX_MAX_IN_PARKING_SECONDS = 3600

/** maxInParking: seconds, 10-3600 (v5's range); undefined when invalid. */
export function parseMaxInParking (value: string | number | undefined): number | undefined {
  if (value === undefined) return DEFAULT_MAX_IN_PARKING_SECONDS
  const n = typeof value === 'number' ? value : /^\s*[0-9]+(\.[0-9]+)?\s*$/.test(value) ? Number(value) : NaN
  return Number.isFinite(n) && n >= MIN_MAX_IN_PARKING_SECONDS && n <= MAX_MAX_IN_PARKING_SECONDS ? n : undefined
}

export async function parkAction (ctx: ActionContext): Promise<PhoneCall[]> {
  const { body } = ctx
  const seconds = parseMaxInParking(body.maxInParking)
  if (seconds === undefined) throw uapiError('pc_maxinparking_invalid')
  const viewId = body.phoneCallViewId
  if (viewId === undefined || viewId === '') throw uapiError('pc_phonecallview_invalid')
  if (!ctx.calls.available) throw uapiError('pbx_unavailable')
  const done = await park(ctx.deps, {
    phoneCallId: ctx.phoneCallId,
    selection: ctx.scope.selection,
    phoneCallViewId: viewId,
    maxInParkingMs: Math.round(seconds * 1000),
    viewer: ctx.scope.viewer
  })
  return [ctx.present(done.call)]
}

/** UnPark's ring fields, without the organization (the parked call's rules apply). */
function unParkRing (ctx: ActionContext): { endpoint: string, extension: string, callerId: CallerId, waitForPickupMs: number } {
  const { endpoint, extension, callerId, waitForPickupMs } = ringFields(ctx)
  return { endpoint, extension, callerId, waitForPickupMs }
}

const UNPARK_CODES = { unanswered: 'pc_unpark_unanswered', targetGone: 'pc_unpark_target_gone' } as const

export async function unParkAction (ctx: ActionContext): Promise<PhoneCall> {
  const fields = unParkRing(ctx)
  const viewId = ctx.body.phoneCallViewId
  const started = await unPark(ctx.deps, { phoneCallId: ctx.phoneCallId, selection: ctx.scope.selection, phoneCallViewId: viewId === '' ? undefined : viewId, ...fields })
  if (ctx.wait) await settleOutcome(started.outcome, UNPARK_CODES)
  return ctx.present(started.call)
}

/** UnPark without a phoneCallId: every parked call of the path's extension(s) that the request may act on. */
export async function unParkAllAction (ctx: Omit<ActionContext, 'phoneCallId'>): Promise<PhoneCall[]> {
  const fields = unParkRing(ctx as ActionContext)
  const { calls } = ctx
  const selection = ctx.scope.selection
  const parked = calls.select(selection).filter((call) => calls.mayActOn(call, selection) && [...call.legs.values()].some((l) => l.parked !== undefined))
  const out: PhoneCall[] = []
  for (const call of parked) {
    const started = await unPark(ctx.deps, { phoneCallId: call.id, selection, phoneCallViewId: undefined, ...fields })
    if (ctx.wait) await settleOutcome(started.outcome, UNPARK_CODES)
    out.push(ctx.present(started.call))
  }
  return out
}
