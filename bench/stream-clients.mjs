// Worker thread of bench/stream-fanout.ts (plain JavaScript: worker threads do not inherit tsx's
// loader on Node 20). Opens `clients` Server-Sent Events streams and records, per client, when
// each `call` message arrived (performance.timeOrigin + now(): comparable across threads).
import { parentPort, workerData } from 'node:worker_threads'
import http from 'node:http'

const { url, token, clients } = workerData
const abs = () => performance.timeOrigin + performance.now()
const arrivals = Array.from({ length: clients }, () => [])
const agent = new http.Agent({ keepAlive: true, maxSockets: clients })
let ready = 0
for (let i = 0; i < clients; i++) {
  http.get(url, { agent, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8')
    let buffer = ''
    let snapshot = false
    res.on('data', (chunk) => {
      const at = abs()
      buffer += chunk
      let end
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (block.includes('\nevent: call\n')) arrivals[i].push(at)
        else if (!snapshot && block.includes('\nevent: snapshot\n')) {
          snapshot = true
          if (++ready === clients) parentPort.postMessage({ ready: true })
        }
      }
    })
  })
}
parentPort.on('message', (m) => {
  if (m.report === true) parentPort.postMessage({ arrivals })
})
