// BargeIn, Whisper and Monitor (reference 4.6, 4.9, 4.12): a supervisor's phone rings and, once
// answered, joins a live party's call through ChanSpy. Resolve (the call, within the authority
// rule) → preconditions (the party talks; the supervisor is not in the call already; one
// supervisor being connected to a party at a time) → one Originate (recipes.superviseOriginate) →
// outcome followed by the shared tracker: connected once Asterisk's ChanSpyStart names our leg as
// the spyer of that party.
import { randomBytes } from 'node:crypto'
import { type Call, type Leg, UP } from '../mirror.ts'
import type { CallSelection } from '../service.ts'
import { asteriskCallerId, superviseOriginate, type SupervisionMode } from '../recipes.ts'
import type { CallerId } from '../caller-id.ts'
import { CallActionError } from './errors.ts'
import { resolveCall, type ActionDeps } from './context.ts'
import { claimTarget, originateTrackerOf, type OriginateOutcome } from './originate-tracker.ts'
import { isSupervisorLeg, legsOfNumber, partyLegs } from './parties.ts'
import { viewLeg } from './pick-up.ts'

export type { SupervisionMode } from '../recipes.ts'

export interface SuperviseInput {
  readonly mode: SupervisionMode
  readonly phoneCallId: string
  readonly selection: CallSelection
  /** The party listened to (whispered to); undefined: the path extension's own leg. */
  readonly phoneCallViewId: string | undefined
  /** The path extension (undefined for @self). */
  readonly viewer: string | undefined
  /** The supervisor's phone ("PJSIP/0003*024"), checked to be a phone terminal in scope. */
  readonly endpoint: string
  readonly extension: string
  readonly callerId: CallerId
  readonly waitForPickupMs: number
}

export interface SuperviseStarted {
  readonly call: Call
  /** The party being supervised. */
  readonly party: Leg
  readonly channelId: string
  /** Settles with the final outcome (never rejects). */
  readonly outcome: Promise<OriginateOutcome>
}

// How long after waitForPickup we keep listening before calling the outcome unknown.
const OUTCOME_GRACE_MS = 10_000

export async function supervise (deps: ActionDeps, input: SuperviseInput): Promise<SuperviseStarted> {
  const { ami, mirror, log } = deps
  const call = resolveCall(deps, input.phoneCallId, input.selection)
  const party = input.phoneCallViewId !== undefined
    ? viewLeg(call, input.phoneCallViewId)
    : input.viewer !== undefined ? legsOfNumber(call, input.viewer).find((l) => l.party?.extension === input.viewer) : undefined
  if (party === undefined) throw new CallActionError('pc_phonecallview_invalid', input.phoneCallViewId !== undefined ? 'no such view in this call' : 'give phoneCallViewId: the path names no party of this call')
  // ChanSpy on a leg that is not talking would hear ringing or nothing: a supervisor joins a conversation.
  if (party.state !== UP || party.bridgeId === undefined) throw new CallActionError('pc_phonecallview_invalid', 'the view is not a party on call')
  if (isSupervisorLeg(party)) throw new CallActionError('pc_phonecallview_invalid', 'the view is a supervisor leg')
  if (partyLegs(call).some((l) => l.party?.extension === input.extension)) throw new CallActionError('pc_sendcallto_invalid', 'sendCallTo is already in this call')
  const tracker = originateTrackerOf(mirror, ami)
  const channelId = `${input.mode === 'private-whisper' ? 'pw' : input.mode.slice(0, 2)}-${randomBytes(12).toString('hex')}`
  const deadlineMs = input.waitForPickupMs + OUTCOME_GRACE_MS
  await claimTarget(tracker, party.uniqueid, channelId, deadlineMs + 5_000, 'another action on this party is under way', () => {
    if (mirror.legs.get(party.uniqueid) !== party || party.state !== UP) throw new CallActionError('pc_phonecallview_invalid', 'the party left the call')
  })
  const outcome = tracker.follow({
    channelId,
    deadlineMs,
    target: { uniqueid: party.uniqueid, kind: 'live' },
    // Asterisk's own word: ChanSpy started with our leg as spyer and that party as spyee.
    connected: (_leg, e) => e?.event === 'ChanSpyStart' && e.spyeruniqueid === channelId && e.spyeeuniqueid === party.uniqueid
  })
  void outcome.then((result) => {
    log.info({ op: input.mode, phoneCallId: call.id, party: party.uniqueid, supervisor: channelId, outcome: result }, 'supervision finished connecting')
  })
  await tracker.originate(channelId, call.key, superviseOriginate({
    endpoint: input.endpoint,
    mode: input.mode,
    spyeeUniqueid: party.uniqueid,
    callerId: asteriskCallerId(input.callerId.name, input.callerId.number),
    timeoutMs: input.waitForPickupMs,
    channelId,
    callKey: call.key
  }))
  log.info({ op: input.mode, phoneCallId: call.id, party: party.uniqueid, supervisor: channelId, sendCallTo: input.extension }, 'supervisor rung')
  return { call, party, channelId, outcome }
}
