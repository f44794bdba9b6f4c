// Typed views of the AMI events the engine consumes (reference E.4.5), in the layer's lower-case
// key form. Every event stays an AmiEvent at run time: these interfaces name the headers Asterisk 22
// sends with each, so a misspelt header is a compile error instead of a silent undefined.
import type { AmiEvent } from './types.ts'

/** The channel snapshot most call events carry (Asterisk's ast_manager_build_channel_state_string). */
export interface ChannelSnapshot {
  readonly channel?: string
  /** AST_STATE_* as a number string: 0 Down, 4 Ring, 5 Ringing, 6 Up... */
  readonly channelstate?: string
  readonly channelstatedesc?: string
  readonly calleridnum?: string
  readonly calleridname?: string
  readonly connectedlinenum?: string
  readonly connectedlinename?: string
  readonly context?: string
  readonly exten?: string
  readonly uniqueid?: string
  readonly linkedid?: string
  /** With manager.conf timestampevents=yes: "<epoch>.<micro>". */
  readonly timestamp?: string
  /** manager.conf channelvars, flattened by the layer. */
  readonly 'chanvariable.VN_OP'?: string
  readonly 'chanvariable.VN_NONCE'?: string
  readonly 'chanvariable.VN_CALL'?: string
}

/** The same snapshot with the `Dest` prefix (the dialed channel of DialBegin/DialEnd). */
export interface DestChannelSnapshot {
  readonly destchannel?: string
  readonly destchannelstate?: string
  readonly destcalleridnum?: string
  readonly destcalleridname?: string
  readonly destconnectedlinenum?: string
  readonly destconnectedlinename?: string
  readonly destcontext?: string
  readonly destexten?: string
  readonly destuniqueid?: string
  readonly destlinkedid?: string
  readonly 'destchanvariable.VN_OP'?: string
  readonly 'destchanvariable.VN_NONCE'?: string
  readonly 'destchanvariable.VN_CALL'?: string
}

interface Named<N extends string> { readonly event: N }

export type NewchannelEvent = Named<'Newchannel'> & ChannelSnapshot
export type NewstateEvent = Named<'Newstate'> & ChannelSnapshot
export type NewCalleridEvent = Named<'NewCallerid'> & ChannelSnapshot
export type NewConnectedLineEvent = Named<'NewConnectedLine'> & ChannelSnapshot
export type RenameEvent = Named<'Rename'> & ChannelSnapshot & { readonly newname?: string }
export type HangupEvent = Named<'Hangup'> & ChannelSnapshot & { readonly cause?: string, readonly 'cause-txt'?: string }
/** Caller fields are absent when Originate created the dialed channel. */
export type DialBeginEvent = Named<'DialBegin'> & ChannelSnapshot & DestChannelSnapshot & { readonly dialstring?: string }
export type DialEndEvent = Named<'DialEnd'> & ChannelSnapshot & DestChannelSnapshot & { readonly dialstatus?: string }
export type BridgeEnterEvent = Named<'BridgeEnter'> & ChannelSnapshot & { readonly bridgeuniqueid?: string, readonly swapuniqueid?: string }
export type BridgeLeaveEvent = Named<'BridgeLeave'> & ChannelSnapshot & { readonly bridgeuniqueid?: string }
export type HoldEvent = Named<'Hold' | 'Unhold'> & ChannelSnapshot & { readonly musicclass?: string }
/** MixMonitor started or stopped on a channel (its snapshot; the file name is not in it). */
export type MixMonitorEvent = Named<'MixMonitorStart' | 'MixMonitorStop'> & ChannelSnapshot
/** The picker's snapshot plus the picked-up leg's, `Target`-prefixed. */
export type PickupEvent = Named<'Pickup'> & ChannelSnapshot & {
  readonly targetchannel?: string
  readonly targetuniqueid?: string
  readonly targetlinkedid?: string
}
/** The outcome of an async Originate; `reason` is an AST_CONTROL code (4 answered, 3 no answer, 5 busy...). */
export type OriginateResponseEvent = Named<'OriginateResponse'> & {
  readonly actionid?: string
  readonly response?: string
  readonly channel?: string
  readonly context?: string
  readonly exten?: string
  readonly application?: string
  readonly data?: string
  readonly reason?: string
  readonly uniqueid?: string
}
export type BlindTransferEvent = Named<'BlindTransfer'> & {
  readonly result?: string
  readonly transfereruniqueid?: string
  readonly transfereeuniqueid?: string
  readonly bridgeuniqueid?: string
  readonly context?: string
  readonly extension?: string
}
/** A supervisor leg (Spyer) started or stopped listening to a party (Spyee): ChanSpy. */
export type ChanSpyEvent = Named<'ChanSpyStart' | 'ChanSpyStop'> & {
  readonly spyerchannel?: string
  readonly spyeruniqueid?: string
  readonly spyeechannel?: string
  readonly spyeeuniqueid?: string
}
/**
 * res_parking's events (ParkedCall, ParkedCallTimeOut, ParkedCallGiveUp, UnParkedCall,
 * ParkedCallSwap; also the items of the ParkedCalls list): the parked channel's snapshot,
 * `Parkee`-prefixed; UnParkedCall adds the retriever's, `Retriever`-prefixed.
 */
