// BargeIn, Whisper and Monitor's HTTP side (reference 4.6, 4.9, 4.12): field validation in PickUp's
// order of codes, then src/calls supervise(). Answers the PhoneCall object; with ?wait=true only once
// Asterisk reports the supervisor listening (ChanSpyStart), or the outcome as an error.
//
// - sendCallTo: the supervisor, a phone terminal of the organization in scope (full or short), not a
//   party of the call already; callerId: shown to the supervisor's phone (default: its own caller id);
//   waitForPickup: seconds its phone rings (default 25).
// - phoneCallViewId: the party listened (whispered) to, a party on call; without it, the path
//   extension's own leg (the Perl sample puts the supervised agent's extension in the path).
// - Whisper `private`: 0 (default) or 1; with 1 the supervisor does not hear the conversation.
import { parseCallerId, supervise, type CallerId, type SupervisionMode } from '../../calls/index.ts'
import { uapiError } from '../errors.ts'
import { parseWaitSeconds, phoneTerminal, scopeOrganization } from './pick-up.ts'
import type { ActionContext, ActionHandler } from './types.ts'

async function superviseAction (ctx: ActionContext, mode: SupervisionMode) {
  const { body, calls } = ctx
  const waitSeconds = parseWaitSeconds(body.waitForPickup ?? body.waitForPickUp)
  if (waitSeconds === undefined) throw uapiError('pc_timeout_invalid')
  const callerIdText = body.callerId ?? body.callerID
  const callerId = callerIdText !== undefined ? parseCallerId(callerIdText) : undefined
  if (callerIdText !== undefined && callerId === undefined) throw uapiError('pc_callerid_invalid')
  const supervisor = phoneTerminal(ctx.directory, body.sendCallTo, scopeOrganization(ctx), 'pc_sendcallto_invalid')
  if (!calls.available) throw uapiError('pbx_unavailable')
  const started = await supervise(ctx.deps, {
    mode,
    phoneCallId: ctx.phoneCallId,
    selection: ctx.scope.selection,
    phoneCallViewId: body.phoneCallViewId,
    viewer: ctx.scope.viewer,
    endpoint: supervisor.endpoint as string,
    extension: supervisor.number,
    callerId: callerId ?? (parseCallerId(supervisor.callerId) as CallerId),
    waitForPickupMs: Math.round(waitSeconds * 1000)
  })
  if (ctx.wait) {
    const outcome = await started.outcome
    if (outcome === 'unanswered') throw uapiError('pc_sendcallto_unanswered')
    if (outcome === 'target-gone') throw uapiError('pc_target_gone')
    if (outcome === 'pbx-lost') throw uapiError('pbx_unavailable')
    if (outcome === 'failed') throw uapiError('pc_action_failed')
  }
  return ctx.present(started.call)
}

/** Whisper's `private`: 0/1 (number or numeric string; booleans too, as JSON clients send them). */
export function parsePrivate (value: unknown): boolean | undefined {
  if (value === undefined || value === 0 || value === '0' || value === false || value === 'false') return false
  if (value === 1 || value === '1' || value === true || value === 'true') return true
  return undefined
}

export const bargeInAction: ActionHandler = async (ctx) => await superviseAction(ctx, 'barge')
export const monitorAction: ActionHandler = async (ctx) => await superviseAction(ctx, 'monitor')
export const whisperAction: ActionHandler = async (ctx) => {
  const isPrivate = parsePrivate(ctx.body.private)
  if (isPrivate === undefined) throw uapiError('pc_private_invalid')
  return await superviseAction(ctx, isPrivate ? 'private-whisper' : 'whisper')
}
