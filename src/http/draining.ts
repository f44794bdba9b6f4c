// While the app closes, every response says `Connection: close`. Node keeps a keep-alive socket open
// after the response it carried, and server.close() waits for every socket (up to keepAliveTimeout,
// 72 s in Fastify), so without this one finished in-flight request would hold the shutdown up.
// Requests that arrive after close began are answered by Fastify itself (return503OnClosing).
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

async function draining (app: FastifyInstance) {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_request, reply) => {
    if (closing) void reply.header('connection', 'close')
  })
}

export const drainingPlugin = fp(draining, { name: 'uapi-http-draining', fastify: '5.x' })
