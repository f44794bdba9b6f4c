/**
 * AmiObserver: a second AMI session for assertions in PBX tests. It records every event it receives
 * and lets a test wait for one with a deadline (never a fixed sleep).
 *
 *   const obs = await AmiObserver.connect()            // 127.0.0.1:5038 uapi-observer (env AMI_HOST/PORT, AMI_OBSERVER_USER/SECRET)
 *   const mark = obs.mark()                            // index of the next event
 *   const e = await obs.waitFor({ event: 'Hangup', uniqueid: id }, { timeoutMs: 5000, from: mark })
 *   const e2 = await obs.waitFor((e) => e.event === 'Newchannel' && e.channel?.startsWith('Local/'))
 *   obs.events({ event: 'UserEvent' })                 // recorded so far (optionally from a mark)
 *   t.same(await obs.tracesAfter(mark), [])            // Asterisk did nothing for 1 s more (any action's trace)
 *   await obs.close()
 *
 * A match is an object of exact header values (lower-case keys, as in AmiEvent) or a predicate.
 * waitFor also looks at events already recorded (from `from`, default 0), so there is no race
 * between triggering something and starting to wait for it.
 */
import pino from 'pino'
import type { Logger } from 'pino'
import { AmiClient } from '../../src/ami/index.ts'
import type { AmiEvent, AmiSession } from '../../src/ami/index.ts'

export type EventMatch = ((e: AmiEvent) => boolean) | Readonly<Record<string, string>>

export interface ObserverOptions {
  readonly host?: string
  readonly port?: number
  readonly username?: string
  readonly secret?: string
  readonly logger?: Logger
  /** Deadline for the first login. Default 10000. */
  readonly readyTimeoutMs?: number
}

export const AMI_DEFAULTS = {
  host: process.env.AMI_HOST ?? '127.0.0.1',
  port: Number(process.env.AMI_PORT ?? 5038),
  username: process.env.AMI_USER ?? 'uapi',
  secret: process.env.AMI_SECRET ?? 'uapi-dev-secret'
} as const

/** The witness user (asterisk/manager.conf [uapi-observer]): every event, no filter. */
export const OBSERVER_DEFAULTS = {
  username: process.env.AMI_OBSERVER_USER ?? 'uapi-observer',
  secret: process.env.AMI_OBSERVER_SECRET ?? 'uapi-observer-secret'
} as const

/**
 * What an AMI action by anyone leaves behind on Asterisk: Originate (Newchannel, DialBegin,
 * OriginateResponse), Redirect and transfers (Newexten, BridgeLeave/Enter, BlindTransfer), Hangup
 * (HangupRequest, SoftHangupRequest, Hangup), Setvar (VarSet), and the applications the engine runs
 * (Pickup, music on hold, parking, recording, ChanSpy, UserEvent).
 */
export const ACTION_TRACES: ReadonlySet<string> = new Set([
  'Newchannel', 'DialBegin', 'OriginateResponse', 'Newexten', 'VarSet', 'BridgeEnter', 'BridgeLeave',
  'BlindTransfer', 'AttendedTransfer', 'HangupRequest', 'SoftHangupRequest', 'Hangup', 'Pickup',
  'MusicOnHoldStart', 'ParkedCall', 'MixMonitorStart', 'ChanSpyStart', 'UserEvent'
])

function toPredicate (m: EventMatch): (e: AmiEvent) => boolean {
  if (typeof m === 'function') return m
  const entries = Object.entries(m)
  return (e) => entries.every(([k, v]) => e[k] === v)
}

/** The placeholder mark() records (see there). */
const MARK: AmiEvent = Object.freeze({ event: '' })

interface Waiter {
  readonly pred: (e: AmiEvent) => boolean
  readonly resolve: (e: AmiEvent) => void
}

export class AmiObserver {
  readonly client: AmiClient
  session: AmiSession | undefined
  private readonly recorded: AmiEvent[] = []
  private readonly waiters = new Set<Waiter>()
  /** When each mark was taken (wall clock, as Asterisk's event timestamps). */
  private readonly markedAt = new Map<number, number>()
  /** recorded.length at each loss of the session. */
  private readonly drops: number[] = []

