// The only module that touches asterisk-manager. It keeps the package's socket set-up (keepalive,
// no-delay, setEncoding('utf-8') so a UTF-8 sequence split across TCP chunks decodes right), its frame
// parser and its serializer, and replaces what is broken (see reference D.3.1):
// - one Manager per TCP connection: the parser's partial-frame buffer (`context.leftOver`/`lines`)
//   lives in the Manager, so reusing one across reconnects would glue the old socket's half frame to
//   the new banner and login reply;
// - no auto-connect/auto-login (its login binding swallows failures): Manager() gets no port and we
//   call connect() and login() ourselves;
// - its 'rawevent' dispatcher (re-emits each message 2-4 times via process.nextTick, misroutes
//   OriginateResponse) is removed; one synchronous listener of ours receives each parsed message;
// - the once(actionId) listener its action() registers is removed right away: we correlate replies.
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'
import type { RawItem } from './normalize.ts'
import type { PackageAction } from './serialize.ts'

interface PackageManager {
  connect (port: number, host: string): void
  login (callback?: (err?: unknown) => void): void
  action (action: PackageAction, callback?: (...args: unknown[]) => void): string
  on (event: string, listener: (...args: any[]) => void): unknown
  removeAllListeners (event: string): unknown
  removeListener (event: string, listener: (...args: any[]) => void): unknown
  listeners (event: string): Array<(...args: unknown[]) => void>
  emit (event: string, ...args: unknown[]): boolean
}

type ManagerFactory = (port?: number, host?: string, username?: string, password?: string, events?: boolean) => PackageManager

interface NetModule { createConnection: (...args: any[]) => Socket }

const require = createRequire(import.meta.url)
const Manager = require('asterisk-manager') as ManagerFactory
// The same CommonJS object the package's `require('net')` returns, so a patched property is seen by it.
const netCjs = require('node:net') as NetModule

export interface TransportHandlers {
  onItem (item: RawItem): void
  onConnect (): void
  onClose (err: Error | undefined): void
}

export interface TransportOptions {
  readonly host: string
  readonly port: number
  readonly username: string
  readonly secret: string
}

export class AmiTransport {
  readonly socket: Socket
  private readonly mgr: PackageManager
  private readonly handlers: TransportHandlers
  private lastError: Error | undefined
  private detached = false

  constructor (opts: TransportOptions, handlers: TransportHandlers) {
    this.handlers = handlers
    // No port: the package would otherwise connect and log in by itself, with a broken login binding.
    this.mgr = Manager(undefined, opts.host, opts.username, opts.secret, true)
    this.mgr.removeAllListeners('rawevent')
    this.mgr.on('rawevent', this.onRaw)
    // The package's pre-installed no-op 'error' listener stays: it keeps socket errors from throwing.
    this.socket = connectCapturingSocket(this.mgr, opts.port, opts.host)
    this.socket.once('connect', this.onConnect)
    this.socket.on('error', this.onError)
    this.socket.on('close', this.onClose)
  }

  /** Sends Login through the package's own login(): only that path sets its private `authenticated`
   *  flag, without which its action() holds every later action forever. Its callback is not used:
   *  the reply reaches the package through deliverLoginReply(). With `md5Key` (challenge login) the
   *  secret itself is not sent. */
  login (md5Key?: string): void {
    if (md5Key === undefined) {
      this.mgr.login()
      return
    }
    // Challenge login: the package's login() always sends Secret. For that one synchronous call its
    // action() (looked up on the Manager at call time) gets the Login without Secret, with the MD5
    // Key instead; restored in `finally`, so no other action passes through the wrapper.
    const original = this.mgr.action
    this.mgr.action = (action, callback) => {
      const { secret: _secret, ...rest } = action as PackageAction & { secret?: unknown }
      return original.call(this.mgr, { ...rest, authtype: 'MD5', key: md5Key } as PackageAction, callback)
    }
    try {
      this.mgr.login()
    } finally {
      this.mgr.action = original
    }
  }

  /**
   * Asks for a login challenge (Action: Challenge, AuthType: MD5). Written straight to the socket:
   * the package holds every action but Login until it is logged in.
   */
  challenge (actionId: string): void {
    this.socket.write(`Action: Challenge\r\nAuthType: MD5\r\nActionID: ${actionId}\r\n\r\n`, 'utf-8')
  }

  /**
   * Hands the login reply to the once(actionId) listener the package's login() registered, so the
   * package's callback runs and marks the session authenticated (synchronously, on success).
   * Returns false when no such listener exists (the reply is not the login's): the package would then
   * hold every action, so the caller must drop the connection.
   */
  deliverLoginReply (reply: RawItem, actionId: string | undefined, failed: boolean): boolean {
    if (actionId === undefined || this.mgr.listeners(actionId).length === 0) return false
    this.mgr.emit(actionId, failed ? reply : undefined, reply)
    return true
  }

  /** Writes one action with the package's serializer; `action.actionid` is ours and is kept as is. */
  send (action: PackageAction): void {
    const id = action.actionid as string
    this.mgr.action(action)
    // We correlate replies ourselves; the package's once(id) listener would never fire (its dispatcher
    // is gone) and would leak.
    this.mgr.removeAllListeners(id)
  }

  /** Bytes queued in the socket and not yet handed to the kernel (for backpressure). */
  get writableLength (): number {
    return this.socket.writableLength
  }

  /** Test/diagnostic: listeners the package holds for an ActionID (must be 0 once an action settled). */
  packageListenerCount (actionId: string): number {
    return this.mgr.listeners(actionId).length
  }

  /** Stops all callbacks from this connection and destroys its socket. Idempotent. */
  detach (): void {
    if (this.detached) return
    this.detached = true
    this.mgr.removeListener('rawevent', this.onRaw)
    this.socket.removeListener('connect', this.onConnect)
    this.socket.removeListener('close', this.onClose)
    // Our 'error' listener stays so a late socket error is never unhandled.
    this.socket.destroy()
  }

  private readonly onRaw = (item: RawItem): void => {
    if (!this.detached) this.handlers.onItem(item)
  }

  private readonly onConnect = (): void => {
    if (!this.detached) this.handlers.onConnect()
  }

  private readonly onError = (err: Error): void => {
    this.lastError = err
  }

  private readonly onClose = (): void => {
    if (this.detached) return
    this.detached = true
    this.mgr.removeListener('rawevent', this.onRaw)
    this.handlers.onClose(this.lastError)
  }
}

/**
 * The package never exposes its socket, but we need it to destroy a half-open connection (missed Ping),
 * to enforce a connect timeout and to see the write buffer. Its connect() creates the socket with
 * `Net.createConnection()` synchronously, so we wrap that one function for the duration of that one
 * synchronous call only and restore it in `finally`: no other caller can run in between.
 */
function connectCapturingSocket (mgr: PackageManager, port: number, host: string): Socket {
  const original = netCjs.createConnection
  let captured: Socket | undefined
  netCjs.createConnection = function (this: unknown, ...args: unknown[]): Socket {
    captured = original.apply(this, args)
    return captured
  }
  try {
    mgr.connect(port, host)
  } finally {
    netCjs.createConnection = original
  }
  if (captured === undefined) throw new Error('asterisk-manager did not create a socket')
  return captured
}
