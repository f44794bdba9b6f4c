// The one tracker for verbs that originate a leg and follow its outcome (PickUp; UnPark, BargeIn,
// Whisper, Monitor): one set of mirror and AMI listeners for all of them, per mirror.
//
// A verb rings a phone (the leg `channelId`, chosen by us) and, once answered, runs an application
// on it that acts on a target leg (PickupChan, ParkedCall, ChanSpy...). The tracker settles:
// - connected: the verb's proof holds (`spec.connected`), e.g. Asterisk bridged the caller with the
//   picker; never a timer standing in for it;
// - unanswered: the phone rang out or was busy (OriginateResponse reason 3 or 5);
// - target-gone: the target went away first (hung up; for a ringing target also answered or bridged
//   elsewhere). Our still-ringing phone is then released at once, with one Hangup of our own leg;
// - pbx-lost: the AMI connection dropped or Asterisk announced Shutdown first;
// - failed: anything else (Originate refused, our leg ended without the proof, deadline).
// It also holds the per-target lock: one such verb per target leg at a time, in this process and,
// given a shared claim store (several engine instances on one database), across instances.
import { AmiErrorCodes, isAmiError, type AmiClient, type AmiEvent, type AmiHeaders } from '../../ami/index.ts'
import { type Leg, type Mirror, UP } from '../mirror.ts'
import { hangupLeg } from '../recipes.ts'
import { CallActionError } from './errors.ts'

export type OriginateOutcome = 'connected' | 'unanswered' | 'target-gone' | 'pbx-lost' | 'failed'

/**
 * A lock shared by every engine instance on one database: the key names a target leg by Asterisk's
 * uniqueid (the same on every instance), the owner our leg. An expired claim may be taken over.
 */
export interface TargetClaims {
  tryClaim: (key: string, owner: string, ttlMs: number) => Promise<boolean>
  release: (key: string, owner: string) => Promise<unknown>
}

/** The shared claim store could not be asked: nothing was sent to Asterisk. */
export class ClaimStoreError extends Error {
  override readonly name = 'ClaimStoreError'
}

export interface FollowSpec {
  /** The uniqueid we gave the new leg (Originate ChannelId). */
  readonly channelId: string
  /** Settles by then at the latest (waitForPickup plus a grace). */
  readonly deadlineMs: number
  /**
   * The leg the new one acts on. 'ringing': gone once it is answered, bridged or hung up (PickUp);
   * 'live': gone once it hangs up (a parked or spied party).
   */
  readonly target?: { readonly uniqueid: string, readonly kind: 'ringing' | 'live' }
  /**
   * The proof that the verb happened, checked whenever our leg's call changes shape (a bridge, a
   * pickup) and on every AMI event naming our leg (e.g. ChanSpyStart). `leg` is ours as the mirror
   * has it (undefined before Asterisk showed it).
   */
  readonly connected: (leg: Leg | undefined, event: AmiEvent | undefined) => boolean
  /** True once the verb's application took the target (PickUp: after Pickup): its leaving is then no loss. */
  readonly engaged?: (leg: Leg | undefined) => boolean
}

interface Pending {
  readonly spec: FollowSpec
  readonly resolve: (outcome: OriginateOutcome) => void
  readonly timer: NodeJS.Timeout
  /** OriginateResponse Success: the phone answered. */
  answered: boolean
  failureReason: string | undefined
  /** A failure verdict waiting for proof that the PBX is still there (see finish). */
  confirming: boolean
}

// Our leg must be released but Asterisk has not shown it yet: hang it up on sight, for this long.
const RELEASE_WATCH_MS = 30_000
// AMI headers that name a leg an event is about, besides Uniqueid.
const LEG_HEADERS = ['uniqueid', 'destuniqueid', 'spyeruniqueid', 'spyeeuniqueid', 'parkeeuniqueid', 'retrieveruniqueid'] as const

export class OriginateTracker {
  private readonly byChannel = new Map<string, Pending>()
  private readonly byTarget = new Map<string, Pending>()
  private readonly releaseOnSight = new Map<string, NodeJS.Timeout>()
  /** Targets claimed (target uniqueid -> our channel id) whose follow has not started yet. */
  private readonly reserved = new Map<string, string>()
  /** Shared claims we hold (our channel id -> claim key), released when the follow ends. */
  private readonly held = new Map<string, string>()
  private claims: TargetClaims | undefined

  constructor (private readonly mirror: Mirror, private readonly ami: AmiClient) {
    mirror.on('leg', (leg) => { this.onLeg(leg) })
    mirror.on('state', (leg) => { if (leg.state === UP) this.onTargetTaken(leg.uniqueid, 'answered') })
    mirror.on('pickup', (picker) => { this.check(picker.uniqueid, undefined) })
    mirror.on('bridged', (leg) => { this.onBridged(leg) })
    mirror.on('originate', (e) => { this.onOriginate(e) })
    mirror.on('hangup', (leg) => { this.onHangup(leg) })
    // Without the connection no event can settle anything: answer now, not at the deadline.
    ami.on('disconnected', () => { this.lostAll() })
    ami.on('event', (e) => { this.onEvent(e) })
  }

