// Engine configuration: one TypeBox schema, read from a JSON file plus a few env overrides,
// validated once at start and deep-frozen (Fastify's initial-config-validation idea).
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { createSecureContext } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'

const Integer = (min: number, max: number, def?: number) =>
  Type.Integer(def === undefined ? { minimum: min, maximum: max } : { minimum: min, maximum: max, default: def })

const HttpSchema = Type.Object({
  host: Type.String({ minLength: 1, default: '127.0.0.1' }),
  port: Integer(0, 65535, 8080),
  // Base of absolute links (paging.next, links.self). Absent: derived from the request's host.
  publicUrl: Type.Optional(Type.String({ pattern: '^https?://[^/\\s]+(/\\S*)?$' })),
  // Fastify's trustProxy, as its types accept it: true/false, "127.0.0.1,10.0.0.0/8", or a list.
  trustProxy: Type.Optional(Type.Union([Type.Boolean(), Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))])),
  bodyLimit: Integer(1024, 10 * 1024 * 1024, 65536),
  // Absent: CORS off (no browser origin may call the API). "*" allows any origin; tokens travel in
  // the Authorization header, never in cookies, so credentials are never enabled.
  cors: Type.Optional(Type.Object({
    origins: Type.Array(Type.String({ pattern: '^(\\*|https?://[^/\\s]+)$' }), { default: [] })
  }, { additionalProperties: false })),
  // Absent: these defaults (src/http/security.ts). max per app (bearer's client id) or per IP;
  // tokenMax per IP and per client_id on the token endpoint (brute-force guard).
  rateLimit: Type.Optional(Type.Object({
    max: Integer(1, 1_000_000, 600),
    timeWindowMs: Integer(1000, 3_600_000, 60_000),
    tokenMax: Integer(1, 1_000_000, 20)
  }, { additionalProperties: false })),
  // Absent: GET /metrics is open (bind to loopback or filter it at the proxy). Set: Bearer <token> required.
  metricsToken: Type.Optional(Type.String({ minLength: 16 })),
  // Set: the engine serves HTTPS itself (PEM files, read once at start); plain HTTP is then not
  // served on that port. Absent: plain HTTP (behind a TLS-terminating proxy, or on a LAN).
  tls: Type.Optional(Type.Object({
    certFile: Type.String({ minLength: 1, description: 'PEM certificate (chain), leaf first' }),
    keyFile: Type.String({ minLength: 1, description: 'PEM private key of that certificate' })
  }, { additionalProperties: false }))
}, { default: {}, additionalProperties: false })

const AmiSchema = Type.Object({
  host: Type.String({ minLength: 1, default: '127.0.0.1' }),
  port: Integer(1, 65535, 5038),
  username: Type.String({ minLength: 1 }),
  secret: Type.String({ minLength: 1 }),
  connectTimeoutMs: Type.Optional(Integer(1, 600_000)),
  actionTimeoutMs: Type.Optional(Integer(1, 600_000)),
  reconnectMinMs: Type.Optional(Integer(1, 600_000)),
  reconnectMaxMs: Type.Optional(Integer(1, 3_600_000)),
  /** Liveness: a Ping this often while logged in; unanswered for pingTimeoutMs, the socket is dropped. */
  pingIntervalMs: Type.Optional(Integer(100, 600_000)),
  pingTimeoutMs: Type.Optional(Integer(100, 600_000)),
  /** After Asterisk refused the credentials, wait this long before trying again. */
  authRetryMs: Type.Optional(Integer(100, 3_600_000)),
  /** challenge: MD5 challenge only (the secret never crosses the wire); auto: challenge, plain if the server offers none; plain. */
  login: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('challenge'), Type.Literal('plain')], { default: 'auto' }))
}, { additionalProperties: false })

const SecuritySchema = Type.Object({
  // HMAC keys: 16 chars is a floor against typos like "x", not a strength guarantee.
  tokenSecret: Type.String({ minLength: 16 }),
  tokenTtlSeconds: Integer(1, 86_400, 3600),
  callIdSecret: Type.String({ minLength: 16 })
}, { additionalProperties: false })

export const ExtensionTypes = ['phone-terminal', 'queue', 'conference', 'ivr', 'voicemail-center', 'callback'] as const
export const UserRoles = ['admin', 'organization', 'user'] as const

