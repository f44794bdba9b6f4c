// The live call mirror: Asterisk channels (legs) keyed by uniqueid, grouped into calls.
// It changes only through AMI events and CoreShowChannels snapshots (reference E.4.5), and it is
// order-tolerant: hung-up legs leave tombstones, and ambiguous state only moves forward.
// Every string it keeps (leg fields, map and set keys) is its own copy, never a value of the event
// as parsed: those point into the parser's whole socket chunk (see strings.ts).
import { EventEmitter } from 'node:events'
import type { AmiEvent, AmiEventOf } from '../ami/index.ts'
import { detach, Interner } from './strings.ts'
import { CallIndex } from './call-index.ts'

/** Who a channel belongs to, as the directory sees it. */
export interface Party {
  readonly extension: string
  readonly organizationId: string
}

/** Maps an endpoint resource (the "0003*210" of "PJSIP/0003*210-0000000b") to an extension. */
export type PartyResolver = (tech: string, resource: string) => Party | undefined

/** How a leg came to be, which decides its source/destination from its own point of view. */
export type LegRole =
  | 'caller' // a phone that placed the call
  | 'callee' // a leg created by Dial towards a phone
  | 'originated' // a leg the engine (or someone) created with Originate
  | 'picker' // an originated leg that took another's place: picked up a ringing leg (PickUp), or took a call out of the parking lot (UnPark)

export interface Leg {
  readonly uniqueid: string
  linkedid: string
  channel: string
  tech: string
  /** Channel resource without the "-0000000b" sequence suffix. */
  resource: string
  local: boolean
  party: Party | undefined
  /** AST_STATE_* value (0 Down ... 6 Up). */
  state: number
  callerNum: string
  callerName: string
  connectedNum: string
  connectedName: string
  context: string
  exten: string
  role: LegRole
  /** Uniqueid of the leg whose Dial created this one. */
  dialedBy: string | undefined
  /** DialStatus once this leg's dial ended (ANSWER, NOANSWER, CANCEL...). */
  dialStatus: string | undefined
  /** For engine-originated legs: what they were sent to (Originate Exten). */
  target: string | undefined
  /** For pickers: the uniqueid of the leg they picked up. */
  pickedFrom: string | undefined
  /** For supervisor legs (ChanSpy): the uniqueid of the party they listen to, while they do. */
  spying: string | undefined
  bridgeId: string | undefined
  createdAt: number
  ringingAt: number | undefined
  answeredAt: number | undefined
  holdAt: number | undefined
  /** Since when Asterisk records this channel (MixMonitorStart), until MixMonitorStop. */
  recordingAt: number | undefined
  /** Since when Asterisk plays music on hold to this leg (MusicOnHoldStart; phone hold, OnHold, parking). */
  mohAt: number | undefined
  /** For OnHold's two parties (VN_HOLD_PEER): the uniqueid of the other one. */
  holdPeer: string | undefined
  /** In the parking lot (ParkedCall), until it leaves it. */
  parked: ParkedState | undefined
  /** For UnPark's leg: the uniqueid of the parked leg it took out of the lot (UnParkedCall). */
  retrievedFrom: string | undefined
  /** Asterisk time of the last music on hold / parking event applied: older ones arriving late are ignored. */
  mohSeen: number
  parkSeen: number
  /** Engine tags from channelvars (VN_OP, VN_NONCE). */
  op: string | undefined
  nonce: string | undefined
  call: Call
  /** "00", "01"... stable for the life of the call; empty for Local legs (never shown). */
  viewId: string
}

export interface ParkedState {
  /** When it was parked. */
  readonly at: number
  readonly lot: string
  readonly space: string
  /** The device rung back when the time runs out (ParkerDialString, e.g. "PJSIP/0003*210"). */
  readonly parkerDialString: string
  /** The extension behind that device, when the directory knows it. */
  readonly parker: Party | undefined
}

export interface Call {
  readonly key: string
  /** Legs in the order they joined the call. */
  readonly legs: Map<string, Leg>
  createdAt: number
  nextView: number
  /** Linkedids that were merged into this call (pickers), removed with the call. */
  readonly aliases: string[]
  /**
   * Every extension that has been a party of this call while it lives (extension -> organization).
   * A call stays visible to them: the extension a call was picked up or transferred from still
   * finds it through its own URL, as the PickUp page's follow-up List shows.
   */
  readonly parties: Map<string, string>
  /** Bumped on every change; lets views cache their projection. */
  version: number
  /** Opaque public id, derived from the key (see call-id.ts): the same on every engine instance. */
  readonly id: string
}

