// PhoneCallEvents delivery: a transactional outbox in the engine's PostgreSQL (or PGlite).
//
// publish(event) inserts one outbox row per enabled subscription of (extension, type), keyed
// UNIQUE (subscription, event key), with ON CONFLICT DO NOTHING RETURNING: when several engine
// instances on one database see the same AMI event, exactly one insert wins, and that instance
// delivers at once (no poll in the way) under a lease. A failed attempt is put back with a
// next_at (exponential backoff); any instance's sweep takes due rows with FOR UPDATE SKIP LOCKED
// and a lease, so retries survive the instance that scheduled them, and a crashed instance's
// lease expires. publish() never waits for HTTP; a slow or dead receiver only fills its own
// per-target queue (bounded concurrency, per-request timeout), never another's.
//
// Guarantee: at least once. A receiver sees an event twice only if an instance died after the
// receiver answered and before the row was marked delivered (dedupe on X-UAPI-Event-Id).
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { Logger } from 'pino'
import type { Database } from '../storage/index.ts'
import { EVENT_ID_HEADER, SIGNATURE_HEADER, sign } from './signature.ts'
import type { TargetGuard } from './targets.ts'
import type { CallEvent, EventType } from './types.ts'

export interface DeliveryOptions {
  /** Whole HTTP attempt, connect to response headers. */
  readonly timeoutMs: number
  /** Attempts per event and subscription, the first included; then the row is dead-lettered. */
  readonly maxAttempts: number
  /** Backoff before attempt n+1: backoffMs * 2^(n-1), capped at backoffMaxMs, half of it jittered. */
  readonly backoffMs: number
  readonly backoffMaxMs: number
  /** How long a row stays with the instance attempting it; after that any instance may take it. */
  readonly leaseMs: number
  /** How often every instance looks for due retries and expired leases. */
  readonly sweepMs: number
  /** Requests in flight to one target (scheme, host, port); more wait in its queue. */
  readonly concurrencyPerTarget: number
  /** Attempts waiting for one target; beyond, an attempt is put back for later without counting. */
  readonly queuePerTarget: number
  /** Delivered rows are deleted after this long; dead-lettered ones after deadRetentionMs. */
  readonly retentionMs: number
  readonly deadRetentionMs: number
}

export type DeliveryState = 'pending' | 'delivered' | 'dead'

/** One outbox row as the deliveries route shows it. */
export interface DeliveryRecord {
  /** The X-UAPI-Event-Id the receiver got. */
  readonly id: string
  readonly phoneCallEventId: string
  readonly type: EventType
  readonly eventKey: string
  readonly state: DeliveryState
  readonly attempts: number
  readonly lastStatusCode?: number
  readonly lastError?: string
  /** ms epoch. */
  readonly created: number
  readonly done?: number
  readonly nextAttempt?: number
}

/** Monotonic totals since start (read by /metrics). */
export interface DeliveryStats {
  /** Outbox rows this instance inserted (events x subscriptions it won). */
  published: number
  delivered: number
  /** Failed attempts put back for a retry. */
  retried: number
  deadLettered: number
  /** Attempts that could not start because their target's queue was full (put back, not counted). */
  deferred: number
}

/** After a successful attempt: ms from the event's time (Asterisk's) to the receiver's answer, and which attempt it was. */
export type DeliveredListener = (latencyMs: number, attempt: number) => void

interface Job {
  readonly pk: string
  readonly eventId: string
  readonly url: string
  readonly method: number
  readonly secret: string
  readonly payload: string
  /** Attempts made before this one. */
  readonly attempts: number
  readonly eventAtMs: number
}

interface JobRow {
  pk: string
  event_id: string
  url: string
  method: number
  secret: string
  payload: string
  attempts: number
  event_at_ms: number
}

type Outcome =
  | { readonly kind: 'delivered', readonly status: number }
  | { readonly kind: 'retry', readonly status?: number, readonly error: string }
  | { readonly kind: 'final', readonly status?: number, readonly error: string }

const JOB_COLUMNS = 'o.pk::text AS pk, o.event_id, s.url, s.method, s.secret, o.payload, o.attempts, (extract(epoch FROM o.event_at) * 1000)::float8 AS event_at_ms'

const SWEEP_BATCH = 100
const PRUNE_EVERY_MS = 60_000

