// PickUp: pick up a call ringing on one phone onto another (the PickUp page; reference E.4.1).
// Preconditions in the mirror, then one AMI Originate running PickupChan on the ringing leg. The
// outcome is correlated from the events the action causes, never assumed.
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { AmiClient, AmiEvent } from '../../ami/index.ts'
import { type Call, type Leg, type Mirror, RINGING } from '../mirror.ts'
import type { CallService, CallSelection } from '../service.ts'
import { pickupOriginate, asteriskCallerId, hangupLeg } from '../recipes.ts'
import type { CallerId } from '../caller-id.ts'
import { CallActionError } from './errors.ts'

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

/** picked-up: the picker answered and took the call; unanswered: it rang out (or was busy);
 *  target-gone: the ringing leg was answered elsewhere or abandoned first; failed: anything else. */
export type PickUpOutcome = 'picked-up' | 'unanswered' | 'target-gone' | 'failed'

export interface PickUpStarted {
  readonly call: Call
  readonly channelId: string
  /** Settles with the final outcome (never rejects). */
  readonly outcome: Promise<PickUpOutcome>
}

export interface ActionDeps {
  readonly ami: AmiClient
  readonly mirror: Mirror
  readonly calls: CallService
  readonly log: Logger
}

/** Ringing legs with a pickup under way: a second PickUp of the same view is a conflict. */
const inFlight = new Set<string>()

// How long after waitForPickup we keep listening before calling the outcome unknown.
const OUTCOME_GRACE_MS = 10_000

export async function pickUp (deps: ActionDeps, input: PickUpInput): Promise<PickUpStarted> {
  const { ami, mirror, calls, log } = deps
  // 1. Resolve, within the caller's authority.
  const call = calls.find(input.phoneCallId, input.selection)
  if (call === undefined) throw new CallActionError('pc_phonecall_invalid', 'no such live call in scope')
  const target = viewLeg(call, input.phoneCallViewId)
  // 2. Preconditions (what PickupChan itself requires: a dialed leg with no PBX, still ringing).
  if (target === undefined) throw new CallActionError('pc_phonecallview_invalid', 'no such view in this call')
  if (target.role !== 'callee' || target.state !== RINGING) throw new CallActionError('pc_phonecallview_invalid', 'the view is not a ringing dialed leg')
  if (target.party?.extension === input.extension) throw new CallActionError('pc_sendcallto_invalid', 'sendCallTo is the ringing phone itself')
  if (target.party !== undefined && target.party.organizationId !== input.organizationId) throw new CallActionError('pc_sendcallto_invalid', 'sendCallTo is outside the organization of the call')
  if (inFlight.has(target.uniqueid)) throw new CallActionError('pc_phonecall_conflict', 'a pickup of this view is already under way')
  inFlight.add(target.uniqueid)

  const channelId = 'pk-' + randomBytes(12).toString('hex')
  const outcome = track(deps, channelId, target.uniqueid, input.waitForPickupMs + OUTCOME_GRACE_MS)
  void outcome.then((result) => {
    inFlight.delete(target.uniqueid)
    log.info({ op: 'pickup', phoneCallId: call.id, target: target.uniqueid, picker: channelId, outcome: result }, 'pickup finished')
  })
  // 3. Recipe. 4. Send: the picker leg joins this call from its first event.
  mirror.expect(channelId, call.key)
  try {
    await ami.action('Originate', pickupOriginate({
      endpoint: input.endpoint,
      targetUniqueid: target.uniqueid,
      callerId: asteriskCallerId(input.callerId.name, input.callerId.number),
      timeoutMs: input.waitForPickupMs,
      channelId
    }))
  } catch (err) {
    mirror.unexpect(channelId)
    cancel(channelId)
    throw err
  }
  log.info({ op: 'pickup', phoneCallId: call.id, target: target.uniqueid, picker: channelId, sendCallTo: input.extension }, 'pickup originated')
  return { call, channelId, outcome }
}

export function viewLeg (call: Call, viewId: string): Leg | undefined {
  for (const leg of call.legs.values()) if (leg.viewId === viewId && !leg.local) return leg
  return undefined
}

const cancels = new Map<string, () => void>()
function cancel (channelId: string): void { cancels.get(channelId)?.() }

/**
 * Follows one pickup to its end: the Pickup event for our leg means success; our leg hanging up
 * without it, or OriginateResponse failing, means it did not happen (reference E.4.1 step 4-5).
 * If the ringing leg goes away first, our still-ringing phone is released at once.
 */
function track (deps: ActionDeps, channelId: string, targetUniqueid: string, deadlineMs: number): Promise<PickUpOutcome> {
  const { mirror, ami } = deps
  return new Promise<PickUpOutcome>((resolve) => {
    let answered = false
    let targetGone = false
    let failureReason: string | undefined
    const finish = (result: PickUpOutcome): void => {
      clearTimeout(timer)
      mirror.off('pickup', onPickup)
      mirror.off('hangup', onHangup)
      mirror.off('originate', onOriginate)
      cancels.delete(channelId)
      mirror.unexpect(channelId)
      resolve(result)
    }
    const onPickup = (picker: Leg): void => {
      if (picker.uniqueid === channelId) finish('picked-up')
    }
    const onOriginate = (e: AmiEvent): void => {
      if (e.uniqueid !== channelId) return
      if (e.response === 'Success') {
        answered = true
        return
      }
      failureReason = e.reason
      // Reason 3 = still ringing at timeout, 5 = busy (AST_CONTROL codes); no channel may exist at all.
      finish(targetGone ? 'target-gone' : e.reason === '3' || e.reason === '5' ? 'unanswered' : 'failed')
    }
    const onHangup = (leg: Leg): void => {
      if (leg.uniqueid === channelId) {
        // No Pickup event before our leg ended. Reason 3 = rang out, 5 = busy (AST_CONTROL codes).
        if (answered || targetGone) finish('target-gone')
        else finish(failureReason === undefined || failureReason === '3' || failureReason === '5' ? 'unanswered' : 'failed')
      } else if (leg.uniqueid === targetUniqueid && mirror.legs.get(channelId)?.pickedFrom === undefined) {
        // Answered elsewhere or abandoned before our phone took it: release our phone at once.
        targetGone = true
        if (mirror.legs.has(channelId)) ami.action('Hangup', hangupLeg(channelId)).catch(() => { /* already gone */ })
      }
    }
    const timer = setTimeout(() => finish(failureReason !== undefined ? 'unanswered' : 'failed'), deadlineMs)
    timer.unref()
    cancels.set(channelId, () => finish('failed'))
    mirror.on('pickup', onPickup)
    mirror.on('hangup', onHangup)
    mirror.on('originate', onOriginate)
  })
}
