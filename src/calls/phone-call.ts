// The UAPI PhoneCall and PhoneCallView resources (reference 2.1, 2.2), as TypeBox schemas: the
// one representation shared by the mirror's projection and the HTTP response serializer.
import { Type, type Static } from 'typebox'

const DateTime = Type.String({ format: 'date-time' })
const Numbers = Type.Array(Type.String())

export const PhoneCallViewSchema = Type.Object({
  id: Type.String({ description: 'View id ("00", "01"...), stable for the life of the call' }),
  extension: Type.String({ description: 'The extension whose point of view this is' }),
  source: Numbers,
  destination: Numbers,
  flow: Type.Integer({ description: '2 local, 4 outgoing public, 8 incoming public' }),
  status: Type.Integer({ description: '0 unknown, 1 off hook, 2 trying, 3 ringing, 4 other side ringing, 5 on call' }),
  ringing: Type.Optional(DateTime),
  callerId: Type.Optional(Type.String()),
  recording: Type.Optional(Type.String({ format: 'date-time', description: 'When recording of the call started (StartRecording); absent if not recorded' })),
  answered: Type.Optional(DateTime),
  parked: Type.Optional(DateTime),
  parkedPos: Type.Optional(Type.Integer({ description: 'Position (space) in the parking lot' })),
  parkedBy: Type.Optional(Type.String({ description: 'The extension that parked the call (rung back when maxInParking runs out)' })),
  onHold: Type.Optional(DateTime),
  holder: Type.Optional(Type.Integer({ description: '1: this party put the call on hold' })),
  role: Type.Optional(Type.String({ description: 'Not in UAPI 3.0: what a supervisor leg does (barge, whisper, private-whisper, monitor); absent for ordinary parties' }))
})

export const PhoneCallSchema = Type.Object({
  id: Type.String(),
  extension: Type.String({ description: 'The extension charged for the call' }),
  ownerId: Type.String({ description: 'Id of the organization that owns the call' }),
  ownerName: Type.String(),
  published: DateTime,
  answered: Type.Optional(DateTime),
  nonce: Type.String(),
  phoneCallView: Type.Array(PhoneCallViewSchema),
  links: Type.Optional(Type.Object({ self: Type.String() }))
})

export type PhoneCallView = Static<typeof PhoneCallViewSchema>
export type PhoneCall = Static<typeof PhoneCallSchema>

/** UAPI view status values. */
export const Status = { unknown: 0, offHook: 1, trying: 2, ringing: 3, otherSideRinging: 4, onCall: 5 } as const
/** UAPI flow values. */
export const Flow = { local: 2, outgoingPublic: 4, incomingPublic: 8 } as const
