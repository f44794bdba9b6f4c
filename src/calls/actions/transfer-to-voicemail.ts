// TransferToVoicemail (reference 4.11, E.4.2): send one party of a live call to an extension's
// voicemail. Resolve → pick the party (parties.ts: transferNumber, the view, or the caller of the
// phone that rings) → Redirect it to the voicemail context at the mailbox's full number. When that
// party was the caller of a ringing call, its Dial ends and Asterisk cancels the ringing phone; when
// it was bridged, the bridge breaks and the other side is released.
import type { Call, Leg } from '../mirror.ts'
import type { CallSelection } from '../service.ts'
import { redirectLeg } from '../recipes.ts'
import { CallActionError } from './errors.ts'
import { legNumber, resolveTransferParties, type TransferParties } from './parties.ts'
import { resolveCall, type ActionDeps } from './context.ts'

/** The dialplan context whose extensions are full extension numbers leading to their voicemail box. */
export const VOICEMAIL_CONTEXT = 'vn-voicemail'

export interface TransferToVoicemailInput extends TransferParties {
  readonly phoneCallId: string
  readonly selection: CallSelection
  /** Full number of the extension whose voicemail takes the call (checked: phone terminal with voicemail). */
  readonly mailbox: string
}

export async function transferToVoicemail (deps: ActionDeps, input: TransferToVoicemailInput): Promise<{ call: Call, moved: Leg }> {
  const { ami, log } = deps
  const call = resolveCall(deps, input.phoneCallId, input.selection)
  const { moved } = resolveTransferParties(call, input)
  if (legNumber(moved) === input.mailbox) throw new CallActionError('pc_sendcallto_invalid', 'sendCallTo is the party being moved')
  await ami.action('Redirect', redirectLeg({ uniqueid: moved.uniqueid, context: VOICEMAIL_CONTEXT, exten: input.mailbox }))
  log.info({ op: 'voicemail', phoneCallId: call.id, moved: moved.uniqueid, mailbox: input.mailbox }, 'sent to voicemail')
  return { call, moved }
}
