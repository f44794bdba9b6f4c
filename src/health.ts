// Health: /health is liveness with details (always 200 while the process serves), /health/ready
// answers 503 until AMI is logged in and the mirror has completed a full sync.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

const Health = Type.Object({
  status: Type.Enum(['ready', 'degraded']),
  ami: Type.String({ description: 'AMI connection state' }),
  mirror: Type.Enum(['stale', 'syncing', 'live']),
  calls: Type.Integer(),
  legs: Type.Integer(),
  uptimeSeconds: Type.Number()
})

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const report = () => {
    const { ami, sync, mirror, calls } = app.engine
    return {
      status: calls.available ? 'ready' as const : 'degraded' as const,
      ami: ami.state,
      mirror: sync.state,
      calls: mirror.size,
      legs: mirror.legs.size,
      uptimeSeconds: Math.round(process.uptime())
    }
  }
  app.get('/health', { schema: { tags: ['health'], summary: 'Engine and AMI state', response: { 200: Health } } }, async () => report())
  app.get('/health/ready', { schema: { tags: ['health'], summary: 'Ready once AMI is up and the mirror synced', response: { 200: Health, 503: Health } } },
    async (_request, reply) => {
      const r = report()
      return reply.status(r.status === 'ready' ? 200 : 503).send(r)
    })
}
