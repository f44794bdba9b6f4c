// The operator panel: sign in, pick "my phone", then the live calls the token sees, from the
// engine's stream (no polling), with the actions the engine implements on each.
/* global CSS, HTMLElement */
import { Session } from './session.js'
import { CallStream } from './stream.js'
import {
  ON_CALL, elapsed, hasParty, heldView, isRecorded, isRinging, parkedView, partyViews, pickUpView,
  stateOf, supervisedView, supervisorViews, targetView, whoOf
} from './calls.js'
import { STREAM_STATES, actionError, signInError } from './words.js'

const $ = (id) => document.getElementById(id)
const el = {
  signin: $('signin'),
  signinForm: $('signin-form'),
  signinButton: $('signin-button'),
  signinError: $('signin-error'),
  clientId: $('client-id'),
  secret: $('client-secret'),
  phonePick: $('phone-pick'),
  phoneForm: $('phone-form'),
  myPhone: $('my-phone'),
  who: $('who'),
  whoText: $('who-text'),
  changePhone: $('change-phone'),
  signOut: $('sign-out'),
  banner: $('banner'),
  calls: $('calls'),
  callsTitle: $('calls-title'),
  notice: $('notice'),
  ringingList: $('ringing-list'),
  ringingCount: $('ringing-count'),
  liveList: $('live-list'),
  liveCount: $('live-count'),
  noCalls: $('no-calls'),
  transferDialog: $('transfer-dialog'),
  transferForm: $('transfer-form'),
  transferWhat: $('transfer-what'),
  transferTo: $('transfer-to'),
  transferCancel: $('transfer-cancel'),
  extensionOptions: $('extension-options')
}

const STREAM_URL = '/uapi/phoneCalls/@me/@self/stream'
const session = new Session()
let clientId
let stream
/** The token's extensions (GET /uapi/extensions/@me), by full number. */
let extensions = new Map()
/** Full number of the operator's phone. */
let myPhone
/** The live calls, by id, as the stream last told. */
const calls = new Map()
/** Per call: the last action's outcome { kind, text }, and the action under way. */
const outcomes = new Map()
const pending = new Map()
let transferCallId

// ---------------------------------------------------------------------------------------------
// Small DOM helper: elements from data, text only (never HTML from the network).

function h (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    if (k === 'class') node.className = v
    else if (k === 'onclick') node.addEventListener('click', v)
    else if (k.startsWith('data-')) node.dataset[k.slice(5).replace(/-([a-z])/g, (_m, c) => c.toUpperCase())] = v
    else node.setAttribute(k, v === true ? '' : v)
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) node.append(c)
  return node
}

function show (node, visible) { node.hidden = !visible }

// ---------------------------------------------------------------------------------------------
// Numbers and names

const shortOf = (number) => {
  const ext = extensions.get(number)
  if (ext !== undefined) return ext.shortNumber
  const mine = myPhone?.split('*')[0]
  const m = /^(\d+)\*(\d+)$/.exec(number)
  return m !== null && m[1] === mine ? m[2] : number
}

/** Names from the directory, else from a caller id a view carries ("Sales 300 <0003*300>"). */
function nameOf (number, call) {
  const ext = extensions.get(number)
  if (ext !== undefined) return ext.name
  for (const v of call?.phoneCallView ?? []) {
    const m = /^(.*?)\s*<([^>]*)>$/.exec(v.callerId ?? '')
    if (m !== null && m[2] === number && m[1] !== '') return m[1]
  }
  return undefined
}

function party (number, call) {
  const name = nameOf(number, call)
  return h('span', { class: 'party', 'data-number': number },
    h('span', { class: 'num' }, shortOf(number)),
    name !== undefined ? h('span', { class: 'name' }, name) : undefined)
}

const plain = (number, call) => {
  const name = nameOf(number, call)
  return name !== undefined ? `${shortOf(number)} (${name})` : shortOf(number)
}

// ---------------------------------------------------------------------------------------------
// Banner, notices

let streamState = 'connecting'
let pbxDown = false

