// What every PUT action handler gets: the engine parts, the resolved scope and the payload.
import type { Static } from 'typebox'
import type { FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { AmiClient } from '../../ami/index.ts'
import type { ActionDeps, CallService, PhoneCall } from '../../calls/index.ts'
import type { Directory } from '../../directory/index.ts'
import type { RecordingStore } from '../../recordings/index.ts'
import type { RequestScope } from '../scope.ts'
import type { PhoneCallAction } from '../schemas/phone-call-action.ts'

export interface ActionContext {
  /** What every call verb takes (src/calls ActionDeps), built once per request. */
  readonly deps: ActionDeps
  readonly ami: AmiClient
  readonly calls: CallService
  readonly directory: Directory
  readonly log: Logger
  readonly request: FastifyRequest
  readonly scope: RequestScope
  readonly phoneCallId: string
  readonly body: Static<typeof PhoneCallAction>
  /** Where recordings go (StartRecording); undefined when not configured. */
  readonly recordings: RecordingStore | undefined
  /** ?wait=true: answer once the outcome is known (actions that have one). */
  readonly wait: boolean
  /** The PhoneCall as the API shows it to this request, with links.self. */
  readonly present: (call: import('../../calls/index.ts').Call) => PhoneCall
}

/**
 * A PUT action: validates its own fields, acts through src/calls/actions, returns the PhoneCall
 * (an array of them where the action's page says so: Park).
 */
export type ActionHandler = (ctx: ActionContext) => Promise<PhoneCall | PhoneCall[]>
