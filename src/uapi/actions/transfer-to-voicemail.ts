// TransferToVoicemail's HTTP side (reference 4.11): field validation, then
// src/calls/actions/transfer-to-voicemail.ts.
//
// - sendCallTo: the extension whose voicemail takes the call: full or short, of the organization in
//   scope, a phone terminal with voicemail enabled in the directory; else pc_sendcallto_invalid.
// - The party sent to voicemail: transferNumber's leg; else the view's (phoneCallViewId names the
//   party moved, as for Transfer; a ringing phone's view stands for its caller); else the party the
//   path extension talks to, or the caller ringing it; on @self, the caller of the only ringing
//   phone. transferFromNumber, when given, must be a party and otherwise only helps pick the other
//   side. AMI Redirect to vn-voicemail,<full number>,1. Answers the PhoneCall as Asterisk accepted it.
import { transferToVoicemail } from '../../calls/index.ts'
import { uapiError } from '../errors.ts'
import { phoneTerminal, scopeOrganization } from './pick-up.ts'
import { partyNumber } from './transfer.ts'
import type { ActionHandler } from './types.ts'

export const transferToVoicemailAction: ActionHandler = async (ctx) => {
  const { body, calls, directory } = ctx
  const orgId = scopeOrganization(ctx)
  const mailbox = phoneTerminal(directory, body.sendCallTo, orgId, 'pc_sendcallto_invalid')
  if (!mailbox.voicemail) throw uapiError('pc_sendcallto_invalid', 'sendCallTo has no voicemail.')
  const transferFromNumber = partyNumber(ctx, body.transferFromNumber, orgId, 'pc_transferfromnumber_invalid')
  const transferNumber = partyNumber(ctx, body.transferNumber, orgId, 'pc_transfernumber_invalid')
  if (!calls.available) throw uapiError('pbx_unavailable')
  const done = await transferToVoicemail(ctx.deps, {
    phoneCallId: ctx.phoneCallId,
    selection: ctx.scope.selection,
    mailbox: mailbox.number,
    transferNumber,
    transferFromNumber,
    phoneCallViewId: body.phoneCallViewId,
    viewer: ctx.scope.viewer
  })
  return ctx.present(done.call)
}