const OrganizationSchema = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  name: Type.String({ minLength: 1 }),
  // Leading digits of every extension number of the organization ("0003" in "0003*210").
  extensionPrefix: Type.String({ pattern: '^[0-9]+$' })
}, { additionalProperties: false })

const UserSchema = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  name: Type.String({ minLength: 1 }),
  role: Type.Enum(UserRoles),
  // Required for organization and user accounts, absent for admins (checked below).
  organizationId: Type.Optional(Type.Integer({ minimum: 1 })),
  email: Type.Optional(Type.String({ minLength: 3 }))
}, { additionalProperties: false })

const ExtensionSchema = Type.Object({
  number: Type.String({ pattern: '^[0-9]+\\*[0-9]+$' }),
  type: Type.Enum(ExtensionTypes),
  ownerId: Type.Integer({ minimum: 1 }),
  // Asterisk device, "TECH/resource" (e.g. "PJSIP/0003*210"); required for phone terminals.
  endpoint: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*/\\S+$' })),
  callerId: Type.String({ pattern: '^[^<>]*<[0-9*+]+>$' }),
  context: Type.String({ minLength: 1 }),
  voicemail: Type.Boolean({ default: false }),
  // Conference extensions: their scheduled conferences (UAPI ConferenceInvite ?number=&pin=), each a
  // ConfBridge room of the bundled PBX (asterisk/confbridge.conf).
  conferences: Type.Optional(Type.Array(Type.Object({
    number: Type.String({ pattern: '^[0-9]{1,16}$' }),
    pin: Type.String({ pattern: '^[0-9]{0,16}$' })
  }, { additionalProperties: false }), { maxItems: 1000 }))
}, { additionalProperties: false })

const AppSchema = Type.Object({
  clientId: Type.String({ pattern: '^[A-Za-z0-9._~-]+$' }),
  name: Type.Optional(Type.String()),
  userId: Type.Integer({ minimum: 1 }),
  // Only a hash is stored; see src/auth/secret-hash.ts and scripts/hash-secret.ts.
  secretHash: Type.String({ pattern: '^scrypt\\$[0-9]+\\$[0-9]+\\$[0-9]+\\$[A-Za-z0-9_-]+\\$[A-Za-z0-9_-]+$' }),
  // Marks the bundled demo apps, whose secrets are public: refused in production.
  demo: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

const DirectorySchema = Type.Object({
  organizations: Type.Array(OrganizationSchema),
  users: Type.Array(UserSchema),
  extensions: Type.Array(ExtensionSchema),
  apps: Type.Array(AppSchema)
}, { additionalProperties: false })

// Call recordings (StartRecording): one directory, seen by Asterisk as `pbxDir` (where MixMonitor
// writes) and by the engine as `dir` (where it serves files from and keeps their metadata). They
// differ when Asterisk runs in a chroot, a container or on another host (README, Recordings).
// Absent: StartRecording answers 501.
const RecordingsSchema = Type.Object({
  dir: Type.String({ pattern: '^/', description: 'The recordings directory as the engine sees it (absolute)' }),
  pbxDir: Type.String({ pattern: '^/[^\\s,|()]*$', description: 'The same directory as Asterisk sees it (absolute; no spaces, commas, pipes or parentheses: MixMonitor options)' })
}, { additionalProperties: false })

// The engine's database (src/storage): a PostgreSQL server when `url` is set, else an embedded
// PGlite in `dataDir` ("memory://" keeps it in memory). `schema`: tables live there (search_path).
const DatabaseSchema = Type.Object({
  url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'postgres://user@host:5432/db; absent: embedded PGlite' })),
  dataDir: Type.String({ minLength: 1, default: './data/db', description: 'PGlite data directory (relative to the working directory) or memory://' }),
  schema: Type.Optional(Type.String({ pattern: '^[a-z_][a-z0-9_]{0,62}$', description: 'PostgreSQL schema of the tables (created if missing); default: the server\'s search_path' })),
  poolSize: Integer(1, 100, 10),
  connectTimeoutMs: Integer(100, 600_000, 5000)
}, { default: {}, additionalProperties: false })

