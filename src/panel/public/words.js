// Every engine answer in words a receptionist understands (codes: README, Errors).

const ACTION_ERRORS = {
  network: 'Could not reach the phone system. Check the network connection and try again.',
  access_denied: 'You can no longer do this on this call (it has moved to someone else).',
  pbx_unavailable: 'The phone system is not reachable right now. Try again in a moment.',
  pbx_timeout: 'The phone system did not confirm in time. Check the call before trying again.',
  rate_limited: 'Too many actions in a short time. Wait a few seconds and try again.',
  pc_phonecall_invalid: 'This call has already ended.',
  pc_phonecallview_invalid: 'The call changed meanwhile (answered, held, parked or ended), so this cannot be done now.',
  pc_sendcallto_invalid: 'That number is not a phone of your organization.',
  pc_phonecall_conflict: 'Someone is already doing this on this call. Wait a moment.',
  pc_action_failed: 'The phone system refused this action.',
  pc_pickup_unanswered: 'Not answered: your phone did not answer in time.',
  pc_pickup_target_gone: 'Answered elsewhere (or the caller hung up) before your phone answered.',
  pc_sendcallto_unanswered: 'Your phone did not answer in time.',
  pc_target_gone: 'That person left the call first.',
  pc_transfernumber_invalid: 'That person is no longer in this call.',
  pc_transferfromnumber_invalid: 'Your phone is no longer in this call.',
  pc_recording_active: 'This call is already being recorded.',
  pc_recording_inactive: 'This call is not being recorded.',
  recording_unavailable: 'Recording is not available right now (the recordings folder cannot be written).',
  request_not_implemented: 'Recording is not set up on this phone system.',
  pc_phonecall_not_on_hold: 'This call is not on hold (a phone that held it itself must resume it).',
  pc_phonecall_not_parked: 'This call is not parked any more.',
  pc_unpark_unanswered: 'Your phone did not answer in time; the call is still parked.',
  pc_unpark_target_gone: 'The parked caller hung up first.',
  pc_maxinparking_invalid: 'The parking time is not valid.',
  internal_server_error: 'The phone system had an internal problem. Try again.'
}

/** The words for a failed API answer ({status, body}). */
export function actionError (r) {
  if (r.status === 0) return ACTION_ERRORS.network
  const code = r.body?.error?.code
  return ACTION_ERRORS[code] ?? `That did not work (${code ?? `error ${r.status}`}). Try again.`
}

export const SIGN_IN_ERRORS = {
  invalid_client: 'The client id or secret is not right.',
  invalid_request: 'Enter both the client id and the secret.',
  rate_limited: 'Too many sign-in attempts. Wait a minute and try again.',
  network: 'Could not reach the phone system. Check the network connection and try again.'
}

export const signInError = (code) => SIGN_IN_ERRORS[code] ?? `Sign-in failed (${code}). Try again.`

/** The banner for each state of the live view (undefined: nothing to say). */
export const STREAM_STATES = {
  connecting: 'Connecting to the live view…',
  reconnecting: 'Connection lost. Reconnecting… (the calls shown may be out of date)',
  outage: 'The phone system is not reachable. Calls cannot be shown or handled right now. Retrying…',
  expired: 'Your session has expired. Sign in again to see calls.',
  failed: 'The live view could not be opened. Retrying…'
}