export type ParkedCallEvent = Named<'ParkedCall' | 'ParkedCallTimeOut' | 'ParkedCallGiveUp' | 'UnParkedCall' | 'ParkedCallSwap'> & {
  readonly parkeechannel?: string
  readonly parkeeuniqueid?: string
  readonly parkeelinkedid?: string
  readonly retrieveruniqueid?: string
  /** The device rung back when the time runs out, e.g. "PJSIP/0003*210". */
  readonly parkerdialstring?: string
  readonly parkinglot?: string
  readonly parkingspace?: string
  /** Seconds left / seconds parked so far. */
  readonly parkingtimeout?: string
  readonly parkingduration?: string
  readonly timestamp?: string
}
export type FullyBootedEvent = Named<'FullyBooted'> & { readonly uptime?: string, readonly lastreload?: string }
/** One CoreShowChannels item. */
export type CoreShowChannelEvent = Named<'CoreShowChannel'> & ChannelSnapshot & {
  readonly application?: string
  readonly applicationdata?: string
  /** hh:mm:ss */
  readonly duration?: string
  readonly bridgeid?: string
}

/** The events the call mirror and the actions consume, by name. */
export interface ConsumedEvents {
  Newchannel: NewchannelEvent
  Newstate: NewstateEvent
  NewCallerid: NewCalleridEvent
  NewConnectedLine: NewConnectedLineEvent
  Rename: RenameEvent
  Hangup: HangupEvent
  DialBegin: DialBeginEvent
  DialEnd: DialEndEvent
  BridgeEnter: BridgeEnterEvent
  BridgeLeave: BridgeLeaveEvent
  Hold: HoldEvent
  Unhold: HoldEvent
  Pickup: PickupEvent
  MixMonitorStart: MixMonitorEvent
  MixMonitorStop: MixMonitorEvent
  OriginateResponse: OriginateResponseEvent
  BlindTransfer: BlindTransferEvent
  ChanSpyStart: ChanSpyEvent
  ChanSpyStop: ChanSpyEvent
  ParkedCall: ParkedCallEvent
  FullyBooted: FullyBootedEvent
  CoreShowChannel: CoreShowChannelEvent
}

export type ConsumedEventName = keyof ConsumedEvents

/** An AmiEvent known to be the named one: its headers typed, still usable as an AmiEvent. */
export type AmiEventOf<N extends ConsumedEventName> = AmiEvent & ConsumedEvents[N]

/** Narrows an event by its name: `if (isEvent(e, 'Hangup')) e.cause`. */
export function isEvent<N extends ConsumedEventName> (e: AmiEvent, name: N): e is AmiEventOf<N> {
  return e.event === name
}
