// One Server-Sent Events client of the call feed: what one token sees of the live calls.
//
// Messages (each with an `id:` a client sends back as Last-Event-ID to resume):
//   event: snapshot  data: {"phoneCalls":[PhoneCall...]}  every call the client sees now; replaces
//                    what it had (first message, after a resume that could not be told, and after
//                    the PBX came back: a full resync)
//   event: call      data: {"phoneCall":PhoneCall}         a call appeared or changed
//   event: ended     data: {"id":"<phoneCallId>"}          a call ended (gone from List)
//   event: status    data: {"pbx":"unavailable"}           the PBX is unreachable; a snapshot follows when it is back
//   event: expired   data: {}                              the token expired: the stream ends; reconnect with a new one
// and a comment line every heartbeatMs so proxies keep the connection open.
import type { ServerResponse } from 'node:http'
import { partiesSeenBy, seenBy, type CallSelection, type CallService, type PhoneCall } from '../calls/index.ts'
import type { CallFeed, FeedRecord } from './feed.ts'

export interface StreamClientOptions {
  readonly selection: CallSelection
  /** The extension of the request path, or undefined for @self / an organization's whole view. */
  readonly viewer: string | undefined
  /** Last-Event-ID sent by the client, if it resumes. */
  readonly lastEventId: string | undefined
  /** When the token expires (ms since the epoch). */
  readonly expiresAt: number | undefined
  readonly heartbeatMs?: number
  /** A client whose unsent data exceeds this is dropped (it resumes on reconnect). */
  readonly maxBufferedBytes?: number
  /** Response headers already decided (security, CORS), sent with the stream's own. */
  readonly headers?: Record<string, string | number | string[] | undefined>
}

// One serialization per record and way of seeing it, shared by every client in the same fan-out.
const serialized = new WeakMap<FeedRecord, Map<string, string>>()

function messageOf (record: FeedRecord, feed: CallFeed, viewer: string | undefined): string {
  let byViewer = serialized.get(record)
  if (byViewer === undefined) {
    byViewer = new Map()
    serialized.set(record, byViewer)
  }
  // Calls look the same to every viewer but their own parties (seenBy): share the common text.
  const key = viewer !== undefined && record.parties.has(viewer) ? viewer : ''
  let text = byViewer.get(key)
  if (text === undefined) {
    const id = `${feed.boot}.${record.seq}`
    const seen = record.phoneCall === undefined || key === '' ? record.json : JSON.stringify(seenBy(record.phoneCall, record.parties, key))
    text = record.phoneCall === undefined
      ? `id: ${id}\nevent: ended\ndata: ${JSON.stringify({ id: record.callId })}\n\n`
      : `id: ${id}\nevent: call\ndata: {"phoneCall":${seen}}\n\n`
    byViewer.set(key, text)
  }
  return text
}

/** Streams the feed to one HTTP response until either side ends it. */
export function openCallStream (feed: CallFeed, calls: CallService, res: ServerResponse, opts: StreamClientOptions): void {
  const heartbeatMs = opts.heartbeatMs ?? 15_000
  const maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024
  res.writeHead(200, {
    ...opts.headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-store',
    connection: 'keep-alive',
    // nginx and similar proxies: do not hold events back.
    'x-accel-buffering': 'no'
  })
  res.socket?.setNoDelay(true)
  let open = true
  const send = (text: string): void => {
    if (!open) return
    res.write(text)
    if (res.writableLength > maxBuffered) close() // too slow a reader: it resumes on reconnect
  }
  const snapshot = (): void => {
    const phoneCalls: PhoneCall[] = calls.select(opts.selection).map((call) => calls.project(call, opts.viewer))
    send(`id: ${feed.lastId}\nevent: snapshot\ndata: ${JSON.stringify({ phoneCalls })}\n\n`)
  }
  const onRecord = (record: FeedRecord): void => {
    if (partiesSeenBy(record.parties, opts.selection)) send(messageOf(record, feed, opts.viewer))
  }
  const onAvailability = (live: boolean): void => {
    if (live) snapshot()
    else send(`id: ${feed.lastId}\nevent: status\ndata: {"pbx":"unavailable"}\n\n`)
  }
  const heartbeat = setInterval(() => { send(': keep-alive\n\n') }, heartbeatMs)
  heartbeat.unref()
  const expiry = opts.expiresAt !== undefined
    ? setTimeout(() => { send('event: expired\ndata: {}\n\n'); close() }, Math.max(0, opts.expiresAt - Date.now()))
    : undefined
  expiry?.unref()
  function close (): void {
    if (!open) return
    open = false
    clearInterval(heartbeat)
    if (expiry !== undefined) clearTimeout(expiry)
    feed.off('record', onRecord)
    feed.off('availability', onAvailability)
    feed.off('closing', close)
    feed.detach()
    res.end()
  }
  res.on('close', close)
  res.on('error', close)

  // Tell the client how soon to come back, then what it missed (or everything it sees now).
  feed.attach()
  send('retry: 2000\n\n')
  const missed = opts.lastEventId !== undefined ? feed.since(opts.lastEventId) : undefined
  if (missed !== undefined) {
    for (const record of missed) onRecord(record)
  } else {
    snapshot()
  }
  feed.on('record', onRecord)
  feed.on('availability', onAvailability)
  feed.once('closing', close)
}
