// AMI recipes: pure functions from intent to action headers (reference E.4). No I/O here, so each
// recipe is unit-testable; the AMI layer still refuses any control character before writing.
import type { AmiHeaders } from '../ami/index.ts'

/**
 * Directed pickup into a third phone (E.4.1): ring `endpoint`, and when it answers run PickupChan on
 * the ringing leg. VN_CALL names the call the new leg joins, so that every engine instance (not only
 * the one that sent this) shows it inside that call from its first event.
 */
export function pickupOriginate (p: { endpoint: string, targetUniqueid: string, callerId: string, timeoutMs: number, channelId: string, callKey: string }): AmiHeaders {
  return {
    Channel: p.endpoint,
    Application: 'PickupChan',
    Data: p.targetUniqueid,
    CallerID: p.callerId,
    Timeout: p.timeoutMs,
    // Async is mandatory: a synchronous Originate blocks the whole AMI session while the phone rings.
    Async: 'true',
    // Chosen by us so the new leg is tracked from its very first event.
    ChannelId: p.channelId,
    Variable: ['VN_OP=pickup', `VN_CALL=${p.callKey}`]
  }
}

/** Hang up one leg (E.4.3), by uniqueid. */
export function hangupLeg (uniqueid: string, cause = 16): AmiHeaders {
  return { Channel: uniqueid, Cause: cause }
}

/** Asterisk's caller id syntax for a validated UAPI caller id ("Name <number>" or "number"). */
export function asteriskCallerId (name: string | undefined, number: string): string {
  return name === undefined || name === '' ? `<${number}>` : `"${name}" <${number}>`
}

/**
 * The Local channel of a Create Simple with several sources or a public source (extensions.conf
 * [vn-sources]): its ;2 half Dials VN_SOURCES at once; /n keeps ;1 (and its TIMEOUT) in the call.
 */
export const SOURCES_CHANNEL = 'Local/s@vn-sources/n'

/** The dial string of a public party: the simulated carrier of extensions.conf [pstn]. */
export function publicDialString (number: string): string {
  return `Local/${number.replace(/^\+/, '')}@pstn`
}

/**
 * Conference invite (reference 3.4): ring `endpoint` (a phone or a public party) and, once it
 * answers, put it into the ConfBridge `room` with the profiles of asterisk/confbridge.conf.
 */
export function conferenceInviteOriginate (p: { endpoint: string, room: string, callerId: string, timeoutMs: number, channelId: string, nonce: string }): AmiHeaders {
  return {
    Channel: p.endpoint,
    Application: 'ConfBridge',
    Data: `${p.room},vn_bridge,vn_user`,
    CallerID: p.callerId,
    Timeout: p.timeoutMs,
    Async: 'true',
    ChannelId: p.channelId,
    Variable: ['VN_OP=conference', `VN_NONCE=${p.nonce}`]
  }
}

/**
 * Click-to-call (Create Simple, reference 3.2): ring `endpoint` (the source) and, once it answers,
 * run `context,destination,1` on its leg, which dials the destination. No CallerID header: what the
 * source's phone shows is its connected line (CONNECTEDLINE), what the destination is shown is the
 * leg's own caller id (CALLERID); both are set through Variable, verified on Asterisk 22.
 * `callDurationSeconds` becomes TIMEOUT(absolute) on the source leg (func_timeout): Asterisk hangs
 * the leg up that long after it was created, ringing included, bridged or not.
 */
export function clickToCallOriginate (p: {
  endpoint: string
  context: string
  destination: string
  sourceSees: string
  destinationSees: string
  timeoutMs: number
  channelId: string
  nonce: string
  callDurationSeconds: number | undefined
  allowPublicTransfer: boolean
  /** Several sources, or a public one: their dial strings, rung at once by [vn-sources]. */
  sources?: readonly string[]
  /** The Local channel that rings `sources` (default SOURCES_CHANNEL): a Callback extension's endpoint. */
  sourcesChannel?: string
}): AmiHeaders {
  const variables = [
    'VN_OP=c2c',
    `VN_NONCE=${p.nonce}`,
    `VN_PUBLIC_TRANSFER=${p.allowPublicTransfer ? '1' : '0'}`,
    // Asterisk splits Variable values on commas outside double quotes and then drops the quotes.
    `CALLERID(all)=${p.destinationSees}`,
    `CONNECTEDLINE(all)=${p.sourceSees}`
  ]
  if (p.callDurationSeconds !== undefined) variables.push(`TIMEOUT(absolute)=${p.callDurationSeconds}`)
  if (p.sources !== undefined) variables.push(`VN_SOURCES=${p.sources.join('&')}`)
  return {
    Channel: p.sources === undefined ? p.endpoint : (p.sourcesChannel ?? SOURCES_CHANNEL),
    Context: p.context,
    Exten: p.destination,
    Priority: 1,
    Timeout: p.timeoutMs,
    Async: 'true',
    ChannelId: p.channelId,
    Variable: variables
  }
}

/** Blind transfer (E.4.2) of a bridged call: the transferer's bridge peer goes to `context,exten,1`, the transferer is hung up. */
export function blindTransfer (p: { transfererUniqueid: string, context: string, exten: string }): AmiHeaders {
  return { Channel: p.transfererUniqueid, Context: p.context, Exten: p.exten }
}

/** Moves one leg to `context,exten,1` (E.4.2): Transfer of a leg not in a bridge, TransferToVoicemail. */
export function redirectLeg (p: { uniqueid: string, context: string, exten: string }): AmiHeaders {
  return { Channel: p.uniqueid, Context: p.context, Exten: p.exten, Priority: 1 }
}

