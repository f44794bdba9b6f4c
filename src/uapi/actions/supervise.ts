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
import { supervise, type SupervisionMode } from '../../calls/index.ts'
import { uapiError } from '../errors.ts'
import { ringFields, settleOutcome } from './pick-up.ts'
import type { ActionContext, ActionHandler } from './types.ts'

async function superviseAction (ctx: ActionContext, mode: SupervisionMode) {
  const ring = ringFields(ctx)
  const started = await supervise(ctx.deps, {
    mode,
    phoneCallId: ctx.phoneCallId,
    selection: ctx.scope.selection,
    phoneCallViewId: ctx.body.phoneCallViewId,
    viewer: ctx.scope.viewer,
    endpoint: ring.endpoint,
    extension: ring.extension,
    callerId: ring.callerId,
    waitForPickupMs: ring.waitForPickupMs
  })
  if (ctx.wait) await settleOutcome(started.outcome, { unanswered: 'pc_sendcallto_unanswered', targetGone: 'pc_target_gone' })
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
