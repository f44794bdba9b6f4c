// Worker thread of bench/event-delivery.ts (plain JavaScript: worker threads do not inherit tsx's
// loader on Node 20): an HTTP receiver on loopback that answers 200 and records, per CallID, when
// the delivery arrived (performance.timeOrigin + now(): comparable across threads).
import { parentPort } from 'node:worker_threads'
import http from 'node:http'

const abs = () => performance.timeOrigin + performance.now()
const arrivals = {}
const server = http.createServer((req, res) => {
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (c) => { body += c })
  req.on('end', () => {
    const at = abs()
    const id = new URLSearchParams(body).get('CallID')
    if (id !== null) (arrivals[id] ??= []).push(at)
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
  })
})
server.keepAliveTimeout = 10_000
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }))
parentPort.on('message', (m) => {
  if (m.report === true) parentPort.postMessage({ arrivals })
})
