// The PUT payload (reference 2.3). Loose on purpose where UAPI clients are loose: numbers arrive as
// strings or numbers, callerID/waitForPickUp spellings are accepted, unknown fields are ignored.
import { Type } from 'typebox'

const Num = Type.Union([Type.String({ maxLength: 32 }), Type.Number()])

export const PhoneCallAction = Type.Object({
  action: Type.String({ minLength: 1, maxLength: 64, description: 'PickUp, Transfer, TransferToVoicemail, ...' }),
  sendCallTo: Type.Optional(Type.String({ maxLength: 64 })),
  callerId: Type.Optional(Type.String({ maxLength: 256 })),
  callerID: Type.Optional(Type.String({ maxLength: 256 })),
  waitForPickup: Type.Optional(Num),
  waitForPickUp: Type.Optional(Num),
  phoneCallViewId: Type.Optional(Type.String({ maxLength: 32 })),
  transferFromNumber: Type.Optional(Type.String({ maxLength: 64 })),
  transferNumber: Type.Optional(Type.String({ maxLength: 64 })),
  format: Type.Optional(Type.String({ maxLength: 16 })),
  maxInParking: Type.Optional(Num),
  private: Type.Optional(Type.Union([Num, Type.Boolean()]))
})

export const UpdateQuery = Type.Object({
  wait: Type.Optional(Type.Boolean({ description: 'PickUp, BargeIn, Whisper, Monitor: answer only once the outcome is known (connected, unanswered, target gone)' })),
  accessRequestToken: Type.Optional(Type.String({ maxLength: 4096 }))
})

export const updateErrorCodes = {
  body: 'request_invalid',
  'body/action': 'pc_action_invalid',
  'body/sendCallTo': 'pc_sendcallto_invalid',
  'body/callerId': 'pc_callerid_invalid',
  'body/callerID': 'pc_callerid_invalid',
  'body/waitForPickup': 'pc_timeout_invalid',
  'body/waitForPickUp': 'pc_timeout_invalid',
  'body/phoneCallViewId': 'pc_phonecallview_invalid',
  'body/transferFromNumber': 'pc_transferfromnumber_invalid',
  'body/transferNumber': 'pc_transfernumber_invalid',
  'body/private': 'pc_private_invalid',
  'body/format': 'pc_format_invalid',
  'body/maxInParking': 'pc_maxinparking_invalid',
  'params/phoneCallId': 'pc_phonecall_invalid',
  'params/extension': 'extension_invalid',
  'params/userId': 'user_invalid',
  'querystring/wait': 'request_invalid'
} as const