  /** Several engine instances share one database: targets are claimed there too. */
  useClaims (claims: TargetClaims | undefined): void { this.claims = claims }

  /** True while a verb of this kind acts on the target leg (its lock). */
  busy (targetUniqueid: string): boolean { return this.byTarget.has(targetUniqueid) || this.reserved.has(targetUniqueid) }

  /**
   * Takes the target leg for our leg `channelId`, to be followed next (follow() with the same
   * target): false when another verb has it, here or on another instance. The claim lasts until
   * the follow ends (or `ttlMs`, should this process die). Throws ClaimStoreError when the shared
   * store cannot be asked.
   */
  async claim (targetUniqueid: string, channelId: string, ttlMs: number): Promise<boolean> {
    if (this.busy(targetUniqueid)) return false
    this.reserved.set(targetUniqueid, channelId)
    const claims = this.claims
    if (claims === undefined) return true
    const key = `leg:${targetUniqueid}`
    let ok: boolean
    try {
      ok = await claims.tryClaim(key, channelId, ttlMs)
    } catch (err) {
      this.reserved.delete(targetUniqueid)
      throw new ClaimStoreError('the claim store did not answer', { cause: err })
    }
    if (!ok) {
      this.reserved.delete(targetUniqueid)
      return false
    }
    this.held.set(channelId, key)
    return true
  }

  /** A claim that will not be followed after all (the target changed meanwhile). */
  unclaim (targetUniqueid: string, channelId: string): void {
    if (this.reserved.get(targetUniqueid) === channelId) this.reserved.delete(targetUniqueid)
    this.releaseClaim(channelId)
  }

  follow (spec: FollowSpec): Promise<OriginateOutcome> {
    if (spec.target !== undefined && this.reserved.get(spec.target.uniqueid) === spec.channelId) this.reserved.delete(spec.target.uniqueid)
    return new Promise<OriginateOutcome>((resolve) => {
      const timer = setTimeout(() => {
        const p = this.byChannel.get(spec.channelId)
        this.finish(p, p !== undefined && p.failureReason !== undefined && !(p.spec.engaged?.(this.leg(p)) ?? false) ? 'unanswered' : 'failed')
      }, spec.deadlineMs)
      timer.unref()
      const pending: Pending = { spec, resolve, timer, answered: false, failureReason: undefined, confirming: false }
      this.byChannel.set(spec.channelId, pending)
      if (spec.target !== undefined) this.byTarget.set(spec.target.uniqueid, pending)
    })
  }

  /** The Originate was refused: nothing will happen. */
  cancel (channelId: string): void { this.finish(this.byChannel.get(channelId), 'failed', true) }

  /**
   * Sends the Originate of a followed leg: the leg joins `callKey` from its first event. Refused, the
   * follow ends at once; unconfirmed (AMI timeout), Asterisk may have queued it all the same, so it
   * is still followed (and its target still locked) until its deadline: a retry meets a conflict
   * instead of ringing a second phone. Either way the error is thrown on.
   */
  async originate (channelId: string, callKey: string, headers: AmiHeaders): Promise<void> {
    this.mirror.expect(channelId, callKey)
    try {
      await this.ami.action('Originate', headers)
    } catch (err) {
      if (!isAmiError(err, AmiErrorCodes.TIMEOUT)) this.cancel(channelId)
      throw err
    }
  }

  private leg (p: Pending): Leg | undefined { return this.mirror.legs.get(p.spec.channelId) }

  private check (channelId: string, event: AmiEvent | undefined): void {
    const p = this.byChannel.get(channelId)
    if (p !== undefined && p.spec.connected(this.leg(p), event)) this.finish(p, 'connected')
  }

  private onBridged (leg: Leg): void {
    // A ringing target entering a bridge before our application took it: answered elsewhere.
    this.onTargetTaken(leg.uniqueid, 'answered')
    // Our leg, or a party of its call, entering a bridge: the proof may hold now.
    for (const other of leg.call.legs.values()) if (this.byChannel.has(other.uniqueid)) this.check(other.uniqueid, undefined)
  }

