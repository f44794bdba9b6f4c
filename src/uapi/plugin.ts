// The UAPI PhoneCalls routes, in one encapsulated context whose every route needs a bearer token
// (auth is scoped by structure: /oauth, /health and /docs live outside this context).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { requireAuth } from '../auth/index.ts'
import { listRoutes, type RouteDeps } from './routes/list.ts'
import { updateAllRoutes, updateRoutes } from './routes/update.ts'
import { deleteRoutes } from './routes/delete.ts'
import { createRoutes } from './routes/create.ts'
import { recordingRoutes } from './routes/recordings.ts'
import { streamRoutes } from './routes/stream.ts'
import { extensionRoutes } from './routes/extensions.ts'
import type { CallFeed } from '../stream/index.ts'
import { phoneCallEventRoutes } from './routes/phone-call-events.ts'
import type { RecordingStore } from '../recordings/index.ts'
import type { EventDelivery, SubscriptionStore, TargetGuard } from '../events/index.ts'
import type { AmiClient } from '../ami/index.ts'
import type { Logger } from 'pino'

export interface UapiPluginOptions extends RouteDeps {
  readonly ami: AmiClient
  readonly log: Logger
  readonly recordings?: RecordingStore | undefined
  readonly feed: CallFeed
  readonly subscriptions: SubscriptionStore
  readonly events: EventDelivery
  readonly guard: TargetGuard
}

export const uapiPlugin: FastifyPluginAsyncTypebox<UapiPluginOptions> = async (app, opts) => {
  app.addHook('onRequest', requireAuth)
  // Pass only our dependencies on: Fastify reads `prefix` from plugin options and would apply it twice.
  const deps: RouteDeps = { calls: opts.calls, directory: opts.directory, publicUrl: opts.publicUrl, basePath: opts.basePath, hide: opts.hide }
  await app.register(listRoutes, deps)
  await app.register(streamRoutes, { ...deps, feed: opts.feed })
  await app.register(extensionRoutes, deps)
  await app.register(updateRoutes, { ...deps, ami: opts.ami, log: opts.log, recordings: opts.recordings })
  await app.register(recordingRoutes, { ...deps, recordings: opts.recordings })
  await app.register(updateAllRoutes, { ...deps, ami: opts.ami, log: opts.log, recordings: opts.recordings })
  await app.register(deleteRoutes, { ...deps, ami: opts.ami, log: opts.log })
  await app.register(createRoutes, { ...deps, ami: opts.ami, log: opts.log })
  await app.register(phoneCallEventRoutes, { directory: opts.directory, publicUrl: opts.publicUrl, basePath: opts.basePath, hide: opts.hide, subscriptions: opts.subscriptions, events: opts.events, guard: opts.guard })
}