function updateBanner () {
  const state = pbxDown && streamState === 'open' ? 'outage' : streamState
  // Signed out, only an expiry is worth saying; the sign-in form says the rest.
  const text = el.calls.hidden && state !== 'expired' ? undefined : STREAM_STATES[state]
  el.banner.textContent = text ?? ''
  el.banner.dataset.state = text === undefined ? 'live' : state
  show(el.banner, text !== undefined)
  document.body.classList.toggle('stale', text !== undefined)
}

function notify (text, kind) {
  el.notice.textContent = text
  el.notice.dataset.kind = kind
  show(el.notice, true)
}

// ---------------------------------------------------------------------------------------------
// Rendering

function card (call) {
  const ringing = isRinging(call)
  const state = stateOf(call)
  const { from, to } = whoOf(call)
  const views = partyViews(call)
  const outcome = outcomes.get(call.id)
  const busy = pending.get(call.id)
  const recorded = isRecorded(call)
  const describe = `call from ${plain(from, call)}`
  const ringingOn = views.filter((v) => v.status === 3).map((v) => v.extension)

  const buttons = []
  const button = (action, label, handler, opts = {}) => buttons.push(h('button', {
    type: 'button',
    class: opts.class,
    'data-action': action,
    'aria-label': `${label}: ${describe}`,
    disabled: busy !== undefined,
    onclick: () => { void handler(call) }
  }, label))

  if (ringing) {
    const view = pickUpView(call, myPhone)
    if (view !== undefined && !ringingOn.includes(myPhone)) button('pick-up', 'Pick up', pickUp, { class: 'primary' })
  } else {
    const target = targetView(call, myPhone)
    const held = heldView(call)
    const parked = parkedView(call)
    button('hang-up', 'Hang up', hangUp, { class: 'danger' })
    if (target !== undefined && parked === undefined) button('transfer', 'Transfer…', openTransfer)
    if (held !== undefined) button('off-hold', 'Resume', offHold)
    else if (parked === undefined && target?.status === ON_CALL) button('on-hold', 'Hold', onHold)
    if (parked !== undefined) button('unpark', 'Take from park', unPark)
    else if (held === undefined && target?.status === ON_CALL) button('park', 'Park', park)
    button(recorded ? 'stop-recording' : 'start-recording', recorded ? 'Stop recording' : 'Record', recorded ? stopRecording : startRecording)
    if (!hasParty(call, myPhone) && supervisedView(call) !== undefined && held === undefined && parked === undefined) {
      button('monitor', 'Listen', (c) => supervise(c, 'Monitor'))
      button('whisper', 'Whisper', (c) => supervise(c, 'Whisper'))
      button('barge-in', 'Barge in', (c) => supervise(c, 'BargeIn'))
    }
  }

  const supervisors = supervisorViews(call)
  return h('li', {
    class: `call ${ringing ? 'is-ringing' : 'is-live'}`,
    'data-call-id': call.id,
    'data-state': state.key,
    'data-parties': views.map((v) => v.extension).join(' '),
    'data-ringing': ringingOn.join(' ') || undefined
  },
  h('p', { class: 'who' },
    party(from, call),
    h('span', { class: 'arrow', 'aria-hidden': 'true' }, ringing ? ' → ' : ' ⇄ '),
    h('span', { class: 'sr-only' }, ringing ? ' calling ' : ' with '),
    to.length > 0 ? to.map((n, i) => [i > 0 ? ', ' : undefined, party(n, call)]) : h('span', { class: 'party' }, '…')),
  h('p', { class: 'status' },
    h('span', { class: `badge state-${state.key}` }, ringing && ringingOn.length > 0 ? `Ringing on ${ringingOn.map(shortOf).join(', ')}` : state.label),
    ' ',
    h('span', { class: 'timer', 'data-since': state.since, 'aria-label': 'for' }, elapsed(state.since)),
    recorded ? h('span', { class: 'badge rec' }, 'Recording') : undefined,
    supervisors.map((v) => h('span', { class: 'badge sup' }, `${roleName(v.role)}: ${shortOf(v.extension)}`))),
  busy !== undefined
    ? h('p', { class: 'outcome', 'data-outcome': 'pending' }, busy)
    : outcome !== undefined ? h('p', { class: `outcome ${outcome.kind}`, 'data-outcome': outcome.kind }, outcome.text) : undefined,
  buttons.length > 0 ? h('div', { class: 'actions', role: 'group', 'aria-label': `Actions for the ${describe}` }, buttons) : undefined)
}

