// PhoneCallEvent subscriptions in the database: one row per (extension, type, id). The signing
// secret is generated here, handed back once by create(), and never read back by the listing calls.
import { randomBytes } from 'node:crypto'
import type { Database } from '../storage/index.ts'
import type { EventType, Subscription } from './types.ts'

export interface NewSubscription {
  readonly extension: string
  readonly organizationId: string
  readonly type: EventType
  /** Alphanumeric, 1-255; generated when absent. */
  readonly id?: string | undefined
  readonly url: string
  readonly method: 0 | 1
  readonly status: 0 | 1
  readonly note: string
}

export interface SubscriptionChange {
  readonly url?: string | undefined
  readonly method?: 0 | 1 | undefined
  readonly status?: 0 | 1 | undefined
  readonly note?: string | undefined
}

/** Which subscriptions of one extension: all, one type, or one (type, id). */
export interface SubscriptionSelector {
  readonly extension: string
  readonly type?: EventType | undefined
  readonly id?: string | undefined
}

export type CreateResult =
  | { readonly ok: true, readonly subscription: Subscription, readonly secret: string }
  | { readonly ok: false, readonly reason: 'duplicate' | 'limit' }

interface Row {
  extension: string
  organization_id: string
  type: number
  id: string
  url: string
  method: number
  status: number
  note: string
  modified_ms: number
}

const COLUMNS = 'extension, organization_id, type, id, url, method, status, note, (extract(epoch FROM modified_at) * 1000)::float8 AS modified_ms'

export const SUBSCRIPTION_ID = /^[A-Za-z0-9]{1,255}$/

const toSubscription = (r: Row): Subscription => ({
  extension: r.extension,
  organizationId: r.organization_id,
  type: Number(r.type) as EventType,
  id: r.id,
  url: r.url,
  method: Number(r.method) as 0 | 1,
  status: Number(r.status) as 0 | 1,
  note: r.note,
  modified: Math.floor(Number(r.modified_ms))
})

function where (s: SubscriptionSelector): { sql: string, params: unknown[] } {
  const params: unknown[] = [s.extension]
  let sql = 'extension = $1'
  if (s.type !== undefined) { params.push(s.type); sql += ` AND type = $${params.length}` }
  if (s.id !== undefined) { params.push(s.id); sql += ` AND id = $${params.length}` }
  return { sql, params }
}

export class SubscriptionStore {
  readonly #db: Database
  readonly #maxPerExtension: number
  /**
   * "<type>:<extension>" of every enabled subscription, so that the many call events nobody
   * subscribed to cost no query; undefined while unknown (then every event is published). Local
   * writes clear it before they run and reload it after; another instance's writes are seen at the
   * next periodic reload (startRefresh, with a shared database).
   */
  #enabled: Set<string> | undefined
  /** The extensions in #enabled. */
  #extensions: Set<string> | undefined
  #loads = 0
  #refreshTimer: NodeJS.Timeout | undefined

  constructor (db: Database, options: { maxPerExtension: number }) {
    this.#db = db
    this.#maxPerExtension = options.maxPerExtension
  }

  /** False only when no enabled subscription of (extension, type) exists (as far as this instance knows). */
  mayHave (extension: string, type: EventType): boolean {
    return this.#enabled === undefined || this.#enabled.has(`${type}:${extension}`)
  }

  /** False only when the extension has no enabled subscription of any type (as far as this instance knows). */
  mayHaveAny (extension: string): boolean {
    return this.#extensions === undefined || this.#extensions.has(extension)
  }

  /** Reloads which (extension, type) have enabled subscriptions. */
  async refreshEnabled (): Promise<void> {
    const load = ++this.#loads
    try {
      const rows = await this.#db.query<{ extension: string, type: number }>('SELECT DISTINCT extension, type FROM event_subscriptions WHERE status = 1')
      // A write that started meanwhile cleared the set and loads again: this answer may predate it.
      if (load === this.#loads) {
        this.#enabled = new Set(rows.map((r) => `${Number(r.type)}:${r.extension}`))
        this.#extensions = new Set(rows.map((r) => r.extension))
      }
    } catch {
      if (load === this.#loads) {
        this.#enabled = undefined
        this.#extensions = undefined
      }
    }
  }

