// Composition root: builds the engine from its parts. Tests call buildApp() and never listen();
// src/main.ts runs it as a process.
import type { IncomingMessage, ServerResponse } from 'node:http'
import Fastify, { type FastifyInstance, type FastifyServerOptions, type RawServerDefault } from 'fastify'
import { pino, type Logger } from 'pino'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { readTlsFiles, type Config, type TlsFiles } from './config.ts'
import { AmiClient } from './ami/index.ts'
import { Directory } from './directory/index.ts'
import { authPlugin } from './auth/index.ts'
import { CallService, Mirror, MirrorSync, callIdDeriver, originateTrackerOf, type Party } from './calls/index.ts'
import { uapiPlugin } from './uapi/plugin.ts'
import { uapiErrorHandler, uapiNotFoundHandler } from './uapi/error-handler.ts'
import { healthRoutes } from './health.ts'
import { DOCS_CSP, securityPlugin } from './http/security.ts'
import { drainingPlugin } from './http/draining.ts'
import { REDACTED, REDACT_PATHS, serializeRequest } from './http/redact.ts'
import { metricsPlugin } from './metrics/index.ts'
import { RecordingStore } from './recordings/index.ts'
import { CallFeed } from './stream/index.ts'
import { panelPlugin } from './panel/index.ts'
import { Storage, storageFromConfig } from './storage/index.ts'
import { CallEventDetector, Claims, EventDelivery, SubscriptionStore, TargetGuard } from './events/index.ts'

/** The engine's parts, reachable from the Fastify instance (health, metrics, tests). */
export interface Engine {
  readonly config: Config
  readonly directory: Directory
  readonly ami: AmiClient
  readonly mirror: Mirror
  readonly sync: MirrorSync
  readonly calls: CallService
  /** Call recordings (config `recordings`); undefined when not configured. */
  readonly recordings: RecordingStore | undefined
  /** Call changes for live streams (the mirror's change signal, numbered, with a resume window). */
  readonly feed: CallFeed
  /** The database (config `database`): PostgreSQL or an embedded PGlite. */
  readonly db: Storage
  /** PhoneCallEvents: subscriptions, their delivery (publish), and cross-instance claims. */
  readonly subscriptions: SubscriptionStore
  readonly events: EventDelivery
  readonly claims: Claims
}

declare module 'fastify' {
  interface FastifyInstance {
    engine: Engine
  }
}

export interface BuildOptions {
  /** The pino logger; defaults to one at the configured level, with secrets redacted. */
  readonly logger?: Logger
  /** Connect to Asterisk when the app is ready (default true). */
  readonly connect?: boolean
  /** The certificate and key of config `http.tls`, already read (src/main.ts); else read here. */
  readonly tls?: TlsFiles
  /** The database to use instead of config `database` (tests); the app closes it on close. */
  readonly storage?: Storage
}

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger, TypeBoxTypeProvider>

