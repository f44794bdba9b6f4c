// PhoneCallEvents (reference 9): what a subscription is, and what an event carries.

/** 0 Dial-In, 1 Dial-Out, 2 Hangup, 3 Answer incoming, 4 Answer outgoing. */
export type EventType = 0 | 1 | 2 | 3 | 4
export const EVENT_TYPES: readonly EventType[] = [0, 1, 2, 3, 4]

/** One call event for one subscribed extension, as the detector publishes it. */
export interface CallEvent {
  /** Deterministic, the same on every engine instance, e.g. `${callKey}:${legUniqueid}:${type}`. */
  readonly key: string
  readonly type: EventType
  /** The subscribed extension X, e.g. '0003*210'. */
  readonly extension: string
  readonly organizationId: string
  /** ms epoch (Asterisk's event time). */
  readonly at: number
  /** CallID, CallerIDNum, CallerIDName, CalledDID, CalledExtension, CallStatus, CallFlow, CallerExtension, CalledNumber, CallAPIID. */
  readonly params: Readonly<Record<string, string>>
}

/** A PhoneCallEvent subscription as stored (the secret is not part of it: see SubscriptionStore). */
export interface Subscription {
  readonly extension: string
  readonly organizationId: string
  readonly type: EventType
  readonly id: string
  readonly url: string
  /** 0 GET, 1 POST. */
  readonly method: 0 | 1
  /** 0 disabled, 1 enabled. */
  readonly status: 0 | 1
  readonly note: string
  /** ms epoch of the last change. */
  readonly modified: number
}
