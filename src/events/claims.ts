// Cross-instance locks with an expiry, in the database: tryClaim succeeds for one owner at a time;
// a claim that expired (its owner crashed or forgot) can be taken over; the owner may renew it.
import type { Queryable } from '../storage/index.ts'

export class Claims {
  readonly #db: Queryable

  constructor (db: Queryable) {
    this.#db = db
  }

  /** Takes (or renews) `key` for `owner` for ttlMs; false when another owner holds an unexpired claim. */
  async tryClaim (key: string, owner: string, ttlMs: number): Promise<boolean> {
    const rows = await this.#db.query(
      `INSERT INTO claims (key, owner, expires_at) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
       WHERE claims.expires_at <= clock_timestamp() OR claims.owner = EXCLUDED.owner
       RETURNING key`,
      [key, owner, Math.max(1, Math.round(ttlMs))])
    return rows.length === 1
  }

  /** Gives `key` up if `owner` holds it; true when it did. */
  async release (key: string, owner: string): Promise<boolean> {
    const rows = await this.#db.query('DELETE FROM claims WHERE key = $1 AND owner = $2 RETURNING key', [key, owner])
    return rows.length === 1
  }

  /** Deletes expired claims (the delivery worker's sweep calls it); how many went. */
  async prune (): Promise<number> {
    return (await this.#db.query('DELETE FROM claims WHERE expires_at <= clock_timestamp() RETURNING key')).length
  }
}
