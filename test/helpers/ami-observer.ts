/**
 * AmiObserver: a second AMI session for assertions in PBX tests. It records every event it receives
 * and lets a test wait for one with a deadline (never a fixed sleep).
 *
 *   const obs = await AmiObserver.connect()            // 127.0.0.1:5038 uapi (env AMI_HOST/PORT/USER/SECRET)
 *   const mark = obs.mark()                            // index of the next event
 *   const e = await obs.waitFor({ event: 'Hangup', uniqueid: id }, { timeoutMs: 5000, from: mark })
 *   const e2 = await obs.waitFor((e) => e.event === 'Newchannel' && e.channel?.startsWith('Local/'))
 *   obs.events({ event: 'UserEvent' })                 // recorded so far (optionally from a mark)
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

function toPredicate (m: EventMatch): (e: AmiEvent) => boolean {
  if (typeof m === 'function') return m
  const entries = Object.entries(m)
  return (e) => entries.every(([k, v]) => e[k] === v)
}

interface Waiter {
  readonly pred: (e: AmiEvent) => boolean
  readonly resolve: (e: AmiEvent) => void
}

export class AmiObserver {
  readonly client: AmiClient
  session: AmiSession | undefined
  private readonly recorded: AmiEvent[] = []
  private readonly waiters = new Set<Waiter>()

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
  }

  static async connect (opts: ObserverOptions = {}): Promise<AmiObserver> {
    const client = new AmiClient({
      host: opts.host ?? AMI_DEFAULTS.host,
      port: opts.port ?? AMI_DEFAULTS.port,
      username: opts.username ?? AMI_DEFAULTS.username,
      secret: opts.secret ?? AMI_DEFAULTS.secret,
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
    return this.recorded.length
  }

  events (match?: EventMatch, from = 0): AmiEvent[] {
    const list = this.recorded.slice(from)
    return match === undefined ? list : list.filter(toPredicate(match))
  }

  waitFor (match: EventMatch, opts: { timeoutMs?: number, from?: number } = {}): Promise<AmiEvent> {
    const pred = toPredicate(match)
    const from = opts.from ?? 0
    for (let i = from; i < this.recorded.length; i++) {
      const e = this.recorded[i] as AmiEvent
      if (pred(e)) return Promise.resolve(e)
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
        reject(new Error(`AmiObserver: no matching event within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.add(waiter)
    })
  }

  async close (): Promise<void> {
    await this.client.close()
  }
}
