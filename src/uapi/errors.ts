// The UAPI error catalogue: one entry per code, keyed by the code sent on the wire (reference 1.7,
// 6 and the PickUp page). Every error a client can see is one of these; anything else is logged
// and answered as internal_server_error.

export const UAPI_ERRORS = {
  // Common to every request (reference 1.7).
  user_invalid: [400, 'The userId in the path is not a known user id, @me, @viewer or @owner.'],
  extension_invalid: [400, 'The extension in the path is not an existing extension number or @self.'],
  access_denied: [401, 'You are not authorized to use this request.'],
  internal_server_error: [500, 'The request could not be completed because of an internal error.'],
  request_not_implemented: [501, 'This operation is not implemented.'],
  // Engine-level (not in UAPI's tables, same envelope).
  request_invalid: [400, 'The request is malformed.'],
  resource_not_found: [404, 'No such resource.'],
  method_not_allowed: [405, 'This method is not allowed on this resource.'],
  payload_too_large: [413, 'The request body is too large.'],
  media_type_unsupported: [415, 'The request body must be JSON.'],
  rate_limited: [429, 'Too many requests; slow down and retry later.'],
  pbx_unavailable: [503, 'The PBX is not reachable right now; retry shortly.'],
  coordination_unavailable: [503, 'The database the engine instances share is not reachable; nothing was sent to the PBX. Retry shortly.'],
  pbx_timeout: [504, 'The PBX did not confirm the action in time; it may still happen. Check the call before retrying.'],
  // Standard request parameters (reference 1.5).
  fields_invalid: [400, 'The fields parameter names an unknown field of the listed resource.'],
  count_invalid: [400, 'The count parameter must be an integer from 1 to 5000.'],
  startindex_invalid: [400, 'The startIndex parameter must be an integer from 0 to 5000.'],
  filterby_invalid: [400, 'The filterBy parameter names a field that cannot be filtered on (PhoneCalls: id or published).'],
  filterop_invalid: [400, 'The filterOp parameter must be contains, equals, startsWith, present, greaterThan or lessThan.'],
  filtervalue_invalid: [400, 'The filterValue parameter is missing or invalid for this filter.'],
  sortorder_invalid: [400, 'The sortOrder parameter must be ascending or descending.'],
  // PhoneCalls (PickUp page, reference 6).
  pc_phonecall_invalid: [400, 'Value supplied in phoneCallId is invalid. It must be alphanumeric and reference an existing phone call.'],
  pc_phonecallview_invalid: [400, 'Value supplied in phoneCallViewId is missing or invalid. It must reference a ringing view of the phone call.'],
  pc_sendcallto_invalid: [400, 'Value supplied in sendCallTo is missing or invalid. It must be the number of a phone terminal extension.'],
  pc_callerid_invalid: [400, 'Value supplied in callerId is invalid. It must look like: John Doe <+3334444>.'],
  pc_timeout_invalid: [400, 'Value supplied in waitForPickup is invalid. It must be numeric and higher than 0.'],
  pc_action_invalid: [400, 'Value supplied in action is missing or not a supported action.'],
  pc_phonecall_conflict: [409, 'Another operation on this phone call view is already under way.'],
  pc_action_failed: [502, 'The PBX refused the operation.'],
  pc_pickup_unanswered: [409, 'The phone the call was sent to did not answer in time; the call is still ringing where it was.'],
  pc_pickup_target_gone: [409, 'The call stopped ringing (answered elsewhere or abandoned) before it could be picked up.'],
  pc_sendcallto_unanswered: [409, 'The phone in sendCallTo did not answer in time; the call goes on as it was.'],
  pc_target_gone: [409, 'The party the action applied to left the call before it could be done.'],
  pc_private_invalid: [400, 'Value supplied in private is invalid. It must be 0 or 1.'],
  pc_extension_invalid: [400, 'Value supplied in extension is missing or invalid. It must be a phone terminal extension of the user.'],
  pc_source_invalid: [400, 'Value supplied in source is missing or invalid.'],
  pc_destination_invalid: [400, 'Value supplied in destination is missing or invalid.'],
  pc_callduration_invalid: [400, 'Value supplied in callDuration is invalid. It must be numeric and higher than 0.'],
  pc_phonenumber_invalid: [400, 'Value supplied in phoneNumber is invalid or not a party of the phone call.'],
  pc_transferfromnumber_invalid: [400, 'Value supplied in transferFromNumber is invalid or not a party of the phone call.'],
  pc_transfernumber_invalid: [400, 'Value supplied in transferNumber is invalid or not a party of the phone call.'],
  pc_nonce_invalid: [400, 'Value supplied in nonce is invalid.'],
  pc_allowpublictransfer_invalid: [400, 'Value supplied in allowPublicTransfer must be true or false.'],
  pc_video_invalid: [400, 'Value supplied in video must be true or false.'],
  pc_number_invalid: [400, 'Value supplied in number is missing or not a scheduled conference of the extension.'],
  pc_pin_invalid: [400, 'Value supplied in pin does not match the scheduled conference.'],
  // StartRecording / StopRecording and the recordings route.
  pc_format_invalid: [400, 'Value supplied in format is invalid. It must be wav or wav49.'],
  pc_recording_active: [409, 'The phone call is already being recorded.'],
  pc_recording_inactive: [409, 'The phone call is not being recorded.'],
  recording_unavailable: [503, 'Recordings cannot be stored right now: the recordings directory is not writable.'],
  recording_in_progress: [409, 'The recording is still in progress; get it once StopRecording or the end of the call stopped it.'],
  range_not_satisfiable: [416, 'The requested byte range is outside the recording.'],
  // OnHold / OffHold / Park / UnPark.
  pc_maxinparking_invalid: [400, 'Value supplied in maxInParking is invalid. It must be a number of seconds from 10 to 3600.'],
  pc_phonecall_not_on_hold: [409, 'The party is not on hold.'],
  pc_phonecall_not_parked: [409, 'The phone call has no parked party.'],
  pc_unpark_unanswered: [409, 'The phone the parked call was sent to did not answer in time; the call is still parked.'],
  pc_unpark_target_gone: [409, 'The parked call left the parking lot (hung up or timed out) before it could be taken out.'],
  // PhoneCallEvents (reference 9; pcet_type_invalid and pce_method_invalid are VoipNow's own).
  pcet_type_invalid: [400, 'Value supplied in type is missing or invalid. It must be 0 (Dial-In), 1 (Dial-Out), 2 (Hangup), 3 (Answer incoming) or 4 (Answer outgoing).'],
  pce_method_invalid: [400, 'Value supplied in method is invalid. It must be 0 (GET) or 1 (POST).'],
  pce_status_invalid: [400, 'Value supplied in status is invalid. It must be 0 (disabled) or 1 (enabled).'],
  pce_id_invalid: [400, 'Value supplied in id is invalid. It must be alphanumeric, 1 to 255 characters.'],
  pce_url_invalid: [400, 'Value supplied in url is missing or invalid. It must be an absolute http or https URL (RFC 3986 encoded) of at most 2048 characters.'],
  pce_url_forbidden: [400, 'Value supplied in url is refused: its host is, or resolves to, a loopback, private, link-local, multicast or otherwise non-public address.'],
  pce_note_invalid: [400, 'Value supplied in note is invalid. It must be a string of at most 1024 characters.'],
  pce_extension_invalid: [400, 'The extension must be one Phone Terminal, Queue, Conference or IVR extension (not @self).'],
  pce_not_found: [404, 'No PhoneCallEvent with this type and id on this extension.'],
  pce_id_conflict: [409, 'A PhoneCallEvent with this type and id already exists on this extension.'],
  pce_limit_reached: [409, 'The extension has as many PhoneCallEvents as allowed; delete one first.'],
  pced_state_invalid: [400, 'The state parameter must be pending, delivered or dead.'],
  storage_unavailable: [503, 'The database is not reachable right now; retry shortly.']
} as const satisfies Record<string, readonly [number, string]>

export type UapiErrorCode = keyof typeof UAPI_ERRORS

export class UapiError extends Error {
  override readonly name = 'UapiError'
  readonly statusCode: number
  constructor (readonly code: UapiErrorCode, message?: string, options?: { cause?: unknown }) {
    const [status, text] = UAPI_ERRORS[code]
    super(message ?? text, options)
    this.statusCode = status
  }
}

export const uapiError = (code: UapiErrorCode, message?: string, cause?: unknown): UapiError =>
  new UapiError(code, message, cause === undefined ? undefined : { cause })

export const isUapiError = (err: unknown): err is UapiError => err instanceof UapiError
