// The live feed of call changes for the stream: the mirror's change signal, coalesced per call
// (one record per call each time the mirror settles, i.e. per AMI event or resync, however many
// changes it made: every state a call passes through is seen, none half-applied), each record
// numbered and kept in a bounded window so that a client that reconnects with the last id it saw
// gets exactly what it missed. Records hold the PhoneCall as it was (serialized once, shared by
// every client) and who may see it (the call's parties then), never the live call itself.
//
// The feed records only while stream clients are connected, and for one window after the last one
// left (so that it can resume): an engine nobody watches pays nothing for it. A resume from before
// a pause cannot be told and gets a fresh snapshot instead.
import { EventEmitter } from 'node:events'
import type { Call, CallChange, CallService, Mirror, MirrorState, MirrorSync, PhoneCall } from '../calls/index.ts'

export interface FeedRecord {
  /** Position in this feed (1, 2, ...). */
  readonly seq: number
  readonly callId: string
  /** The call as List showed it then; undefined once it ended. */
  readonly phoneCall: PhoneCall | undefined
  /** JSON of phoneCall ('' once ended). */
  readonly json: string
  /** Every extension that was a party of the call then, and its organization. */
  readonly parties: ReadonlyMap<string, string>
  /** Mirror time of the last change in this record (Asterisk's event time). */
  readonly at: number
}

export interface FeedOptions {
  /** Records kept for resume (oldest dropped first). */
  readonly windowSize?: number
  /** ...and for at most this long; also how long the feed keeps recording after the last client left. */
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
  /** Ids below this one were given before a pause: what followed them was not recorded. */
  private validFrom = 0
  private readonly window: FeedRecord[] = []
  /** When each record of the window was made (wall clock), for windowMs. */
  private readonly madeAt: number[] = []
  private readonly windowSize: number
  private readonly windowMs: number
  private readonly pending = new Map<Call, number>()
  /** A hash of the last JSON recorded per live call: a change that does not show is not sent. */
  private readonly lastHash = new Map<Call, number>()
  private clients = 0
  private recording = false
  private pauseTimer: NodeJS.Timeout | undefined
  private readonly onChange = (c: CallChange): void => { this.pending.set(c.call, c.at) }

  private readonly onSyncState = (state: MirrorState): void => {
    if (state === 'live') this.emit('availability', true)
    else if (state === 'stale') this.emit('availability', false)
  }

  constructor (private readonly mirror: Mirror, private readonly sync: MirrorSync, private readonly calls: CallService, options: FeedOptions = {}) {
    super()
    this.setMaxListeners(0) // one listener per stream client
    this.windowSize = options.windowSize ?? 5_000
    this.windowMs = options.windowMs ?? 120_000
    sync.on('state', this.onSyncState)
  }

  close (): void {
    this.stopRecording()
    this.sync.off('state', this.onSyncState)
    this.emit('closing')
    this.removeAllListeners()
  }

  /** A stream client connected: record from now on (see the header). */
  attach (): void {
    this.clients++
    if (this.pauseTimer !== undefined) {
      clearTimeout(this.pauseTimer)
      this.pauseTimer = undefined
    }
    if (this.recording) return
    this.recording = true
    // Whatever happened while paused is unknown to the window: older ids cannot resume.
    this.validFrom = ++this.seq
    this.mirror.on('change', this.onChange)
    this.mirror.on('settled', this.flush)
  }

  /** A stream client left: keep recording for one window, for its resume. */
  detach (): void {
    this.clients = Math.max(0, this.clients - 1)
    if (this.clients > 0 || !this.recording || this.pauseTimer !== undefined) return
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = undefined
      if (this.clients === 0) this.stopRecording()
    }, this.windowMs)
    this.pauseTimer.unref()
  }

  /** The id of the newest record (what a snapshot taken now is up to date with). */
  get lastId (): string { return `${this.boot}.${this.seq}` }

  /**
   * The records after `lastEventId`, or undefined when they cannot all be told: an id of another
   * process, one older than the window or from before a pause, or not an id at all.
   */
  since (lastEventId: string): FeedRecord[] | undefined {
    const dot = lastEventId.lastIndexOf('.')
    if (dot <= 0 || lastEventId.slice(0, dot) !== this.boot) return undefined
    const after = Number(lastEventId.slice(dot + 1))
    if (!Number.isSafeInteger(after) || after < this.validFrom || after > this.seq) return undefined
    this.trim()
    const oldest = this.window[0]?.seq ?? this.seq + 1
    // Records after `after` must all still be here: the first one missing means a gap.
    if (after + 1 < oldest) return undefined
    return this.window.slice(after + 1 - oldest)
  }

  private stopRecording (): void {
    if (this.pauseTimer !== undefined) clearTimeout(this.pauseTimer)
    this.pauseTimer = undefined
    this.recording = false
    this.mirror.off('change', this.onChange)
    this.mirror.off('settled', this.flush)
    this.pending.clear()
    this.lastHash.clear()
    this.window.length = 0
    this.madeAt.length = 0
  }

  private readonly flush = (): void => {
    const now = Date.now()
    for (const [call, at] of this.pending) {
      const ended = this.mirror.calls.get(call.key) !== call
      const phoneCall = ended ? undefined : this.calls.project(call)
      const json = phoneCall === undefined ? '' : JSON.stringify(phoneCall)
      if (ended) {
        this.lastHash.delete(call)
      } else {
        const hash = fnv1a(json)
        if (this.lastHash.get(call) === hash) continue
        this.lastHash.set(call, hash)
      }
      const record: FeedRecord = { seq: ++this.seq, callId: call.id, phoneCall, json, parties: new Map(call.parties), at }
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

/** 32-bit FNV-1a of a string's UTF-16 code units. */
function fnv1a (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
