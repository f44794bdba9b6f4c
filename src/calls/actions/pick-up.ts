// PickUp: pick up a call ringing on one phone onto another (the PickUp page; reference E.4.1).
// Preconditions in the mirror, then one AMI Originate running PickupChan on the ringing leg. The
// outcome is correlated from the events the action causes, never assumed.
import { randomBytes } from 'node:crypto'
import { AmiErrorCodes, isAmiError } from '../../ami/index.ts'
import { type Call, type Leg, RINGING } from '../mirror.ts'
import type { CallSelection } from '../service.ts'
import { pickupOriginate, asteriskCallerId } from '../recipes.ts'
import type { CallerId } from '../caller-id.ts'
import { CallActionError } from './errors.ts'
import { resolveCall, type ActionDeps } from './context.ts'
import { bridgedWith, claimTarget, originateTrackerOf, type FollowSpec, type OriginateOutcome } from './originate-tracker.ts'

/** picked-up: Asterisk bridged the caller with the picker; the rest as OriginateOutcome. */
export type PickUpOutcome = Exclude<OriginateOutcome, 'connected'> | 'picked-up'

export interface PickUpInput {
  readonly phoneCallId: string
  readonly selection: CallSelection
  readonly phoneCallViewId: string
  /** The picking phone's device ("PJSIP/0003*024"), already checked to be a phone terminal in scope. */
  readonly endpoint: string
  readonly extension: string
  /** The picking extension's organization: only calls ringing in it can be picked. */
  readonly organizationId: string
  readonly callerId: CallerId
  readonly waitForPickupMs: number
}

export interface PickUpStarted {
  readonly call: Call
  readonly channelId: string
  /** Settles with the final outcome (never rejects). */
  readonly outcome: Promise<PickUpOutcome>
}

// How long after waitForPickup we keep listening before calling the outcome unknown.
const OUTCOME_GRACE_MS = 10_000
// A shared claim outlives the follow's deadline a little: it is released when the follow ends.
const CLAIM_SLACK_MS = 5_000

export async function pickUp (deps: ActionDeps, input: PickUpInput): Promise<PickUpStarted> {
  const { ami, mirror, log } = deps
  // 1. Resolve, within the caller's authority.
  const call = resolveCall(deps, input.phoneCallId, input.selection)
  const target = viewLeg(call, input.phoneCallViewId)
  // 2. Preconditions (what PickupChan itself requires: a dialed leg with no PBX, still ringing).
  if (target === undefined) throw new CallActionError('pc_phonecallview_invalid', 'no such view in this call')
  if (target.role !== 'callee' || target.state !== RINGING) throw new CallActionError('pc_phonecallview_invalid', 'the view is not a ringing dialed leg')
  if (target.party?.extension === input.extension) throw new CallActionError('pc_sendcallto_invalid', 'sendCallTo is the ringing phone itself')
  if (target.party !== undefined && target.party.organizationId !== input.organizationId) throw new CallActionError('pc_sendcallto_invalid', 'sendCallTo is outside the organization of the call')
  const tracker = originateTrackerOf(mirror, ami)
  const channelId = 'pk-' + randomBytes(12).toString('hex')
  const deadlineMs = input.waitForPickupMs + OUTCOME_GRACE_MS
  await claimTarget(tracker, target.uniqueid, channelId, deadlineMs + CLAIM_SLACK_MS, 'a pickup of this view is already under way', () => {
    if (mirror.legs.get(target.uniqueid) !== target || target.state !== RINGING) throw new CallActionError('pc_phonecallview_invalid', 'the view stopped ringing')
  })
  const outcome = tracker.follow(pickupFollow(channelId, target.uniqueid, deadlineMs))
    .then((o): PickUpOutcome => (o === 'connected' ? 'picked-up' : o))
  void outcome.then((result) => {
    log.info({ op: 'pickup', phoneCallId: call.id, target: target.uniqueid, picker: channelId, outcome: result }, 'pickup finished')
  })
  // 3. Recipe. 4. Send: the picker leg joins this call from its first event.
  try {
    await tracker.originate(channelId, call.key, pickupOriginate({
      endpoint: input.endpoint,
      targetUniqueid: target.uniqueid,
      callerId: asteriskCallerId(input.callerId.name, input.callerId.number),
      timeoutMs: input.waitForPickupMs,
      channelId,
      callKey: call.key
    }))
  } catch (err) {
    if (isAmiError(err, AmiErrorCodes.TIMEOUT)) log.warn({ op: 'pickup', phoneCallId: call.id, target: target.uniqueid, picker: channelId }, 'Originate unconfirmed; following its events until its deadline')
    throw err
  }
  log.info({ op: 'pickup', phoneCallId: call.id, target: target.uniqueid, picker: channelId, sendCallTo: input.extension }, 'pickup originated')
  return { call, channelId, outcome }
}

export function viewLeg (call: Call, viewId: string): Leg | undefined {
  for (const leg of call.legs.values()) if (leg.viewId === viewId && !leg.local) return leg
  return undefined
}

/**
 * How a PickUp is followed: the target is a ringing leg (answered, bridged or gone elsewhere first
 * means target-gone); Asterisk's Pickup event engages our leg; it is done once the caller and the
 * picker share a bridge.
 */
export function pickupFollow (channelId: string, targetUniqueid: string, deadlineMs: number): FollowSpec {
  return {
    channelId,
    deadlineMs,
    target: { uniqueid: targetUniqueid, kind: 'ringing' },
    engaged: (leg) => leg?.pickedFrom !== undefined,
    connected: (leg) => leg?.pickedFrom !== undefined && bridgedWith(leg, leg.dialedBy !== undefined ? leg.call.legs.get(leg.dialedBy) : undefined)
  }
}
