// The engine as a child process, for the tests and benchmarks that need the real thing: `npm start`'s
// bundle, tsc's per-module output, or src/main.ts through tsx. A free port, the environment it needs,
// its pino lines parsed as they come, waits for a log line or for /health/ready, and its exit.
// No tap here: benchmarks import it too; tests pass error-log.ts's recordLine as `onLine` and kill
// the process at teardown.
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

/** The repository's root, the engine's working directory. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** node's arguments for the TypeScript sources (`npm run dev` without pino-pretty). */
export const TSX_MAIN: readonly string[] = ['--import', 'tsx', 'src/main.ts']

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export interface EngineProcessOptions {
  /** node's arguments (default TSX_MAIN; ['dist/engine.js'] for the build). */
  readonly args?: readonly string[]
  /** The AMI peer's port on 127.0.0.1. */
  readonly amiPort: number
  /** More environment: DATABASE_DIR or DATABASE_URL, UAPI_CONFIG, TLS_*... */
  readonly env?: Readonly<Record<string, string>>
  /** pino's level (default info). */
  readonly logLevel?: string
  /** Start from this process's environment (what tap's child processes inherit), not from PATH only. */
  readonly inheritEnv?: boolean
  /** Each stdout line as it comes (tests: error-log.ts's recordLine). */
  readonly onLine?: (line: string) => void
}

export interface Exit { readonly code: number | null, readonly signal: NodeJS.Signals | null, readonly at: number }

export class EngineProcess {
  /** Every stdout line, parsed (a line that is not JSON: `{ msg: line }`). */
  readonly logs: Array<Record<string, unknown>> = []
  readonly exited: Promise<Exit>
  readonly base: string
  private readonly waiters = new Set<() => void>()
  private buffered = ''

  private constructor (readonly child: ChildProcess, readonly port: number, readonly spawnedAt: number, onLine?: (line: string) => void) {
    this.base = `http://127.0.0.1:${port}`
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.buffered += chunk
      let nl
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl)
        this.buffered = this.buffered.slice(nl + 1)
        try { this.logs.push(JSON.parse(line) as Record<string, unknown>) } catch { this.logs.push({ msg: line }) }
        onLine?.(line)
      }
      for (const w of this.waiters) w()
    })
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })))
  }

  /** Spawns the engine on a free port, HTTP on 127.0.0.1, AMI at 127.0.0.1:amiPort. */
  static async start (opts: EngineProcessOptions): Promise<EngineProcess> {
    const port = await freePort()
    const base = opts.inheritEnv === true ? { ...process.env } : { PATH: process.env.PATH }
    const env = { ...base, HOST: '127.0.0.1', PORT: String(port), AMI_HOST: '127.0.0.1', AMI_PORT: String(opts.amiPort), LOG_LEVEL: opts.logLevel ?? 'info', ...opts.env }
    const spawnedAt = performance.now()
    const child = spawn(process.execPath, [...(opts.args ?? TSX_MAIN)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] })
    return new EngineProcess(child, port, spawnedAt, opts.onLine)
  }

  get running (): boolean { return this.child.exitCode === null && this.child.signalCode === null }

  /** The first log line (past or future) matching `pred`; rejects after timeoutMs. */
  waitForLog (pred: (l: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.logs.find(pred)
        if (hit === undefined) return
        this.waiters.delete(check)
        clearTimeout(timer)
        resolve(hit)
      }
      const timer = setTimeout(() => { this.waiters.delete(check); reject(new Error(`no log line "${what}" within ${timeoutMs} ms`)) }, timeoutMs)
      this.waiters.add(check)
      check()
    })
  }

  /** Polls GET /health/ready every pollMs until 200 (AMI logged in, mirror synced): ms since spawn. */
  async waitReady (timeoutMs: number, pollMs = 100): Promise<number> {
    const deadline = performance.now() + timeoutMs
    while (performance.now() < deadline) {
      if (!this.running) throw new Error(`the engine exited before it was ready (${String(this.child.exitCode ?? this.child.signalCode)})`)
      const ok = await fetch(`${this.base}/health/ready`).then((r) => r.status === 200, () => false)
      if (ok) return performance.now() - this.spawnedAt
      await new Promise((resolve) => setTimeout(resolve, pollMs))
    }
    throw new Error(`${this.child.spawnargs.slice(1).join(' ')} not ready within ${timeoutMs} ms`)
  }

  /** SIGTERM (or `signal`) and its exit. */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    if (this.running) this.child.kill(signal)
    return await this.exited
  }

  /** For teardown: SIGKILL if still running. */
  kill (): void {
    if (this.running) this.child.kill('SIGKILL')
  }
}