// PhoneCallEvents delivery (src/events). Durations in ms.
const EventsSchema = Type.Object({
  timeoutMs: Integer(100, 120_000, 5000),
  maxAttempts: Integer(1, 100, 5),
  backoffMs: Integer(1, 3_600_000, 1000),
  backoffMaxMs: Integer(1, 86_400_000, 300_000),
  leaseMs: Integer(100, 3_600_000, 30_000),
  sweepMs: Integer(10, 3_600_000, 5000),
  concurrencyPerTarget: Integer(1, 1000, 8),
  queuePerTarget: Integer(1, 1_000_000, 1000),
  retentionMs: Integer(0, 365 * 86_400_000, 86_400_000),
  deadRetentionMs: Integer(0, 3650 * 86_400_000, 30 * 86_400_000),
  maxPerExtension: Integer(1, 10_000, 100),
  // Callback targets allowed although private/loopback/link-local: CIDRs ("10.1.0.0/16"), IPs or host names.
  allowedTargets: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { default: [], maxItems: 1000 })
}, { default: {}, additionalProperties: false })

const LogSchema = Type.Object({
  level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' })
}, { default: {}, additionalProperties: false })

export const ConfigSchema = Type.Object({
  http: HttpSchema,
  ami: AmiSchema,
  security: SecuritySchema,
  directory: DirectorySchema,
  recordings: Type.Optional(RecordingsSchema),
  database: DatabaseSchema,
  events: EventsSchema,
  log: LogSchema
}, { additionalProperties: false })

export type Config = Static<typeof ConfigSchema>
export type DirectoryConfig = Static<typeof DirectorySchema>
export type OrganizationConfig = Static<typeof OrganizationSchema>
export type UserConfig = Static<typeof UserSchema>
export type ExtensionConfig = Static<typeof ExtensionSchema>
export type AppConfig = Static<typeof AppSchema>
export type RecordingsConfig = Static<typeof RecordingsSchema>
export type DatabaseConfig = Static<typeof DatabaseSchema>
export type EventsConfig = Static<typeof EventsSchema>

/** Secrets shipped in config/default.json. Public knowledge, so never acceptable in production. */
export const DEMO_SECRETS: ReadonlySet<string> = new Set([
  'uapi-dev-secret',
  'uapi-dev-token-secret-not-for-production',
  'uapi-dev-call-id-secret-not-for-production'
])