const roleName = (role) => ({ barge: 'Barged in', whisper: 'Whispering', 'private-whisper': 'Whispering', monitor: 'Listening' })[role] ?? role

function render () {
  // Keep keyboard focus on the same button of the same call across re-renders.
  const active = document.activeElement
  const focusCall = active?.closest?.('[data-call-id]')?.dataset.callId
  const focusAction = active?.dataset?.action
  const all = [...calls.values()].sort((a, b) => Date.parse(a.published) - Date.parse(b.published))
  const ringing = all.filter(isRinging)
  const live = all.filter((c) => !isRinging(c))
  el.ringingList.replaceChildren(...ringing.map(card))
  el.liveList.replaceChildren(...live.map(card))
  el.ringingCount.textContent = String(ringing.length)
  el.liveCount.textContent = String(live.length)
  el.calls.classList.toggle('has-ringing', ringing.length > 0)
  show(el.noCalls, all.length === 0)
  if (focusCall !== undefined) {
    const cardNode = document.querySelector(`[data-call-id="${CSS.escape(focusCall)}"]`)
    const target = cardNode?.querySelector(`[data-action="${CSS.escape(focusAction ?? '')}"]`) ?? cardNode?.querySelector('button')
    if (target instanceof HTMLElement) target.focus()
    else if (!document.body.contains(active)) el.callsTitle.focus()
  }
}

function tick () {
  const now = Date.now()
  for (const node of document.querySelectorAll('.timer[data-since]')) node.textContent = elapsed(node.dataset.since, now)
}
setInterval(tick, 1000)

// ---------------------------------------------------------------------------------------------
// The live stream

const announced = new Set()

function onMessage ({ event, data }) {
  const body = JSON.parse(data)
  if (event === 'snapshot') {
    calls.clear()
    for (const call of body.phoneCalls) calls.set(call.id, call)
    for (const id of [...outcomes.keys()]) if (!calls.has(id)) outcomes.delete(id)
    // The first message, or the PBX back after an outage (a full resync).
    pbxDown = false
    updateBanner()
  } else if (event === 'call') {
    calls.set(body.phoneCall.id, body.phoneCall)
  } else if (event === 'ended') {
    calls.delete(body.id)
    outcomes.delete(body.id)
    announced.delete(body.id)
  } else if (event === 'status') {
    pbxDown = body.pbx === 'unavailable'
    updateBanner()
    return
  } else {
    return
  }
  for (const call of calls.values()) {
    if (isRinging(call) && !announced.has(call.id)) {
      announced.add(call.id)
      const { from } = whoOf(call)
      const on = partyViews(call).filter((v) => v.status === 3).map((v) => shortOf(v.extension)).join(', ')
      notify(`New call from ${plain(from, call)} ringing on ${on}.`, 'info')
    }
  }
  render()
}

function onStreamState (state) {
  streamState = state
  if (state === 'open') pbxDown = false
  updateBanner()
  if (state === 'expired') expire()
}

function startStream () {
  stream?.stop()
  calls.clear()
  render()
  stream = new CallStream({ url: STREAM_URL, session, onMessage, onState: onStreamState })
}

// A renewed token: reopen the stream with it at once (resuming, nothing missed), before the old one expires.
session.on('renewed', () => stream?.restart())
session.on('expired', () => expire())

// ---------------------------------------------------------------------------------------------
// Actions

const callPath = (call) => `phoneCalls/@me/@self/${encodeURIComponent(call.id)}`

async function act (call, busyText, request, done) {
  if (pending.has(call.id)) return
  pending.set(call.id, busyText)
  outcomes.delete(call.id)
  render()
  const r = await request()
  pending.delete(call.id)
  if (r.status === 401 && !session.valid) {
    expire()
    return
  }
  const outcome = r.ok ? done(r) : failure(r)
  outcomes.set(call.id, outcome)
  notify(outcome.text, outcome.kind === 'error' || outcome.kind === 'not-answered' || outcome.kind === 'answered-elsewhere' ? 'error' : 'ok')
  render()
}

