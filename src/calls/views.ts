// Projects mirrored calls into UAPI PhoneCall / PhoneCallView objects. This is the single
// representation, and UAPI's rule that null fields are omitted lives here.
import { type Call, type Leg, UP, RINGING } from './mirror.ts'
import { type PhoneCall, type PhoneCallView, Status, Flow } from './phone-call.ts'
import { derivedNonce } from './call-id.ts'
import { isSupervision } from './recipes.ts'
import { detach } from './strings.ts'

export interface ProjectionContext {
  organizationName: (organizationId: string) => string | undefined
  /** Secret for derived nonces (calls the engine did not create with a client nonce). */
  nonceSecret: string
}

// A projection is cached per call and reused until the call changes (its version moves).
const cache = new WeakMap<Call, { version: number, phoneCall: PhoneCall }>()

/**
 * The PhoneCall for a live call. `viewer` is the extension the request is about: it becomes the
 * call's `extension` when it is or was a party (as the PickUp page's example shows), else the
 * extension charged for the call (the first party's) is used.
 */
export function projectCall (call: Call, ctx: ProjectionContext, viewer?: string): PhoneCall {
  let hit = cache.get(call)
  if (hit === undefined || hit.version !== call.version) {
    hit = { version: call.version, phoneCall: build(call, ctx) }
    cache.set(call, hit)
  }
  return seenBy(hit.phoneCall, call.parties, viewer)
}

/** A projected call as `viewer` sees it: its own extension when it is or was a party (see projectCall). */
export function seenBy (phoneCall: PhoneCall, parties: ReadonlyMap<string, string>, viewer: string | undefined): PhoneCall {
  if (viewer === undefined || viewer === phoneCall.extension || !parties.has(viewer)) return phoneCall
  return { ...phoneCall, extension: viewer }
}

function build (call: Call, ctx: ProjectionContext): PhoneCall {
  const views: PhoneCallView[] = []
  let charged: Leg | undefined
  let answered: number | undefined
  let nonce: string | undefined
  for (const leg of call.legs.values()) {
    if (leg.local) continue
    if (charged === undefined || (charged.party === undefined && leg.party !== undefined)) charged = leg
    if (leg.answeredAt !== undefined && (answered === undefined || leg.answeredAt < answered)) answered = leg.answeredAt
    if (nonce === undefined && leg.nonce !== undefined && leg.nonce !== '') nonce = leg.nonce
    views.push(projectLeg(leg, call))
  }
  views.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const ownerId = charged?.party?.organizationId ?? ''
  const phoneCall: PhoneCall = {
    id: call.id,
    extension: charged?.party?.extension ?? charged?.resource ?? '',
    ownerId,
    ownerName: ctx.organizationName(ownerId) ?? '',
    published: isoDate(call.createdAt),
    nonce: nonce ?? derivedNonce(ctx.nonceSecret, call.key),
    phoneCallView: views
  }
  if (answered !== undefined) phoneCall.answered = isoDate(answered)
  return phoneCall
}

export function projectLeg (leg: Leg, call: Call): PhoneCallView {
  const own = numberOf(leg)
  let source: string[]
  let destination: string[]
  if (leg.role === 'callee' || leg.role === 'picker') {
    const dialer = leg.dialedBy !== undefined ? call.legs.get(leg.dialedBy) : undefined
    const from = dialer !== undefined ? numberOf(dialer) : known(leg.connectedNum) ?? known(leg.callerNum)
    source = from !== undefined ? [from] : []
    destination = [own]
  } else if (isSupervision(leg.op)) {
    // A supervisor leg: from the supervisor to the party it listens (or talks) to.
    const spied = leg.spying !== undefined ? call.legs.get(leg.spying) : undefined
    source = [own]
    destination = spied !== undefined ? [numberOf(spied)] : []
  } else {
    source = [own]
    destination = dialedNumbers(leg, call)
    if (destination.length === 0) {
      const target = leg.target ?? (leg.exten !== 's' ? known(leg.exten) : undefined)
      if (target !== undefined) destination = [target]
    }
  }
  const status = statusOf(leg, call)
  const view: PhoneCallView = {
    id: leg.viewId,
    extension: leg.party?.extension ?? leg.resource,
    source,
    destination,
    flow: destination.some(isPublicNumber) ? Flow.outgoingPublic : source.some(isPublicNumber) ? Flow.incomingPublic : Flow.local,
    status
  }
  if (status === Status.ringing && leg.ringingAt !== undefined) view.ringing = isoDate(leg.ringingAt)
  const callerId = formatCallerId(leg.connectedName, leg.connectedNum) ?? formatCallerId(leg.callerName, leg.callerNum)
  if (callerId !== undefined) view.callerId = callerId
  if (leg.answeredAt !== undefined) view.answered = isoDate(leg.answeredAt)
  if (isSupervision(leg.op)) view.role = leg.op
  const hold = holdOf(leg, call)
  if (hold !== undefined) {
    view.onHold = isoDate(hold.at)
    if (hold.holder) view.holder = 1
  }
  const recording = recordingOf(call)
  if (recording !== undefined) view.recording = isoDate(recording)
  const parked = leg.parked
  if (parked !== undefined) {
    view.parked = isoDate(parked.at)
    const pos = Number(parked.space)
    if (Number.isInteger(pos)) view.parkedPos = pos
    const by = parked.parker?.extension ?? known(parked.parkerDialString.slice(parked.parkerDialString.indexOf('/') + 1))
    if (by !== undefined) view.parkedBy = by
  }
  return view
}

