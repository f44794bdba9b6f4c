// Keeps the mirror equal to Asterisk: a full CoreShowChannels resync after every (re)connect and
// FullyBooted, events buffered while the snapshot is taken (so none is lost in the window), and a
// periodic drift check that reports what the event stream missed (reference E.4.5).
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { AmiClient, AmiEvent } from '../ami/index.ts'
import type { Mirror } from './mirror.ts'

/** stale: not synced with Asterisk (never, or the connection is gone); syncing: first snapshot under way. */
export type MirrorState = 'stale' | 'syncing' | 'live'

export interface SyncReport {
  readonly reason: string
  readonly added: number
  readonly removed: number
  readonly legs: number
  readonly ms: number
}

export interface SyncOptions {
  /** How often to compare the mirror with CoreShowChannels while live (0 disables). */
  readonly driftCheckMs?: number
  /** Deadline for one CoreShowChannels. */
  readonly snapshotTimeoutMs?: number
}

export interface SyncEvents {
  state: [state: MirrorState]
  synced: [report: SyncReport]
}

export class MirrorSync extends EventEmitter<SyncEvents> {
  private current: MirrorState = 'stale'
  private buffer: AmiEvent[] | undefined
  private running: Promise<void> | undefined
  private rerun: string | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly driftCheckMs: number
  private readonly snapshotTimeoutMs: number
  /** Totals for metrics. */
  readonly totals = { resyncs: 0, driftAdded: 0, driftRemoved: 0, failures: 0 }

  constructor (private readonly ami: AmiClient, private readonly mirror: Mirror, private readonly log: Logger, opts: SyncOptions = {}) {
    super()
    this.driftCheckMs = opts.driftCheckMs ?? 30_000
    this.snapshotTimeoutMs = opts.snapshotTimeoutMs ?? 30_000
  }

  get state (): MirrorState { return this.current }

  start (): void {
    this.ami.on('ready', this.onReady)
    this.ami.on('event', this.onEvent)
    this.ami.on('disconnected', this.onDisconnected)
    if (this.ami.state === 'ready') this.onReady()
    if (this.driftCheckMs > 0) {
      this.timer = setInterval(this.onTick, this.driftCheckMs)
      this.timer.unref()
    }
  }

  stop (): void {
    this.ami.off('ready', this.onReady)
    this.ami.off('event', this.onEvent)
    this.ami.off('disconnected', this.onDisconnected)
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Resolves once the mirror is live (or rejects after `timeoutMs`). */
  async whenLive (timeoutMs: number): Promise<void> {
    if (this.current === 'live') return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { this.off('state', onState); reject(new Error('mirror not live in time')) }, timeoutMs)
      const onState = (s: MirrorState): void => {
        if (s !== 'live') return
        clearTimeout(timer)
        this.off('state', onState)
        resolve()
      }
      this.on('state', onState)
    })
  }

  /** Runs a resync now (or right after the one under way) and resolves when it is done. */
  resync (reason: string): Promise<void> {
    if (this.running !== undefined) {
      this.rerun = reason
      return this.running
    }
    this.running = this.run(reason).finally(() => {
      this.running = undefined
      const again = this.rerun
      this.rerun = undefined
      if (again !== undefined && this.ami.state === 'ready') void this.resync(again)
    })
    return this.running
  }

  private readonly onReady = (): void => {
    // A new session: whatever we mirrored may be stale (Asterisk may even have restarted).
    this.setState('syncing')
    void this.resync('connect')
  }

  private readonly onDisconnected = (): void => {
    this.buffer = undefined
    this.setState('stale')
  }

  private readonly onTick = (): void => {
    this.mirror.sweep()
    if (this.current === 'live' && this.running === undefined) void this.resync('drift-check')
  }

  private readonly onEvent = (e: AmiEvent): void => {
    if (this.buffer !== undefined) {
      this.buffer.push(e)
      return
    }
    this.mirror.apply(e)
    if (e.event === 'FullyBooted' && this.current === 'live') void this.resync('fully-booted')
    else if (e.event === 'Shutdown') this.setState('stale')
  }

  private async run (reason: string): Promise<void> {
    const started = Date.now()
    const buffer: AmiEvent[] = []
    this.buffer = buffer
    try {
      const list = await this.ami.list('CoreShowChannels', undefined, { timeoutMs: this.snapshotTimeoutMs })
      if (this.buffer !== buffer) return // the connection dropped meanwhile: the next session resyncs
      // Legs created or hung up while the snapshot was taken are explained, not drift.
      const explained = new Set<string>()
      for (const e of buffer) {
        if ((e.event === 'Newchannel' || e.event === 'Hangup') && e.uniqueid !== undefined) explained.add(e.uniqueid)
      }
      // Parked calls are not in CoreShowChannels. A PBX without res_parking refuses the action:
      // it has no parked calls either.
      const parked = await this.ami.list('ParkedCalls', undefined, { timeoutMs: this.snapshotTimeoutMs }).catch(() => undefined)
      if (this.buffer !== buffer) return
      const drift = this.mirror.applySnapshot(list.items, explained)
      if (parked !== undefined) this.mirror.applyParkedList(parked.items)
      this.buffer = undefined
      for (const e of buffer) this.mirror.apply(e)
      this.totals.resyncs++
      this.totals.driftAdded += drift.added
      this.totals.driftRemoved += drift.removed
      const report: SyncReport = { reason, ...drift, legs: this.mirror.legs.size, ms: Date.now() - started }
      const level = reason === 'drift-check' && drift.added + drift.removed === 0 ? 'debug' : 'info'
      this.log[level](report, 'mirror synced with Asterisk')
      this.setState('live')
      this.emit('synced', report)
    } catch (err) {
      this.totals.failures++
      if (this.buffer === buffer) {
        // Still connected: keep the events we held back and try again soon.
        this.buffer = undefined
        for (const e of buffer) this.mirror.apply(e)
        if (this.ami.state === 'ready') {
          this.log.warn({ err, reason }, 'mirror resync failed; retrying')
          setTimeout(() => { void this.resync(reason) }, 1000).unref()
        }
      }
    }
  }

  private setState (next: MirrorState): void {
    if (next === this.current) return
    this.current = next
    this.log.info({ state: next }, 'mirror state')
    this.emit('state', next)
  }
}