export class ConfigError extends Error {
  readonly code = 'UAPI_ERR_CONFIG'
  constructor (readonly issues: readonly string[], readonly source?: string) {
    super(`Invalid configuration${source === undefined ? '' : ` (${source})`}:\n${issues.map((i) => `  - ${i}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

const DEFAULT_FILE = fileURLToPath(new URL('../config/default.json', import.meta.url))

type Env = Readonly<Record<string, string | undefined>>

/**
 * Reads config/default.json (or the file named by UAPI_CONFIG), applies env overrides, validates,
 * and returns a deep-frozen Config. Throws ConfigError listing every problem found.
 */
/** The config file the engine reads: UAPI_CONFIG, else config/default.json. */
export function configFile (env: Env = process.env): string {
  return env.UAPI_CONFIG !== undefined && env.UAPI_CONFIG !== '' ? resolve(env.UAPI_CONFIG) : DEFAULT_FILE
}

export function loadConfig (env: Env = process.env): Config {
  const file = configFile(env)
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new ConfigError([`cannot read ${file}: ${(err as Error).message}`], file)
  }
  return parseConfig(applyEnv(raw, env), { production: env.NODE_ENV === 'production', source: file })
}

/** The certificate and key the engine serves HTTPS with (config `http.tls`), read and checked. */
export interface TlsFiles {
  readonly cert: Buffer
  readonly key: Buffer
}

/**
 * Reads `http.tls` (undefined when absent) and checks that the key and certificate parse and belong
 * together, so a bad file is a ConfigError naming it at start, not an OpenSSL error from listen().
 */
export function readTlsFiles (config: Config, source?: string): TlsFiles | undefined {
  const tls = config.http.tls
  if (tls === undefined) return undefined
  const issues: string[] = []
  const read = (what: 'certFile' | 'keyFile'): Buffer | undefined => {
    const file = resolve(tls[what])
    try {
      return readFileSync(file)
    } catch (err) {
      issues.push(`/http/tls/${what}: cannot read ${file}: ${(err as Error).message}`)
      return undefined
    }
  }
  const cert = read('certFile')
  const key = read('keyFile')
  if (cert === undefined || key === undefined) throw new ConfigError(issues, source)
  try {
    createSecureContext({ cert, key })
  } catch (err) {
    throw new ConfigError([`/http/tls: ${resolve(tls.certFile)} and ${resolve(tls.keyFile)} are not a usable PEM certificate and matching private key: ${(err as Error).message}`], source)
  }
  return { cert, key }
}

/** Validates an already-parsed config object (no env, no file): defaults, schema, cross-references. */
export function parseConfig (raw: unknown, options: { production?: boolean, source?: string } = {}): Config {
  const value = Value.Default(ConfigSchema, Value.Clone(raw))
  const schemaIssues = formatSchemaErrors(value)
  if (schemaIssues.length > 0) throw new ConfigError(schemaIssues, options.source)
  const config = value as Config
  if (config.http.publicUrl !== undefined) config.http.publicUrl = config.http.publicUrl.replace(/\/+$/, '')

  const refIssues = checkDirectory(config.directory)
  if (refIssues.length > 0) throw new ConfigError(refIssues, options.source)

  if (options.production === true) {
    const demo = demoSecretsInUse(config)
    if (demo.length > 0) {
      throw new ConfigError(demo.map((p) => `${p}: demo secret refused with NODE_ENV=production`), options.source)
    }
  }
  return deepFreeze(config)
}

/** Paths of every demo secret the config still uses. */
export function demoSecretsInUse (config: Config): string[] {
  const found: string[] = []
  if (DEMO_SECRETS.has(config.ami.secret)) found.push('/ami/secret')
  if (DEMO_SECRETS.has(config.security.tokenSecret)) found.push('/security/tokenSecret')
  if (DEMO_SECRETS.has(config.security.callIdSecret)) found.push('/security/callIdSecret')
  config.directory.apps.forEach((app, i) => { if (app.demo === true) found.push(`/directory/apps/${i} (${app.clientId})`) })
  return found
}

function applyEnv (raw: unknown, env: Env): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw
  const root = Value.Clone(raw) as Record<string, unknown>
  // section: "http" or a nested "http.tls" (objects on the way are created, or cloned above).
  const set = (section: string, key: string, value: unknown) => {
    let target = root
    for (const name of section.split('.')) {
      const current = target[name]
      target = current !== null && typeof current === 'object' && !Array.isArray(current)
        ? current as Record<string, unknown>
        : (target[name] = {}) as Record<string, unknown>
    }
    target[key] = value
  }
  // Ports that are not plain integers stay strings, so the schema reports them with their path.
  const int = (s: string): unknown => /^[0-9]+$/.test(s) ? Number(s) : s
  const overrides: Array<[string, string, string, (s: string) => unknown]> = [
    ['HOST', 'http', 'host', String],
    ['PORT', 'http', 'port', int],
    ['PUBLIC_URL', 'http', 'publicUrl', String],
    ['TLS_CERT_FILE', 'http.tls', 'certFile', String],
    ['TLS_KEY_FILE', 'http.tls', 'keyFile', String],
    ['AMI_HOST', 'ami', 'host', String],
    ['AMI_PORT', 'ami', 'port', int],
    ['AMI_USERNAME', 'ami', 'username', String],
    ['AMI_SECRET', 'ami', 'secret', String],
    ['AMI_LOGIN', 'ami', 'login', String],
    ['LOG_LEVEL', 'log', 'level', String],
    ['TOKEN_SECRET', 'security', 'tokenSecret', String],
    ['CALL_ID_SECRET', 'security', 'callIdSecret', String],
    ['RECORDINGS_DIR', 'recordings', 'dir', String],
    ['RECORDINGS_PBX_DIR', 'recordings', 'pbxDir', String],
    ['DATABASE_URL', 'database', 'url', String],
    ['DATABASE_DIR', 'database', 'dataDir', String],
    ['DATABASE_SCHEMA', 'database', 'schema', String]
  ]
  for (const [name, section, key, convert] of overrides) {
    const v = env[name]
    if (v !== undefined && v !== '') set(section, key, convert(v))
  }
  return root
}

function formatSchemaErrors (value: unknown): string[] {
  const issues: string[] = []
  for (const e of Value.Errors(ConfigSchema, value)) {
    // additionalProperties also yields one "boolean schema is false" per extra key: report it once, by name.
    if (e.keyword === 'boolean') continue
    const path = e.instancePath === '' ? '/' : e.instancePath
    if (e.keyword === 'additionalProperties') {
      issues.push(`${path}: unknown properties ${e.params.additionalProperties.map((p) => `"${p}"`).join(', ')}`)
    } else {
      issues.push(`${path}: ${e.message}`)
    }
  }
  return [...new Set(issues)]
}

/** Cross-reference checks the schema cannot express; the directory relies on them. */
function checkDirectory (dir: DirectoryConfig): string[] {
  const issues: string[] = []
  const orgs = new Map<number, OrganizationConfig>()
  const prefixes = new Set<string>()
  dir.organizations.forEach((org, i) => {
    if (orgs.has(org.id)) issues.push(`/directory/organizations/${i}/id: duplicate organization id ${org.id}`)
    if (prefixes.has(org.extensionPrefix)) issues.push(`/directory/organizations/${i}/extensionPrefix: duplicate prefix ${org.extensionPrefix}`)
    orgs.set(org.id, org)
    prefixes.add(org.extensionPrefix)
  })

  const users = new Map<number, UserConfig>()
  dir.users.forEach((user, i) => {
    const at = `/directory/users/${i}`
    if (users.has(user.id)) issues.push(`${at}/id: duplicate user id ${user.id}`)
    users.set(user.id, user)
    if (user.role === 'admin') {
      if (user.organizationId !== undefined) issues.push(`${at}/organizationId: an admin belongs to no organization`)
    } else if (user.organizationId === undefined) {
      issues.push(`${at}/organizationId: required for role ${user.role}`)
    } else if (!orgs.has(user.organizationId)) {
      issues.push(`${at}/organizationId: unknown organization ${user.organizationId}`)
    }
  })

  const numbers = new Set<string>()
  const endpoints = new Set<string>()
  dir.extensions.forEach((ext, i) => {
    const at = `/directory/extensions/${i}`
    if (numbers.has(ext.number)) issues.push(`${at}/number: duplicate extension ${ext.number}`)
    numbers.add(ext.number)
    const owner = users.get(ext.ownerId)
    if (owner === undefined) {
      issues.push(`${at}/ownerId: unknown user ${ext.ownerId}`)
    } else if (owner.organizationId === undefined) {
      issues.push(`${at}/ownerId: owner ${ext.ownerId} belongs to no organization`)
    } else {
      const org = orgs.get(owner.organizationId)
      if (org !== undefined && !ext.number.startsWith(`${org.extensionPrefix}*`)) {
        issues.push(`${at}/number: must start with ${org.extensionPrefix}* (organization ${org.id} of the owner)`)
      }
    }
    if (ext.endpoint === undefined) {
      if (ext.type === 'phone-terminal') issues.push(`${at}/endpoint: required for a phone-terminal`)
    } else {
      const key = endpointKey(ext.endpoint)
      if (endpoints.has(key)) issues.push(`${at}/endpoint: duplicate endpoint ${ext.endpoint}`)
      endpoints.add(key)
    }
    if (ext.conferences !== undefined) {
      if (ext.type !== 'conference') issues.push(`${at}/conferences: only a conference extension has scheduled conferences`)
      const seen = new Set<string>()
      for (const c of ext.conferences) {
        if (seen.has(c.number)) issues.push(`${at}/conferences: duplicate conference number ${c.number}`)
        seen.add(c.number)
      }
    }
  })

  const clients = new Set<string>()
  dir.apps.forEach((app, i) => {
    const at = `/directory/apps/${i}`
    if (clients.has(app.clientId)) issues.push(`${at}/clientId: duplicate client id ${app.clientId}`)
    clients.add(app.clientId)
    if (!users.has(app.userId)) issues.push(`${at}/userId: unknown user ${app.userId}`)
  })
  return issues
}

/** Technology names are case-insensitive in Asterisk ("pjsip/x" == "PJSIP/x"), resources are not. */
export function endpointKey (endpoint: string): string {
  const slash = endpoint.indexOf('/')
  return slash < 0 ? endpoint : endpoint.slice(0, slash).toUpperCase() + endpoint.slice(slash)
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
