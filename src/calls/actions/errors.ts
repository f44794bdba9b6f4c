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

export class CallActionError extends Error {
  override readonly name = 'CallActionError'
  constructor (readonly code: CallActionCode, readonly detail: string) {
    super(detail)
  }
}
