// HTTP throughput: requests per second of "GET one call" on the engine versus a bare Fastify
// hello-world route, same run, same load generator, real HTTP on 127.0.0.1 (both servers listen on
// port 0 in this process).
//
// Load generator: a minimal HTTP/1.1 keep-alive client on raw sockets (CONNECTIONS connections, one
// request in flight on each, responses framed by Content-Length), running in a worker thread so it
// has its own core and its own event loop: the servers keep the main thread to themselves. A raw
// client costs a few microseconds per request, so the servers, not the generator, set the pace (an
// in-thread fetch/undici loop would have eaten most of the CPU and squeezed the ratio towards 1).
// Runs alternate hello / engine, WARMUP_MS each first, then RUNS x RUN_MS each; medians reported.
//
// Engine route: GET /uapi/phoneCalls/@me/0003*210/<id> as user 12 (bearer token verified on every
// request), one answered call 0003*300 -> 0003*210 in the mirror, mirror live on a fake AMI peer.
import { Worker } from 'node:worker_threads'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { engineWithFakeAmi, median, round, syntheticCall, toEvent, tokenFor } from './lib.ts'

export interface HttpHelloResult {
  http_vs_hello_ratio: number
  http_get_call_rps: number
  http_hello_rps: number
  http_connections: number
}

const CONNECTIONS = 32
const WARMUP_MS = 1500
const RUN_MS = 3000
const RUNS = 3

// Plain JavaScript (worker_threads eval): no TypeScript loader needed in the worker.
const GENERATOR = `
const { parentPort, workerData } = require('node:worker_threads')
const net = require('node:net')
const { port, path, headers, connections, durationMs } = workerData
let head = 'GET ' + path + ' HTTP/1.1\\r\\nHost: 127.0.0.1:' + port + '\\r\\nConnection: keep-alive\\r\\n'
for (const [k, v] of Object.entries(headers)) head += k + ': ' + v + '\\r\\n'
const request = Buffer.from(head + '\\r\\n')
let ok = 0, bad = 0, stopped = false, open = 0
const sockets = []
for (let i = 0; i < connections; i++) {
  const s = net.connect(port, '127.0.0.1')
  s.setNoDelay(true)
  sockets.push(s)
  let buf = Buffer.alloc(0)
  s.on('connect', () => { open++; s.write(request) })
  s.on('error', () => { bad++ })
  s.on('data', (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    for (;;) {
      const end = buf.indexOf('\\r\\n\\r\\n')
      if (end === -1) return
      const headText = buf.toString('latin1', 0, end)
      const m = /\\r\\ncontent-length: *(\\d+)/i.exec(headText)
      if (m === null) { bad++; s.destroy(); return }
      const total = end + 4 + Number(m[1])
      if (buf.length < total) return
      if (headText.startsWith('HTTP/1.1 200')) ok++; else bad++
      buf = buf.subarray(total)
      if (!stopped) s.write(request)
    }
  })
}
setTimeout(() => {
  stopped = true
  for (const s of sockets) s.destroy()
  parentPort.postMessage({ ok, bad, open })
}, durationMs)
`

interface LoadResult { ok: number, bad: number, open: number }

function load (port: number, path: string, headers: Record<string, string>, durationMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(GENERATOR, { eval: true, workerData: { port, path, headers, connections: CONNECTIONS, durationMs } })
    w.once('error', reject)
    w.once('message', (r: LoadResult) => {
      void w.terminate()
      if (r.bad > 0 || r.open !== CONNECTIONS) reject(new Error(`http: ${r.bad} bad responses, ${r.open}/${CONNECTIONS} connections on ${path}`))
      else resolve(r.ok / (durationMs / 1000))
    })
  })
}

export async function benchHttpHello (log: (msg: string) => void = () => {}): Promise<HttpHelloResult> {
  const hello = Fastify({ logger: false })
  hello.get('/hello', async () => ({ hello: 'world' }))
  const eut = await engineWithFakeAmi()
  try {
    const { app } = eut
    const call = syntheticCall(0, '0003*300', '0003*210', true)
    for (const h of call.events) app.engine.mirror.apply(toEvent(h))
    const callId = app.engine.mirror.callOfLeg(call.callerUniqueid)?.id
    if (callId === undefined) throw new Error('http: call not mirrored')
    const token = await tokenFor(app, 12)
    const path = `/uapi/phoneCalls/@me/0003*210/${callId}`
    const check = await app.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${token}` } })
    if (check.statusCode !== 200 || (check.json() as { entry: unknown[] }).entry.length !== 1) throw new Error(`http: ${check.statusCode} ${check.body}`)

    await hello.listen({ host: '127.0.0.1', port: 0 })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const helloPort = (hello.server.address() as AddressInfo).port
    const appPort = (app.server.address() as AddressInfo).port
    const auth = { authorization: `Bearer ${token}` }

    await load(helloPort, '/hello', {}, WARMUP_MS)
    await load(appPort, path, auth, WARMUP_MS)
    const helloRps: number[] = []
    const callRps: number[] = []
    for (let i = 0; i < RUNS; i++) {
      helloRps.push(await load(helloPort, '/hello', {}, RUN_MS))
      callRps.push(await load(appPort, path, auth, RUN_MS))
      log(`http run ${i + 1}: hello ${helloRps[i]?.toFixed(0)} req/s, get-call ${callRps[i]?.toFixed(0)} req/s`)
    }
    const h = median(helloRps)
    const c = median(callRps)
    return { http_vs_hello_ratio: round(c / h), http_get_call_rps: Math.round(c), http_hello_rps: Math.round(h), http_connections: CONNECTIONS }
  } finally {
    await hello.close()
    await eut.close()
  }
}