/** What changed in a call; see CallChange. */
export type CallChangeKind =
  | 'leg' // a leg joined the call (a new channel, or one that moved in: pickup, merge, VN_CALL)
  | 'leg-left' // a leg left the call (hung up, dropped by a resync, or moved to another call)
  | 'state' // a leg's channel state moved (ringing, answered...): `from` is the previous one
  | 'details' // a leg's caller id, connected line, channel name, place in the dialplan or tags
  | 'dial-begin' // `leg` is being dialed (DialBegin): leg.dialedBy dials it
  | 'dial-end' // `leg`'s dial ended (DialEnd): leg.dialStatus says how
  | 'bridge' // `leg` entered or left a bridge
  | 'hold' // `leg` put the call on hold on its phone, or took it off
  | 'moh' // music on hold started or stopped for `leg` (OnHold, phone hold, parking)
  | 'park' // `leg` entered or left the parking lot
  | 'recording' // Asterisk started or stopped recording `leg`
  | 'pickup' // `leg` took another leg's place (Pickup, or it took a call out of the parking lot)
  | 'spy' // a supervisor `leg` started or stopped listening to a party
  | 'ended' // the call has no legs left: it is gone from List (or was merged into another call)

/**
 * One change of one call, signalled by the mirror after applying it (Mirror 'change'): the one
 * source of call changes for everything built on the mirror (call events, the live stream), so that
 * nothing re-derives them by comparing versions. A single AMI event may signal several changes
 * (a leg moving between calls: 'leg-left' and 'ended' for one, 'leg' for the other).
 */
export interface CallChange {
  readonly call: Call
  readonly kind: CallChangeKind
  /** The leg the change is about; undefined for 'ended'. */
  readonly leg: Leg | undefined
  /** For 'state': the leg's state before. */
  readonly from: number | undefined
  /** When it happened: Asterisk's event time (timestampevents), the mirror's clock for a resync. */
  readonly at: number
}

/** Notifications for action correlation (PickUp, Transfer...); emitted after the mirror changed. */
export interface MirrorEvents {
  /** Every change of every call (see CallChange). The object is the mirror's: read it, do not keep it. */
  change: [change: CallChange]
  /** After an AMI event or a snapshot that changed calls was applied in full (a consistent state to show). */
  settled: []
  leg: [leg: Leg]
  hangup: [leg: Leg, cause: string]
  pickup: [picker: Leg, targetUniqueid: string]
  bridged: [leg: Leg]
  /** A leg's channel state changed (e.g. to Up: answered). */
  state: [leg: Leg, from: number]
  originate: [event: AmiEvent]
  transfer: [event: AmiEvent]
  /** A leg's recording started (MixMonitorStart) or stopped (MixMonitorStop). */
  recording: [leg: Leg, active: boolean]
  /** Music on hold started or stopped for a leg. */
  moh: [leg: Leg]
  /** A leg entered (leg.parked set) or left (unset) the parking lot. */
  parking: [leg: Leg, event: AmiEvent]
}

const TOMBSTONE_TTL_MS = 60_000

// AST_STATE_* ranks for the forward-only rule: Up is final, ringing beats trying.
const STATE_RANK = [0, 1, 2, 3, 4, 5, 6, 5, 3, 3, 0] // Down Rsrvd OffHook Dialing Ring Ringing Up Busy DialingOffhook PreRing Unknown
const rank = (state: number): number => STATE_RANK[state] ?? 0

export const UP = 6
export const RINGING = 5

export class Mirror extends EventEmitter<MirrorEvents> {
  readonly legs = new Map<string, Leg>()
  readonly calls = new Map<string, Call>()
  /** Who sees which calls (all, by organization, by extension) in publish order, and calls by id. */
  readonly callIndex = new CallIndex()
  private readonly aliases = new Map<string, string>()
  private readonly tombstones = new Map<string, number>()
  /** Legs the engine is about to originate, and the call each must join from its first event. */
  private readonly expected = new Map<string, string>()
  private readonly partyCache = new Map<string, Party | null>()

  /** Repeated short values (contexts, extens, caller ids, tech, resources, dial statuses). */
  private readonly strings = new Interner()
  /** The event being applied (its time stamps change signals); never kept past apply(). */
  private current: AmiEvent | undefined
  /** Changes were signalled since the last 'settled'. */
  private unsettled = false
  /** The reused signal (see changed()); listeners must not keep it past their call. */
  private readonly signal: { call: Call, kind: CallChangeKind, leg: Leg | undefined, from: number | undefined, at: number } = { call: undefined as never, kind: 'leg', leg: undefined, from: undefined, at: 0 }
  private dispatching = false

  constructor (
    private readonly resolveParty: PartyResolver,
    private readonly callId: (key: string) => string,
    private readonly clock: () => number = Date.now
  ) {
    super()
  }

  // ---- reads ---------------------------------------------------------------------------------

  get size (): number { return this.calls.size }

  callOfLeg (uniqueid: string): Call | undefined { return this.legs.get(uniqueid)?.call }

  /** The call with this public id, if it is live. */
  callById (id: string): Call | undefined { return this.callIndex.callById(id) }

  /** The public id a call with this key has (or will have): the id is known before the call exists. */
  idForKey (key: string): string { return this.callId(key) }

  countForExtension (extension: string): number { return this.callIndex.extension(extension)?.size ?? 0 }

  isTombstoned (uniqueid: string): boolean { return this.tombstones.has(uniqueid) }

  /** Registers an engine-originated leg so that it joins `callKey` from its very first event. */
  expect (uniqueid: string, callKey: string): void { this.expected.set(uniqueid, callKey) }

