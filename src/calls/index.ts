// Public face of the calls module: the live mirror, its sync with Asterisk, views and actions.
export { Mirror, type Call, type Leg, type LegRole, type Party, type PartyResolver, type MirrorEvents } from './mirror.ts'
export { MirrorSync, type MirrorState, type SyncReport, type SyncOptions } from './sync.ts'
export { CallService, type CallSelection } from './service.ts'
export { projectCall, formatCallerId, isPublicNumber, isoDate, type ProjectionContext } from './views.ts'
export { callIdDeriver } from './call-id.ts'
export { PhoneCallSchema, PhoneCallViewSchema, Status, Flow, type PhoneCall, type PhoneCallView } from './phone-call.ts'
