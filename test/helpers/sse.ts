// A Server-Sent Events client for tests: node:http, Authorization header, messages parsed as they
// arrive (the browser's EventSource cannot send a bearer token; the panel reads the stream with fetch).
import http from 'node:http'

export interface SseMessage {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
  /** When it arrived (performance.now()). */
  readonly at: number
}

export interface SseClient {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly messages: SseMessage[]
  /** Resolves with the first message from index `from` on that matches (waits up to timeoutMs). */
  next: (match: (m: SseMessage) => boolean, timeoutMs?: number, from?: number) => Promise<SseMessage>
  /** Resolves once the server ended the response. */
  readonly ended: Promise<void>
  close: () => void
  /** The body, for a response that is not a stream (an error). */
  body: () => string
}

export async function openSse (url: string, token: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return await new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers } }, (res) => {
      res.setEncoding('utf8')
      const messages: SseMessage[] = []
      const waiters = new Set<() => void>()
      let buffer = ''
      let raw = ''
      res.on('data', (chunk: string) => {
        raw += chunk
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let id: string | undefined
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith(':') || line === '') continue
            const colon = line.indexOf(':')
            const field = colon < 0 ? line : line.slice(0, colon)
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
            if (field === 'id') id = value
            else if (field === 'event') event = value
            else if (field === 'data') data.push(value)
          }
          if (data.length > 0 || id !== undefined) messages.push({ id, event, data: data.join('\n'), at: performance.now() })
        }
        for (const w of waiters) w()
      })
      const ended = new Promise<void>((resolve) => { res.on('end', resolve); res.on('close', resolve) })
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        messages,
        ended,
        body: () => raw,
        close: () => { req.destroy() },
        next: async (match, timeoutMs = 5000, from = 0) => await new Promise((resolve, reject) => {
          const check = (): boolean => {
            const m = messages.slice(from).find(match)
            if (m === undefined) return false
            waiters.delete(probe)
            clearTimeout(timer)
            resolve(m)
            return true
          }
          const probe = (): void => { check() }
          const timer = setTimeout(() => {
            waiters.delete(probe)
            reject(new Error(`no matching SSE message within ${timeoutMs} ms; got: ${messages.map((m) => m.event).join(',')}`))
          }, timeoutMs)
          if (!check()) waiters.add(probe)
        })
      })
    })
    req.on('error', reject)
  })
}
