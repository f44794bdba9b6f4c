// The live feed of call changes for the stream: the mirror's change signal, coalesced per call
// (one record per call each time the mirror settles, i.e. per AMI event or resync, however many
// changes it made: every state a call passes through is seen, none half-applied), each
// record numbered and kept in a bounded window so that a client that reconnects with the last id it
// saw gets exactly what it missed. Records hold the PhoneCall as it was (the projection, shared by
// every client) and who may see it (the call's parties then), never the live call itself.
import { EventEmitter } from 'node:events'
import type { Call, CallChange, CallService, Mirror, MirrorState, MirrorSync, PhoneCall } from '../calls/index.ts'

export interface FeedRecord {
  /** Position in this feed (1, 2, ...). */
  readonly seq: number
  readonly callId: string
  /** The call as List showed it then; undefined once it ended. */
  readonly phoneCall: PhoneCall | undefined
  /** Every extension that was a party of the call then, and its organization. */
  readonly parties: ReadonlyMap<string, string>
  /** Mirror time of the last change in this record (Asterisk's event time). */
  readonly at: number
}

export interface FeedOptions {
  /** Records kept for resume (oldest dropped first). */
  readonly windowSize?: number
  /** ...and for at most this long. */
  readonly windowMs?: number
}

export interface FeedEvents {
  record: [record: FeedRecord]
  /** The mirror became live (a full resync: clients get a fresh snapshot) or stopped being live. */
  availability: [live: boolean]
  /** The engine is closing: streams end (clients reconnect to another instance or later). */
  closing: []
}

/**
 * Feed ids are "<boot>.<seq>": the boot part tells a resume from another process (another engine
 * instance, or this one restarted) apart, which can only be answered with a fresh snapshot.
 */
export class CallFeed extends EventEmitter<FeedEvents> {
  readonly boot = Date.now().toString(36)
  private seq = 0
  private readonly window: FeedRecord[] = []
  /** When each record of the window was made (wall clock), for windowMs. */
  private readonly madeAt: number[] = []
  private readonly windowSize: number
  private readonly windowMs: number
  private readonly pending = new Map<Call, number>()
  private readonly onChange = (c: CallChange): void => { this.pending.set(c.call, c.at) }

  private readonly onSyncState = (state: MirrorState): void => {
    if (state === 'live') this.emit('availability', true)
    else if (state === 'stale') this.emit('availability', false)
  }

  constructor (private readonly mirror: Mirror, private readonly sync: MirrorSync, private readonly calls: CallService, options: FeedOptions = {}) {
    super()
    this.setMaxListeners(0) // one listener per stream client
    this.windowSize = options.windowSize ?? 10_000
    this.windowMs = options.windowMs ?? 5 * 60_000
    mirror.on('change', this.onChange)
    mirror.on('settled', this.flush)
    sync.on('state', this.onSyncState)
  }

  close (): void {
    this.mirror.off('change', this.onChange)
    this.mirror.off('settled', this.flush)
    this.sync.off('state', this.onSyncState)
    this.emit('closing')
    this.removeAllListeners()
  }

  /** The id of the newest record (what a snapshot taken now is up to date with). */
  get lastId (): string { return `${this.boot}.${this.seq}` }

  /**
   * The records after `lastEventId`, or undefined when they cannot all be told: an id of another
   * process, one older than the window, or not an id at all.
   */
  since (lastEventId: string): FeedRecord[] | undefined {
    const dot = lastEventId.lastIndexOf('.')
    if (dot <= 0 || lastEventId.slice(0, dot) !== this.boot) return undefined
    const after = Number(lastEventId.slice(dot + 1))
    if (!Number.isSafeInteger(after) || after < 0 || after > this.seq) return undefined
    this.trim()
    const oldest = this.window[0]?.seq ?? this.seq + 1
    // Records after `after` must all still be here: the first one missing means a gap.
    if (after + 1 < oldest) return undefined
    return this.window.slice(after + 1 - oldest)
  }

  private readonly flush = (): void => {
    const now = Date.now()
    for (const [call, at] of this.pending) {
      const ended = this.mirror.calls.get(call.key) !== call
      const record: FeedRecord = {
        seq: ++this.seq,
        callId: call.id,
        phoneCall: ended ? undefined : this.calls.project(call),
        parties: new Map(call.parties),
        at
      }
      this.window.push(record)
      this.madeAt.push(now)
      this.emit('record', record)
    }
    this.pending.clear()
    this.trim()
  }

  private trim (): void {
    const w = this.window
    let drop = Math.max(0, w.length - this.windowSize)
    const horizon = Date.now() - this.windowMs
    while (drop < w.length && (this.madeAt[drop] as number) < horizon) drop++
    if (drop > 0) {
      w.splice(0, drop)
      this.madeAt.splice(0, drop)
    }
  }
}