/** How a supervisor joins a party's call (ChanSpy): barge talks to both sides, whisper to the spied
 *  party only (private: without hearing the call), monitor listens only. */
export type SupervisionMode = 'barge' | 'whisper' | 'private-whisper' | 'monitor'

const SUPERVISION: ReadonlySet<string> = new Set<SupervisionMode>(['barge', 'whisper', 'private-whisper', 'monitor'])

/** True for the VN_OP tag of a supervisor leg. */
export function isSupervision (op: string | undefined): op is SupervisionMode {
  return op !== undefined && SUPERVISION.has(op)
}

// ChanSpy options: u = the argument is a uniqueid (exactly that channel, no prefix match); q = no
// beep or channel name announced to the supervisor; E = leave when the spied party hangs up (the
// supervisor leg ends with the call); B barge, w whisper, W private whisper, none = listen only.
const SPY_OPTIONS: Record<SupervisionMode, string> = { barge: 'uqEB', whisper: 'uqEw', 'private-whisper': 'uqEW', monitor: 'uqE' }

/**
 * Supervision (reference 4.6, 4.9, 4.12): ring `endpoint` and, once answered, run ChanSpy on the
 * party's leg with the mode's options. VN_OP names the mode (List shows it), VN_CALL the call the
 * supervisor leg joins.
 */
export function superviseOriginate (p: { endpoint: string, mode: SupervisionMode, spyeeUniqueid: string, callerId: string, timeoutMs: number, channelId: string, callKey: string }): AmiHeaders {
  return {
    Channel: p.endpoint,
    Application: 'ChanSpy',
    Data: `${p.spyeeUniqueid},${SPY_OPTIONS[p.mode]}`,
    CallerID: p.callerId,
    Timeout: p.timeoutMs,
    Async: 'true',
    ChannelId: p.channelId,
    Variable: [`VN_OP=${p.mode}`, `VN_CALL=${p.callKey}`]
  }
}

/**
 * Records one channel, both directions mixed (E.4.6 MixMonitor), into `file`, an absolute path as
 * Asterisk sees it; its extension picks the format (.wav PCM, .WAV wav49/GSM). No options: not
 * `b` (only while bridged), the whole call is recorded, ringing and hold included.
 */
export function mixMonitor (p: { uniqueid: string, file: string }): AmiHeaders {
  return { Channel: p.uniqueid, File: p.file }
}

/** Stops the MixMonitor of one channel (the latest one started, when several run). */
export function stopMixMonitor (uniqueid: string): AmiHeaders {
  return { Channel: uniqueid }
}

/** The dialplan context of OnHold (asterisk/extensions.conf): `s` plays music on hold, `wait` is silence. */
export const HOLD_CONTEXT = 'vn-hold'
/** The channel variable naming, on each party of an OnHold, the other party's uniqueid. */
export const HOLD_PEER_VAR = 'VN_HOLD_PEER'

/** Tells a leg which leg it is held with (empty: no longer); set on both before the hold, cleared at OffHold. */
export function setHoldPeer (uniqueid: string, peerUniqueid: string): AmiHeaders {
  return { Channel: uniqueid, Variable: HOLD_PEER_VAR, Value: peerUniqueid }
}

/**
 * OnHold: one dual Redirect moves the held party to music on hold and the holder to silence. Both
 * leave their bridge in the same action, so Asterisk hangs neither up (a lone Redirect of one
 * party would end the other's Dial).
 */
export function holdRedirect (p: { heldUniqueid: string, holderUniqueid: string }): AmiHeaders {
  return {
    Channel: p.heldUniqueid,
    Context: HOLD_CONTEXT,
    Exten: 's',
    Priority: 1,
    ExtraChannel: p.holderUniqueid,
    ExtraContext: HOLD_CONTEXT,
    ExtraExten: 'wait',
    ExtraPriority: 1
  }
}

/** OffHold: AMI Bridge of the two parties of a hold (the music stops as the held party leaves MusicOnHold). */
export function holdBridge (p: { heldUniqueid: string, holderUniqueid: string }): AmiHeaders {
  return { Channel1: p.heldUniqueid, Channel2: p.holderUniqueid, Tone: 'no' }
}

/** The parking lot of asterisk/res_parking.conf. */
export const PARKING_LOT = 'default'

/**
 * Park (reference E.4.6): the party goes into the lot for `timeoutMs`; then Asterisk rings the
 * device of `timeoutChannel` (the parker) back (res_parking comebacktoorigin).
 */
export function parkCall (p: { uniqueid: string, timeoutChannel: string, timeoutMs: number }): AmiHeaders {
  return { Channel: p.uniqueid, TimeoutChannel: p.timeoutChannel, Timeout: p.timeoutMs, Parkinglot: PARKING_LOT }
}

/**
 * UnPark (reference E.4.6): ring `endpoint` and, when it answers, run ParkedCall on the space, which
 * bridges the phone with the parked call. Not answered within `timeoutMs`: nothing changes, the call
 * stays parked. VN_CALL files the new leg in the parked call on every engine instance (as PickUp).
 */
export function unparkOriginate (p: { endpoint: string, lot: string, space: string, callerId: string, timeoutMs: number, channelId: string, callKey: string }): AmiHeaders {
  return {
    Channel: p.endpoint,
    Application: 'ParkedCall',
    Data: `${p.lot},${p.space}`,
    CallerID: p.callerId,
    Timeout: p.timeoutMs,
    Async: 'true',
    ChannelId: p.channelId,
    Variable: ['VN_OP=unpark', `VN_CALL=${p.callKey}`]
  }
}
