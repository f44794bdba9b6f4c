// The live stream (GET /uapi/phoneCalls/@me/@self/stream) read with fetch() and a ReadableStream:
// EventSource cannot send a bearer token. Reconnects with backoff and resumes with Last-Event-ID;
// a 503 (the PBX is away) is retried the same way, and reported as an outage.

const WATCHDOG_MS = 40_000 // the engine sends a comment every 15 s: silence this long is a dead link
const MIN_DELAY_MS = 1000
const MAX_DELAY_MS = 10_000

/** Splits SSE text into messages; feed() returns the complete ones, keeping a partial tail. */
export class SseParser {
  #buffer = ''

  feed (text) {
    this.#buffer += text.replace(/\r\n?/g, '\n')
    const out = []
    let end
    while ((end = this.#buffer.indexOf('\n\n')) >= 0) {
      const block = this.#buffer.slice(0, end)
      this.#buffer = this.#buffer.slice(end + 2)
      let id
      let event = 'message'
      const data = []
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'id') id = value
        else if (field === 'event') event = value
        else if (field === 'data') data.push(value)
      }
      if (data.length > 0) out.push({ id, event, data: data.join('\n') })
    }
    return out
  }
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms)
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
})

/**
 * Keeps one stream open until stop(). Callbacks: onMessage({event, data}) for every message, and
 * onState(state, detail) with 'connecting', 'open', 'reconnecting', 'outage', 'expired' (the token
 * the stream used expired, or was refused: the session decides what next), 'failed' (detail: status).
 */
export class CallStream {
  #url
  #session
  #onMessage
  #onState
  #lastId
  #stopped = new AbortController()
  #current
  #restarting = false

  constructor ({ url, session, onMessage, onState }) {
    this.#url = url
    this.#session = session
    this.#onMessage = onMessage
    this.#onState = onState
    void this.#run()
  }

  stop () {
    this.#stopped.abort()
    this.#current?.abort()
  }

  /** Reopens at once with the session's current token, resuming after the last message. */
  restart () {
    this.#restarting = true
    this.#current?.abort()
  }

  async #run () {
    let delay = MIN_DELAY_MS
    let first = true
    let refusals = 0
    while (!this.#stopped.signal.aborted) {
      if (!this.#session.valid) { this.#onState('expired'); return }
      this.#onState(first ? 'connecting' : 'reconnecting')
      first = false
      const outcome = await this.#once()
      if (this.#stopped.signal.aborted) return
      if (outcome.kind === 'restart') { delay = MIN_DELAY_MS; continue }
      if (outcome.kind === 'expired') {
        // A new token refused too (the engine restarted with another key?): not in a tight loop.
        if (++refusals > 1) {
          await sleep(delay, this.#stopped.signal)
          delay = Math.min(delay * 2, MAX_DELAY_MS)
        }
        // Renewed meanwhile: carry on with the new token; else renew now.
        if (this.#session.valid && this.#session.token !== outcome.token) continue
        if (await this.#session.renewNow()) continue
        this.#onState('expired')
        return
      }
      refusals = 0
      if (outcome.kind === 'opened-then-lost') delay = MIN_DELAY_MS
      if (outcome.kind === 'outage') this.#onState('outage')
      else if (outcome.kind === 'failed') this.#onState('failed', outcome.status)
      else this.#onState('reconnecting')
      const wait = Math.max(delay, (outcome.retryAfter ?? 0) * 1000)
      await sleep(wait * (0.8 + Math.random() * 0.4), this.#stopped.signal)
      delay = Math.min(delay * 2, MAX_DELAY_MS)
    }
  }

  /** One connection: resolves how it ended. */
  async #once () {
    const ctrl = new AbortController()
    this.#current = ctrl
    this.#restarting = false
    const token = this.#session.token
    const headers = { accept: 'text/event-stream', authorization: `Bearer ${token}` }
    if (this.#lastId !== undefined) headers['last-event-id'] = this.#lastId
    let res
    try {
      res = await fetch(this.#url, { headers, signal: ctrl.signal, cache: 'no-store' })
    } catch {
      return { kind: this.#restarting ? 'restart' : 'lost' }
    }
    if (res.status === 503) return { kind: 'outage', retryAfter: Number(res.headers.get('retry-after')) || 2 }
    if (res.status === 401) return { kind: 'expired', token }
    if (!res.ok || res.body === null) return { kind: 'failed', status: res.status }
    this.#onState('open')
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    const parser = new SseParser()
    let watchdog
    const arm = () => {
      clearTimeout(watchdog)
      watchdog = setTimeout(() => ctrl.abort(), WATCHDOG_MS)
    }
    arm()
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        arm()
        for (const message of parser.feed(value)) {
          if (message.id !== undefined) this.#lastId = message.id
          if (message.event === 'expired') return { kind: 'expired', token }
          this.#onMessage(message)
        }
      }
    } catch {
      // aborted (restart, stop, watchdog) or the connection broke
    } finally {
      clearTimeout(watchdog)
      ctrl.abort()
    }
    return { kind: this.#restarting ? 'restart' : 'opened-then-lost' }
  }
}
