// PickUp's HTTP side (the PickUp page): field validation in the page's order of codes, then
// src/calls/actions/pick-up.ts. Answers the PhoneCall object (the page's Return-Object).
import { parseCallerId, pickUp, type CallerId } from '../../calls/index.ts'
import type { Directory, Extension } from '../../directory/index.ts'
import { uapiError } from '../errors.ts'
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

export const pickUpAction: ActionHandler = async (ctx) => {
  const { body, calls } = ctx
  const waitSeconds = parseWaitSeconds(body.waitForPickup ?? body.waitForPickUp)
  if (waitSeconds === undefined) throw uapiError('pc_timeout_invalid')
  const callerIdText = body.callerId ?? body.callerID
  const callerId = callerIdText !== undefined ? parseCallerId(callerIdText) : undefined
  if (callerIdText !== undefined && callerId === undefined) throw uapiError('pc_callerid_invalid')
  const target = phoneTerminal(ctx.directory, body.sendCallTo, scopeOrganization(ctx), 'pc_sendcallto_invalid')
  if (!calls.available) throw uapiError('pbx_unavailable')
  const started = await pickUp(ctx.deps, {
    phoneCallId: ctx.phoneCallId,
    selection: ctx.scope.selection,
    phoneCallViewId: body.phoneCallViewId ?? '',
    endpoint: target.endpoint as string,
    extension: target.number,
    organizationId: String(target.organizationId),
    // Default: the sendCallTo terminal's own caller id (the page's rule); config validated its shape.
    callerId: callerId ?? (parseCallerId(target.callerId) as CallerId),
    waitForPickupMs: Math.round(waitSeconds * 1000)
  })
  if (ctx.wait) {
    const outcome = await started.outcome
    if (outcome === 'unanswered') throw uapiError('pc_pickup_unanswered')
    if (outcome === 'target-gone') throw uapiError('pc_pickup_target_gone')
    if (outcome === 'pbx-lost') throw uapiError('pbx_unavailable')
    if (outcome === 'failed') throw uapiError('pc_action_failed')
  }
  return ctx.present(started.call)
}
