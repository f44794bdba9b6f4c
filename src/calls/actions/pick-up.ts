// PickUp: pick up a call ringing on one phone onto another (the PickUp page; reference E.4.1).
// Preconditions in the mirror, then one AMI Originate running PickupChan on the ringing leg. The
// outcome is correlated from the events the action causes, never assumed.
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { AmiErrorCodes, isAmiError, type AmiClient, type AmiEvent } from '../../ami/index.ts'
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
 *  target-gone: the ringing leg was answered elsewhere or abandoned first; pbx-lost: the AMI
 *  connection dropped first (the outcome can no longer be observed); failed: anything else. */
export type PickUpOutcome = 'picked-up' | 'unanswered' | 'target-gone' | 'pbx-lost' | 'failed'

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

// How long after waitForPickup we keep listening before calling the outcome unknown.
const OUTCOME_GRACE_MS = 10_000
// After the Pickup event, how long to wait for the caller and the picker to share a bridge.
const BRIDGE_GRACE_MS = 3_000

/** True when another leg of the call is in the same bridge as this one. */
function bridgedWithPeer (leg: Leg): boolean {
  if (leg.bridgeId === undefined) return false
  for (const other of leg.call.legs.values()) if (other !== leg && other.bridgeId === leg.bridgeId) return true
  return false
}

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
  const tracker = trackerOf(mirror, ami)
  if (tracker.busy(target.uniqueid)) throw new CallActionError('pc_phonecall_conflict', 'a pickup of this view is already under way')

  const channelId = 'pk-' + randomBytes(12).toString('hex')
  const outcome = tracker.track(channelId, target.uniqueid, input.waitForPickupMs + OUTCOME_GRACE_MS)
  void outcome.then((result) => {
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
    if (isAmiError(err, AmiErrorCodes.TIMEOUT)) {
      // Asterisk may have queued it all the same: keep following it (and holding the view), so that
      // a retry meets a conflict instead of ringing a second phone.
      log.warn({ op: 'pickup', phoneCallId: call.id, target: target.uniqueid, picker: channelId }, 'Originate unconfirmed; following its events until its deadline')
    } else {
      tracker.cancel(channelId)
    }
    throw err
  }
  log.info({ op: 'pickup', phoneCallId: call.id, target: target.uniqueid, picker: channelId, sendCallTo: input.extension }, 'pickup originated')
  return { call, channelId, outcome }
}

export function viewLeg (call: Call, viewId: string): Leg | undefined {
  for (const leg of call.legs.values()) if (leg.viewId === viewId && !leg.local) return leg
  return undefined
}

interface Pending {
  readonly channelId: string
  readonly targetUniqueid: string
  readonly resolve: (outcome: PickUpOutcome) => void
  timer: NodeJS.Timeout
  answered: boolean
  pickedUp: boolean
  targetGone: boolean
  failureReason: string | undefined
  /** A failure verdict waiting for proof that the PBX is still there (see finish). */
  confirming: boolean
}

/**
 * Follows pickups to their end, with one set of mirror listeners for all of them. The Pickup event
 * for our leg means success; our leg hanging up without it, or OriginateResponse failing, means it
 * did not happen (reference E.4.1 steps 4-5). If the ringing leg goes away first, our still-ringing
 * phone is released at once. It also holds the per-leg lock: one pickup per ringing leg at a time.
 */
class PickupTracker {
  private readonly byChannel = new Map<string, Pending>()
  private readonly byTarget = new Map<string, Pending>()

  constructor (private readonly mirror: Mirror, private readonly ami: AmiClient) {
    mirror.on('pickup', (picker) => { this.onPickup(picker) })
    mirror.on('bridged', (leg) => { this.onBridged(leg) })
    mirror.on('originate', (e) => { this.onOriginate(e) })
    mirror.on('hangup', (leg) => { this.onHangup(leg) })
    // Without the connection no event can settle a pickup: answer now, not at its deadline.
    ami.on('disconnected', () => { this.lostAll() })
    ami.on('event', (e) => { if (e.event === 'Shutdown') this.lostAll() })
  }

  busy (targetUniqueid: string): boolean { return this.byTarget.has(targetUniqueid) }

