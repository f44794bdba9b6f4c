// What the panel reads from a PhoneCall (src/calls/phone-call.ts): who calls whom, its state, and
// which party each button acts on. Pure functions, no DOM.

export const RINGING = 3
export const ON_CALL = 5

/** Views of parties (supervisors, who carry a `role`, are not parties of the conversation). */
export const partyViews = (call) => call.phoneCallView.filter((v) => v.role === undefined)
export const supervisorViews = (call) => call.phoneCallView.filter((v) => v.role !== undefined)

/** A call is "ringing" while one of its parties' phones rings; else it is live. */
export const isRinging = (call) => partyViews(call).some((v) => v.status === RINGING)

/** The view that rings and may be picked up by `myPhone` (never my own phone ringing). */
export function pickUpView (call, myPhone) {
  return partyViews(call).find((v) => v.status === RINGING && v.extension !== myPhone)
}

/** The number that placed the call: the first party view's first source. */
export function callerOf (call) {
  const first = call.phoneCallView[0]
  return first?.source?.[0] ?? first?.extension
}

/**
 * Who calls whom: the caller, and the other parties now in the call (their views), plus public
 * numbers (digits only: they have no view). A party that left (a picked-up phone) has no view left,
 * even if another view still names it as its destination.
 */
export function whoOf (call) {
  const from = callerOf(call)
  const to = []
  const add = (n) => { if (n !== undefined && n !== from && !to.includes(n)) to.push(n) }
  for (const v of partyViews(call)) add(v.extension)
  for (const v of partyViews(call)) for (const n of [...(v.source ?? []), ...(v.destination ?? [])]) if (!n.includes('*')) add(n)
  return { from, to }
}

/** The view whose party the operator's buttons act on: the other side of my phone, else the caller. */
export function targetView (call, myPhone) {
  const views = partyViews(call)
  const mine = views.find((v) => v.extension === myPhone)
  const others = views.filter((v) => v !== mine)
  if (mine !== undefined) return others.find((v) => v.status === ON_CALL) ?? others[0]
  const caller = callerOf(call)
  return views.find((v) => v.extension === caller) ?? views.find((v) => v.status === ON_CALL) ?? views[0]
}

/** The party a supervisor joins (barge, whisper, monitor): the called side, i.e. not the caller, on call. */
export function supervisedView (call) {
  const caller = callerOf(call)
  const onCall = partyViews(call).filter((v) => v.status === ON_CALL)
  return onCall.find((v) => v.extension !== caller) ?? onCall[0]
}

export const heldView = (call) => partyViews(call).find((v) => v.onHold !== undefined && v.holder !== 1)
export const parkedView = (call) => partyViews(call).find((v) => v.parked !== undefined)
export const isRecorded = (call) => call.phoneCallView.some((v) => v.recording !== undefined)
export const hasParty = (call, number) => partyViews(call).some((v) => v.extension === number)

/**
 * The call's state in words and the moment it started, for the running timer:
 * ringing (since it rang), parked, on hold, on call (since answered).
 */
export function stateOf (call) {
  const views = partyViews(call)
  const ringing = views.find((v) => v.status === RINGING)
  if (ringing !== undefined) return { key: 'ringing', label: 'Ringing', since: ringing.ringing ?? call.published }
  const parked = parkedView(call)
  if (parked !== undefined) return { key: 'parked', label: parked.parkedPos !== undefined ? `Parked on ${parked.parkedPos}` : 'Parked', since: parked.parked }
  const held = views.find((v) => v.onHold !== undefined)
  if (held !== undefined) return { key: 'on-hold', label: 'On hold', since: held.onHold }
  const talking = views.find((v) => v.status === ON_CALL)
  if (talking !== undefined) return { key: 'on-call', label: 'On call', since: talking.answered ?? call.answered ?? call.published }
  return { key: 'connecting', label: 'Connecting', since: call.published }
}

/** "m:ss" (or "h:mm:ss") since `iso`. */
export function elapsed (iso, now = Date.now()) {
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`
}
