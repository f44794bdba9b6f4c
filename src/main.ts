// Runs the engine: config, logger, listen, and a graceful close on SIGTERM/SIGINT.
import { watchFile } from 'node:fs'
import { configFile, loadConfig, readTlsFiles, ConfigError, type TlsFiles } from './config.ts'
import { buildApp, type App } from './app.ts'

/** How long in-flight requests may run after SIGTERM before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000
/** Then, how long closing (AMI logoff) may take before the process exits anyway. */
const SHUTDOWN_HARD_MS = 2_000
/** How often the config file is checked for changes (fs.watchFile polls: works on every file system and with editors that replace the file). */
const CONFIG_POLL_MS = 500

/**
 * Re-reads the config file (on SIGHUP, or when it changes) and applies what can change live: the
 * apps. An app removed, or whose secret changed, loses its tokens at once on every instance that
 * reads the same file. A config that does not validate is refused and the current one kept.
 */
function reloadApps (app: App, why: string): void {
  try {
    const next = loadConfig()
    const changes = app.engine.directory.replaceApps(next.directory.apps)
    app.log.info({ why, ...changes }, 'config re-read: apps updated (other changes need a restart)')
  } catch (err) {
    app.log.error({ why, err: err instanceof ConfigError ? err.message : err }, 'config re-read failed: keeping the current config')
  }
}

async function main (): Promise<void> {
  let config
  let tls: TlsFiles | undefined
  try {
    config = loadConfig()
    tls = readTlsFiles(config, configFile())
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n')
      process.exit(78) // EX_CONFIG
    }
    throw err
  }
  const app = await buildApp(config, tls === undefined ? {} : { tls })
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
  process.on('SIGHUP', () => reloadApps(app, 'SIGHUP'))
  watchFile(configFile(), { interval: CONFIG_POLL_MS, persistent: false }, (now, before) => {
    if (now.mtimeMs !== before.mtimeMs || now.size !== before.size) reloadApps(app, 'config file changed')
  })
  await app.listen({ host: config.http.host, port: config.http.port })
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