export async function buildApp (config: Config, options: BuildOptions = {}): Promise<App> {
  // Whatever logger is given, credentials never reach it (src/http/redact.ts is the one rule).
  const logger = (options.logger ?? pino({ level: config.log.level }))
    .child({}, { redact: { paths: REDACT_PATHS, censor: REDACTED }, serializers: { req: serializeRequest } })
  // With http.tls, the server is node's https.Server (HTTP/1.1 over TLS): the route code is the same;
  // the App type keeps the http.Server typing, which only listen()/close() touch.
  const tls = options.tls ?? readTlsFiles(config)
  const https = tls === undefined ? {} : { https: { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' as const } }
  const app = Fastify({
    ...https,
    loggerInstance: logger,
    bodyLimit: config.http.bodyLimit,
    trustProxy: (config.http.trustProxy ?? false) as FastifyServerOptions['trustProxy'],
    // UAPI clients send paths with and without a trailing slash (reference 1.1).
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 256 },
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } },
    return503OnClosing: true,
    // Router-level refusals (malformed %-encoding, a segment over maxParamLength) would otherwise
    // answer Fastify's own JSON; they get the UAPI envelope like every other error.
    frameworkErrors: uapiErrorHandler
  }).withTypeProvider<TypeBoxTypeProvider>()

  const directory = new Directory(config.directory)
  const ami = new AmiClient({
    host: config.ami.host,
    port: config.ami.port,
    username: config.ami.username,
    secret: config.ami.secret,
    logger,
    ...(config.ami.connectTimeoutMs !== undefined ? { connectTimeoutMs: config.ami.connectTimeoutMs } : {}),
    ...(config.ami.actionTimeoutMs !== undefined ? { defaultTimeoutMs: config.ami.actionTimeoutMs } : {}),
    backoff: { initialMs: config.ami.reconnectMinMs ?? 250, maxMs: config.ami.reconnectMaxMs ?? 10_000 },
    ...(config.ami.pingIntervalMs !== undefined ? { pingIntervalMs: config.ami.pingIntervalMs } : {}),
    ...(config.ami.pingTimeoutMs !== undefined ? { pingTimeoutMs: config.ami.pingTimeoutMs } : {}),
    ...(config.ami.authRetryMs !== undefined ? { authRetryMs: config.ami.authRetryMs } : {}),
    ...(config.ami.login !== undefined ? { login: config.ami.login } : {})
  })
  const partyOf = (tech: string, resource: string): Party | undefined => {
    const ext = directory.extensionByEndpoint(`${tech}/${resource}`)
    return ext === undefined ? undefined : { extension: ext.number, organizationId: String(ext.organizationId) }
  }
  const mirror = new Mirror(partyOf, callIdDeriver(config.security.callIdSecret))
  const sync = new MirrorSync(ami, mirror, logger.child({ mod: 'mirror' }))
  const calls = new CallService(ami, mirror, sync, {
    organizationName: (id) => directory.organization(Number(id))?.name,
    nonceSecret: config.security.callIdSecret
  })
  const recordings = config.recordings !== undefined ? new RecordingStore(config.recordings.dir, config.recordings.pbxDir, logger.child({ mod: 'recordings' })) : undefined
  const feed = new CallFeed(mirror, sync, calls)
  // With connect: false (tests) the database opens on first use; otherwise before listen (onReady).
  const db = options.storage ?? storageFromConfig(config.database, logger.child({ mod: 'db' }))
  const guard = new TargetGuard(config.events.allowedTargets)
  const subscriptions = new SubscriptionStore(db, { maxPerExtension: config.events.maxPerExtension })
  const events = new EventDelivery(db, guard, { ...config.events, log: logger.child({ mod: 'events' }) })
  const claims = new Claims(db)
  // Several instances share a PostgreSQL server: a PickUp's (UnPark's, supervision's) target is
  // claimed there, so that two instances never ring two phones for one view. Alone (the embedded
  // database is one process's), the in-process lock is the whole story.
  const shared = config.database.url !== undefined
  if (shared) originateTrackerOf(mirror, ami).useClaims(claims)
  let detector: CallEventDetector | undefined
  app.decorate('engine', { config, directory, ami, mirror, sync, calls, recordings, feed, db, subscriptions, events, claims })

  app.setErrorHandler(uapiErrorHandler)
  app.setNotFoundHandler(uapiNotFoundHandler)
  // Before every route: their hooks (headers, CORS, rate limits, latency) must cover all routes.
  await app.register(securityPlugin, { http: config.http })
  await app.register(drainingPlugin)
  await app.register(metricsPlugin, { ami, sync, mirror, events, token: config.http.metricsToken })

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'UAPI PhoneCalls engine for Asterisk', version: '0.1.0', description: 'VoipNow UnifiedAPI 3.0 PhoneCalls on a real Asterisk, over AMI.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP })
  await app.register(authPlugin, { security: config.security, directory })
  await app.register(healthRoutes)
  await app.register(panelPlugin)
  // The same routes under both base paths that UAPI clients use (reference 1.1); docs show /uapi.
  for (const prefix of ['/uapi', '/unifiedapi']) {
    await app.register(uapiPlugin, { prefix, basePath: prefix, ami, log: logger.child({ mod: 'calls' }), calls, directory, publicUrl: config.http.publicUrl, hide: prefix !== '/uapi', recordings, feed, subscriptions, events, guard })
  }

  if (options.connect !== false) {
    app.addHook('onReady', async () => {
      // Said once at start rather than discovered by the first StartRecording (which answers 503).
      if (recordings !== undefined && !(await recordings.usable())) logger.warn({ dir: recordings.dir }, 'recordings directory missing or not writable: StartRecording will answer 503 (see README, Recordings)')
      // The database first: an engine that cannot store events should not start half-way.
      await db.open()
      events.start()
      // Another instance's subscription changes are seen within 2 s; this one's at once.
      subscriptions.startRefresh(shared ? 2_000 : 0)
      // Call events from the mirror's change signal; only those someone subscribed to reach the database.
      detector = new CallEventDetector(mirror, (event) => {
        if (subscriptions.mayHave(event.extension, event.type)) void events.publish(event)
      }, (extension) => subscriptions.mayHaveAny(extension))
      sync.start()
      ami.start()
    })
  }
  // Before the server stops accepting: open streams end (their clients reconnect elsewhere or later).
  app.addHook('preClose', async () => { feed.close() })
  app.addHook('onClose', async () => {
    detector?.close()
    subscriptions.stopRefresh()
    sync.stop()
    await ami.close()
    await events.close()
    await db.close()
  })
  return app
}
