// Call events (PhoneCallEvents, reference 9) from the mirror's change signal. For an extension X,
// per leg of X's phone (one channel):
//   0 Dial-In          X's leg is rung as the called party (it reaches Ringing; or Up unrung)
//   1 Dial-Out         X's leg dials someone (DialBegin with X's leg as the dialer)
//   2 Hangup           X's leg ends; CallStatus ANSWER if it was ever answered, else UNKNOWN
//   3 Answer incoming  X's leg as the called party goes Up
//   4 Answer outgoing  the party X's leg dialed answers (DialEnd ANSWER)
// "Called party" is a leg a Dial created (callee), one that took a ringing or parked call's place
// (PickUp, UnPark: the picker is rung), never a leg the engine rang to place a call from it
// (click-to-call, Callback, supervision): that one is the caller of what follows.
// Each event has a key made of Asterisk's own ids (leg uniqueid and type), so every engine
// instance that sees the same AMI events makes the same keys (delivery dedupes on them).
import { projectLeg, UP, RINGING, type Call, type CallChange, type Leg, type Mirror } from '../calls/index.ts'
import type { CallEvent, EventType } from './types.ts'

export const CallEventType = { dialIn: 0, dialOut: 1, hangup: 2, answerIn: 3, answerOut: 4 } as const satisfies Record<string, EventType>

/** The parameters the PBX sends with an event (reference 9). */
export interface CallEventParams {
  readonly CallID: string
  readonly CallerIDNum: string
  readonly CallerIDName: string
  readonly CalledDID: string
  readonly CalledExtension: string
  readonly CallStatus: 'CALLING' | 'ANSWER' | 'UNKNOWN'
  readonly CallFlow: 'IN' | 'OUT'
  readonly CallerExtension: string
  readonly CalledNumber: string
  readonly CallAPIID: string
  readonly [name: string]: string
}

/** A call event as detected: CallEvent (./types.ts) with the parameters typed. */
export interface DetectedCallEvent extends CallEvent {
  readonly params: CallEventParams
}

/** Legs the engine originates to ring a phone as the called party of an existing call. */
const RUNG_AS_CALLED = new Set(['pickup', 'unpark'])

function isCalled (leg: Leg): boolean {
  return leg.role === 'callee' || leg.role === 'picker' || (leg.role === 'originated' && RUNG_AS_CALLED.has(leg.op ?? ''))
}

const known = (s: string): string => (s === '<unknown>' ? '' : s)
const isExtension = (n: string): boolean => n.includes('*')

/**
 * Turns call changes into call events for the legs of directory extensions. `emit` is called
 * synchronously from the mirror's signal: it must not block (delivery queues the event).
 */
export class CallEventDetector {
  /** Per live leg: the types already fired (bit per type), and the parameters of its first event. */
  private readonly fired = new Map<string, { mask: number, params: CallEventParams | undefined }>()
  private readonly onChange = (c: CallChange): void => { this.detect(c) }

  /**
   * `interested`: whether events of an extension may be wanted at all (someone subscribed to it); the
   * legs of other extensions cost nothing beyond the check. An extension subscribed to mid-call gets
   * the events from then on.
   */
  constructor (
    private readonly mirror: Mirror,
    private readonly emit: (event: DetectedCallEvent) => void,
    private readonly interested: (extension: string) => boolean = () => true
  ) {
    mirror.on('change', this.onChange)
  }

  close (): void {
    this.mirror.off('change', this.onChange)
    this.fired.clear()
  }