  unexpect (uniqueid: string): void { this.expected.delete(uniqueid) }

  /**
   * Fills in what the engine knows of a leg it originated before Asterisk says it (where it is
   * going, its tags): only fields still empty are set.
   */
  annotate (leg: Leg, tags: { readonly target: string, readonly nonce: string, readonly op: string }): void {
    if (this.legs.get(leg.uniqueid) !== leg) return
    if (leg.target === undefined || leg.target === '') leg.target = tags.target
    if (leg.nonce === undefined || leg.nonce === '') leg.nonce = tags.nonce
    if (leg.op === undefined || leg.op === '') leg.op = tags.op
    this.changed(leg.call, 'details', leg)
    this.settle()
  }

  // ---- live events (the hot path: one switch, Map mutations, no awaits) ------------------------

  apply (e: AmiEvent): void {
    this.current = e
    try {
      this.applyEvent(e)
    } finally {
      this.current = undefined
      this.settle()
    }
  }

  private applyEvent (e: AmiEvent): void {
    switch (e.event) {
      case 'Newchannel':
      case 'Newstate':
      case 'NewCallerid':
      case 'NewConnectedLine':
      case 'Rename':
      case 'HangupRequest':
      case 'SoftHangupRequest':
        this.upsert(e, '')
        return
      case 'DialBegin': return this.onDialBegin(e as AmiEventOf<'DialBegin'>)
      case 'DialEnd': return this.onDialEnd(e as AmiEventOf<'DialEnd'>)
      case 'BridgeEnter': {
        const leg = this.upsert(e, '')
        if (leg !== undefined) {
          leg.bridgeId = this.bridgeRef(leg, e.bridgeuniqueid)
          this.changed(leg.call, 'bridge', leg)
          this.emit('bridged', leg)
        }
        return
      }
      case 'BridgeLeave': {
        const leg = this.upsert(e, '')
        if (leg !== undefined && leg.bridgeId === e.bridgeuniqueid) { leg.bridgeId = undefined; this.changed(leg.call, 'bridge', leg) }
        return
      }
      case 'Hold':
      case 'Unhold': {
        const leg = this.upsert(e, '')
        if (leg !== undefined) {
          leg.holdAt = e.event === 'Hold' ? (leg.holdAt ?? this.eventTime(e)) : undefined
          this.changed(leg.call, 'hold', leg)
        }
        return
      }
      case 'MixMonitorStart':
      case 'MixMonitorStop': {
        const leg = this.upsert(e, '')
        if (leg === undefined) return
        const active = e.event === 'MixMonitorStart'
        // A second MixMonitor on the same channel keeps the first start time.
        leg.recordingAt = active ? (leg.recordingAt ?? this.eventTime(e)) : undefined
        this.changed(leg.call, 'recording', leg)
        this.emit('recording', leg, active)
        return
      }
      case 'MusicOnHoldStart':
      case 'MusicOnHoldStop': return this.onMusicOnHold(e)
      case 'ParkedCall':
      case 'ParkedCallSwap':
      case 'ParkedCallTimeOut':
      case 'ParkedCallGiveUp':
      case 'UnParkedCall': return this.onParking(e as AmiEventOf<'ParkedCall'>)
      case 'Pickup': return this.onPickup(e as AmiEventOf<'Pickup'>)
      case 'ChanSpyStart':
      case 'ChanSpyStop': return this.onChanSpy(e as AmiEventOf<'ChanSpyStart'>)
      case 'Hangup': return this.onHangup(e as AmiEventOf<'Hangup'>)
      case 'OriginateResponse': return this.onOriginateResponse(e as AmiEventOf<'OriginateResponse'>)
      case 'BlindTransfer':
      case 'AttendedTransfer':
        this.emit('transfer', e)
    }
  }

  // ---- snapshots (CoreShowChannels) -------------------------------------------------------------

