// Create Simple PhoneCalls (reference 3.2): a click-to-call. One async Originate rings the source
// phone; once it answers, its leg runs the organization's dialplan for the destination (which rings
// a phone or goes out to the public network). The call id is known before Asterisk says anything:
// the originated leg's uniqueid is our ChannelId, its linkedid equals it, and the call key is that
// linkedid, so the id is the mirror's id for that key.
import { randomBytes } from 'node:crypto'
import type { AmiEvent } from '../../ami/index.ts'
import type { Call, Leg, Mirror } from '../mirror.ts'
import { clickToCallOriginate, conferenceInviteOriginate } from '../recipes.ts'
import { CallActionError } from './errors.ts'
import type { ActionDeps } from './context.ts'

export interface ClickToCallInput {
  /** The source phone's device ("PJSIP/0003*300"), already checked to be in the caller's authority. */
  readonly endpoint: string
  readonly sourceExtension: string
  /** Dialplan context the destination is dialed in (the source's organization's). */
  readonly context: string
  /** Destination as the dialplan takes it: a full extension number or a public number. */
  readonly destination: string
  /** Asterisk caller ids ("\"Name\" <number>"): shown to the source, and to the destination. */
  readonly sourceSees: string
  readonly destinationSees: string
  readonly waitForPickupMs: number
  readonly callDurationSeconds: number | undefined
  readonly nonce: string
  readonly allowPublicTransfer: boolean
  /** Several sources or a public one: their dial strings (PJSIP/..., Local/<n>@pstn), rung at once;
   *  `endpoint` is then unused. The first to answer is connected to the destination. */
  readonly sources?: readonly string[]
  /** The Local channel ringing `sources` (default Local/s@vn-sources/n). */
  readonly sourcesChannel?: string
  /** How long to wait for the source leg's first event before answering without it. */
  readonly appearWithinMs: number
}

export interface ClickToCallStarted {
  readonly id: string
  readonly channelId: string
  /** The live call when its first event arrived in time; undefined otherwise (it may still come). */
  readonly call: Call | undefined
}

export async function clickToCall (deps: ActionDeps, input: ClickToCallInput): Promise<ClickToCallStarted> {
  const { ami, mirror, calls, log } = deps
  const channelId = 'c2c-' + randomBytes(12).toString('hex')
  const id = calls.idForKey(channelId)
  const appeared = trackerOf(mirror).track(channelId, input.destination, input.nonce, input.appearWithinMs)
  try {
    await ami.action('Originate', clickToCallOriginate({
      endpoint: input.endpoint,
      context: input.context,
      destination: input.destination,
      sourceSees: input.sourceSees,
      destinationSees: input.destinationSees,
      timeoutMs: input.waitForPickupMs,
      channelId,
      nonce: input.nonce,
      callDurationSeconds: input.callDurationSeconds,
      allowPublicTransfer: input.allowPublicTransfer,
      ...(input.sources === undefined ? {} : { sources: input.sources }),
      ...(input.sourcesChannel === undefined ? {} : { sourcesChannel: input.sourcesChannel })
    }))
  } catch (err) {
    trackerOf(mirror).cancel(channelId)
    throw err
  }
  log.info({ op: 'c2c', phoneCallId: id, channelId, source: input.sourceExtension, destination: input.destination }, 'click-to-call originated')
  const result = await appeared
  if (result === 'failed') throw new CallActionError('pc_action_failed', 'the source phone could not be called')
  return { id, channelId, call: result }
}

/** Waits for each click-to-call leg's first event, and labels the leg with its destination at once. */
class ClickToCallTracker {
  private readonly pending = new Map<string, { destination: string, nonce: string, resolve: (r: Call | 'failed' | undefined) => void, timer: NodeJS.Timeout }>()

  constructor (private readonly mirror: Mirror) {
    mirror.on('leg', (leg) => { this.onLeg(leg) })
    mirror.on('originate', (e) => { this.onOriginate(e) })
  }

  track (channelId: string, destination: string, nonce: string, withinMs: number): Promise<Call | 'failed' | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.finish(channelId, this.mirror.callOfLeg(channelId)) }, withinMs)
      timer.unref()
      this.pending.set(channelId, { destination, nonce, resolve, timer })
    })
  }

  cancel (channelId: string): void { this.finish(channelId, undefined) }

  private onLeg (leg: Leg): void {
    const p = this.pending.get(leg.uniqueid)
    if (p === undefined) return
    // Until the source answers, Asterisk reports the leg at exten "s": say where it is going. Its
    // first event (Newchannel) carries the channel variables empty: tag it as they will be.
    this.mirror.annotate(leg, { target: p.destination, nonce: p.nonce, op: 'c2c' })
    this.finish(leg.uniqueid, leg.call)
  }

  private onOriginate (e: AmiEvent): void {
    const uniqueid = e.uniqueid
    if (uniqueid === undefined || !this.pending.has(uniqueid) || e.response === 'Success') return
    // Failed before any channel existed (e.g. the phone is not registered).
    if (!this.mirror.legs.has(uniqueid)) this.finish(uniqueid, 'failed')
  }

  private finish (channelId: string, result: Call | 'failed' | undefined): void {
    const p = this.pending.get(channelId)
    if (p === undefined) return
    clearTimeout(p.timer)
    this.pending.delete(channelId)
    p.resolve(result)
  }
}

const trackers = new WeakMap<Mirror, ClickToCallTracker>()

function trackerOf (mirror: Mirror): ClickToCallTracker {
  let tracker = trackers.get(mirror)
  if (tracker === undefined) {
    tracker = new ClickToCallTracker(mirror)
    trackers.set(mirror, tracker)
  }
  return tracker
}

/** A nonce for a create request that brought none. */
export function newNonce (): string {
  return randomBytes(16).toString('hex')
}

export interface ConferenceInviteInput {
  /** The invitee's device: a phone's endpoint, or a public party's dial string. */
  readonly endpoint: string
  /** The ConfBridge room of the scheduled conference. */
  readonly room: string
  readonly destination: string
  /** Asterisk caller id shown to the invitee. */
  readonly callerId: string
  readonly waitForPickupMs: number
  readonly nonce: string
  readonly appearWithinMs: number
}

/**
 * ConferenceInvite (reference 3.4): one async Originate rings the invitee; once it answers it runs
 * ConfBridge(room) with the bundled profiles. Tracked like a click-to-call leg.
 */
export async function conferenceInvite (deps: ActionDeps, input: ConferenceInviteInput): Promise<ClickToCallStarted> {
  const { ami, mirror, calls, log } = deps
  const channelId = 'conf-' + randomBytes(12).toString('hex')
  const id = calls.idForKey(channelId)
  const appeared = trackerOf(mirror).track(channelId, input.destination, input.nonce, input.appearWithinMs)
  try {
    await ami.action('Originate', conferenceInviteOriginate({
      endpoint: input.endpoint,
      room: input.room,
      callerId: input.callerId,
      timeoutMs: input.waitForPickupMs,
      channelId,
      nonce: input.nonce
    }))
  } catch (err) {
    trackerOf(mirror).cancel(channelId)
    throw err
  }
  log.info({ op: 'conference', phoneCallId: id, channelId, room: input.room, destination: input.destination }, 'conference invite originated')
  const result = await appeared
  if (result === 'failed') throw new CallActionError('pc_action_failed', 'the invitee could not be called')
  return { id, channelId, call: result }
}
