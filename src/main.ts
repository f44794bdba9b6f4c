// Runs the engine: config, logger, listen, and a graceful close on SIGTERM/SIGINT.
import { loadConfig, ConfigError } from './config.ts'
import { buildApp } from './app.ts'

/** How long in-flight requests may run after SIGTERM before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000
/** Then, how long closing (AMI logoff) may take before the process exits anyway. */
const SHUTDOWN_HARD_MS = 2_000

async function main (): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n')
      process.exit(78) // EX_CONFIG
    }
    throw err
  }
  const app = await buildApp(config)
  let closing = false
  // SIGTERM (orchestrators) or SIGINT (Ctrl-C): stop accepting connections, let in-flight requests
  // finish (requests arriving on open keep-alive connections get 503 + Connection: close, Fastify's
  // return503OnClosing), then the onClose hooks log off AMI, then exit 0. Fastify's default
  // forceCloseConnections ('idle') already drops idle keep-alive sockets at close.
  const shutdown = (signal: string): void => {
    if (closing) {
      // A second signal: the operator does not want to wait.
      app.log.warn({ signal }, 'second signal during shutdown; exiting now')
      process.exit(1)
    }
    closing = true
    app.log.info({ signal }, 'shutting down: no new requests, finishing in-flight ones, closing AMI')
    // A request can legitimately last long (PickUp ?wait=true). After the grace period its
    // connection is cut, so that AMI is still logged off cleanly; past a further deadline, exit hard.
    const grace = setTimeout(() => {
      app.log.warn({ graceMs: SHUTDOWN_GRACE_MS }, 'requests still in flight after the grace period; closing their connections')
      app.server.closeAllConnections()
      setTimeout(() => { app.log.error('shutdown took too long; exiting'); process.exit(1) }, SHUTDOWN_HARD_MS).unref()
    }, SHUTDOWN_GRACE_MS)
    grace.unref()
    app.close().then(
      () => { app.log.info('shut down'); process.exit(0) },
      (err: unknown) => { app.log.error({ err }, 'error while closing'); process.exit(1) }
    )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  await app.listen({ host: config.http.host, port: config.http.port })
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
