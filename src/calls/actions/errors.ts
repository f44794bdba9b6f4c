// Domain errors of call actions. Codes equal the UAPI codes they surface as, so the HTTP layer
// maps them one to one; `detail` is for logs only.
export type CallActionCode =
  | 'pc_phonecall_invalid'
  | 'pc_phonecallview_invalid'
  | 'pc_sendcallto_invalid'
  | 'pc_phonecall_conflict'
  | 'pc_phonenumber_invalid'
  | 'pc_transferfromnumber_invalid'
  | 'pc_transfernumber_invalid'
  | 'pc_source_invalid'
  | 'pc_destination_invalid'
  | 'pc_action_failed'
  | 'pc_recording_active'
  | 'pc_recording_inactive'
  | 'recording_unavailable'
  | 'pc_phonecall_not_on_hold'
  | 'pc_phonecall_not_parked'
  | 'pbx_timeout'
  | 'access_denied'
  | 'coordination_unavailable'

export class CallActionError extends Error {
  override readonly name = 'CallActionError'
  /** `clientMessage`, when given, replaces the catalogue's text for this code in the answer. */
  constructor (readonly code: CallActionCode, readonly detail: string, readonly clientMessage?: string) {
    super(detail)
  }
}