  private constructor (client: AmiClient) {
    this.client = client
    client.on('event', (e) => {
      this.recorded.push(e)
      for (const w of this.waiters) {
        if (w.pred(e)) {
          this.waiters.delete(w)
          w.resolve(e)
        }
      }
    })
    client.on('ready', (s) => { this.session = s })
    // Events sent while this session is gone are lost to it: say so instead of proving nothing.
    client.on('disconnected', () => { this.drops.push(this.recorded.length) })
  }

  static async connect (opts: ObserverOptions = {}): Promise<AmiObserver> {
    const client = new AmiClient({
      host: opts.host ?? AMI_DEFAULTS.host,
      port: opts.port ?? AMI_DEFAULTS.port,
      username: opts.username ?? OBSERVER_DEFAULTS.username,
      secret: opts.secret ?? OBSERVER_DEFAULTS.secret,
      logger: opts.logger ?? pino({ level: 'silent' })
    })
    const obs = new AmiObserver(client)
    const timeoutMs = opts.readyTimeoutMs ?? 10_000
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off('ready', onReady)
        void client.close()
        reject(new Error(`AmiObserver: not logged in within ${timeoutMs} ms (state ${client.state})`))
      }, timeoutMs)
      const onReady = (): void => {
        clearTimeout(timer)
        resolve()
      }
      client.once('ready', onReady)
      client.start()
    })
    return obs
  }

  /** Index of the next event to arrive; pass it as `from` to look only at later events. */
  mark (): number {
    // A placeholder entry gives every mark an index (and a time) of its own, even when no event
    // arrived between two marks; events() and waitFor() never return it.
    this.recorded.push(MARK)
    const at = this.recorded.length
    this.markedAt.set(at, Date.now())
    return at
  }

  events (match?: EventMatch, from = 0): AmiEvent[] {
    const list = this.recorded.slice(from).filter((e) => e !== MARK)
    return match === undefined ? list : list.filter(toPredicate(match))
  }

  waitFor (match: EventMatch, opts: { timeoutMs?: number, from?: number } = {}): Promise<AmiEvent> {
    const pred = toPredicate(match)
    const from = opts.from ?? 0
    for (let i = from; i < this.recorded.length; i++) {
      const e = this.recorded[i] as AmiEvent
      if (e !== MARK && pred(e)) return Promise.resolve(e)
    }
    const timeoutMs = opts.timeoutMs ?? 5000
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pred,
        resolve: (e) => {
          clearTimeout(timer)
          resolve(e)
        }
      }
      const timer = setTimeout(() => {
        this.waiters.delete(waiter)
        const lost = this.drops.some((d) => d >= from) ? ' (the observer lost its AMI session meanwhile: events were missed)' : ''
        reject(new Error(`AmiObserver: no matching event within ${timeoutMs} ms${lost}`))
      }, timeoutMs)
      this.waiters.add(waiter)
    })
  }

  /**
   * Proof that nothing happened: watches Asterisk for `windowMs` (at least 1 s) more, then returns
   * every trace of an action (ACTION_TRACES) recorded since `from`, optionally narrowed by `match`.
   * An empty array means Asterisk did nothing of the kind for the whole window.
   */
  async tracesAfter (from: number, { windowMs = 1_000, match }: { windowMs?: number, match?: EventMatch } = {}): Promise<AmiEvent[]> {
    if (windowMs < 1_000) throw new Error('tracesAfter: watch for at least 1 s')
    await new Promise((resolve) => setTimeout(resolve, windowMs))
    if (this.drops.some((d) => d >= from)) throw new Error('AmiObserver: the session dropped during the window; nothing can be concluded')
    const pred = match === undefined ? () => true : toPredicate(match)
    // This session may still be receiving what happened before the mark (it sees every event, so
    // it can lag behind the engine's): Asterisk's own timestamps decide what came after it.
    const since = this.markedAt.get(from)
    const after = (e: AmiEvent): boolean => since === undefined || e.timestamp === undefined || Number(e.timestamp) * 1000 >= since
    return this.events((e) => ACTION_TRACES.has(e.event) && after(e) && pred(e), from)
  }

  async close (): Promise<void> {
    await this.client.close()
  }
}
