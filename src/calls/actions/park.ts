// Park / UnPark (reference 4.7, 4.8, E.4.6). Park: AMI Park of the party into the lot, with the
// other party's device as TimeoutChannel, so that when maxInParking runs out Asterisk rings that
// extension back (res_parking comebacktoorigin). The other party hears the space announced, then
// is released. The answer waits for Asterisk's ParkedCall, which carries the space.
// UnPark: an Originate to the sendCallTo phone runs ParkedCall on the space when it answers
// (followed by the shared OriginateTracker, like PickUp); not answered, the call stays parked.
import { randomBytes } from 'node:crypto'
import { type Call, type Leg, UP } from '../mirror.ts'
import type { CallSelection } from '../service.ts'
import { asteriskCallerId, parkCall, unparkOriginate } from '../recipes.ts'
import type { CallerId } from '../caller-id.ts'
import { CallActionError } from './errors.ts'
import { resolveCall, type ActionDeps } from './context.ts'
import { counterpart, legsOfNumber, partyLegs } from './parties.ts'
import { viewLeg } from './pick-up.ts'
import { mirrorShows } from './mirror-wait.ts'
import { bridgedWith, claimTarget, originateTrackerOf, type FollowSpec, type OriginateOutcome } from './originate-tracker.ts'

export interface ParkInput {
  readonly phoneCallId: string
  readonly selection: CallSelection
  /** The party that goes into the lot. */
  readonly phoneCallViewId: string
  readonly maxInParkingMs: number
  /** The extension in the request path (undefined for @self): when it is the other party, it parks. */
  readonly viewer?: string | undefined
}

// Asterisk answers Park before it parks (the bridge does it): how long we wait for ParkedCall.
const PARKED_WITHIN_MS = 5_000

export async function park (deps: ActionDeps, input: ParkInput): Promise<{ call: Call, parked: Leg }> {
  const { ami, mirror, log } = deps
  const call = resolveCall(deps, input.phoneCallId, input.selection)
  const leg = viewLeg(call, input.phoneCallViewId)
  if (leg === undefined) throw new CallActionError('pc_phonecallview_invalid', 'no such view in this call')
  if (leg.parked !== undefined) throw new CallActionError('pc_phonecallview_invalid', 'already parked', 'The party of phoneCallViewId is parked already.')
  if (leg.state !== UP || leg.bridgeId === undefined) throw new CallActionError('pc_phonecallview_invalid', 'the party is not talking', 'The party of phoneCallViewId must be on call (answered and connected) to be parked.')
  // The parker, rung back on timeout: the path's extension when it is the other party, else the
  // party it talks to. It must be an extension: a public party has no device to ring back.
  const own = input.viewer !== undefined ? legsOfNumber(call, input.viewer).find((l) => l !== leg && l.party?.extension === input.viewer) : undefined
  const parker = own ?? counterpart(call, leg)
  if (parker?.party === undefined) throw new CallActionError('pc_phonecallview_invalid', 'no extension to ring back', 'The party of phoneCallViewId must be talking to an extension, which is rung back when maxInParking runs out.')
  await ami.action('Park', parkCall({ uniqueid: leg.uniqueid, timeoutChannel: parker.channel, timeoutMs: input.maxInParkingMs }))
  // The mirror changes it under us (the narrowing above no longer holds): re-read it.
  const state = (): Leg['parked'] => (leg as Leg).parked
  const settled = await mirrorShows(mirror, ['parking', 'hangup'], () => state() !== undefined || !mirror.legs.has(leg.uniqueid), PARKED_WITHIN_MS)
  const space = state()?.space
  if (space === undefined) {
    throw new CallActionError(settled ? 'pc_phonecallview_invalid' : 'pbx_timeout', settled ? 'the party hung up while being parked' : 'no ParkedCall within 5 s')
  }
  log.info({ op: 'park', phoneCallId: call.id, parked: leg.uniqueid, parker: parker.uniqueid, space, maxInParkingMs: input.maxInParkingMs }, 'parked')
  return { call, parked: leg }
}

/** unparked: Asterisk bridged the parked call with the sendCallTo phone; the rest as OriginateOutcome. */
export type UnParkOutcome = Exclude<OriginateOutcome, 'connected'> | 'unparked'

