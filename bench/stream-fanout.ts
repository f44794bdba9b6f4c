// Stream fan-out: one call change reaching 100 stream clients. The engine runs with its real AMI
// client on a fake peer; each change is an AMI frame (Hold or Unhold of a call's caller leg, which
// List shows as onHold) written to the engine's AMI socket, so it goes through the real parser, the
// mirror's change signal, the feed and 100 real HTTP responses (Server-Sent Events on loopback).
// The clients run in a worker thread (stream-clients.mjs: its own event loop, so reading 100 streams does not delay the
// engine's writes); arrival times are performance.timeOrigin + now(), comparable across threads.
// Key: stream_fanout_ms_p99, the p99 over every (change, client) of arrival - write of the frame;
// changes are 20 ms apart, 25 warm-up changes, then 200 measured (20,000 samples).
import { Worker } from 'node:worker_threads'
import { engineWithFakeAmi, round, summarize, syntheticCall, syntheticHold, toFrame, tokenFor, until, writeAll } from './lib.ts'

const CLIENTS = 100
const WARMUP = 25
const CHANGES = 200
const SPACING_MS = 20
const abs = (): number => performance.timeOrigin + performance.now()

interface WorkerInput { readonly url: string, readonly token: string, readonly clients: number }

export async function benchStreamFanout (log: (m: string) => void = () => {}): Promise<Record<string, number>> {
  const eut = await engineWithFakeAmi()
  try {
    const { app, fake } = eut
    // The fake peer answers the 30 s drift check with no channels, which would end the call: the
    // run takes about 10 s.
    await app.listen({ host: '127.0.0.1', port: 0 })
    const port = (app.server.address() as { port: number }).port
    const conn = fake.live[fake.live.length - 1]
    if (conn === undefined) throw new Error('not connected')
    // One answered call 0003*300 -> 0003*210: organization 3 sees it.
    const call = syntheticCall(0, '0003*300', '0003*210', true)
    await writeAll(conn.socket, Buffer.from(call.events.map(toFrame).join(''), 'utf8'))
    await until(() => app.engine.mirror.size === 1, 5000, 'call mirrored')

    const worker = new Worker(new URL('./stream-clients.mjs', import.meta.url), {
      workerData: { url: `http://127.0.0.1:${port}/uapi/phoneCalls/@me/@self/stream`, token: await tokenFor(app, 3), clients: CLIENTS } satisfies WorkerInput
    })
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => { resolve() })
      worker.once('error', reject)
    })
    log(`stream: ${CLIENTS} clients connected`)
    const written: number[] = []
    for (let i = 0; i < WARMUP + CHANGES; i++) {
      const frame = Buffer.from(toFrame(syntheticHold(0, '0003*300', '0003*210', i % 2 === 0)), 'utf8')
      written.push(abs())
      conn.socket.write(frame)
      await new Promise((resolve) => setTimeout(resolve, SPACING_MS))
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    const arrivals = await new Promise<number[][]>((resolve) => {
      worker.once('message', (m: { arrivals: number[][] }) => { resolve(m.arrivals) })
      worker.postMessage({ report: true })
    })
    await worker.terminate()
    const samples: number[] = []
    for (const perClient of arrivals) {
      if (perClient.length !== written.length) throw new Error(`stream: a client got ${perClient.length} changes of ${written.length}`)
      for (let k = WARMUP; k < written.length; k++) samples.push((perClient[k] as number) - (written[k] as number))
    }
    const s = summarize(samples)
    log(`stream fan-out to ${CLIENTS} clients: p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, max ${s.max.toFixed(2)} ms (${samples.length} samples)`)
    return { stream_fanout_ms_p99: round(s.p99), stream_fanout_ms_p50: round(s.p50) }
  } finally {
    await eut.close()
  }
}