const PUBLISH_SQL = `
WITH ins AS (
  INSERT INTO event_outbox (event_id, subscription_pk, event_key, event_at, payload, lease_owner, lease_until)
  SELECT md5(s.pk::text || ':' || $4), s.pk, $4, to_timestamp($5::float8 / 1000), $6, $7, clock_timestamp() + $8 * interval '1 millisecond'
  FROM event_subscriptions s
  WHERE s.extension = $1 AND s.organization_id = $2 AND s.type = $3 AND s.status = 1
  ON CONFLICT DO NOTHING
  RETURNING pk, event_id, subscription_pk, event_at, payload, attempts
)
SELECT ${JOB_COLUMNS}
FROM ins AS o JOIN event_subscriptions s ON s.pk = o.subscription_pk`

const SWEEP_SQL = `
WITH due AS (
  SELECT pk FROM event_outbox
  WHERE state = 'pending' AND next_at <= clock_timestamp() AND (lease_until IS NULL OR lease_until < clock_timestamp())
  ORDER BY next_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
)
UPDATE event_outbox o SET lease_owner = $1, lease_until = clock_timestamp() + $3 * interval '1 millisecond'
FROM due, event_subscriptions s
WHERE o.pk = due.pk AND s.pk = o.subscription_pk
RETURNING ${JOB_COLUMNS}`

/** One attempt's outcome from an HTTP status. 408 and 429 are worth retrying; other 4xx and 3xx are final (no redirects are followed). */
export function outcomeOf (status: number): Outcome {
  if (status >= 200 && status < 300) return { kind: 'delivered', status }
  if (status >= 500 || status === 408 || status === 429) return { kind: 'retry', status, error: `HTTP ${status}` }
  return { kind: 'final', status, error: `HTTP ${status}` }
}

/** Form encoding of the event's parameters: the POST body, or what a GET appends to the query. */
export function encodeParams (params: Readonly<Record<string, string>>): string {
  return new URLSearchParams(Object.entries(params)).toString()
}

class TargetLimiter {
  #active = 0
  readonly #queue: Array<() => void> = []

  constructor (readonly concurrency: number, readonly queueMax: number) {}

  get busy (): boolean {
    return this.#active > 0 || this.#queue.length > 0
  }