  /**
   * Makes the mirror equal to a CoreShowChannels snapshot. Legs missing from it are dropped,
   * unknown ones are added, known ones keep their view ids and history. Returns the drift: legs
   * the live events had not told us about (`added`) or that they left behind (`removed`),
   * ignoring the uniqueids in `explained` (legs whose creation or hangup events were buffered
   * while the snapshot was taken).
   */
  applySnapshot (items: ReadonlyArray<AmiEventOf<'CoreShowChannel'> | AmiEvent>, explained: ReadonlySet<string> = new Set()): { added: number, removed: number } {
    const now = this.clock()
    const seen = new Set<string>()
    let added = 0
    let removed = 0
    // Oldest first, so that view ids of rebuilt calls follow the order legs were created in.
    const sorted = items.slice().sort((a, b) => durationMs(b.duration) - durationMs(a.duration) || compareUniqueid(a.uniqueid, b.uniqueid))
    for (const item of sorted) {
      const uniqueid = item.uniqueid
      if (uniqueid === undefined || uniqueid === '') continue
      seen.add(uniqueid)
      this.tombstones.delete(uniqueid) // Asterisk says it is alive: the snapshot wins
      let leg = this.legs.get(uniqueid)
      const engineHeld = leg?.holdPeer !== undefined
      if (leg === undefined) {
        if (!explained.has(uniqueid)) added++
        leg = this.createLeg(item, '', now - durationMs(item.duration))
        if (item.application === 'AppDial') leg.role = 'callee'
        else if (item.linkedid !== uniqueid && leg.op !== undefined) leg.role = 'originated'
      } else {
        this.update(leg, item, '', true)
      }
      const { bridgeId, answeredAt, ringingAt, mohAt } = leg
      if (item.bridgeid !== undefined) leg.bridgeId = item.bridgeid === '' ? undefined : this.bridgeRef(leg, item.bridgeid)
      if (leg.state === UP && leg.answeredAt === undefined) leg.answeredAt = now - durationMs(item.duration)
      if (leg.state === RINGING && leg.ringingAt === undefined) leg.ringingAt = leg.createdAt
      // A party OnHold put on hold runs MusicOnHold in the dialplan; whether phone-side or parking
      // music plays is not in a snapshot (parking comes from the ParkedCalls list, see applyParkedList).
      if (item.application === 'MusicOnHold') leg.mohAt ??= now
      else if (engineHeld && leg.parked === undefined) leg.mohAt = undefined
      if (bridgeId !== leg.bridgeId) this.changed(leg.call, 'bridge', leg)
      if (mohAt !== leg.mohAt) this.changed(leg.call, 'moh', leg)
      if (answeredAt !== leg.answeredAt || ringingAt !== leg.ringingAt) this.changed(leg.call, 'details', leg)
    }
    // Rebuild dial relations the snapshot can tell: AppDial legs were dialed by the Dial leg of their call.
    for (const item of sorted) {
      const leg = this.legs.get(item.uniqueid ?? '')
      if (leg === undefined || leg.role !== 'callee' || leg.dialedBy !== undefined) continue
      for (const other of leg.call.legs.values()) {
        if (other !== leg && other.role !== 'callee' && other.linkedid === leg.linkedid) { leg.dialedBy = other.uniqueid; break }
      }
    }
    for (const leg of [...this.legs.values()]) {
      if (seen.has(leg.uniqueid)) continue
      if (!explained.has(leg.uniqueid)) removed++
      this.removeLeg(leg, now)
    }
    this.settle()
    return { added, removed }
  }

  /**
   * Makes the parked state equal to a ParkedCalls list (its ParkedCall items): legs in it are
   * parked, every other leg is not. Taken with each snapshot, so an instance started while a call
   * is parked shows it too.
   */
  applyParkedList (items: ReadonlyArray<AmiEvent>): void {
    const now = this.clock()
    const parked = new Set<string>()
    for (const item of items) {
      const leg = this.upsert(item, 'parkee')
      if (leg === undefined) continue
      parked.add(leg.uniqueid)
      if (leg.parked === undefined) {
        leg.parked = parkedState(item, now - 1000 * (Number(item.parkingduration) || 0), this.resolveDevice(item.parkerdialstring))
        this.changed(leg.call, 'park', leg)
      }
    }
    for (const leg of this.legs.values()) {
      if (leg.parked !== undefined && !parked.has(leg.uniqueid)) { leg.parked = undefined; this.changed(leg.call, 'park', leg) }
    }
    this.settle()
  }

  /** Forgets tombstones and expectations older than their time-to-live. */
  sweep (): void {
    const now = this.clock()
    for (const [uniqueid, expiry] of this.tombstones) {
      if (expiry <= now) this.tombstones.delete(uniqueid)
    }
  }

  // ---- event handlers ----------------------------------------------------------------------------

  private onDialBegin (e: AmiEventOf<'DialBegin'>): void {
    const dest = this.upsert(e, 'dest')
    if (dest === undefined) return
    const caller = e.uniqueid !== undefined && e.uniqueid !== '' ? this.upsert(e, '') : undefined
    if (caller === undefined) {
      // Originate creates its leg through a Dial with no calling channel.
      if (dest.role === 'caller') dest.role = dest.pickedFrom !== undefined ? 'picker' : 'originated'
    } else if (dest.dialedBy === undefined) {
      dest.role = 'callee'
      dest.dialedBy = caller.uniqueid
      // A dialed leg belongs to its caller's call even before linkedids say so (Local chains).
      if (dest.call !== caller.call) this.moveLeg(dest, caller.call)
    }
    this.changed(dest.call, 'dial-begin', dest)
  }

  private onDialEnd (e: AmiEventOf<'DialEnd'>): void {
    const dest = this.upsert(e, 'dest')
    if (e.uniqueid !== undefined && e.uniqueid !== '') this.upsert(e, '')
    if (dest === undefined) return
    dest.dialStatus = this.strings.intern(e.dialstatus ?? 'UNKNOWN')
    this.changed(dest.call, 'dial-end', dest)
  }

