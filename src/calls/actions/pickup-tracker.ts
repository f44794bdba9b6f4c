// Follows PickUps to their end (reference E.4.1 steps 4-5) with one set of mirror listeners for all
// of them, and holds the per-leg lock: one pickup per ringing leg at a time, in this process.
//
// Proof, not timing: a pickup is `picked-up` only once Asterisk puts the caller and the picker in one
// bridge. The ringing (target) leg being answered, bridged or hung up before Asterisk's Pickup event
// for our leg means someone else got there first: our still-ringing phone is released at once (one
// Hangup of our own leg) and the outcome is `target-gone`.
import type { AmiClient, AmiEvent } from '../../ami/index.ts'
import { type Leg, type Mirror, UP } from '../mirror.ts'
import { hangupLeg } from '../recipes.ts'

/** picked-up: Asterisk bridged the caller with the picker; unanswered: the picker rang out (or was
 *  busy); target-gone: the ringing leg was answered elsewhere, bridged or abandoned first; pbx-lost:
 *  the AMI connection dropped first (the outcome can no longer be observed); failed: anything else. */
export type PickUpOutcome = 'picked-up' | 'unanswered' | 'target-gone' | 'pbx-lost' | 'failed'

interface Pending {
  readonly channelId: string
  readonly targetUniqueid: string
  readonly resolve: (outcome: PickUpOutcome) => void
  readonly timer: NodeJS.Timeout
  /** OriginateResponse Success: the picking phone answered. */
  answered: boolean
  /** Asterisk's Pickup event named our leg: the bridge with the caller should follow. */
  pickedUp: boolean
  failureReason: string | undefined
  /** A failure verdict waiting for proof that the PBX is still there (see finish). */
  confirming: boolean
}

// Our leg hung up because its target went away, but not yet seen by the mirror: hang it up on sight.
const RELEASE_WATCH_MS = 30_000

export class PickupTracker {
  private readonly byChannel = new Map<string, Pending>()
  private readonly byTarget = new Map<string, Pending>()
  /** Our legs to hang up as soon as they appear (channel id -> expiry timer). */
  private readonly releaseOnSight = new Map<string, NodeJS.Timeout>()

  constructor (private readonly mirror: Mirror, private readonly ami: AmiClient) {
    mirror.on('leg', (leg) => { this.onLeg(leg) })
    mirror.on('state', (leg) => { if (leg.state === UP) this.onTargetTaken(leg.uniqueid, true) })
    mirror.on('pickup', (picker) => { this.onPickup(picker) })
    mirror.on('bridged', (leg) => { this.onBridged(leg) })
    mirror.on('originate', (e) => { this.onOriginate(e) })
    mirror.on('hangup', (leg) => { this.onHangup(leg) })
    // Without the connection no event can settle a pickup: answer now, not at its deadline.
    ami.on('disconnected', () => { this.lostAll() })
    ami.on('event', (e) => { if (e.event === 'Shutdown') this.lostAll() })
  }

  /** True while a pickup of this ringing leg is under way (the view's lock). */
  busy (targetUniqueid: string): boolean { return this.byTarget.has(targetUniqueid) }

  /** Follows the leg `channelId` that picks up `targetUniqueid`; settles by `deadlineMs` at the latest. */
  track (channelId: string, targetUniqueid: string, deadlineMs: number): Promise<PickUpOutcome> {
    return new Promise<PickUpOutcome>((resolve) => {
      const timer = setTimeout(() => {
        const p = this.byChannel.get(channelId)
        this.finish(p, p?.pickedUp === true || p?.failureReason === undefined ? 'failed' : 'unanswered')
      }, deadlineMs)
      timer.unref()
      const pending: Pending = { channelId, targetUniqueid, resolve, timer, answered: false, pickedUp: false, failureReason: undefined, confirming: false }
      this.byChannel.set(channelId, pending)
      this.byTarget.set(targetUniqueid, pending)
    })
  }

  /** The Originate was refused: nothing will happen. */
  cancel (channelId: string): void { this.finish(this.byChannel.get(channelId), 'failed', true) }

  private onPickup (picker: Leg): void {
    const p = this.byChannel.get(picker.uniqueid)
    if (p === undefined || p.pickedUp) return
    p.pickedUp = true
    if (bridgedWithCaller(picker)) this.finish(p, 'picked-up')
  }

