// The schema, as plain SQL migrations applied in order at start. Each version runs once per
// database (schema), recorded in schema_migrations. Never edit a released migration: add one.
import type { Queryable } from './database.ts'

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'phone call events: subscriptions, outbox, claims',
    sql: `
CREATE TABLE event_subscriptions (
  pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  organization_id text NOT NULL,
  extension text NOT NULL,
  type smallint NOT NULL CHECK (type BETWEEN 0 AND 4),
  id text NOT NULL,
  url text NOT NULL,
  method smallint NOT NULL CHECK (method IN (0, 1)),
  status smallint NOT NULL CHECK (status IN (0, 1)),
  note text NOT NULL DEFAULT '',
  secret text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  modified_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (extension, type, id)
);
CREATE INDEX event_subscriptions_enabled ON event_subscriptions (extension, type) WHERE status = 1;

-- The transactional outbox: one row per (subscription, event). The UNIQUE pair is what makes two
-- engine instances that saw the same AMI event insert it once; the winner delivers it.
CREATE TABLE event_outbox (
  pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id text NOT NULL UNIQUE,
  subscription_pk bigint NOT NULL REFERENCES event_subscriptions (pk) ON DELETE CASCADE,
  event_key text NOT NULL,
  event_at timestamptz NOT NULL,
  payload text NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_at timestamptz NOT NULL DEFAULT now(),
  lease_owner text,
  lease_until timestamptz,
  last_status integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  done_at timestamptz,
  UNIQUE (subscription_pk, event_key)
);
CREATE INDEX event_outbox_due ON event_outbox (next_at) WHERE state = 'pending';
CREATE INDEX event_outbox_done ON event_outbox (state, done_at) WHERE state <> 'pending';

-- Cross-instance locks with an expiry (src/events/claims.ts).
CREATE TABLE claims (
  key text PRIMARY KEY,
  owner text NOT NULL,
  expires_at timestamptz NOT NULL
);
`
  }
]

// pg_advisory_xact_lock(int, int): the first key says "migrations of this engine", the second is
// the schema, so that engines on different schemas of one server do not wait for each other.
const LOCK_CLASS = 0x75617069 // "uapi"

/**
 * Applies the migrations this database lacks, in one transaction holding an advisory lock: two
 * instances starting at once apply each migration once (the second waits, then finds it done).
 * Returns the versions applied now.
 */
export async function migrate (db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> }, schema: string | undefined, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1, hashtext(coalesce($2, current_schema(), \'\')))', [LOCK_CLASS, schema ?? null])
    // Under the lock: two instances creating the schema at once would otherwise collide.
    if (schema !== undefined) await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const done = new Set((await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)))
    const applied: number[] = []
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue
      await tx.exec(m.sql)
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
      applied.push(m.version)
    }
    return applied
  })
}