function failure (r) {
  const code = r.body?.error?.code
  if (code === 'pc_pickup_unanswered') return { kind: 'not-answered', text: actionError(r) }
  if (code === 'pc_pickup_target_gone') return { kind: 'answered-elsewhere', text: actionError(r) }
  return { kind: 'error', text: actionError(r) }
}

const put = (call, body, wait = false) => () => session.api('PUT', `${callPath(call)}${wait ? '?wait=true' : ''}`, body)
const ok = (text) => () => ({ kind: 'done', text })

async function pickUp (call) {
  const view = pickUpView(call, myPhone)
  if (view === undefined) return
  const mine = shortOf(myPhone)
  await act(call, `Ringing your phone (${mine})… answer it to take the call.`,
    put(call, { action: 'PickUp', sendCallTo: myPhone, phoneCallViewId: view.id }, true),
    () => ({ kind: 'picked-up', text: `Picked up on ${mine}.` }))
}

async function hangUp (call) {
  await act(call, 'Hanging up…', () => session.api('DELETE', callPath(call)), ok('Hung up.'))
}

async function onHold (call) {
  const view = targetView(call, myPhone)
  await act(call, 'Putting on hold…', put(call, { action: 'OnHold', phoneCallViewId: view.id }), ok(`${plain(view.extension, call)} is on hold.`))
}

async function offHold (call) {
  const view = heldView(call)
  await act(call, 'Resuming…', put(call, { action: 'OffHold', phoneCallViewId: view.id }), ok('Resumed.'))
}

async function park (call) {
  const view = targetView(call, myPhone)
  await act(call, 'Parking…', put(call, { action: 'Park', phoneCallViewId: view.id }), (r) => {
    const parked = (Array.isArray(r.body) ? r.body[0] : r.body)?.phoneCallView?.find((v) => v.parkedPos !== undefined)
    return { kind: 'done', text: parked !== undefined ? `Parked on ${parked.parkedPos}.` : 'Parked.' }
  })
}

async function unPark (call) {
  const view = parkedView(call)
  const mine = shortOf(myPhone)
  await act(call, `Ringing your phone (${mine})… answer it to take the parked call.`,
    put(call, { action: 'UnPark', sendCallTo: myPhone, phoneCallViewId: view.id }, true), ok(`Taken from park on ${mine}.`))
}

async function startRecording (call) {
  await act(call, 'Starting the recording…', put(call, { action: 'StartRecording' }), ok('Recording.'))
}

async function stopRecording (call) {
  await act(call, 'Stopping the recording…', put(call, { action: 'StopRecording' }), ok('Recording stopped.'))
}

async function supervise (call, action) {
  const view = supervisedView(call)
  const mine = shortOf(myPhone)
  const what = { Monitor: 'listening to', Whisper: 'whispering to', BargeIn: 'in the call with' }[action]
  await act(call, `Ringing your phone (${mine})… answer it to join.`,
    put(call, { action, sendCallTo: myPhone, phoneCallViewId: view.id }, true), ok(`You are ${what} ${plain(view.extension, call)}.`))
}

function openTransfer (call) {
  transferCallId = call.id
  const target = targetView(call, myPhone)
  el.transferWhat.textContent = target !== undefined ? `Moves ${plain(target.extension, call)} to another phone or number.` : ''
  el.transferTo.value = ''
  el.transferDialog.showModal()
  el.transferTo.focus()
}

function closeTransfer () {
  el.transferDialog.close()
  const back = document.querySelector(`[data-call-id="${CSS.escape(transferCallId ?? '')}"] [data-action="transfer"]`)
  if (back instanceof HTMLElement) back.focus()
}