export interface UnParkInput {
  readonly phoneCallId: string
  readonly selection: CallSelection
  /** The parked party; undefined: the call's parked party (the first parked, if several). */
  readonly phoneCallViewId: string | undefined
  /** The receiving phone's device ("PJSIP/0003*024"), checked to be a phone terminal in scope. */
  readonly endpoint: string
  readonly extension: string
  readonly callerId: CallerId
  readonly waitForPickupMs: number
}

export interface UnParkStarted {
  readonly call: Call
  readonly parked: Leg
  readonly channelId: string
  /** Settles with the final outcome (never rejects). */
  readonly outcome: Promise<UnParkOutcome>
}

const OUTCOME_GRACE_MS = 10_000

/** The parked parties of a call, parked first first. */
export function parkedLegs (call: Call): Leg[] {
  return partyLegs(call).filter((l) => l.parked !== undefined).sort((a, b) => (a.parked?.at ?? 0) - (b.parked?.at ?? 0))
}

export async function unPark (deps: ActionDeps, input: UnParkInput): Promise<UnParkStarted> {
  const { ami, mirror, log } = deps
  const call = resolveCall(deps, input.phoneCallId, input.selection)
  let parked: Leg | undefined
  if (input.phoneCallViewId !== undefined) {
    parked = viewLeg(call, input.phoneCallViewId)
    if (parked === undefined) throw new CallActionError('pc_phonecallview_invalid', 'no such view in this call')
    if (parked.parked === undefined) throw new CallActionError('pc_phonecallview_invalid', 'the view is not parked', 'The party of phoneCallViewId is not parked.')
  } else {
    parked = parkedLegs(call)[0]
    if (parked === undefined) throw new CallActionError('pc_phonecall_not_parked', 'no parked party in this call')
  }
  const lot = parked.parked as NonNullable<Leg['parked']>
  if (parked.party?.extension === input.extension) throw new CallActionError('pc_sendcallto_invalid', 'sendCallTo is the parked phone itself')
  const tracker = originateTrackerOf(mirror, ami)
  const channelId = 'up-' + randomBytes(12).toString('hex')
  const deadlineMs = input.waitForPickupMs + OUTCOME_GRACE_MS
  const target = parked
  await claimTarget(tracker, target.uniqueid, channelId, deadlineMs + 5_000, 'the parked call is being taken out already', () => {
    if (mirror.legs.get(target.uniqueid) !== target || target.parked === undefined) throw new CallActionError('pc_phonecall_not_parked', 'the call left the parking lot')
  })
  const outcome = tracker.follow(unparkFollow(channelId, parked, deadlineMs))
    .then((o): UnParkOutcome => (o === 'connected' ? 'unparked' : o))
  const parkedId = parked.uniqueid
  void outcome.then((result) => {
    log.info({ op: 'unpark', phoneCallId: call.id, parked: parkedId, retriever: channelId, outcome: result }, 'unpark finished')
  })
  await tracker.originate(channelId, call.key, unparkOriginate({
    endpoint: input.endpoint,
    lot: lot.lot,
    space: lot.space,
    callerId: asteriskCallerId(input.callerId.name, input.callerId.number),
    timeoutMs: input.waitForPickupMs,
    channelId,
    callKey: call.key
  }))
  log.info({ op: 'unpark', phoneCallId: call.id, parked: parkedId, space: lot.space, retriever: channelId, sendCallTo: input.extension }, 'unpark originated')
  return { call, parked, channelId, outcome }
}

/**
 * How an UnPark is followed: the target is the parked leg (only its hangup loses it); Asterisk's
 * UnParkedCall engages our leg; it is done once our leg and the parked one share a bridge.
 */
export function unparkFollow (channelId: string, parked: Leg, deadlineMs: number): FollowSpec {
  return {
    channelId,
    deadlineMs,
    target: { uniqueid: parked.uniqueid, kind: 'live' },
    engaged: (leg) => leg?.retrievedFrom !== undefined,
    connected: (leg) => leg?.retrievedFrom !== undefined && bridgedWith(leg, leg.call.legs.get(leg.retrievedFrom))
  }
}
