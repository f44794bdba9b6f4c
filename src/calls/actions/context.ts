// What every call action takes (the engine parts), and the one way an action finds its call: the
// call must be visible to the request and the request must have authority over a current party.
import type { Logger } from 'pino'
import type { AmiClient } from '../../ami/index.ts'
import type { Call, Mirror } from '../mirror.ts'
import type { CallSelection, CallService } from '../service.ts'
import { CallActionError } from './errors.ts'

export interface ActionDeps {
  readonly ami: AmiClient
  readonly mirror: Mirror
  readonly calls: CallService
  readonly log: Logger
}

/**
 * The live call `phoneCallId` for an action of `selection`. Reading and acting differ: a call stays
 * visible through every extension that was ever a party of it (the PickUp page's follow-up List), but
 * only a current party's authority may act on it. Invisible: pc_phonecall_invalid; visible but the
 * request's extensions have all left it (picked up, transferred away): access_denied.
 */
export function resolveCall (deps: Pick<ActionDeps, 'calls'>, phoneCallId: string, selection: CallSelection): Call {
  const call = deps.calls.find(phoneCallId, selection)
  if (call === undefined) throw new CallActionError('pc_phonecall_invalid', 'no such live call in scope')
  if (!deps.calls.mayActOn(call, selection)) {
    throw new CallActionError('access_denied', 'no extension in scope is a current party of this call',
      'No extension you address is a party of this phone call any more (it was picked up or transferred): you may still list it, not act on it.')
  }
  return call
}
