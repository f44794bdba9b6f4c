// Start-up and idle memory of the engine as a process: the compiled build (`npm start`: plain
// `node dist/main.js`) against the same sources run through the `tsx` loader (`npm run dev`).
//
// Each run spawns the engine with a clean environment (no NODE_OPTIONS) on a local fake AMI peer and
// polls GET /health/ready every 5 ms: start_to_ready_ms is from just before spawn() to the first 200
// (AMI logged in, mirror synced). Then the process idles 3 s and its RSS is read from
// /proc/<pid>/status (VmRSS): idle_rss_mb. Compiled and tsx runs alternate, RUNS each; medians.
// The build (tsc -p tsconfig.build.json) runs first, so the compiled side is the current code.
import { execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { FakeAmi } from '../test/helpers/fake-ami.ts'
import { median, round } from './lib.ts'

export interface StartupResult {
  start_to_ready_ms: number
  start_to_ready_ms_tsx: number
  idle_rss_mb: number
  idle_rss_mb_tsx: number
  /** Compiled idle RSS over tsx's (target <= 0.75: at least 25 % less). */
  idle_rss_ratio: number
}

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const RUNS = 3
const IDLE_MS = 3_000

async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function once (args: string[], amiPort: number): Promise<{ readyMs: number, rssMb: number }> {
  const port = await freePort()
  const t0 = performance.now()
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), AMI_HOST: '127.0.0.1', AMI_PORT: String(amiPort), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  try {
    let readyMs = -1
    while (performance.now() - t0 < 30_000) {
      const ok = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.status === 200, () => false)
      if (ok) { readyMs = performance.now() - t0; break }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    if (readyMs < 0) throw new Error(`startup: ${args.join(' ')} not ready within 30 s`)
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS))
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1])
    return { readyMs, rssMb: kb / 1024 }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
  }
}

export async function benchStartup (log: (msg: string) => void = () => {}): Promise<StartupResult> {
  await promisify(execFile)(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.build.json'], { cwd: ROOT, timeout: 180_000 })
  const fake = await FakeAmi.start({ username: 'uapi', secret: 'uapi-dev-secret' })
  const compiled: Array<{ readyMs: number, rssMb: number }> = []
  const tsx: Array<{ readyMs: number, rssMb: number }> = []
  try {
    for (let i = 0; i < RUNS; i++) {
      compiled.push(await once(['dist/main.js'], fake.port))
      tsx.push(await once(['--import', 'tsx', 'src/main.ts'], fake.port))
      log(`startup run ${i + 1}: compiled ${compiled[i]?.readyMs.toFixed(0)} ms ${compiled[i]?.rssMb.toFixed(1)} MB, tsx ${tsx[i]?.readyMs.toFixed(0)} ms ${tsx[i]?.rssMb.toFixed(1)} MB`)
    }
  } finally {
    await fake.close()
  }
  const rss = median(compiled.map((r) => r.rssMb))
  const rssTsx = median(tsx.map((r) => r.rssMb))
  return {
    start_to_ready_ms: round(median(compiled.map((r) => r.readyMs)), 0),
    start_to_ready_ms_tsx: round(median(tsx.map((r) => r.readyMs)), 0),
    idle_rss_mb: round(rss, 1),
    idle_rss_mb_tsx: round(rssTsx, 1),
    idle_rss_ratio: round(rss / rssTsx)
  }
}
