// Public types of the AMI layer. Nothing outside src/ami sees asterisk-manager's shapes, only these.

/** Connection life cycle, readable by health checks and used for fast 503 answers. */
export type AmiState =
  | 'idle' // constructed, start() not called
  | 'connecting' // TCP connect under way (first time or after a backoff)
  | 'authenticating' // Login sent
  | 'ready' // logged in, actions accepted
  | 'auth-failed' // Asterisk refused the credentials; retried slowly, visible in health
  | 'disconnected' // socket lost; a reconnect is scheduled
  | 'closed' // close() called; terminal

/**
 * One AMI event. Header names are lower-cased ("uniqueid", "destuniqueid"); values are strings.
 * A repeated header keeps its first value, except `output` (joined with "\n").
 * `ChanVariable: NAME=value` lines (and their `DestChanVariable`, `TargetChanVariable`... siblings)
 * are flattened to keys `chanvariable.NAME`, `destchanvariable.NAME`: NAME keeps its case.
 */
export interface AmiEvent {
  readonly event: string
  readonly [header: string]: string | undefined
}

/** The reply to an action (`Response: Success|Error|Goodbye|...`), same key rules as AmiEvent. */
export interface AmiResponse {
  readonly response: string
  readonly [header: string]: string | undefined
}

/** An EventList action's result (CoreShowChannels...): the ack, the items and the Complete event. */
export interface AmiListResult {
  readonly response: AmiResponse
  readonly items: AmiEvent[]
  readonly complete: AmiEvent
}

/**
 * Action headers. asterisk-manager writes header lines sorted by name (Action stays first, ActionID
 * second); Asterisk does not care about their order.
 * An array value writes the header once per element (e.g. `Variable: ['A=1', 'B=2']`).
 * Any CR, LF or other control character in a name or value is refused before anything is written.
 */
export type AmiHeaders = Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>

export interface AmiActionOptions {
  /** Deadline for the reply (for lists: for the Complete event). Defaults per action. */
  readonly timeoutMs?: number
}

/** Emitted with 'ready' after every successful login (first connect and every reconnect). */
export interface AmiSession {
  /** Increments on every successful login; lets consumers tell sessions apart. */
  readonly epoch: number
  /** From the FullyBooted event that follows login, when Asterisk sent one. */
  readonly uptimeSeconds?: number
  readonly lastReloadSeconds?: number
}
