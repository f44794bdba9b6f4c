// The UAPI PhoneCalls routes, in one encapsulated context whose every route needs a bearer token
// (auth is scoped by structure: /oauth, /health and /docs live outside this context).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { requireAuth } from '../auth/index.ts'
import { listRoutes, type RouteDeps } from './routes/list.ts'

export type UapiPluginOptions = RouteDeps

export const uapiPlugin: FastifyPluginAsyncTypebox<UapiPluginOptions> = async (app, opts) => {
  app.addHook('onRequest', requireAuth)
  // Pass only our dependencies on: Fastify reads `prefix` from plugin options and would apply it twice.
  const deps: RouteDeps = { calls: opts.calls, directory: opts.directory, publicUrl: opts.publicUrl, basePath: opts.basePath, hide: opts.hide }
  await app.register(listRoutes, deps)
}