  private detect (c: CallChange): void {
    const leg = c.leg
    if (leg === undefined) return
    switch (c.kind) {
      case 'state':
        if (!isCalled(leg)) return
        if (leg.state === RINGING || (leg.state === UP && (c.from ?? 0) < RINGING)) this.fire(leg, c.call, CallEventType.dialIn, c.at)
        if (leg.state === UP) this.fire(leg, c.call, CallEventType.answerIn, c.at)
        return
      case 'pickup':
        // A picker may have been Up before Asterisk named it a picker (it answered, then Pickup ran).
        if (leg.state === UP) {
          this.fire(leg, c.call, CallEventType.dialIn, c.at)
          this.fire(leg, c.call, CallEventType.answerIn, c.at)
        }
        return
      case 'dial-begin':
      case 'dial-end': {
        // Asterisk may announce the callee ringing before DialBegin makes it one (seen on 22 under
        // load): the ringing counts from the moment the leg is known to be called.
        if (c.kind === 'dial-begin' && isCalled(leg)) {
          if (leg.state === RINGING || leg.state === UP) this.fire(leg, c.call, CallEventType.dialIn, c.at)
          if (leg.state === UP) this.fire(leg, c.call, CallEventType.answerIn, c.at)
        }
        const dialer = leg.dialedBy !== undefined ? c.call.legs.get(leg.dialedBy) : undefined
        if (dialer === undefined || isCalled(dialer)) return
        if (c.kind === 'dial-begin') this.fire(dialer, c.call, CallEventType.dialOut, c.at, leg)
        else if (leg.dialStatus === 'ANSWER') this.fire(dialer, c.call, CallEventType.answerOut, c.at, leg)
        return
      }
      case 'leg-left':
        // Moved to another call (pickup, merge): the leg lives on.
        if (this.mirror.legs.get(leg.uniqueid) === leg) return
        this.fire(leg, c.call, CallEventType.hangup, c.at)
        this.fired.delete(leg.uniqueid)
    }
  }

  private fire (leg: Leg, call: Call, type: EventType, at: number, dialed?: Leg): void {
    const party = leg.party
    if (party === undefined || leg.local || !this.interested(party.extension)) return
    let state = this.fired.get(leg.uniqueid)
    if (state === undefined) {
      state = { mask: 0, params: undefined }
      this.fired.set(leg.uniqueid, state)
    }
    const bit = 1 << type
    if ((state.mask & bit) !== 0) return
    state.mask |= bit
    let params: CallEventParams
    if (type === CallEventType.hangup) {
      // The numbers as they were when the leg's call was set up (the other party may be gone now).
      const base = state.params ?? this.paramsOf(leg, call, dialed)
      params = { ...base, CallStatus: leg.answeredAt !== undefined ? 'ANSWER' : 'UNKNOWN' }
    } else {
      params = this.paramsOf(leg, call, dialed)
      state.params ??= params
      if (type === CallEventType.answerIn || type === CallEventType.answerOut) params = { ...params, CallStatus: 'ANSWER' }
    }
    this.emit({ key: `${leg.uniqueid}:${type}`, type, extension: party.extension, organizationId: party.organizationId, at, params })
  }

  /** The UAPI parameters of an event on X's leg, from List's own view of that leg. */
  private paramsOf (leg: Leg, call: Call, dialed: Leg | undefined): CallEventParams {
    const view = projectLeg(leg, call)
    const own = (leg.party as NonNullable<Leg['party']>).extension
    if (isCalled(leg)) {
      const from = view.source[0] ?? ''
      // The caller's leg, if it is still in the call: its dialed exten is the DID of a public call.
      const dialer = leg.dialedBy !== undefined ? call.legs.get(leg.dialedBy) : undefined
      const publicCaller = view.flow === 8
      return {
        CallID: call.key,
        CallerIDNum: known(leg.connectedNum) !== '' ? known(leg.connectedNum) : from,
        CallerIDName: known(leg.connectedName),
        CalledDID: publicCaller && dialer !== undefined && /^\+?\d{5,}$/.test(dialer.exten) ? dialer.exten : '',
        CalledExtension: own,
        CallStatus: 'CALLING',
        CallFlow: 'IN',
        CallerExtension: isExtension(from) ? from : '',
        CalledNumber: dialer !== undefined && dialer.exten !== '' && dialer.exten !== 's' ? dialer.exten : own,
        CallAPIID: call.id
      }
    }
    const to = dialed !== undefined && !dialed.local ? (dialed.party?.extension ?? (known(dialed.callerNum) || dialed.exten)) : (view.destination[0] ?? '')
    const calledNumber = leg.exten !== '' && leg.exten !== 's' ? leg.exten : (leg.target ?? to)
    return {
      CallID: call.key,
      CallerIDNum: known(leg.callerNum) !== '' ? known(leg.callerNum) : own,
      CallerIDName: known(leg.callerName),
      CalledDID: '',
      CalledExtension: isExtension(to) ? to : '',
      CallStatus: 'CALLING',
      CallFlow: 'OUT',
      CallerExtension: own,
      CalledNumber: calledNumber,
      CallAPIID: call.id
    }
  }
}