  /** Music on hold for a leg. Asterisk's own times order them: a late, older event changes nothing. */
  private onMusicOnHold (e: AmiEvent): void {
    const leg = this.upsert(e, '')
    if (leg === undefined) return
    const at = this.eventTime(e)
    if (at < leg.mohSeen) return
    leg.mohSeen = at
    leg.mohAt = e.event === 'MusicOnHoldStart' ? (leg.mohAt ?? at) : undefined
    this.changed(leg.call, 'moh', leg)
    this.emit('moh', leg)
  }

  /**
   * The parking lot: ParkedCall (and ParkedCallSwap, a new channel in the same space) puts the
   * parkee in it; a timeout, a give-up (hangup) or UnParkedCall takes it out. UnParkedCall also
   * names the leg that took it (our UnPark's), like Pickup does for a picker.
   */
  private onParking (e: AmiEventOf<'ParkedCall'>): void {
    const leg = this.upsert(e, 'parkee')
    if (leg === undefined) return
    const at = this.eventTime(e)
    if (at < leg.parkSeen) return
    leg.parkSeen = at
    if (e.event === 'ParkedCall' || e.event === 'ParkedCallSwap') {
      leg.parked = parkedState(e, at - 1000 * (Number(e.parkingduration) || 0), this.resolveDevice(e.parkerdialstring))
    } else {
      leg.parked = undefined
      if (e.event === 'UnParkedCall') {
        const retriever = e.retrieveruniqueid !== undefined && e.retrieveruniqueid !== '' ? this.upsert(e, 'retriever') : undefined
        if (retriever !== undefined) {
          // From now on it talks to the parked party as if that party had called it.
          retriever.retrievedFrom = leg.uniqueid
          retriever.role = 'picker'
          retriever.dialedBy = leg.uniqueid
          this.changed(retriever.call, 'pickup', retriever)
        }
      }
    }
    this.changed(leg.call, 'park', leg)
    this.emit('parking', leg, e)
  }

  /** The party behind a device string such as "PJSIP/0003*210". */
  private resolveDevice (device: string | undefined): Party | undefined {
    if (device === undefined) return undefined
    const slash = device.indexOf('/')
    return slash > 0 ? this.resolveParty(device.slice(0, slash), device.slice(slash + 1)) : undefined
  }

  private onPickup (e: AmiEventOf<'Pickup'>): void {
    const picker = this.upsert(e, '')
    const targetId = e.targetuniqueid
    if (picker === undefined || targetId === undefined) return
    picker.role = 'picker'
    const target = this.legs.get(targetId)
    picker.pickedFrom = target?.uniqueid ?? detach(targetId)
    // The picker takes the picked leg's place: it now answers the same caller.
    if (target?.dialedBy !== undefined) picker.dialedBy = target.dialedBy
    const call = target?.call ?? this.calls.get(this.resolveKey(e.targetlinkedid ?? ''))
    if (call !== undefined) {
      // The picker's own linkedid now stands for this call (its later legs, a resync).
      if (picker.linkedid !== call.key && this.aliases.get(picker.linkedid) !== call.key) {
        this.aliases.set(picker.linkedid, call.key)
        call.aliases.push(picker.linkedid)
      }
      if (picker.call !== call) this.moveLeg(picker, call)
    }
    this.changed(picker.call, 'pickup', picker)
    this.emit('pickup', picker, targetId)
  }

  /** A supervisor leg listens to (or stops listening to) a party; ChanSpy's own event, every instance sees it. */
  private onChanSpy (e: AmiEventOf<'ChanSpyStart'>): void {
    const spyer = e.spyeruniqueid !== undefined ? this.legs.get(e.spyeruniqueid) : undefined
    if (spyer === undefined) return
    const spyee = e.event === 'ChanSpyStart' ? e.spyeeuniqueid : undefined
    if (spyer.spying === spyee) return
    spyer.spying = spyee === undefined ? undefined : (this.legs.get(spyee)?.uniqueid ?? detach(spyee))
    this.changed(spyer.call, 'spy', spyer)
  }

  private onHangup (e: AmiEventOf<'Hangup'>): void {
    const uniqueid = e.uniqueid
    if (uniqueid === undefined) return
    const leg = this.legs.get(uniqueid)
    this.tombstones.set(leg?.uniqueid ?? detach(uniqueid), this.clock() + TOMBSTONE_TTL_MS)
    this.expected.delete(uniqueid)
    if (leg === undefined) return
    this.removeLeg(leg, this.clock())
    this.emit('hangup', leg, e.cause ?? '')
  }

  private onOriginateResponse (e: AmiEventOf<'OriginateResponse'>): void {
    const leg = e.uniqueid !== undefined ? this.legs.get(e.uniqueid) : undefined
    if (leg !== undefined && e.exten !== undefined && e.exten !== '' && e.exten !== 's') {
      if (e.exten !== leg.target) {
        leg.target = this.strings.intern(e.exten)
        this.changed(leg.call, 'details', leg)
      }
    }
    this.emit('originate', e)
  }

  // ---- leg bookkeeping ---------------------------------------------------------------------------