/**
 * Since when the call is recorded: MixMonitor records one channel's both directions, i.e. the
 * whole conversation, so every view of the call shows the earliest running recording.
 */
function recordingOf (call: Call): number | undefined {
  let at: number | undefined
  for (const leg of call.legs.values()) {
    if (leg.recordingAt !== undefined && (at === undefined || leg.recordingAt < at)) at = leg.recordingAt
  }
  return at
}

function statusOf (leg: Leg, call: Call): number {
  switch (leg.state) {
    case UP: return hasPendingDial(leg, call) ? Status.otherSideRinging : Status.onCall
    case RINGING: return Status.ringing
    case 4: // Ring: the caller side of a call being set up
      return hasPendingDial(leg, call) ? Status.otherSideRinging : Status.trying
    case 0: case 3: case 8: case 9: return Status.trying // Down, Dialing, DialingOffhook, PreRing
    case 2: return Status.offHook
    default: return Status.unknown
  }
}

/** True while a leg this one dialed is still being set up or ringing. */
function hasPendingDial (leg: Leg, call: Call): boolean {
  for (const other of call.legs.values()) {
    if (other.dialedBy === leg.uniqueid && other.dialStatus === undefined && other.state !== UP) return true
  }
  return false
}

function dialedNumbers (leg: Leg, call: Call): string[] {
  const out: string[] = []
  for (const other of call.legs.values()) {
    if (other.dialedBy === leg.uniqueid && !other.local) out.push(numberOf(other))
  }
  return out
}

/**
 * Whether a party is on hold, and whether it is the holder. A phone that put its call on hold
 * (Hold event) is the holder, its bridge peer is held. Music on hold playing to a leg (outside the
 * parking lot, which has its own fields) means it is held; with OnHold the other party, named by
 * the held leg's VN_HOLD_PEER, is the holder.
 */
function holdOf (leg: Leg, call: Call): { at: number, holder: boolean } | undefined {
  if (leg.holdAt !== undefined) return { at: leg.holdAt, holder: true }
  if (leg.mohAt !== undefined && leg.parked === undefined) return { at: leg.mohAt, holder: false }
  for (const other of call.legs.values()) {
    if (other !== leg && other.holdPeer === leg.uniqueid && other.mohAt !== undefined && other.parked === undefined) return { at: other.mohAt, holder: true }
  }
  if (leg.bridgeId === undefined) return undefined
  for (const other of call.legs.values()) {
    if (other !== leg && other.holdAt !== undefined && other.bridgeId === leg.bridgeId) return { at: other.holdAt, holder: false }
  }
  return undefined
}

/** A party's number: its extension, or for a leg outside the directory its caller number. */
function numberOf (leg: Leg): string {
  return leg.party?.extension ?? known(leg.callerNum) ?? leg.resource
}

function known (value: string): string | undefined {
  return value === '' || value === '<unknown>' ? undefined : value
}

/** "Name <number>", or the bare number when Asterisk has no name. */
export function formatCallerId (name: string, num: string): string | undefined {
  const n = known(num)
  if (n === undefined) return undefined
  const display = known(name)
  // Flat: a template literal is a chain of cons strings (~3x the memory in every cached view).
  return display !== undefined ? detach(`${display} <${n}>`) : n
}

/** Public (PSTN) numbers: 5 or more digits, optionally with a leading +. Extensions are shorter or hold '*'. */
export function isPublicNumber (n: string): boolean {
  return /^\+?\d{5,}$/.test(n)
}

/** XML Schema dateTime in UTC, without fractions, as UAPI's examples write it. */
export function isoDate (ms: number): string {
  // Flat: slice + 'Z' would be a cons over a slice over the 24-char ISO string (cached views keep it).
  return detach(new Date(ms).toISOString().slice(0, 19) + 'Z')
}
