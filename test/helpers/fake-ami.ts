/**
 * FakeAmi: a scripted AMI server on 127.0.0.1 (random port) for faults a real Asterisk cannot produce
 * on demand (silent socket, garbled frame, dropped connection) and for ingest benchmarks.
 *
 *   const ami = await FakeAmi.start({ username: 'u', secret: 's' })   // ami.host, ami.port
 *   ami.onAction('Originate', (a, conn) => reply(a, { Response: 'Error', Message: 'No such channel' }))
 *                         // handler returns frames to write (string | string[]); null = stay silent;
 *                         // undefined = fall back to the default reply
 *   ami.silent = true     // stop writing anything to every connection (half-open peer); new
 *                         // connections still get their banner and login reply unless silentLogin
 *   ami.send(frame(...))  // write raw text to every live connection
 *   await ami.streamFixture('x.ami', { chunkSize? }) // the fixture's frames after its banner and login reply
 *   ami.dropConnections() // destroy every live socket (the client sees the connection drop)
 *   ami.actions           // every action parsed: { conn, name, headers (lower-case keys), lines, raw }
 *   ami.bytesAfterLogin(conn?) // raw bytes a connection sent after its Login (for "nothing written" checks)
 *   await ami.waitForAction(a => a.name === 'Ping', 2000); await ami.waitForConnections(2, 2000)
 *   await ami.close()
 *
 * Defaults: banner `Asterisk Call Manager/11.0.0`; Login answered Success + a FullyBooted event
 * (`fullyBooted: false` to skip it) or, for a wrong user/secret, Error `Authentication failed` after
 * authFailDelayMs (Asterisk waits ~1 s) and a close; Ping -> Pong; Logoff -> Goodbye and close;
 * CoreShowChannels, ParkedCalls -> an empty list; anything else -> `Response: Success`.
 */
import net from 'node:net'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'

export interface FakeAmiOptions {
  readonly username?: string
  readonly secret?: string
  readonly banner?: string
  readonly fullyBooted?: boolean
  readonly uptime?: number
  readonly authFailDelayMs?: number
  /** With `silent`, also never answer Login (connections hang in authentication). */
  readonly silentLogin?: boolean
}

export interface FakeAction {
  readonly conn: number
  /** The Action header's value as sent (case preserved). */
  readonly name: string
  /** Lower-cased header names -> first value. */
  readonly headers: Readonly<Record<string, string>>
  /** Every header line in wire order, [name, value]. */
  readonly lines: ReadonlyArray<readonly [string, string]>
  readonly raw: string
}

export type ActionHandler = (action: FakeAction, conn: FakeConnection) => string | string[] | null | undefined

export interface FakeConnection {
  readonly id: number
  readonly socket: net.Socket
  loggedIn: boolean
  /** Raw text received from this client. */
  received: string
  /** Offset in `received` just after the Login frame. */
  loginEnd: number
  /** The MD5 challenge this connection was given (Action: Challenge), if any. */
  challenge?: string
}

/** Serializes one AMI frame: header lines + blank line, CRLF. Arrays repeat the header. */
export function frame (headers: Record<string, string | number | readonly string[]>): string {
  let out = ''
  for (const [k, v] of Object.entries(headers)) {
    if (Array.isArray(v)) for (const x of v) out += `${k}: ${x}\r\n`
    else out += `${k}: ${String(v)}\r\n`
  }
  return out + '\r\n'
}

/** A reply frame to `action` (ActionID copied). */
export function reply (action: FakeAction, headers: Record<string, string | number | readonly string[]>): string {
  const id = action.headers.actionid
  return frame(id === undefined ? headers : { Response: 'Success', ActionID: id, ...headers })
}

export class FakeAmi {
  readonly host = '127.0.0.1'
  port = 0
  silent = false
  readonly actions: FakeAction[] = []
  readonly connections: FakeConnection[] = []
  private readonly server: net.Server
  private readonly handlers = new Map<string, ActionHandler>()
  private readonly opts: Required<FakeAmiOptions>
  private readonly waiters = new Set<() => void>()
  private nextConn = 0