  track (channelId: string, targetUniqueid: string, deadlineMs: number): Promise<PickUpOutcome> {
    return new Promise<PickUpOutcome>((resolve) => {
      const timer = setTimeout(() => {
        const p = this.byChannel.get(channelId)
        this.finish(p, p?.failureReason !== undefined ? 'unanswered' : 'failed')
      }, deadlineMs)
      timer.unref()
      const pending: Pending = { channelId, targetUniqueid, resolve, timer, answered: false, pickedUp: false, targetGone: false, failureReason: undefined, confirming: false }
      this.byChannel.set(channelId, pending)
      this.byTarget.set(targetUniqueid, pending)
    })
  }

  cancel (channelId: string): void { this.finish(this.byChannel.get(channelId), 'failed', true) }

  /**
   * The Pickup event means PickupChan took the call, but the caller is answered and bridged with the
   * picker a few events later: the pickup is done once they share a bridge (or shortly after anyway).
   */
  private onPickup (picker: Leg): void {
    const p = this.byChannel.get(picker.uniqueid)
    if (p === undefined || p.pickedUp) return
    p.pickedUp = true
    if (bridgedWithPeer(picker)) return this.finish(p, 'picked-up')
    clearTimeout(p.timer)
    const timer = setTimeout(() => this.finish(p, 'picked-up'), BRIDGE_GRACE_MS)
    timer.unref()
    p.timer = timer
  }

  private onBridged (leg: Leg): void {
    for (const other of leg.call.legs.values()) {
      const p = this.byChannel.get(other.uniqueid)
      if (p?.pickedUp === true && bridgedWithPeer(other)) this.finish(p, 'picked-up')
    }
  }

  private onOriginate (e: AmiEvent): void {
    const p = e.uniqueid !== undefined ? this.byChannel.get(e.uniqueid) : undefined
    if (p === undefined) return
    if (e.response === 'Success') {
      p.answered = true
      return
    }
    p.failureReason = e.reason
    // Reason 3 = still ringing at timeout, 5 = busy (AST_CONTROL codes); there may be no channel at all.
    this.finish(p, p.targetGone ? 'target-gone' : e.reason === '3' || e.reason === '5' ? 'unanswered' : 'failed')
  }

  private onHangup (leg: Leg): void {
    const ours = this.byChannel.get(leg.uniqueid)
    if (ours !== undefined) {
      if (ours.pickedUp) return this.finish(ours, 'picked-up') // it happened; the call just ended fast
      // Our leg ended with no Pickup event before it.
      const r = ours.failureReason
      this.finish(ours, ours.answered || ours.targetGone ? 'target-gone' : r === undefined || r === '3' || r === '5' ? 'unanswered' : 'failed')
      return
    }
    const waiting = this.byTarget.get(leg.uniqueid)
    if (waiting === undefined || waiting.pickedUp || this.mirror.legs.get(waiting.channelId)?.pickedFrom !== undefined) return
    // Answered elsewhere or abandoned before our phone took it: release our phone at once.
    waiting.targetGone = true
    if (this.mirror.legs.has(waiting.channelId)) this.ami.action('Hangup', hangupLeg(waiting.channelId)).catch(() => { /* already gone */ })
  }

  private lostAll (): void {
    for (const p of [...this.byChannel.values()]) this.finish(p, 'pbx-lost')
  }

  private finish (p: Pending | undefined, outcome: PickUpOutcome, confirmed = false): void {
    if (p === undefined || this.byChannel.get(p.channelId) !== p) return
    if (outcome !== 'picked-up' && outcome !== 'pbx-lost' && !confirmed) {
      // Asterisk shutting down hangs up every channel before it says Shutdown and closes AMI: a
      // failure is the phone's or the call's only if the PBX still answers after it.
      if (p.confirming) return
      p.confirming = true
      // Our leg is gone either way: the ringing leg is free for another pickup while we confirm.
      if (this.byTarget.get(p.targetUniqueid) === p) this.byTarget.delete(p.targetUniqueid)
      this.ami.action('Ping').then(() => { this.finish(p, outcome, true) }, () => { this.finish(p, 'pbx-lost') })
      return
    }
    clearTimeout(p.timer)
    this.byChannel.delete(p.channelId)
    if (this.byTarget.get(p.targetUniqueid) === p) this.byTarget.delete(p.targetUniqueid)
    this.mirror.unexpect(p.channelId)
    p.resolve(outcome)
  }
}

const trackers = new WeakMap<Mirror, PickupTracker>()

function trackerOf (mirror: Mirror, ami: AmiClient): PickupTracker {
  let tracker = trackers.get(mirror)
  if (tracker === undefined) {
    tracker = new PickupTracker(mirror, ami)
    trackers.set(mirror, tracker)
  }
  return tracker
}
