// Transfer's HTTP side (reference 4.10): field validation, then src/calls/actions/transfer.ts.
//
// Which party moves (documented choice; the page only names the fields):
// - transferNumber: that party is moved to sendCallTo; transferFromNumber: that party transfers it
//   and is released.
// - phoneCallViewId names the party being MOVED, as in PickUp (the view the action applies to).
//   The samples' minimal form {action, sendCallTo, phoneCallViewId:"01"} on a click-to-call moves
//   the far party (view 01) and releases the user's own phone (view 00). A view of a phone that is
//   still ringing stands for its caller (a ringing phone cannot be moved, its call can).
// - With none of them, the path extension transfers: the party it talks to (or the caller ringing
//   it) is moved. On @self with none of them: the caller of the call's only ringing phone, else
//   pc_phonecallview_invalid.
// - sendCallTo: an extension of the organization in scope (full or short) or a public number.
// Bridged two-party call → AMI BlindTransfer of the transferer's leg; otherwise Redirect of the
// moved leg. Answers the PhoneCall once Asterisk accepted the action; it keeps its id.
import { transfer } from '../../calls/index.ts'
import { uapiError } from '../errors.ts'
import { organizationContext, resolveNumber } from '../numbers.ts'
import { scopeOrganization } from './pick-up.ts'
import type { ActionContext, ActionHandler } from './types.ts'

/** transferNumber / transferFromNumber: a party number, canonical (undefined when absent). */
export function partyNumber (ctx: ActionContext, value: string | undefined, orgId: number | undefined, code: 'pc_transfernumber_invalid' | 'pc_transferfromnumber_invalid'): string | undefined {
  if (value === undefined) return undefined
  const r = resolveNumber(ctx.directory, value, orgId)
  if (r === undefined) throw uapiError(code)
  return r.number
}

/** The organization whose dialplan a transfer runs in: the scope's, else (admin on @self) the call's. */
export function callOrganization (ctx: ActionContext, orgId: number | undefined): number {
  if (orgId !== undefined) return orgId
  const call = ctx.calls.find(ctx.phoneCallId, ctx.scope.selection)
  if (call === undefined) throw uapiError('pc_phonecall_invalid')
  // The first party's organization (a call's parties are in the order they joined it).
  const first = call.parties.values().next()
  if (first.done === true) throw uapiError('pc_phonecall_invalid')
  return Number(first.value)
}

export const transferAction: ActionHandler = async (ctx) => {
  const { body, calls, directory } = ctx
  const orgId = scopeOrganization(ctx)
  const target = resolveNumber(directory, body.sendCallTo, orgId)
  if (target === undefined || (target.kind === 'extension' && orgId !== undefined && target.extension.organizationId !== orgId)) throw uapiError('pc_sendcallto_invalid')
  const transferFromNumber = partyNumber(ctx, body.transferFromNumber, orgId, 'pc_transferfromnumber_invalid')
  const transferNumber = partyNumber(ctx, body.transferNumber, orgId, 'pc_transfernumber_invalid')
  if (!calls.available) throw uapiError('pbx_unavailable')
  const org = target.kind === 'extension' ? target.extension.organizationId : callOrganization(ctx, orgId)
  const context = organizationContext(directory, org)
  if (context === undefined) throw uapiError('pc_sendcallto_invalid')
  const done = await transfer(ctx.deps, {
    phoneCallId: ctx.phoneCallId,
    selection: ctx.scope.selection,
    sendCallTo: target.number,
    context,
    transferNumber,
    transferFromNumber,
    phoneCallViewId: body.phoneCallViewId,
    viewer: ctx.scope.viewer
  })
  return ctx.present(done.call)
}
