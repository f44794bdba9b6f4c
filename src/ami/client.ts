import { EventEmitter } from 'node:events'
import { createHash, randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { AmiError, AmiErrorCodes } from './errors.ts'
import { normalizeItem } from './normalize.ts'
import type { RawItem } from './normalize.ts'
import { toPackageAction } from './serialize.ts'
import type { PackageAction } from './serialize.ts'
import { AmiTransport } from './transport.ts'
import type { TransportHandlers } from './transport.ts'
import type {
  AmiActionOptions, AmiEvent, AmiHeaders, AmiListResult, AmiResponse, AmiSession, AmiState
} from './types.ts'

export interface AmiBackoffOptions {
  /** First reconnect delay cap; doubles per failed attempt (full jitter: a random delay in [0, cap]). */
  readonly initialMs?: number
  readonly maxMs?: number
}

export interface AmiClientOptions {
  readonly host: string
  readonly port: number
  readonly username: string
  readonly secret: string
  readonly logger: Logger
  /** TCP connect deadline. Default 5000. */
  readonly connectTimeoutMs?: number
  /** Deadline for the Login reply (Asterisk answers a bad secret after ~1 s). Default 5000. */
  readonly loginTimeoutMs?: number
  /** Ping period while ready. Default 5000. */
  readonly pingIntervalMs?: number
  /** A Ping unanswered for this long destroys the socket (half-open TCP). Default 3000. */
  readonly pingTimeoutMs?: number
  readonly backoff?: AmiBackoffOptions
  /** Delay before retrying after Asterisk refused the credentials. Default 10000. */
  readonly authRetryMs?: number
  /** Deadline of actions without a per-action default. Default 10000. */
  readonly defaultTimeoutMs?: number
  /** Deadline of list() actions. Default 30000. */
  readonly listTimeoutMs?: number
  /** Actions in flight beyond this are refused with AMI_ERR_OVERLOADED. Default 1000. */
  readonly maxPending?: number
  /** Socket write buffer (bytes) beyond which actions are refused with AMI_ERR_OVERLOADED. Default 1 MiB. */
  readonly maxWriteBufferBytes?: number
  /** How long after the login reply to wait for the FullyBooted event before declaring ready. Default 200. */
  readonly fullyBootedWaitMs?: number
  /**
   * How to log in. 'challenge': Asterisk's MD5 challenge (the secret never crosses the wire), and
   * fail when the server offers none; 'auto' (default): challenge, plain Login if the server refuses
   * to give one; 'plain': Login with Secret.
   */
  readonly login?: AmiLoginMode
}

export type AmiLoginMode = 'auto' | 'challenge' | 'plain'

/** Read-only counters for metrics and health. */
export interface AmiStats {
  readonly state: AmiState
  /** Successful logins so far (AmiSession.epoch of the current/last session). */
  readonly epoch: number
  readonly connectAttempts: number
  /** Connect attempts after the first one. */
  readonly reconnects: number
  readonly eventsReceived: number
  readonly responsesReceived: number
  readonly actionsSent: number
  readonly pending: number
  readonly timeouts: number
  /** Replies that matched no pending action (arrived after a timeout, or foreign). */
  readonly unmatchedResponses: number
  readonly pingMisses: number
  readonly authFailures: number
  /** Messages with neither Event nor Response (garbled frames). */
  readonly malformed: number
}

export interface AmiClientEvents {
  state: [state: AmiState, prev: AmiState]
  ready: [session: AmiSession]
  event: [event: AmiEvent]
  disconnected: [reason: AmiError]
}

interface ListState {
  response: AmiResponse | undefined
  readonly items: AmiEvent[]
}

interface Pending {
  readonly id: string
  readonly action: string
  readonly resolve: (value: any) => void
  readonly reject: (err: AmiError) => void
  readonly timer: NodeJS.Timeout
  readonly list: ListState | undefined
}

// Per-process random prefix: ActionIDs never collide with another process's (or an old run's) ids.
const ID_PREFIX = randomBytes(4).toString('hex')

const ORIGINATE_TIMEOUT_MS = 10_000

/**
 * One AMI session to Asterisk with login, liveness, reconnects and action correlation.
 * Events: 'state'(state, prev), 'ready'(session), 'event'(AmiEvent), 'disconnected'(AmiError).
 * Never emits 'error'.
 *
 * Login and FullyBooted: after 'Authentication accepted' the client waits up to fullyBootedWaitMs
 * for the FullyBooted event Asterisk sends right after a login; that event is emitted as 'event'
 * first (state still 'authenticating'), then state becomes 'ready' and 'ready' is emitted with its
 * Uptime/LastReload. A FullyBooted seen while 'ready' is a real "Asterisk finished booting" signal.
 */
export class AmiClient extends EventEmitter<AmiClientEvents> {
  private readonly opts: Required<Omit<AmiClientOptions, 'backoff' | 'logger'>> & { backoffInitialMs: number, backoffMaxMs: number }
  private readonly log: Logger
  private readonly traceEvents: boolean
  private _state: AmiState = 'idle'
  private transport: AmiTransport | undefined
  private readonly pending = new Map<string, Pending>()
  private connEpoch = 0
  private sessionEpoch = 0
  private counter = 0
  private backoffAttempt = 0
  private closing = false
  private closePromise: Promise<void> | undefined
  private handshakeTimer: NodeJS.Timeout | undefined
  private bootTimer: NodeJS.Timeout | undefined
  private reconnectTimer: NodeJS.Timeout | undefined
  private pingTimer: NodeJS.Timeout | undefined
  private pingInFlight = false
  /** ActionID of the Challenge sent on this connection, until its reply arrives. */
  private challengeId: string | undefined
  private readonly handlers: TransportHandlers = {
    onItem: (raw) => this.onItem(raw),
    onConnect: () => this.onConnect(),
    onClose: (err) => this.onClose(err)
  }

  private readonly counters = {
    connectAttempts: 0,
    eventsReceived: 0,
    responsesReceived: 0,
    actionsSent: 0,
    timeouts: 0,
    unmatchedResponses: 0,
    pingMisses: 0,
    authFailures: 0,
    malformed: 0
  }

  constructor (options: AmiClientOptions) {
    super()
    this.opts = {
      host: options.host,
      port: options.port,
      username: options.username,
      secret: options.secret,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      loginTimeoutMs: options.loginTimeoutMs ?? 5000,
      pingIntervalMs: options.pingIntervalMs ?? 5000,
      pingTimeoutMs: options.pingTimeoutMs ?? 3000,
      backoffInitialMs: options.backoff?.initialMs ?? 250,
      backoffMaxMs: options.backoff?.maxMs ?? 10_000,
      authRetryMs: options.authRetryMs ?? 10_000,
      defaultTimeoutMs: options.defaultTimeoutMs ?? 10_000,
      listTimeoutMs: options.listTimeoutMs ?? 30_000,
      maxPending: options.maxPending ?? 1000,
      maxWriteBufferBytes: options.maxWriteBufferBytes ?? 1024 * 1024,
      fullyBootedWaitMs: options.fullyBootedWaitMs ?? 200,
      login: options.login ?? 'auto'
    }
    // The secret is never logged by this module; redaction guards against a caller's log binding.
    this.log = options.logger.child({ mod: 'ami' }, { redact: ['secret', '*.secret', '*.Secret'] })
    this.traceEvents = this.log.isLevelEnabled('debug')
  }

  get state (): AmiState {
    return this._state
  }

  get stats (): AmiStats {
    return {
      state: this._state,
      epoch: this.sessionEpoch,
      reconnects: Math.max(0, this.counters.connectAttempts - 1),
      pending: this.pending.size,
      ...this.counters
    }
  }

  /** Starts connecting (and reconnecting for ever, until close()). Calling it twice is a no-op. */
  start (): void {
    if (this._state !== 'idle') return
    this.connect()
  }

  /** Sends one action and resolves with its `Response: Success` (or `Goodbye`) reply. */
  action (name: string, headers?: AmiHeaders, opts?: AmiActionOptions): Promise<AmiResponse> {
    return this.send(name, headers, opts?.timeoutMs ?? this.defaultTimeout(name), false, false)
  }

  /** Sends an EventList action (CoreShowChannels...) and resolves with the ack, the items and Complete. */
  list (name: string, headers?: AmiHeaders, opts?: AmiActionOptions): Promise<AmiListResult> {
    return this.send(name, headers, opts?.timeoutMs ?? this.opts.listTimeoutMs, true, false)
  }

  /** Logs off (short deadline) when ready, drops the socket, fails pending actions, state 'closed'. */
  close (): Promise<void> {
    if (this.closePromise === undefined) this.closePromise = this.doClose()
    return this.closePromise
  }

  /** Test/diagnostic: listeners asterisk-manager still holds for an ActionID (0 once settled). */
  packageListenerCount (actionId: string): number {
    return this.transport?.packageListenerCount(actionId) ?? 0
  }

  // ---- connection life cycle -------------------------------------------------------------------

  private connect (): void {
    this.reconnectTimer = undefined
    if (this.closing) return
    this.connEpoch++
    this.counters.connectAttempts++
    this.setState('connecting')
    this.log.debug({ host: this.opts.host, port: this.opts.port, attempt: this.counters.connectAttempts }, 'connecting')
    try {
      this.transport = new AmiTransport(this.opts, this.handlers)
    } catch (err) {
      this.lost(new AmiError(AmiErrorCodes.CONNECTION_LOST, 'AMI connect failed', { cause: err }))
      return
    }
    this.handshakeTimer = setTimeout(this.onHandshakeTimeout, this.opts.connectTimeoutMs, 'connect')
  }

  /** TCP connected: log in. */
  private onConnect (): void {
    clearTimeout(this.handshakeTimer)
    this.setState('authenticating')
    this.handshakeTimer = setTimeout(this.onHandshakeTimeout, this.opts.loginTimeoutMs, 'login')
    if (this.opts.login === 'plain') {
      this.transport?.login()
      return
    }
    this.challengeId = `${ID_PREFIX}-${this.connEpoch}-challenge`
    this.transport?.challenge(this.challengeId)
  }

  /** The reply to our Challenge: log in with MD5(challenge + secret), or (auto) plainly without one. */
  private onChallengeReply (reply: AmiResponse): void {
    this.challengeId = undefined
    const challenge = reply.challenge
    if ((reply.response ?? '').toLowerCase() === 'success' && challenge !== undefined && challenge !== '') {
      this.transport?.login(createHash('md5').update(challenge + this.opts.secret).digest('hex'))
      return
    }
    if (this.opts.login === 'challenge') {
      clearTimeout(this.handshakeTimer)
      this.handshakeTimer = undefined
      this.refused(new AmiError(AmiErrorCodes.AUTH, `AMI server offers no MD5 challenge (${reply.message ?? reply.response}); plain login is switched off`, { action: 'Challenge', response: reply }))
      return
    }
    this.log.warn({ message: reply.message }, 'AMI server offers no MD5 challenge: logging in with the plain secret')
    this.transport?.login()
  }

  /** The socket closed (by the peer, or an error). */
  private onClose (err: Error | undefined): void {
    this.lost(new AmiError(AmiErrorCodes.CONNECTION_LOST,
      err === undefined ? 'AMI connection closed' : `AMI connection lost: ${err.message}`, { cause: err }))
  }

  private readonly onHandshakeTimeout = (phase: 'connect' | 'login'): void => {
    this.handshakeTimer = undefined
    const ms = phase === 'connect' ? this.opts.connectTimeoutMs : this.opts.loginTimeoutMs
    this.lost(new AmiError(AmiErrorCodes.TIMEOUT, `AMI ${phase} timed out after ${ms} ms`))
  }

  /**
   * The one path for every connection end except close(): forget the transport, fail every pending
   * action at once (never replayed), report, and schedule the next attempt.
   */
  private lost (reason: AmiError): void {
    const wasReady = this._state === 'ready'
    this.dropTransport()
    this.failAllPending(wasReady ? reason.message : 'AMI connection lost')
    if (this.closing || this._state === 'closed') return
    if (this._state === 'auth-failed') return // the slow auth retry is already scheduled
    this.setState('disconnected')
    this.emit('disconnected', reason)
    const delay = this.nextBackoff()
    this.log.warn({ reason: reason.message, code: reason.code, retryInMs: delay }, 'AMI connection lost')
    this.reconnectTimer = setTimeout(this.reconnect, delay)
  }

  private readonly reconnect = (): void => {
    this.connect()
  }

  private nextBackoff (): number {
    const cap = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** this.backoffAttempt)
    this.backoffAttempt = Math.min(this.backoffAttempt + 1, 30)
    return Math.floor(Math.random() * cap)
  }

  private dropTransport (): void {
    clearTimeout(this.handshakeTimer)
    clearTimeout(this.bootTimer)
    clearInterval(this.pingTimer)
    this.handshakeTimer = this.bootTimer = this.pingTimer = undefined
    this.pingInFlight = false
    const t = this.transport
    this.transport = undefined
    t?.detach()
  }

  private failAllPending (message: string): void {
    if (this.pending.size === 0) return
    const all = [...this.pending.values()]
    this.pending.clear()
    for (const p of all) {
      clearTimeout(p.timer)
      p.reject(new AmiError(AmiErrorCodes.CONNECTION_LOST, `${p.action}: ${message} (not replayed)`, { action: p.action, actionId: p.id }))
    }
  }

  private setState (next: AmiState): void {
    const prev = this._state
    if (prev === next) return
    this._state = next
    this.log.info({ state: next, prev }, 'AMI state')
    this.emit('state', next, prev)
  }

  private async doClose (): Promise<void> {
    this.closing = true
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = undefined
    if (this._state === 'ready' && this.transport !== undefined) {
      try {
        await this.send('Logoff', undefined, 1000, false, true)
      } catch (err) {
        this.log.debug({ err }, 'Logoff not acknowledged')
      }
    }
    this.dropTransport()
    this.failAllPending('AMI client closed')
    this.setState('closed')
  }

  // ---- login ---------------------------------------------------------------------------------------

  private onLoginReply (reply: AmiResponse, raw: RawItem): void {
    clearTimeout(this.handshakeTimer)
    this.handshakeTimer = undefined
    const ok = (reply.response ?? '').toLowerCase() === 'success'
    const t = this.transport
    if (t === undefined) return
    if (!t.deliverLoginReply(raw, reply.actionid, !ok)) {
      // Without the package's own login callback running, its action() would hold every action.
      this.lost(new AmiError(AmiErrorCodes.CONNECTION_LOST, 'AMI reply during login did not match the Login action'))
      return
    }
    if (!ok) {
      this.refused(new AmiError(AmiErrorCodes.AUTH,
        `AMI login refused for user ${JSON.stringify(this.opts.username)}: ${reply.message ?? reply.response}`,
        { action: 'Login', response: reply }))
      return
    }
    // Wait briefly for the FullyBooted that follows a login on a booted Asterisk (see class comment).
    this.bootTimer = setTimeout(this.onBootWaitOver, this.opts.fullyBootedWaitMs)
  }

  /** Credentials refused (or no challenge where one is required): retry after authRetryMs. */
  private refused (err: AmiError): void {
    this.counters.authFailures++
    this.dropTransport()
    this.setState('auth-failed')
    this.log.warn({ user: this.opts.username, message: err.message, retryInMs: this.opts.authRetryMs }, 'AMI authentication failed')
    this.emit('disconnected', err)
    if (!this.closing) this.reconnectTimer = setTimeout(this.reconnect, this.opts.authRetryMs)
  }

  private readonly onBootWaitOver = (): void => {
    this.bootTimer = undefined
    this.becomeReady(undefined)
  }

  private becomeReady (fullyBooted: AmiEvent | undefined): void {
    clearTimeout(this.bootTimer)
    this.bootTimer = undefined
    this.sessionEpoch++
    this.backoffAttempt = 0
    const session: { epoch: number, uptimeSeconds?: number, lastReloadSeconds?: number } = { epoch: this.sessionEpoch }
    if (fullyBooted !== undefined) {
      const uptime = Number(fullyBooted.uptime)
      const lastReload = Number(fullyBooted.lastreload)
      if (fullyBooted.uptime !== undefined && Number.isFinite(uptime)) session.uptimeSeconds = uptime
      if (fullyBooted.lastreload !== undefined && Number.isFinite(lastReload)) session.lastReloadSeconds = lastReload
    }
    this.setState('ready')
    this.pingTimer = setInterval(this.onPingTick, this.opts.pingIntervalMs)
    this.pingTimer.unref()
    this.log.info({ epoch: session.epoch, uptime: session.uptimeSeconds }, 'AMI ready')
    this.emit('ready', session)
  }

  // ---- liveness -------------------------------------------------------------------------------------

  private readonly onPingTick = (): void => {
    if (this._state !== 'ready' || this.pingInFlight) return
    this.pingInFlight = true
    const t = this.transport
    this.send('Ping', undefined, this.opts.pingTimeoutMs, false, false).then(() => {
      this.pingInFlight = false
    }, (err: AmiError) => {
      this.pingInFlight = false
      if (err.code !== AmiErrorCodes.TIMEOUT || t !== this.transport) return
      this.counters.pingMisses++
      // No Pong: the peer is gone or the path is half-open; TCP alone may not notice for minutes.
      this.lost(new AmiError(AmiErrorCodes.TIMEOUT, `AMI Ping unanswered after ${this.opts.pingTimeoutMs} ms: connection presumed dead`))
    })
  }

  // ---- actions --------------------------------------------------------------------------------------

  private defaultTimeout (name: string): number {
    const lower = name.toLowerCase()
    if (lower === 'ping') return this.opts.pingTimeoutMs
    if (lower === 'originate') return ORIGINATE_TIMEOUT_MS
    return this.opts.defaultTimeoutMs
  }

  private send (name: string, headers: AmiHeaders | undefined, timeoutMs: number, isList: boolean, internal: boolean): Promise<any> {
    const id = `${ID_PREFIX}-${this.connEpoch}-${++this.counter}`
    let packed: PackageAction
    try {
      packed = toPackageAction(name, id, headers)
    } catch (err) {
      return Promise.reject(err)
    }
    const t = this.transport
    if (this._state !== 'ready' || t === undefined || (this.closing && !internal)) {
      return Promise.reject(new AmiError(AmiErrorCodes.NOT_CONNECTED, `${name}: AMI not connected (state ${this._state})`, { action: name }))
    }
    if (this.pending.size >= this.opts.maxPending) {
      return Promise.reject(new AmiError(AmiErrorCodes.OVERLOADED, `${name}: ${this.pending.size} AMI actions already in flight`, { action: name }))
    }
    if (t.writableLength > this.opts.maxWriteBufferBytes) {
      return Promise.reject(new AmiError(AmiErrorCodes.OVERLOADED, `${name}: AMI socket write buffer full (${t.writableLength} bytes)`, { action: name }))
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(this.onActionTimeout, timeoutMs, id, timeoutMs)
      timer.unref()
      this.pending.set(id, { id, action: name, resolve, reject, timer, list: isList ? { response: undefined, items: [] } : undefined })
      this.counters.actionsSent++
      if (this.traceEvents) this.log.debug({ action: name, actionId: id }, 'action sent')
      t.send(packed)
    })
  }

  private readonly onActionTimeout = (id: string, ms: number): void => {
    const p = this.pending.get(id)
    if (p === undefined) return
    this.pending.delete(id)
    this.counters.timeouts++
    this.log.debug({ action: p.action, actionId: id, timeoutMs: ms }, 'AMI action timed out')
    p.reject(new AmiError(AmiErrorCodes.TIMEOUT, `${p.action}: no AMI reply within ${ms} ms`, { action: p.action, actionId: id }))
  }

  // ---- inbound --------------------------------------------------------------------------------------

  /** One message parsed by asterisk-manager, delivered synchronously. */
  private onItem (raw: RawItem): void {
    const item = normalizeItem(raw)
    if (item.event !== undefined) this.onEvent(item as AmiEvent)
    else if (item.response !== undefined) this.onResponse(item as AmiResponse, raw)
    else {
      this.counters.malformed++
      this.log.debug({ keys: Object.keys(item).slice(0, 5) }, 'AMI message with neither Event nor Response, dropped')
    }
  }

  private onEvent (event: AmiEvent): void {
    this.counters.eventsReceived++
    const id = event.actionid
    if (id !== undefined && this.pending.size !== 0) {
      const p = this.pending.get(id)
      if (p?.list !== undefined) {
        this.onListEvent(p, p.list, event)
        return
      }
    }
    if (this.traceEvents) this.log.debug({ event: event.event, uniqueid: event.uniqueid }, 'event')
    const booting = this.bootTimer !== undefined && event.event === 'FullyBooted'
    try {
      this.emit('event', event)
    } catch (err) {
      // A throwing listener must not abort the package's parse loop mid-chunk.
      this.log.error({ err, event: event.event }, 'AMI event listener threw')
    }
    if (booting && this.bootTimer !== undefined) this.becomeReady(event)
  }

  private onListEvent (p: Pending, list: ListState, event: AmiEvent): void {
    if ((event.eventlist ?? '').toLowerCase() !== 'complete') {
      list.items.push(event)
      return
    }
    this.settle(p)
    const expected = event.listitems === undefined ? undefined : Number(event.listitems)
    if (expected !== undefined && expected !== list.items.length) {
      this.log.warn({ action: p.action, expected, got: list.items.length }, 'AMI list item count mismatch')
    }
    const result: AmiListResult = {
      response: list.response ?? { response: 'Success' },
      items: list.items,
      complete: event
    }
    p.resolve(result)
  }

  private onResponse (response: AmiResponse, raw: RawItem): void {
    this.counters.responsesReceived++
    if (this._state === 'authenticating' && this.handshakeTimer !== undefined) {
      if (this.challengeId !== undefined && response.actionid === this.challengeId) this.onChallengeReply(response)
      else this.onLoginReply(response, raw)
      return
    }
    const id = response.actionid
    const p = id === undefined ? undefined : this.pending.get(id)
    if (p === undefined) {
      this.counters.unmatchedResponses++
      this.log.debug({ actionId: id, response: response.response }, 'AMI reply matches no pending action (late or foreign), dropped')
      return
    }
    const kind = response.response.toLowerCase()
    if (kind === 'success' || kind === 'goodbye' || kind === 'follows') {
      if (p.list !== undefined) {
        p.list.response = response // now wait for the Complete event
        return
      }
      this.settle(p)
      p.resolve(response)
      return
    }
    this.settle(p)
    p.reject(new AmiError(AmiErrorCodes.ACTION_FAILED,
      `${p.action} failed: ${response.message ?? response.response}`, { action: p.action, actionId: p.id, response }))
  }

  private settle (p: Pending): void {
    clearTimeout(p.timer)
    this.pending.delete(p.id)
  }
}
