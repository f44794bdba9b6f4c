// Runs the engine: config, logger, listen, and a graceful close on SIGTERM/SIGINT.
import { loadConfig, ConfigError } from './config.ts'
import { buildApp } from './app.ts'

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
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down: no new requests, finishing in-flight ones, closing AMI')
    const force = setTimeout(() => { app.log.error('shutdown took too long; exiting'); process.exit(1) }, 10_000)
    force.unref()
    app.close().then(() => process.exit(0), (err: unknown) => { app.log.error({ err }, 'error while closing'); process.exit(1) })
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  await app.listen({ host: config.http.host, port: config.http.port })
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