  /** Reloads every `ms` (several instances on one database: their writes are seen within `ms`). */
  startRefresh (ms: number): void {
    void this.refreshEnabled()
    if (ms <= 0 || this.#refreshTimer !== undefined) return
    this.#refreshTimer = setInterval(() => { void this.refreshEnabled() }, ms)
    this.#refreshTimer.unref()
  }

  stopRefresh (): void {
    if (this.#refreshTimer !== undefined) clearInterval(this.#refreshTimer)
    this.#refreshTimer = undefined
  }

  /** Runs a write with the cache cleared (every event is published meanwhile), then reloads it. */
  async #writing<T> (write: () => Promise<T>): Promise<T> {
    this.#loads++
    this.#enabled = undefined
    this.#extensions = undefined
    try {
      return await write()
    } finally {
      void this.refreshEnabled()
    }
  }

  /** Saves a new subscription with a fresh secret; refused when (extension, type, id) exists or the extension is full. */
  async create (s: NewSubscription): Promise<CreateResult> {
    const id = s.id ?? randomBytes(10).toString('hex')
    const secret = randomBytes(32).toString('base64url')
    return await this.#writing(async () => await this.#db.transaction(async (tx) => {
      // Serializes creates per extension, so the limit holds across instances.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`pce:${s.extension}`])
      const [count] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM event_subscriptions WHERE extension = $1', [s.extension])
      if (Number(count?.n ?? 0) >= this.#maxPerExtension) return { ok: false as const, reason: 'limit' as const }
      const rows = await tx.query<Row>(
        `INSERT INTO event_subscriptions (organization_id, extension, type, id, url, method, status, note, secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (extension, type, id) DO NOTHING
         RETURNING ${COLUMNS}`,
        [s.organizationId, s.extension, s.type, id, s.url, s.method, s.status, s.note, secret])
      const row = rows[0]
      return row === undefined ? { ok: false as const, reason: 'duplicate' as const } : { ok: true as const, subscription: toSubscription(row), secret }
    }))
  }

  /** The subscriptions selected, ordered by type then id (the route sorts and pages them). */
  async list (s: SubscriptionSelector): Promise<Subscription[]> {
    const w = where(s)
    const rows = await this.#db.query<Row>(`SELECT ${COLUMNS} FROM event_subscriptions WHERE ${w.sql} ORDER BY type, id`, w.params)
    return rows.map(toSubscription)
  }

  /** Changes the given fields; undefined when there is no such subscription. */
  async update (extension: string, type: EventType, id: string, change: SubscriptionChange): Promise<Subscription | undefined> {
    const rows = await this.#writing(async () => await this.#db.query<Row>(
      `UPDATE event_subscriptions SET
         url = coalesce($4, url), method = coalesce($5, method), status = coalesce($6, status), note = coalesce($7, note),
         modified_at = now()
       WHERE extension = $1 AND type = $2 AND id = $3
       RETURNING ${COLUMNS}`,
      [extension, type, id, change.url ?? null, change.method ?? null, change.status ?? null, change.note ?? null]))
    return rows[0] === undefined ? undefined : toSubscription(rows[0])
  }

  /** Deletes the selected subscriptions (and their pending deliveries); returns them as they were. */
  async delete (s: SubscriptionSelector): Promise<Subscription[]> {
    const w = where(s)
    const rows = await this.#writing(async () => await this.#db.query<Row>(`DELETE FROM event_subscriptions WHERE ${w.sql} RETURNING ${COLUMNS}`, w.params))
    return rows.map(toSubscription).sort((a, b) => a.type - b.type || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }
}