  /**
   * Creates or updates the leg an event describes. `prefix` selects a snapshot inside the event
   * ("dest" for DialBegin's callee). Events for hung-up legs are ignored, so a late or duplicated
   * event cannot bring a leg back.
   */
  private upsert (e: AmiEvent, prefix: Prefix): Leg | undefined {
    const uniqueid = e[FIELDS[prefix].uniqueid]
    if (uniqueid === undefined || uniqueid === '' || this.tombstones.has(uniqueid)) return undefined
    const leg = this.legs.get(uniqueid)
    if (leg === undefined) return this.createLeg(e, prefix, this.eventTime(e))
    this.update(leg, e, prefix, false)
    return leg
  }

  private createLeg (e: AmiEvent, prefix: Prefix, createdAt: number): Leg {
    const f = FIELDS[prefix]
    const uniqueid = detach(e[f.uniqueid] as string)
    const linkedid = this.linkedRef(e[f.linkedid], uniqueid)
    const channel = e[f.channel] ?? ''
    const key = this.expected.get(uniqueid) ?? this.hintedKey(e[f.call]) ?? this.resolveKey(linkedid)
    let call = this.calls.get(key)
    if (call === undefined) {
      call = { key, id: this.callId(key), legs: new Map(), createdAt, nextView: 0, aliases: [], parties: new Map(), version: 0 }
      this.calls.set(key, call)
      this.callIndex.addCall(call)
    }
    const state = Number(e[f.state] ?? 0)
    const leg: Leg = {
      uniqueid,
      linkedid,
      channel,
      tech: '',
      resource: '',
      local: false,
      party: undefined,
      state,
      callerNum: this.strings.intern(e[f.callerNum] ?? ''),
      callerName: this.strings.intern(e[f.callerName] ?? ''),
      connectedNum: this.strings.intern(e[f.connectedNum] ?? ''),
      connectedName: this.strings.intern(e[f.connectedName] ?? ''),
      context: this.strings.intern(e[f.context] ?? ''),
      exten: this.strings.intern(e[f.exten] ?? ''),
      role: 'caller',
      dialedBy: undefined,
      dialStatus: undefined,
      target: undefined,
      pickedFrom: undefined,
      spying: undefined,
      bridgeId: undefined,
      createdAt,
      ringingAt: state === RINGING ? createdAt : undefined,
      answeredAt: state === UP ? createdAt : undefined,
      holdAt: undefined,
      recordingAt: undefined,
      mohAt: undefined,
      holdPeer: optional(known(e[f.holdPeer]), undefined),
      parked: undefined,
      retrievedFrom: undefined,
      mohSeen: 0,
      parkSeen: 0,
      op: optional(e[f.op], this.strings),
      nonce: optional(e[f.nonce], undefined),
      call,
      viewId: ''
    }
    this.setChannel(leg, channel)
    if (leg.op !== undefined && leg.op !== '' && linkedid === uniqueid) leg.role = 'originated'
    if (this.expected.has(uniqueid)) { leg.role = 'originated'; this.expected.delete(uniqueid) }
    this.legs.set(uniqueid, leg)
    this.attach(leg, call)
    this.emit('leg', leg)
    return leg
  }

  private update (leg: Leg, e: AmiEvent, prefix: Prefix, authoritative: boolean): void {
    const f = FIELDS[prefix]
    const call = leg.call
    const channel = e[f.channel]
    let dirty = false
    if (channel !== undefined && channel !== leg.channel) { this.setChannel(leg, channel); dirty = true }
    const stateText = e[f.state]
    let stateFrom: number | undefined
    if (stateText !== undefined) {
      const state = Number(stateText)
      if (state !== leg.state && (authoritative || rank(state) >= rank(leg.state))) {
        const now = this.eventTime(e)
        if (state === RINGING && leg.ringingAt === undefined) leg.ringingAt = now
        if (state === UP && leg.answeredAt === undefined) leg.answeredAt = now
        stateFrom = leg.state
        leg.state = state
      }
    }
    // Unchanged values (most events) cost a comparison; only a change is copied or interned.
    const strings = this.strings
    const v = e[f.callerNum]; if (v !== undefined && v !== leg.callerNum) { leg.callerNum = strings.intern(v); dirty = true }
    const w = e[f.callerName]; if (w !== undefined && w !== leg.callerName) { leg.callerName = strings.intern(w); dirty = true }
    const x = e[f.connectedNum]; if (x !== undefined && x !== leg.connectedNum) { leg.connectedNum = strings.intern(x); dirty = true }
    const y = e[f.connectedName]; if (y !== undefined && y !== leg.connectedName) { leg.connectedName = strings.intern(y); dirty = true }
    const ctx = e[f.context]; if (ctx !== undefined && ctx !== '' && ctx !== leg.context) { leg.context = strings.intern(ctx); dirty = true }
    const ex = e[f.exten]; if (ex !== undefined && ex !== '' && ex !== leg.exten) { leg.exten = strings.intern(ex); dirty = true }
    const op = e[f.op]; if (op !== undefined && op !== '' && op !== leg.op) { leg.op = strings.intern(op); dirty = true }
    const nonce = e[f.nonce]; if (nonce !== undefined && nonce !== '' && nonce !== leg.nonce) { leg.nonce = detach(nonce); dirty = true }
    // OffHold clears it: an empty value is news too.
    const peer = e[f.holdPeer]
    if (peer !== undefined && peer !== leg.holdPeer && optional(known(peer), undefined) !== leg.holdPeer) { leg.holdPeer = optional(known(peer), undefined); dirty = true }
    const linkedid = e[f.linkedid]
    if (linkedid !== undefined && linkedid !== '' && linkedid !== leg.linkedid) {
      dirty = true
      leg.linkedid = this.linkedRef(linkedid, leg.uniqueid)
      // Linkedids converge on the oldest call when legs are bridged; follow them, unless the
      // leg already sits in that call through a pickup alias.
      const key = this.resolveKey(linkedid)
      if (key !== call.key && this.calls.has(key)) this.moveLeg(leg, this.calls.get(key) as Call)
    }
    // Asterisk announces an originated channel before Originate's variables are set on it: the
    // VN_CALL tag comes with a later event, and then the leg joins the call it was made for.
    const hint = e[f.call]
    if (hint !== undefined && hint !== '' && leg.call.key === leg.linkedid) this.joinHinted(leg, hint)
    if (stateFrom !== undefined) {
      this.changed(leg.call, 'state', leg, stateFrom)
      this.emit('state', leg, stateFrom)
    } else if (dirty) {
      this.changed(leg.call, 'details', leg)
    }
  }

