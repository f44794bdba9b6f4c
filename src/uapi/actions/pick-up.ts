// PickUp's HTTP side (the PickUp page): field validation in the page's order of codes, then
// src/calls/actions/pick-up.ts. Answers the PhoneCall object (the page's Return-Object).
import { parseCallerId, pickUp, type CallerId } from '../../calls/index.ts'
import type { Directory, Extension } from '../../directory/index.ts'
import { uapiError, type UapiErrorCode } from '../errors.ts'
import type { ActionHandler } from './types.ts'

const DEFAULT_WAIT_SECONDS = 25
const MAX_WAIT_SECONDS = 86_400

/** waitForPickup: a number (or numeric string) greater than 0, in seconds. */
export function parseWaitSeconds (value: string | number | undefined): number | undefined {
  if (value === undefined) return DEFAULT_WAIT_SECONDS
  const n = typeof value === 'number' ? value : /^\s*[0-9]+(\.[0-9]+)?\s*$/.test(value) ? Number(value) : NaN
  return Number.isFinite(n) && n > 0 && n <= MAX_WAIT_SECONDS ? n : undefined
}

/** A phone terminal extension (full or short number) of the organization in scope, else `code`. */
export function phoneTerminal (directory: Directory, number: string | undefined, orgId: number | undefined, code: 'pc_sendcallto_invalid'): Extension {
  if (number === undefined || number === '') throw uapiError(code)
  const ext = directory.extension(number, orgId !== undefined ? { orgId } : {})
  if (ext === undefined || ext.type !== 'phone-terminal' || ext.endpoint === undefined) throw uapiError(code)
  if (orgId !== undefined && ext.organizationId !== orgId) throw uapiError(code)
  return ext
}

/** The organization an action's payload numbers are relative to: the path user's, or for an admin the addressed extension's. */
export function scopeOrganization (ctx: Parameters<ActionHandler>[0]): number | undefined {
  const { scope } = ctx.scope
  if (scope.allExtensions && scope.user.role === 'admin') return undefined
  return scope.user.organizationId ?? scope.extensions[0]?.organizationId
}

/** The phone an originating action rings, with the caller id it shows and how long it rings. */
export interface RingFields {
  readonly endpoint: string
  readonly extension: string
  readonly organizationId: number
  readonly callerId: CallerId
  readonly waitForPickupMs: number
}

/**
 * The fields of every action that rings a phone (PickUp, UnPark, BargeIn, Whisper, Monitor), in the
 * PickUp page's order of codes: waitForPickup, callerId, sendCallTo; then the PBX must be there.
 */
export function ringFields (ctx: Parameters<ActionHandler>[0]): RingFields {
  const { body } = ctx
  const waitSeconds = parseWaitSeconds(body.waitForPickup ?? body.waitForPickUp)
  if (waitSeconds === undefined) throw uapiError('pc_timeout_invalid')
  const callerIdText = body.callerId ?? body.callerID
  const callerId = callerIdText !== undefined ? parseCallerId(callerIdText) : undefined
  if (callerIdText !== undefined && callerId === undefined) throw uapiError('pc_callerid_invalid')
  const target = phoneTerminal(ctx.directory, body.sendCallTo, scopeOrganization(ctx), 'pc_sendcallto_invalid')
  if (!ctx.calls.available) throw uapiError('pbx_unavailable')
  return {
    endpoint: target.endpoint as string,
    extension: target.number,
    organizationId: target.organizationId,
    // Default: the sendCallTo terminal's own caller id (the page's rule); config validated its shape.
    callerId: callerId ?? (parseCallerId(target.callerId) as CallerId),
    waitForPickupMs: Math.round(waitSeconds * 1000)
  }
}

/** ?wait=true: the outcome of an originated action as the answer (connected) or its error. */
export async function settleOutcome (outcome: Promise<string>, codes: { unanswered: UapiErrorCode, targetGone: UapiErrorCode }): Promise<void> {
  switch (await outcome) {
    case 'unanswered': throw uapiError(codes.unanswered)
    case 'target-gone': throw uapiError(codes.targetGone)
    case 'pbx-lost': throw uapiError('pbx_unavailable')
    case 'failed': throw uapiError('pc_action_failed')
  }
}

export const pickUpAction: ActionHandler = async (ctx) => {
  const ring = ringFields(ctx)
  const started = await pickUp(ctx.deps, {
    phoneCallId: ctx.phoneCallId,
    selection: ctx.scope.selection,
    phoneCallViewId: ctx.body.phoneCallViewId ?? '',
    endpoint: ring.endpoint,
    extension: ring.extension,
    organizationId: String(ring.organizationId),
    callerId: ring.callerId,
    waitForPickupMs: ring.waitForPickupMs
  })
  if (ctx.wait) await settleOutcome(started.outcome, { unanswered: 'pc_pickup_unanswered', targetGone: 'pc_pickup_target_gone' })
  return ctx.present(started.call)
}