  /** Resolves true once a slot is free; false at once when the queue is full. */
  async acquire (): Promise<boolean> {
    if (this.#active < this.concurrency) {
      this.#active++
      return true
    }
    if (this.#queue.length >= this.queueMax) return false
    return await new Promise((resolve) => this.#queue.push(() => { this.#active++; resolve(true) }))
  }

  release (): void {
    this.#active--
    this.#queue.shift()?.()
  }
}

export class EventDelivery {
  readonly instanceId: string
  readonly stats: DeliveryStats = { published: 0, delivered: 0, retried: 0, deadLettered: 0, deferred: 0 }
  readonly #db: Database
  readonly #guard: TargetGuard
  readonly #log: Logger
  readonly #o: DeliveryOptions
  readonly #limiters = new Map<string, TargetLimiter>()
  readonly #inFlight = new Set<Promise<void>>()
  readonly #listeners = new Set<DeliveredListener>()
  readonly #agents: { http: http.Agent, https: https.Agent }
  #sweepTimer: NodeJS.Timeout | undefined
  #wakeTimer: NodeJS.Timeout | undefined
  #wakeAt = Infinity
  #sweeping: Promise<number> | undefined
  #sweepAgain = false
  #lastPrune = 0
  #closed = false

  constructor (db: Database, guard: TargetGuard, options: DeliveryOptions & { readonly log: Logger, readonly instanceId?: string }) {
    this.#db = db
    this.#guard = guard
    this.#log = options.log
    this.#o = options
    this.instanceId = options.instanceId ?? randomBytes(8).toString('hex')
    const agent = { keepAlive: true, maxSockets: options.concurrencyPerTarget, scheduling: 'lifo' as const }
    this.#agents = { http: new http.Agent(agent), https: new https.Agent(agent) }
  }

  /** Calls `listener` after each successful delivery (the latency histogram of /metrics). */
  onDelivered (listener: DeliveredListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /**
   * Records `event` for every enabled subscription of (extension, type) and starts delivering the
   * rows this instance won. Resolves once the rows are written, with how many this instance won
   * (0 when another instance had already written them); never waits for HTTP, never rejects
   * (a database failure is logged: the event is lost for this instance).
   */
  async publish (event: CallEvent): Promise<number> {
    if (this.#closed) return 0
    let rows: JobRow[]
    try {
      rows = await this.#db.query<JobRow>(PUBLISH_SQL, [
        event.extension, event.organizationId, event.type, event.key, event.at, encodeParams(event.params), this.instanceId, this.#o.leaseMs
      ])
    } catch (err) {
      this.#log.error({ err, key: event.key, extension: event.extension, type: event.type }, 'event not recorded: database failure')
      return 0
    }
    this.stats.published += rows.length
    for (const row of rows) this.#start(jobOf(row))
    return rows.length
  }

  /** Starts the periodic sweep (due retries, expired leases, pruning). */
  start (): void {
    if (this.#closed || this.#sweepTimer !== undefined) return
    this.#sweepTimer = setInterval(() => { void this.sweep() }, this.#o.sweepMs)
    this.#sweepTimer.unref()
    void this.sweep()
  }

  /** Takes due rows (retries, expired leases) under a lease and starts their attempts; how many. */
  async sweep (): Promise<number> {
    if (this.#closed) return 0
    if (this.#sweeping !== undefined) {
      this.#sweepAgain = true
      return await this.#sweeping
    }
    this.#sweeping = this.#sweepOnce().finally(() => { this.#sweeping = undefined })
    const n = await this.#sweeping
    if (this.#sweepAgain || n === SWEEP_BATCH) {
      this.#sweepAgain = false
      this.#wake(0)
    }
    return n
  }

  async #sweepOnce (): Promise<number> {
    let rows: JobRow[]
    try {
      rows = await this.#db.query<JobRow>(SWEEP_SQL, [this.instanceId, SWEEP_BATCH, this.#o.leaseMs])
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'event delivery sweep failed; next sweep retries')
      return 0
    }
    for (const row of rows) this.#start(jobOf(row))
    if (Date.now() - this.#lastPrune >= Math.max(this.#o.sweepMs, PRUNE_EVERY_MS)) {
      this.#lastPrune = Date.now()
      await this.prune().catch((err: unknown) => { this.#log.warn({ err: (err as Error).message }, 'outbox pruning failed') })
    }
    return rows.length
  }

  /** Deletes delivered rows past retentionMs, dead ones past deadRetentionMs, and expired claims. */
  async prune (): Promise<{ delivered: number, dead: number }> {
    const [row] = await this.#db.query<{ delivered: number, dead: number }>(
      `WITH d AS (
         DELETE FROM event_outbox
         WHERE (state = 'delivered' AND done_at < clock_timestamp() - $1 * interval '1 millisecond')
            OR (state = 'dead' AND done_at < clock_timestamp() - $2 * interval '1 millisecond')
         RETURNING state
       )
       SELECT count(*) FILTER (WHERE state = 'delivered')::int AS delivered, count(*) FILTER (WHERE state = 'dead')::int AS dead FROM d`,
      [this.#o.retentionMs, this.#o.deadRetentionMs])
    await this.#db.query('DELETE FROM claims WHERE expires_at <= clock_timestamp()')
    return { delivered: Number(row?.delivered ?? 0), dead: Number(row?.dead ?? 0) }
  }

  /** Resolves when no attempt of this instance is in flight (tests, shutdown). */
  async idle (): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight])
  }

  /** Stops sweeping, lets attempts in flight finish (each is bounded by timeoutMs), closes sockets. */
  async close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#sweepTimer)
    clearTimeout(this.#wakeTimer)
    await this.#sweeping?.catch(() => 0)
    await this.idle()
    this.#agents.http.destroy()
    this.#agents.https.destroy()
  }

  /** The outbox rows of an extension's subscriptions, newest first (the deliveries route). */
  async deliveries (extension: string, q: { state?: DeliveryState | undefined, type?: EventType | undefined, id?: string | undefined, startIndex: number, count: number }): Promise<{ total: number, entries: DeliveryRecord[] }> {
    const params: unknown[] = [extension]
    let where = 's.extension = $1'
    if (q.state !== undefined) { params.push(q.state); where += ` AND o.state = $${params.length}` }
    if (q.type !== undefined) { params.push(q.type); where += ` AND s.type = $${params.length}` }
    if (q.id !== undefined) { params.push(q.id); where += ` AND s.id = $${params.length}` }
    const [count] = await this.#db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_outbox o JOIN event_subscriptions s ON s.pk = o.subscription_pk WHERE ${where}`, params)
    const rows = await this.#db.query<DeliveryRow>(
      `SELECT o.event_id, s.id AS sid, s.type, o.event_key, o.state, o.attempts, o.last_status, o.last_error,
              (extract(epoch FROM o.created_at) * 1000)::float8 AS created_ms,
              (extract(epoch FROM o.done_at) * 1000)::float8 AS done_ms,
              (extract(epoch FROM o.next_at) * 1000)::float8 AS next_ms
       FROM event_outbox o JOIN event_subscriptions s ON s.pk = o.subscription_pk
       WHERE ${where}
       ORDER BY o.pk DESC
       LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, q.count, q.startIndex])
    const entries = rows.map((r): DeliveryRecord => ({
      id: r.event_id,
      phoneCallEventId: r.sid,
      type: Number(r.type) as EventType,
      eventKey: r.event_key,
      state: r.state,
      attempts: Number(r.attempts),
      ...(r.last_status !== null ? { lastStatusCode: Number(r.last_status) } : {}),
      ...(r.last_error !== null ? { lastError: r.last_error } : {}),
      created: Math.floor(Number(r.created_ms)),
      ...(r.done_ms !== null ? { done: Math.floor(Number(r.done_ms)) } : {}),
      ...(r.state === 'pending' ? { nextAttempt: Math.floor(Number(r.next_ms)) } : {})
    }))
    return { total: Number(count?.n ?? 0), entries }
  }

  #start (job: Job): void {
    const p = this.#attempt(job).catch((err: unknown) => {
      this.#log.error({ err, eventId: job.eventId }, 'event delivery failed unexpectedly; the lease expiry retries it')
    })
    this.#inFlight.add(p)
    void p.finally(() => this.#inFlight.delete(p))
  }

  async #attempt (job: Job): Promise<void> {
    const target = targetOf(job.url)
    let limiter = this.#limiters.get(target)
    if (limiter === undefined) {
      limiter = new TargetLimiter(this.#o.concurrencyPerTarget, this.#o.queuePerTarget)
      this.#limiters.set(target, limiter)
    }
    if (this.#closed || !await limiter.acquire()) {
      // Not attempted: back to the outbox for a later sweep (this or another instance), not counted.
      this.stats.deferred++
      await this.#putBack(job, this.#o.backoffMs)
      return
    }
    let outcome: Outcome
    try {
      outcome = await this.#send(job)
    } finally {
      limiter.release()
      if (!limiter.busy) this.#limiters.delete(target)
    }
    await this.#record(job, outcome)
  }

  async #send (job: Job): Promise<Outcome> {
    let url: URL
    try {
      url = new URL(job.url)
    } catch {
      return { kind: 'final', error: 'the subscription URL does not parse' }
    }
    url.hash = ''
    const t = Math.floor(Date.now() / 1000)
    const post = job.method === 1
    let target = url.toString()
    let signed = job.payload
    if (!post) {
      target += (url.search === '' ? '?' : '&') + job.payload
      signed = target.slice(target.indexOf('?') + 1)
    }
    const headers: http.OutgoingHttpHeaders = {
      'user-agent': 'uapi-pbx-engine',
      [SIGNATURE_HEADER]: sign(job.secret, t, signed),
      [EVENT_ID_HEADER]: job.eventId,
      'x-uapi-attempt': String(job.attempts + 1)
    }
    if (post) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      headers['content-length'] = Buffer.byteLength(job.payload)
    }
    const secure = url.protocol === 'https:'
    return await new Promise<Outcome>((resolve) => {
      let settled = false
      const finish = (o: Outcome): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(o)
      }
      const req = (secure ? https : http).request(target, {
        method: post ? 'POST' : 'GET',
        headers,
        agent: secure ? this.#agents.https : this.#agents.http,
        lookup: this.#guard.lookup
      }, (res) => {
        res.on('error', () => {})
        res.resume()
        finish(outcomeOf(res.statusCode ?? 0))
      })
      const timer = setTimeout(() => {
        finish({ kind: 'retry', error: `no answer within ${this.#o.timeoutMs} ms` })
        req.destroy()
      }, this.#o.timeoutMs)
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ETARGETFORBIDDEN') finish({ kind: 'final', error: err.message })
        else finish({ kind: 'retry', error: err.code ?? err.message })
      })
      req.end(post ? job.payload : undefined)
    })
  }

  async #record (job: Job, outcome: Outcome): Promise<void> {
    const attempt = job.attempts + 1
    const status = outcome.status ?? null
    let updated: unknown[]
    if (outcome.kind === 'delivered') {
      updated = await this.#db.query(
        `UPDATE event_outbox SET state = 'delivered', attempts = $3, done_at = clock_timestamp(), last_status = $4, last_error = NULL,
           lease_owner = NULL, lease_until = NULL
         WHERE pk = $1::bigint AND lease_owner = $2 RETURNING pk`, [job.pk, this.instanceId, attempt, status])
      this.stats.delivered++
      const latency = Math.max(0, Date.now() - job.eventAtMs)
      for (const l of this.#listeners) l(latency, attempt)
    } else if (outcome.kind === 'retry' && attempt < this.#o.maxAttempts) {
      const delay = this.backoff(attempt)
      updated = await this.#db.query(
        `UPDATE event_outbox SET attempts = $3, next_at = clock_timestamp() + $4 * interval '1 millisecond', last_status = $5, last_error = $6,
           lease_owner = NULL, lease_until = NULL
         WHERE pk = $1::bigint AND lease_owner = $2 RETURNING pk`, [job.pk, this.instanceId, attempt, delay, status, outcome.error])
      this.stats.retried++
      this.#log.info({ eventId: job.eventId, attempt, error: outcome.error, retryInMs: delay }, 'event delivery failed; will retry')
      this.#wake(delay)
    } else {
      updated = await this.#db.query(
        `UPDATE event_outbox SET state = 'dead', attempts = $3, done_at = clock_timestamp(), last_status = $4, last_error = $5,
           lease_owner = NULL, lease_until = NULL
         WHERE pk = $1::bigint AND lease_owner = $2 RETURNING pk`, [job.pk, this.instanceId, attempt, status, outcome.error])
      this.stats.deadLettered++
      // The receiver's problem, not the engine's: visible in the deliveries route and /metrics.
      this.#log.warn({ eventId: job.eventId, attempt, error: outcome.error }, 'event dead-lettered')
    }
    if (updated.length === 0) this.#log.warn({ eventId: job.eventId }, 'event delivery outcome not recorded: the lease had expired and another instance took the row')
  }

  async #putBack (job: Job, delayMs: number): Promise<void> {
    await this.#db.query(
      `UPDATE event_outbox SET next_at = clock_timestamp() + $3 * interval '1 millisecond', lease_owner = NULL, lease_until = NULL
       WHERE pk = $1::bigint AND lease_owner = $2`, [job.pk, this.instanceId, delayMs])
    this.#wake(delayMs)
  }

  /** Delay before attempt n+1 after n failed attempts: exponential, capped, half of it random. */
  backoff (attempts: number): number {
    const full = Math.min(this.#o.backoffMaxMs, this.#o.backoffMs * 2 ** Math.min(30, attempts - 1))
    return Math.round(full / 2 + Math.random() * full / 2)
  }

  /** Sweeps after delayMs (a retry this instance scheduled), unless an earlier wake-up is set. */
  #wake (delayMs: number): void {
    if (this.#closed) return
    const at = Date.now() + delayMs
    if (at >= this.#wakeAt) return
    clearTimeout(this.#wakeTimer)
    this.#wakeAt = at
    // A few ms late, so that the database clock has certainly passed next_at.
    this.#wakeTimer = setTimeout(() => {
      this.#wakeAt = Infinity
      void this.sweep()
    }, delayMs + 5)
    this.#wakeTimer.unref()
  }
}

interface DeliveryRow {
  event_id: string
  sid: string
  type: number
  event_key: string
  state: DeliveryState
  attempts: number
  last_status: number | null
  last_error: string | null
  created_ms: number
  done_ms: number | null
  next_ms: number
}

function jobOf (r: JobRow): Job {
  return {
    pk: String(r.pk),
    eventId: r.event_id,
    url: r.url,
    method: Number(r.method),
    secret: r.secret,
    payload: r.payload,
    attempts: Number(r.attempts),
    eventAtMs: Number(r.event_at_ms)
  }
}

/** Concurrency is bounded per scheme, host and port. */
function targetOf (url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}`
  } catch {
    return url
  }
}