  private joinHinted (leg: Leg, hint: string): void {
    const key = this.hintedKey(hint)
    if (key === undefined || key === leg.call.key) return
    const call = this.calls.get(key) as Call
    if (this.aliases.get(leg.linkedid) !== key) {
      this.aliases.set(leg.linkedid, key)
      call.aliases.push(leg.linkedid)
    }
    this.moveLeg(leg, call)
  }

  private setChannel (leg: Leg, channel: string): void {
    leg.channel = detach(channel)
    const slash = channel.indexOf('/')
    const tech = slash > 0 ? this.strings.intern(channel.slice(0, slash)) : ''
    const dash = channel.lastIndexOf('-')
    const resource = this.strings.intern(channel.slice(slash + 1, dash > slash ? dash : undefined))
    const endpoint = tech + '/' + resource
    let party = this.partyCache.get(endpoint)
    if (party === undefined) {
      party = this.resolveParty(tech, resource) ?? null
      this.partyCache.set(detach(endpoint), party)
    }
    // Local halves are never views, except the ;1 half of a Local channel the directory names as an
    // extension's endpoint (a Callback extension's Local/<ext>@vn-callback): that leg is its view.
    const local = tech === 'Local' && (party === null || !channel.endsWith(';1'))
    if (local) party = null
    leg.tech = tech
    leg.resource = resource
    leg.local = local
    const next = party ?? undefined
    if (next !== leg.party) {
      // A masquerade (pickup) or rename can change whose leg this is: the new owner joins the call.
      leg.party = next
      if (this.legs.has(leg.uniqueid)) this.index(leg)
    }
  }

  private attach (leg: Leg, call: Call): void {
    leg.call = call
    call.legs.set(leg.uniqueid, leg)
    if (!leg.local && leg.viewId === '') leg.viewId = String(call.nextView++).padStart(2, '0')
    this.index(leg)
    this.changed(call, 'leg', leg)
  }

  private moveLeg (leg: Leg, to: Call): void {
    const from = leg.call
    from.legs.delete(leg.uniqueid)
    this.changed(from, 'leg-left', leg)
    if (from.legs.size === 0) this.dropCall(from)
    leg.viewId = ''
    this.attach(leg, to)
  }

  private removeLeg (leg: Leg, now: number): void {
    this.legs.delete(leg.uniqueid)
    this.tombstones.set(leg.uniqueid, now + TOMBSTONE_TTL_MS)
    const call = leg.call
    call.legs.delete(leg.uniqueid)
    this.changed(call, 'leg-left', leg)
    if (call.legs.size === 0) this.dropCall(call)
  }

  private dropCall (call: Call): void {
    this.calls.delete(call.key)
    this.callIndex.dropCall(call)
    for (const alias of call.aliases) if (this.aliases.get(alias) === call.key) this.aliases.delete(alias)
    this.changed(call, 'ended', undefined)
  }

  /**
   * The one place a call changes: its version moves (views re-project it) and the change is
   * signalled (CallChange), only built when someone listens.
   */
  private settle (): void {
    if (!this.unsettled) return
    this.unsettled = false
    this.emit('settled')
  }

  private changed (call: Call, kind: CallChangeKind, leg: Leg | undefined, from?: number): void {
    call.version++
    if (this.listenerCount('change') === 0) return
    this.unsettled = true
    const at = this.current !== undefined ? this.eventTime(this.current) : this.clock()
    // The hot path (every AMI event that changes a call): one signal object, reused, unless a
    // listener causes a change while the signal is being dispatched.
    const signal = this.dispatching ? { call, kind, leg, from, at } : Object.assign(this.signal, { call, kind, leg, from, at })
    const outer = this.dispatching
    this.dispatching = true
    try {
      this.emit('change', signal)
    } finally {
      this.dispatching = outer
      if (!outer) this.signal.call = this.signal.leg = undefined as never
    }
  }

