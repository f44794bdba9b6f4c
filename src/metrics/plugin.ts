// GET /metrics (Prometheus text format) and the latency hook. A fastify-plugin: the onResponse hook
// must sit at the root to time every route, and /metrics lives outside the UAPI auth context.
import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AccessDeniedError } from '../auth/index.ts'
import { createEngineMetrics, type MetricSources } from './registry.ts'

export interface MetricsPluginOptions extends MetricSources {
  /** When set, scrapes must send `Authorization: Bearer <token>`; absent, /metrics is open. */
  readonly token?: string | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ReturnType<typeof createEngineMetrics>
  }
}

// 404s have no route pattern; one label for all of them keeps the series count bounded.
const UNMATCHED = '(unmatched)'

async function metrics (app: FastifyInstance, opts: MetricsPluginOptions) {
  const engineMetrics = createEngineMetrics(opts)
  app.decorate('metrics', engineMetrics)
  const { registry, httpDuration } = engineMetrics

  app.addHook('onResponse', (request, reply, done) => {
    httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? UNMATCHED, status_code: reply.statusCode }, reply.elapsedTime / 1000)
    done()
  })

  const expected = opts.token === undefined ? undefined : Buffer.from(`Bearer ${opts.token}`)
  const checkToken = async (request: FastifyRequest): Promise<void> => {
    const given = Buffer.from(request.headers.authorization ?? '')
    if (expected !== undefined && (given.length !== expected.length || !timingSafeEqual(given, expected))) {
      throw new AccessDeniedError({ cause: new Error('bad or missing metrics token') })
    }
  }

  app.get('/metrics', { schema: { hide: true }, onRequest: checkToken }, async (_request, reply) => {
    const body = await registry.metrics()
    return reply.type(registry.contentType).send(body)
  })
}

export const metricsPlugin = fp(metrics, { name: 'uapi-metrics', fastify: '5.x' })