  private constructor (opts: FakeAmiOptions) {
    this.opts = {
      username: opts.username ?? 'uapi',
      secret: opts.secret ?? 'secret',
      banner: opts.banner ?? 'Asterisk Call Manager/11.0.0',
      fullyBooted: opts.fullyBooted ?? true,
      uptime: opts.uptime ?? 42,
      authFailDelayMs: opts.authFailDelayMs ?? 20,
      silentLogin: opts.silentLogin ?? false
    }
    this.server = net.createServer((socket) => this.onConnection(socket))
  }

  static async start (opts: FakeAmiOptions = {}): Promise<FakeAmi> {
    const ami = new FakeAmi(opts)
    await new Promise<void>((resolve, reject) => {
      ami.server.once('error', reject)
      ami.server.listen(0, '127.0.0.1', () => resolve())
    })
    ami.port = (ami.server.address() as net.AddressInfo).port
    return ami
  }

  /** Script the reply to an action (case-insensitive name). */
  onAction (name: string, handler: ActionHandler): void {
    this.handlers.set(name.toLowerCase(), handler)
  }

  /** Live (not destroyed) connections. */
  get live (): FakeConnection[] {
    return this.connections.filter((c) => !c.socket.destroyed)
  }

  send (text: string): void {
    for (const c of this.live) c.socket.write(text)
  }

  dropConnections (): void {
    for (const c of this.live) c.socket.destroy()
  }

  bytesAfterLogin (conn?: FakeConnection): string {
    const c = conn ?? this.connections[this.connections.length - 1]
    return c === undefined ? '' : c.received.slice(c.loginEnd)
  }

  /**
   * Writes a recorded stream's frames (everything after its banner line and its first frame, the
   * login reply) to every live connection, as fast as the socket takes them. Resolves once flushed.
   */
  async streamFixture (path: string, opts: { chunkSize?: number } = {}): Promise<number> {
    const text = await readFile(path, 'utf8')
    const afterBanner = text.indexOf('\r\n') + 2
    const afterLogin = text.indexOf('\r\n\r\n', afterBanner) + 4
    const body = Buffer.from(text.slice(afterLogin), 'utf8')
    const size = opts.chunkSize ?? body.length
    await Promise.all(this.live.map(async (c) => {
      for (let i = 0; i < body.length; i += size) {
        // Chunks are cut on bytes, so multi-byte characters may be split across writes on purpose.
        if (!c.socket.write(body.subarray(i, i + size))) await new Promise((resolve) => c.socket.once('drain', resolve))
      }
    }))
    return body.length
  }

  waitForAction (pred: (a: FakeAction) => boolean, timeoutMs = 2000): Promise<FakeAction> {
    return this.waitUntil(() => this.actions.find(pred), timeoutMs, 'action')
  }

  waitForConnections (n: number, timeoutMs = 2000): Promise<FakeConnection> {
    return this.waitUntil(() => this.connections.length >= n ? this.connections[n - 1] : undefined, timeoutMs, `${n} connections`)
  }