  private onEvent (e: AmiEvent): void {
    if (e.event === 'Shutdown') {
      this.lostAll()
      return
    }
    if (this.byChannel.size === 0) return
    for (const header of LEG_HEADERS) {
      const id = e[header]
      if (id !== undefined && this.byChannel.has(id)) this.check(id, e)
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
      // Our leg ended without the proof.
      const r = ours.failureReason
      const engaged = ours.spec.engaged?.(leg) ?? false
      const target = ours.spec.target
      const targetLeft = target !== undefined && !this.mirror.legs.has(target.uniqueid) && !engaged
      // Engaged, the party it was being connected to (the leg that dialed the target) may leave too.
      const peerLeft = engaged && leg.dialedBy !== undefined && !this.mirror.legs.has(leg.dialedBy)
      this.finish(ours, targetLeft || peerLeft || (ours.answered && !engaged && target?.kind === 'ringing')
        ? 'target-gone'
        : engaged || ours.answered ? 'failed' : r === undefined || r === '3' || r === '5' ? 'unanswered' : 'failed')
      return
    }
    // A target hung up. Asterisk shutting down hangs every channel up first: confirmed by a Ping.
    this.onTargetTaken(leg.uniqueid, 'hungup')
  }

  /** The target was answered, bridged or hung up: unless our application took it, release our phone. */
  private onTargetTaken (targetUniqueid: string, how: 'answered' | 'hungup'): void {
    const p = this.byTarget.get(targetUniqueid)
    if (p === undefined || (p.spec.engaged?.(this.leg(p)) ?? false)) return
    if (how === 'answered' && p.spec.target?.kind !== 'ringing') return
    this.release(p.spec.channelId)
    // Answered or bridged: the news proves the PBX is running, no Ping needed.
    this.finish(p, 'target-gone', how === 'answered')
  }

  /** One Hangup of our own leg: now if the mirror knows it, else as soon as it appears. */
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

  private finish (p: Pending | undefined, outcome: OriginateOutcome, confirmed = false): void {
    if (p === undefined || this.byChannel.get(p.spec.channelId) !== p) return
    const target = p.spec.target?.uniqueid
    if (outcome !== 'connected' && outcome !== 'pbx-lost' && !confirmed) {
      // Asterisk shutting down hangs up every channel before it says Shutdown and closes AMI: a
      // failure is the phone's or the call's only if the PBX still answers after it.
      if (p.confirming) return
      p.confirming = true
      // Our leg is gone either way: the target is free for another verb while we confirm.
      if (target !== undefined && this.byTarget.get(target) === p) this.byTarget.delete(target)
      this.releaseClaim(p.spec.channelId)
      this.ami.action('Ping').then(() => { this.finish(p, outcome, true) }, () => { this.finish(p, 'pbx-lost') })
      return
    }
    clearTimeout(p.timer)
    this.byChannel.delete(p.spec.channelId)
    if (target !== undefined && this.byTarget.get(target) === p) this.byTarget.delete(target)
    this.mirror.unexpect(p.spec.channelId)
    this.releaseClaim(p.spec.channelId)
    p.resolve(outcome)
  }

  private releaseClaim (channelId: string): void {
    const key = this.held.get(channelId)
    if (key === undefined) return
    this.held.delete(channelId)
    // Unreleased, the claim expires by itself (its ttl).
    this.claims?.release(key, channelId).catch(() => {})
  }
}

/**
 * Claims the target leg for our leg `channelId` (see OriginateTracker.claim) or throws: a conflict
 * when another verb has it; `recheck` runs once the claim is held (the target may have changed
 * while a shared store was asked) and throws what the action's own preconditions would.
 */
export async function claimTarget (tracker: OriginateTracker, targetUniqueid: string, channelId: string, ttlMs: number, conflict: string, recheck?: () => void): Promise<void> {
  let ok: boolean
  try {
    ok = await tracker.claim(targetUniqueid, channelId, ttlMs)
  } catch (err) {
    if (err instanceof ClaimStoreError) throw new CallActionError('coordination_unavailable', `${err.message}: ${String((err.cause as Error | undefined)?.message)}`)
    throw err
  }
  if (!ok) throw new CallActionError('pc_phonecall_conflict', conflict)
  try {
    recheck?.()
  } catch (err) {
    tracker.unclaim(targetUniqueid, channelId)
    throw err
  }
}

const trackers = new WeakMap<Mirror, OriginateTracker>()

/** The one tracker of a mirror (created on first use). */
export function originateTrackerOf (mirror: Mirror, ami: AmiClient): OriginateTracker {
  let tracker = trackers.get(mirror)
  if (tracker === undefined) {
    tracker = new OriginateTracker(mirror, ami)
    trackers.set(mirror, tracker)
  }
  return tracker
}

/**
 * True when `leg` shares a bridge with `peer` (the party it was meant to reach); without a known
 * peer, with any other party of its call.
 */
export function bridgedWith (leg: Leg, peer: Leg | undefined): boolean {
  if (leg.bridgeId === undefined) return false
  if (peer !== undefined) return peer.bridgeId === leg.bridgeId
  for (const other of leg.call.legs.values()) if (other !== leg && !other.local && other.bridgeId === leg.bridgeId) return true
  return false
}
