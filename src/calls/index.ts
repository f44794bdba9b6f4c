// Public face of the calls module: the live mirror, its sync with Asterisk, views and actions.
export { Mirror, type Call, type Leg, type LegRole, type Party, type PartyResolver, type MirrorEvents } from './mirror.ts'
export { MirrorSync, type MirrorState, type SyncReport, type SyncOptions } from './sync.ts'
export { CallService, arraySource, type CallSelection, type CallSource } from './service.ts'
export { projectCall, formatCallerId, isPublicNumber, isoDate, type ProjectionContext } from './views.ts'
export { callIdDeriver } from './call-id.ts'
export { PhoneCallSchema, PhoneCallViewSchema, Status, Flow, type PhoneCall, type PhoneCallView } from './phone-call.ts'
// Call actions: one module per UAPI verb, all taking the same ActionDeps and resolving their call
// through resolveCall. src/uapi reaches them only through this file (a lint rule keeps it so).
export { resolveCall, type ActionDeps } from './actions/context.ts'
export { originateTrackerOf, type OriginateOutcome, type FollowSpec } from './actions/originate-tracker.ts'
export { pickUp, viewLeg, type PickUpInput, type PickUpOutcome, type PickUpStarted } from './actions/pick-up.ts'
export { hangUp, hangUpTargets, type HangUpInput, type HangUpTarget } from './actions/hang-up.ts'
export { transfer, type TransferInput, type TransferDone } from './actions/transfer.ts'
export { transferToVoicemail, VOICEMAIL_CONTEXT, type TransferToVoicemailInput } from './actions/transfer-to-voicemail.ts'
export { clickToCall, newNonce, type ClickToCallInput, type ClickToCallStarted } from './actions/click-to-call.ts'
export { asteriskCallerId } from './recipes.ts'
export { CallActionError, type CallActionCode } from './actions/errors.ts'
export { parseCallerId, type CallerId } from './caller-id.ts'