  async close (): Promise<void> {
    for (const c of this.connections) c.socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private waitUntil<T> (probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const now = probe()
    if (now !== undefined) return Promise.resolve(now)
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const v = probe()
        if (v === undefined) return
        clearTimeout(timer)
        this.waiters.delete(check)
        resolve(v)
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`FakeAmi: no ${what} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.add(check)
    })
  }

  private notify (): void {
    for (const w of [...this.waiters]) w()
  }

  private onConnection (socket: net.Socket): void {
    const conn: FakeConnection = { id: ++this.nextConn, socket, loggedIn: false, received: '', loginEnd: 0 }
    this.connections.push(conn)
    socket.setEncoding('utf8')
    socket.on('error', () => {})
    if (!(this.silent && this.opts.silentLogin)) socket.write(this.opts.banner + '\r\n')
    let buf = ''
    socket.on('data', (chunk: string) => {
      conn.received += chunk
      buf += chunk
      let end: number
      while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
        const raw = buf.slice(0, end)
        buf = buf.slice(end + 4)
        this.onFrame(conn, raw, conn.received.length - buf.length)
      }
    })
    this.notify()
  }

  private onFrame (conn: FakeConnection, raw: string, endOffset: number): void {
    const lines: Array<[string, string]> = []
    const headers: Record<string, string> = {}
    for (const line of raw.split('\r\n')) {
      const c = line.indexOf(':')
      const name = c === -1 ? line : line.slice(0, c)
      const value = c === -1 ? '' : line.slice(c + 1).trimStart()
      lines.push([name, value])
      const key = name.toLowerCase()
      if (!(key in headers)) headers[key] = value
    }
    const action: FakeAction = { conn: conn.id, name: headers.action ?? '', headers, lines, raw }
    this.actions.push(action)
    const lower = action.name.toLowerCase()
    if (lower === 'login') conn.loginEnd = endOffset
    this.notify()
    if (this.silent && (lower !== 'login' || this.opts.silentLogin)) return
    const custom = this.handlers.get(lower)?.(action, conn)
    if (custom === null) return
    if (custom !== undefined) {
      for (const f of Array.isArray(custom) ? custom : [custom]) conn.socket.write(f)
      return
    }
    this.defaultReply(conn, action, lower)
  }

  private defaultReply (conn: FakeConnection, a: FakeAction, lower: string): void {
    const s = conn.socket
    switch (lower) {
      case 'challenge':
        // As Asterisk: a random challenge per connection, MD5 only.
        if ((a.headers.authtype ?? '').toLowerCase() !== 'md5') {
          s.write(reply(a, { Response: 'Error', Message: 'Must specify AuthType' }))
          return
        }
        conn.challenge = String(Math.floor(Math.random() * 1e9))
        s.write(reply(a, { Challenge: conn.challenge }))
        return
      case 'login': {
        const md5 = (a.headers.authtype ?? '').toLowerCase() === 'md5'
        const keyOk = md5 && conn.challenge !== undefined && a.headers.key === createHash('md5').update(conn.challenge + this.opts.secret).digest('hex')
        if (a.headers.username === this.opts.username && (md5 ? keyOk : a.headers.secret === this.opts.secret)) {
          conn.loggedIn = true
          s.write(reply(a, { Message: 'Authentication accepted' }))
          if (this.opts.fullyBooted) {
            s.write(frame({ Event: 'FullyBooted', Privilege: 'system,all', Uptime: this.opts.uptime, LastReload: this.opts.uptime, Status: 'Fully Booted' }))
          }
        } else {
          setTimeout(() => {
            s.write(reply(a, { Response: 'Error', Message: 'Authentication failed' }))
            s.end()
          }, this.opts.authFailDelayMs)
        }
        return
      }
      case 'ping':
        s.write(reply(a, { Ping: 'Pong', Timestamp: (Date.now() / 1000).toFixed(6) }))
        return
      case 'logoff':
        s.write(reply(a, { Response: 'Goodbye', Message: 'Thanks for all the fish.' }))
        s.end()
        return
      case 'coreshowchannels': {
        const id = a.headers.actionid ?? ''
        s.write(reply(a, { EventList: 'start', Message: 'Channels will follow' }) +
          frame({ Event: 'CoreShowChannelsComplete', ActionID: id, EventList: 'Complete', ListItems: 0 }))
        return
      }
      case 'parkedcalls': {
        const id = a.headers.actionid ?? ''
        s.write(reply(a, { EventList: 'start', Message: 'Parked calls will follow' }) +
          frame({ Event: 'ParkedCallsComplete', ActionID: id, EventList: 'Complete', ListItems: 0, Total: 0 }))
        return
      }
      default:
        s.write(reply(a, {}))
    }
  }
}