  private onBridged (leg: Leg): void {
    // The target entering a bridge before our Pickup: it was answered elsewhere.
    this.onTargetTaken(leg.uniqueid, true)
    // Our picker, or its caller, entering the bridge they now share: the pickup is done.
    for (const other of leg.call.legs.values()) {
      const p = this.byChannel.get(other.uniqueid)
      if (p?.pickedUp === true && bridgedWithCaller(other)) this.finish(p, 'picked-up')
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
    this.finish(p, e.reason === '3' || e.reason === '5' ? 'unanswered' : 'failed')
  }

  private onHangup (leg: Leg): void {
    const sight = this.releaseOnSight.get(leg.uniqueid)
    if (sight !== undefined) {
      clearTimeout(sight)
      this.releaseOnSight.delete(leg.uniqueid)
    }
    const ours = this.byChannel.get(leg.uniqueid)
    if (ours !== undefined) {
      // Our leg ended before the caller was bridged with it.
      const r = ours.failureReason
      const callerLeft = ours.pickedUp && leg.dialedBy !== undefined && !this.mirror.legs.has(leg.dialedBy)
      this.finish(ours, callerLeft ? 'target-gone' : ours.pickedUp ? 'failed' : ours.answered ? 'target-gone' : r === undefined || r === '3' || r === '5' ? 'unanswered' : 'failed')
      return
    }
    // The ringing leg hung up: picked by us (the Pickup event came first), else abandoned or taken,
    // or Asterisk is shutting down (it hangs up every channel first): that one is confirmed by a Ping.
    this.onTargetTaken(leg.uniqueid, false)
  }

  /**
   * The ringing leg was answered, bridged or hung up: unless that was our pickup, release our phone.
   * `live`: the news itself proves the PBX is running (a leg answered or bridged), no Ping needed.
   */
  private onTargetTaken (targetUniqueid: string, live: boolean): void {
    const p = this.byTarget.get(targetUniqueid)
    if (p === undefined || p.pickedUp) return
    this.release(p.channelId)
    this.finish(p, 'target-gone', live)
  }

  /** One Hangup of our own leg, now if the mirror knows it, else as soon as it appears. */
  private release (channelId: string): void {
    if (this.mirror.legs.has(channelId)) {
      this.hangUp(channelId)
      return
    }
    if (this.mirror.isTombstoned(channelId) || this.releaseOnSight.has(channelId)) return
    const timer = setTimeout(() => { this.releaseOnSight.delete(channelId) }, RELEASE_WATCH_MS)
    timer.unref()
    this.releaseOnSight.set(channelId, timer)
  }

  private onLeg (leg: Leg): void {
    const timer = this.releaseOnSight.get(leg.uniqueid)
    if (timer === undefined) return
    clearTimeout(timer)
    this.releaseOnSight.delete(leg.uniqueid)
    this.hangUp(leg.uniqueid)
  }

  private hangUp (channelId: string): void {
    this.ami.action('Hangup', hangupLeg(channelId)).catch(() => { /* gone already: nothing to release */ })
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

/**
 * True when the picker shares a bridge with the caller it took over (the leg that dialed the picked
 * phone); for a picker whose caller the mirror cannot name (rebuilt from a snapshot), any other party
 * in its bridge.
 */
function bridgedWithCaller (picker: Leg): boolean {
  if (picker.bridgeId === undefined) return false
  const caller = picker.dialedBy !== undefined ? picker.call.legs.get(picker.dialedBy) : undefined
  if (caller !== undefined) return caller.bridgeId === picker.bridgeId
  for (const other of picker.call.legs.values()) if (other !== picker && !other.local && other.bridgeId === picker.bridgeId) return true
  return false
}

const trackers = new WeakMap<Mirror, PickupTracker>()

/** The one tracker of a mirror (created on first use). */
export function pickupTrackerOf (mirror: Mirror, ami: AmiClient): PickupTracker {
  let tracker = trackers.get(mirror)
  if (tracker === undefined) {
    tracker = new PickupTracker(mirror, ami)
    trackers.set(mirror, tracker)
  }
  return tracker
}
