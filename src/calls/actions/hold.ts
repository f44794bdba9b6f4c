// OnHold / OffHold (reference 4.1, 4.2). Asterisk has no AMI hold verb (E.4.6), so the engine uses
// the dialplan: OnHold tells both parties who the other is (VN_HOLD_PEER, which every AMI event of
// theirs then carries), and one dual Redirect sends the held party to music on hold and the other
// one, the holder, to silence (context vn-hold); both stay connected to the PBX. OffHold bridges
// the two again with AMI Bridge. Why not park-and-return: a parked call shows as parked, rings
// back by itself and loses its partner; why not a phone-side hold: the phone would have to do it.
// The mirror learns the hold from MusicOnHoldStart/Stop, so every engine instance shows it.
import type { Call, Leg } from '../mirror.ts'
import { UP } from '../mirror.ts'
import type { CallSelection } from '../service.ts'
import { holdBridge, holdRedirect, setHoldPeer } from '../recipes.ts'
import { CallActionError } from './errors.ts'
import { resolveCall, type ActionDeps } from './context.ts'
import { bridgePeer } from './parties.ts'
import { viewLeg } from './pick-up.ts'
import { mirrorShows } from './mirror-wait.ts'

export interface HoldInput {
  readonly phoneCallId: string
  readonly selection: CallSelection
  /** OnHold: the party put on hold. OffHold: that party (or the one holding it). */
  readonly phoneCallViewId: string
}

export interface HoldDone {
  readonly call: Call
  /** The held party. */
  readonly held: Leg
  /** The other party (the holder). */
  readonly holder: Leg
  /** OnHold of a party already held by OnHold: nothing was sent. */
  readonly already: boolean
}

// How long the answer waits for Asterisk's word (music on hold started / stopped) before it goes
// out with the call as the mirror has it.
const CONFIRM_MS = 3_000

/** Legs with a hold or un-hold under way in this process: a second request for them is a conflict. */
const busy = new Set<string>()

/** The party OnHold holds with `leg` (music on hold in vn-hold and a VN_HOLD_PEER), if any. */
function engineHoldOf (call: Call, leg: Leg): { held: Leg, holder: Leg } | undefined {
  if (leg.mohAt !== undefined && leg.parked === undefined && leg.holdPeer !== undefined) {
    const holder = call.legs.get(leg.holdPeer)
    return holder !== undefined ? { held: leg, holder } : undefined
  }
  for (const other of call.legs.values()) {
    if (other !== leg && other.holdPeer === leg.uniqueid && other.mohAt !== undefined && other.parked === undefined) return { held: other, holder: leg }
  }
  return undefined
}

export async function onHold (deps: ActionDeps, input: HoldInput): Promise<HoldDone> {
  const { ami, mirror, log } = deps
  // 1. Resolve, within the caller's authority.
  const call = resolveCall(deps, input.phoneCallId, input.selection)
  const held = viewLeg(call, input.phoneCallViewId)
  if (held === undefined) throw new CallActionError('pc_phonecallview_invalid', 'no such view in this call')
  // 2. Preconditions: a party talking to exactly one other party; already held by OnHold: done.
  const current = engineHoldOf(call, held)
  if (current !== undefined && current.held === held) return { call, held, holder: current.holder, already: true }
  if (held.parked !== undefined) throw new CallActionError('pc_phonecallview_invalid', 'the party is parked', 'The party of phoneCallViewId is parked: take it out of the parking lot first.')
  if (current !== undefined || held.mohAt !== undefined || held.holdAt !== undefined) throw new CallActionError('pc_phonecallview_invalid', 'the party is part of a hold already', 'The party of phoneCallViewId is already on hold or holding the call.')
  const holder = held.state === UP ? bridgePeer(call, held) : undefined
  if (holder === undefined) throw new CallActionError('pc_phonecallview_invalid', 'the party is not talking to exactly one other party', 'The party of phoneCallViewId must be talking to exactly one other party.')
  if (busy.has(held.uniqueid) || busy.has(holder.uniqueid)) throw new CallActionError('pc_phonecall_conflict', 'a hold of this call is under way')
  busy.add(held.uniqueid)
  busy.add(holder.uniqueid)
  try {
    // 3. Recipe: each party learns the other's uniqueid, then one dual Redirect.
    await Promise.all([
      ami.action('Setvar', setHoldPeer(held.uniqueid, holder.uniqueid)),
      ami.action('Setvar', setHoldPeer(holder.uniqueid, held.uniqueid))
    ])
    await ami.action('Redirect', holdRedirect({ heldUniqueid: held.uniqueid, holderUniqueid: holder.uniqueid }))
    // 4. Asterisk's word: the music plays to the held party.
    const shown = await mirrorShows(mirror, ['moh', 'hangup'], () => held.mohAt !== undefined || !mirror.legs.has(held.uniqueid), CONFIRM_MS)
    log.info({ op: 'hold', phoneCallId: call.id, held: held.uniqueid, holder: holder.uniqueid, confirmed: shown }, 'put on hold')
  } finally {
    busy.delete(held.uniqueid)
    busy.delete(holder.uniqueid)
  }
  return { call, held, holder, already: false }
}

export async function offHold (deps: ActionDeps, input: HoldInput): Promise<HoldDone> {
  const { ami, mirror, log } = deps
  const call = resolveCall(deps, input.phoneCallId, input.selection)
  const leg = viewLeg(call, input.phoneCallViewId)
  if (leg === undefined) throw new CallActionError('pc_phonecallview_invalid', 'no such view in this call')
  const hold = engineHoldOf(call, leg)
  if (hold === undefined) {
    // A phone's own hold (re-INVITE) is the phone's to resume; the engine cannot take it back.
    const byPhone = leg.holdAt !== undefined || (leg.mohAt !== undefined && leg.parked === undefined)
    throw new CallActionError('pc_phonecall_not_on_hold', byPhone ? 'held by a phone, not by OnHold' : 'the party is not on hold',
      byPhone ? 'The call was put on hold by the phone itself: only the phone can take it off hold.' : undefined)
  }
  const { held, holder } = hold
  if (busy.has(held.uniqueid) || busy.has(holder.uniqueid)) throw new CallActionError('pc_phonecall_conflict', 'a hold of this call is under way')
  busy.add(held.uniqueid)
  busy.add(holder.uniqueid)
  try {
    await ami.action('Bridge', holdBridge({ heldUniqueid: held.uniqueid, holderUniqueid: holder.uniqueid }))
    // Back in one bridge: a later hangup of one must no longer end the other (vn-hold's handler).
    await Promise.all([
      ami.action('Setvar', setHoldPeer(held.uniqueid, '')),
      ami.action('Setvar', setHoldPeer(holder.uniqueid, ''))
    ]).catch((err: unknown) => { log.warn({ err, op: 'offhold', phoneCallId: call.id }, 'could not clear VN_HOLD_PEER') })
    const shown = await mirrorShows(mirror, ['moh', 'bridged', 'hangup'],
      () => !mirror.legs.has(held.uniqueid) || (held.mohAt === undefined && held.bridgeId !== undefined && held.bridgeId === holder.bridgeId), CONFIRM_MS)
    log.info({ op: 'offhold', phoneCallId: call.id, held: held.uniqueid, holder: holder.uniqueid, confirmed: shown }, 'taken off hold')
  } finally {
    busy.delete(held.uniqueid)
    busy.delete(holder.uniqueid)
  }
  return { call, held, holder, already: false }
}