el.transferCancel.addEventListener('click', closeTransfer)
el.transferForm.addEventListener('submit', (e) => {
  e.preventDefault()
  const call = calls.get(transferCallId)
  const to = el.transferTo.value.trim()
  if (to === '') { el.transferTo.focus(); return }
  closeTransfer()
  if (call === undefined) { notify('This call has already ended.', 'error'); return }
  // My phone in the call: it transfers (and is released); else the caller's side is moved.
  const body = hasParty(call, myPhone)
    ? { action: 'Transfer', sendCallTo: to, transferFromNumber: myPhone }
    : { action: 'Transfer', sendCallTo: to, phoneCallViewId: targetView(call, myPhone).id }
  void act(call, `Transferring to ${to}…`, put(call, body), ok(`Transferred to ${to}.`))
})

// ---------------------------------------------------------------------------------------------
// Sign in, my phone, sign out, expiry

function showSignIn (message) {
  stream?.stop()
  stream = undefined
  calls.clear()
  outcomes.clear()
  pending.clear()
  render()
  show(el.calls, false)
  show(el.phonePick, false)
  show(el.who, false)
  show(el.signin, true)
  el.signinError.textContent = message ?? ''
  show(el.signinError, message !== undefined)
  el.secret.value = ''
  el.signinButton.disabled = false
  el.clientId.value = clientId ?? el.clientId.value;
  (el.clientId.value === '' ? el.clientId : el.secret).focus()
}

function expire () {
  if (el.signin.hidden === false) return
  session.signOut()
  streamState = 'expired'
  updateBanner()
  showSignIn('Sign in again to continue.')
}

el.signinForm.addEventListener('submit', async (e) => {
  e.preventDefault()
  const id = el.clientId.value.trim()
  const secret = el.secret.value
  if (id === '' || secret === '') {
    el.signinError.textContent = signInError('invalid_request')
    show(el.signinError, true);
    (id === '' ? el.clientId : el.secret).focus()
    return
  }
  el.signinButton.disabled = true
  el.signinButton.textContent = 'Signing in…'
  const r = await session.signIn(id, secret)
  el.signinButton.textContent = 'Sign in'
  el.secret.value = ''
  if (!r.ok) {
    el.signinButton.disabled = false
    el.signinError.textContent = signInError(r.code)
    show(el.signinError, true)
    el.secret.focus()
    return
  }
  clientId = id
  const list = await session.api('GET', 'extensions/@me')
  el.signinButton.disabled = false
  if (!list.ok) {
    session.signOut()
    el.signinError.textContent = actionError(list)
    show(el.signinError, true)
    return
  }
  extensions = new Map(list.body.entry.map((x) => [x.extension, x]))
  const phones = list.body.entry.filter((x) => x.type === 'phone-terminal')
  el.extensionOptions.replaceChildren(...phones.map((x) => h('option', { value: x.shortNumber }, x.name)))
  el.myPhone.replaceChildren(...phones.map((x) => h('option', { value: x.extension }, `${x.shortNumber} (${x.name})`)))
  show(el.signinError, false)
  show(el.signin, false)
  streamState = 'connecting'
  if (phones.length === 1) {
    choosePhone(phones[0].extension)
  } else if (phones.length === 0) {
    showSignIn('This app has no phone to take calls on. Sign in with another app.')
    session.signOut()
  } else {
    show(el.phonePick, true)
    el.myPhone.focus()
  }
})

function choosePhone (number) {
  myPhone = number
  const ext = extensions.get(number)
  el.whoText.textContent = `${clientId} · my phone ${ext.shortNumber} (${ext.name})`
  show(el.phonePick, false)
  show(el.who, true)
  show(el.calls, true)
  show(el.changePhone, el.myPhone.options.length > 1)
  if (stream === undefined) startStream()
  else render()
  el.callsTitle.focus()
}

el.phoneForm.addEventListener('submit', (e) => {
  e.preventDefault()
  choosePhone(el.myPhone.value)
})

el.changePhone.addEventListener('click', () => {
  show(el.phonePick, true)
  el.myPhone.value = myPhone
  el.myPhone.focus()
})

el.signOut.addEventListener('click', () => {
  session.signOut()
  streamState = 'connecting'
  pbxDown = false
  showSignIn()
  updateBanner()
})

el.clientId.focus()
