// Finding the parties (legs) of a live call that an action names: by number, by view, by bridge.
// Shared by Delete (phoneNumber), Transfer and TransferToVoicemail. Pure reads of the mirror.
import { type Call, type Leg, UP } from '../mirror.ts'
import { isSupervision } from '../recipes.ts'
import { CallActionError } from './errors.ts'
import { viewLeg } from './pick-up.ts'

/** The legs shown as views (never Local/ halves). */
export function partyLegs (call: Call): Leg[] {
  const out: Leg[] = []
  for (const leg of call.legs.values()) if (!leg.local) out.push(leg)
  return out
}

/** A party's own number: its extension (full number), or for a leg outside the directory its caller number. */
export function legNumber (leg: Leg): string | undefined {
  if (leg.party !== undefined) return leg.party.extension
  const n = leg.callerNum
  return n === '' || n === '<unknown>' ? undefined : n
}

/**
 * The legs of the party whose number is `number` (a full extension number or a public number, as
 * the HTTP layer canonicalized it). A public party with no leg of its own (a number the PBX routes
 * out, like the test PBX's pstn) is reached through the leg that called it: the leg whose target
 * or dialplan extension is that number.
 */
export function legsOfNumber (call: Call, number: string): Leg[] {
  const legs = partyLegs(call)
  const own = legs.filter((leg) => legNumber(leg) === number)
  if (own.length > 0) return own
  return legs.filter((leg) => leg.party !== undefined && (leg.target === number || leg.exten === number))
}

/** The other party in the same bridge, when the bridge holds exactly two parties. */
export function bridgePeer (call: Call, leg: Leg): Leg | undefined {
  if (leg.bridgeId === undefined) return undefined
  const peers = partyLegs(call).filter((other) => other !== leg && other.bridgeId === leg.bridgeId)
  return peers.length === 1 ? peers[0] : undefined
}

/** The party `leg` talks to or is being connected with: its bridge peer, else the leg it dialed or that dialed it. */
export function counterpart (call: Call, leg: Leg): Leg | undefined {
  const peer = bridgePeer(call, leg)
  if (peer !== undefined) return peer
  if (leg.dialedBy !== undefined) {
    const dialer = call.legs.get(leg.dialedBy)
    if (dialer !== undefined && !dialer.local) return dialer
  }
  const dialed = partyLegs(call).filter((other) => other.dialedBy === leg.uniqueid)
  return dialed.length === 1 ? dialed[0] : undefined
}

/** A phone ringing for a Dial (no dialplan of its own yet): it can be cancelled, not moved. */
export function isRingingCallee (leg: Leg): boolean {
  return leg.role === 'callee' && leg.state !== UP
}

/** How a transfer request names its parties (numbers already canonical). */
export interface TransferParties {
  /** The party being moved. */
  readonly transferNumber?: string | undefined
  /** The party doing the transfer, released by it. */
  readonly transferFromNumber?: string | undefined
  /** The view of the party being moved; a view of a phone still ringing stands for its caller. */
  readonly phoneCallViewId?: string | undefined
  /** The extension in the request path (undefined for @self): when nothing else says, it is the transferer. */
  readonly viewer?: string | undefined
}

/**
 * Which leg moves and which one transfers it. In order: transferNumber's leg; the view's leg (its
 * caller when the view is a phone still ringing); the counterpart of transferFromNumber's leg; the
 * counterpart of the path extension's leg (the path extension transfers the party it talks to, or
 * sends away the caller ringing it); the caller of the call's only ringing phone.
 */
export function resolveTransferParties (call: Call, spec: TransferParties): { moved: Leg, from: Leg | undefined } {
  let from: Leg | undefined
  if (spec.transferFromNumber !== undefined) {
    from = legsOfNumber(call, spec.transferFromNumber)[0]
    if (from === undefined) throw new CallActionError('pc_transferfromnumber_invalid', 'transferFromNumber is not a party of this call')
  }
  let moved: Leg | undefined
  if (spec.transferNumber !== undefined) {
    moved = legsOfNumber(call, spec.transferNumber)[0]
    if (moved === undefined) throw new CallActionError('pc_transfernumber_invalid', 'transferNumber is not a party of this call')
    if (isRingingCallee(moved)) throw new CallActionError('pc_transfernumber_invalid', 'transferNumber is a phone still ringing: it cannot be moved')
    if (isSupervisorLeg(moved)) throw new CallActionError('pc_transfernumber_invalid', 'transferNumber is a supervisor: only parties of the conversation move')
  } else if (spec.phoneCallViewId !== undefined) {
    const leg = viewLeg(call, spec.phoneCallViewId)
    if (leg === undefined) throw new CallActionError('pc_phonecallview_invalid', 'no such view in this call')
    moved = standFor(call, leg)
    if (moved === undefined) throw new CallActionError('pc_phonecallview_invalid', 'the view is a ringing phone whose caller is gone')
    if (isSupervisorLeg(moved)) throw new CallActionError('pc_phonecallview_invalid', 'the view is a supervisor: only parties of the conversation move')
    if (moved !== leg && from === undefined) from = leg
  } else if (from !== undefined) {
    moved = isRingingCallee(from) ? standFor(call, from) : counterpart(call, from)
  } else {
    const own = spec.viewer !== undefined ? legsOfNumber(call, spec.viewer).find((l) => l.party?.extension === spec.viewer) : undefined
    if (own !== undefined) {
      from = own
      moved = isRingingCallee(own) ? standFor(call, own) : counterpart(call, own)
    } else {
      const ringing = partyLegs(call).filter(isRingingCallee)
      if (ringing.length === 1) {
        from = ringing[0]
        moved = standFor(call, ringing[0] as Leg)
      }
    }
  }
  if (moved === undefined) throw new CallActionError(spec.transferFromNumber !== undefined ? 'pc_transferfromnumber_invalid' : 'pc_phonecallview_invalid', 'cannot tell which party to move: give phoneCallViewId or transferNumber')
  if (from === moved) throw new CallActionError('pc_transferfromnumber_invalid', 'the party moved cannot be the one transferring it')
  return { moved, from: from ?? counterpart(call, moved) }
}

/** A supervisor's leg (BargeIn, Whisper, Monitor): a view of the call, but no party of the conversation. */
export function isSupervisorLeg (leg: Leg): boolean {
  return leg.spying !== undefined || isSupervision(leg.op)
}

/** A ringing phone stands for its caller; any other leg for itself. */
function standFor (call: Call, leg: Leg): Leg | undefined {
  if (!isRingingCallee(leg)) return leg
  const dialer = leg.dialedBy !== undefined ? call.legs.get(leg.dialedBy) : undefined
  return dialer !== undefined && !dialer.local ? dialer : undefined
}