  /** The live call an engine-originated leg was tagged to join (VN_CALL), whichever instance sent it. */
  private hintedKey (hint: string | undefined): string | undefined {
    if (hint === undefined || hint === '') return undefined
    // The call's own key string, never the event's (which may hold a parser chunk alive).
    return this.calls.get(this.resolveKey(hint))?.key
  }

  /**
   * The mirror's own copy of a linkedid: the uniqueid of the leg it names (usually the call's first
   * leg) or an existing call key when there is one, a fresh copy otherwise.
   */
  private linkedRef (linkedid: string | undefined, uniqueid: string): string {
    if (linkedid === undefined || linkedid === '' || linkedid === uniqueid) return uniqueid
    return this.legs.get(linkedid)?.uniqueid ?? this.calls.get(linkedid)?.key ?? detach(linkedid)
  }

  /** The mirror's own copy of a bridge id: shared with a leg of the call already in that bridge. */
  private bridgeRef (leg: Leg, bridgeId: string | undefined): string | undefined {
    if (bridgeId === undefined) return undefined
    if (bridgeId === leg.bridgeId) return leg.bridgeId
    for (const other of leg.call.legs.values()) if (other.bridgeId === bridgeId) return other.bridgeId
    return detach(bridgeId)
  }

  private resolveKey (linkedid: string): string {
    return this.aliases.get(linkedid) ?? linkedid
  }

  private index (leg: Leg): void {
    const party = leg.party
    const call = leg.call
    if (party === undefined || call.parties.has(party.extension)) return
    call.parties.set(party.extension, party.organizationId)
    this.callIndex.addParty(call, party.extension, party.organizationId)
  }

  /** Asterisk's own event time when `timestampevents` is on, so every engine instance agrees. */
  private eventTime (e: AmiEvent): number {
    const ts = e.timestamp
    return ts !== undefined ? Math.round(Number(ts) * 1000) : this.clock()
  }
}

/** An optional header value as the mirror keeps it: undefined stays undefined, '' stays ''. */
function optional (value: string | undefined, strings: Interner | undefined): string | undefined {
  if (value === undefined || value === '') return value
  return strings !== undefined ? strings.intern(value) : detach(value)
}

/** "hh:mm:ss" (CoreShowChannel Duration) to milliseconds. */
function durationMs (duration: string | undefined): number {
  if (duration === undefined) return 0
  const [h = '0', m = '0', s = '0'] = duration.split(':')
  return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000 || 0
}

/** Asterisk uniqueids are "<epoch>.<sequence>": compare numerically, others last. */
function compareUniqueid (a: string | undefined, b: string | undefined): number {
  const na = Number(a)
  const nb = Number(b)
  if (Number.isFinite(na) && Number.isFinite(nb)) {
    const [ea = '0', sa = '0'] = (a as string).split('.')
    const [eb = '0', sb = '0'] = (b as string).split('.')
    return Number(ea) - Number(eb) || Number(sa) - Number(sb)
  }
  return Number.isFinite(na) ? -1 : Number.isFinite(nb) ? 1 : (a ?? '').localeCompare(b ?? '')
}

// Header names of the two snapshots an event can carry, precomputed once.
interface Fields {
  uniqueid: string
  linkedid: string
  channel: string
  state: string
  callerNum: string
  callerName: string
  connectedNum: string
  connectedName: string
  context: string
  exten: string
  op: string
  nonce: string
  call: string
  holdPeer: string
}
const fields = (p: string): Fields => ({
  uniqueid: p + 'uniqueid',
  linkedid: p + 'linkedid',
  channel: p + 'channel',
  state: p + 'channelstate',
  callerNum: p + 'calleridnum',
  callerName: p + 'calleridname',
  connectedNum: p + 'connectedlinenum',
  connectedName: p + 'connectedlinename',
  context: p + 'context',
  exten: p + 'exten',
  op: p + 'chanvariable.VN_OP',
  nonce: p + 'chanvariable.VN_NONCE',
  call: p + 'chanvariable.VN_CALL',
  holdPeer: p + 'chanvariable.VN_HOLD_PEER'
})
/** Which snapshot of an event: the plain one, DialBegin's callee, a parked call, its retriever. */
type Prefix = '' | 'dest' | 'parkee' | 'retriever'
const FIELDS: Readonly<Record<Prefix, Fields>> = { '': fields(''), dest: fields('dest'), parkee: fields('parkee'), retriever: fields('retriever') }

function known (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

/** Copies, never parser slices (see strings.ts): parked calls can sit for an hour. */
function parkedState (e: AmiEvent, at: number, parker: Party | undefined): ParkedState {
  return { at, lot: detach(e.parkinglot ?? ''), space: detach(e.parkingspace ?? ''), parkerDialString: detach(e.parkerdialstring ?? ''), parker }
}
