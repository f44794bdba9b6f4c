// Transfer (reference 4.10, E.4.2): a blind transfer of one party of a live call to another number.
// Resolve the call in scope → pick the party moved and the transferer (parties.ts) → BlindTransfer
// when the two talk in a two-party bridge (Asterisk moves the transferer's peer and hangs the
// transferer up), else Redirect of the moved leg (e.g. a caller whose call still rings: its Dial
// ends and the ringing phone is cancelled). The moved leg keeps its uniqueid and linkedid, so the
// PhoneCall keeps its id.
import type { Call, Leg } from '../mirror.ts'
import type { CallSelection } from '../service.ts'
import { blindTransfer, redirectLeg } from '../recipes.ts'
import { CallActionError } from './errors.ts'
import { bridgePeer, legNumber, resolveTransferParties, type TransferParties } from './parties.ts'
import { resolveCall, type ActionDeps } from './context.ts'

export interface TransferInput extends TransferParties {
  readonly phoneCallId: string
  readonly selection: CallSelection
  /** Where the moved party goes: a full extension number or a public number (dialplan exten). */
  readonly sendCallTo: string
  /** The dialplan context sendCallTo is dialed in (the organization's). */
  readonly context: string
}

export interface TransferDone {
  readonly call: Call
  readonly moved: Leg
  readonly from: Leg | undefined
  readonly how: 'blind' | 'redirect'
}

export async function transfer (deps: ActionDeps, input: TransferInput): Promise<TransferDone> {
  const { ami, log } = deps
  const call = resolveCall(deps, input.phoneCallId, input.selection)
  const { moved, from } = resolveTransferParties(call, input)
  if (legNumber(moved) === input.sendCallTo) throw new CallActionError('pc_sendcallto_invalid', 'sendCallTo is the party being moved')
  const bridged = from !== undefined && bridgePeer(call, from) === moved
  if (bridged) {
    await ami.action('BlindTransfer', blindTransfer({ transfererUniqueid: from.uniqueid, context: input.context, exten: input.sendCallTo }))
  } else {
    await ami.action('Redirect', redirectLeg({ uniqueid: moved.uniqueid, context: input.context, exten: input.sendCallTo }))
  }
  const how = bridged ? 'blind' : 'redirect'
  log.info({ op: 'transfer', phoneCallId: call.id, moved: moved.uniqueid, from: from?.uniqueid, sendCallTo: input.sendCallTo, how }, 'transferred')
  return { call, moved, from, how }
}
