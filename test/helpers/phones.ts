/**
 * SIPp phones for tests against the bundled PBX (SIP/UDP 127.0.0.1:5060, see asterisk/pjsip.conf).
 *
 * Every phone is one or more `sipp` processes on its own local UDP port (127.0.0.1, 5070-5999),
 * each run in its own temp dir with a scenario generated for it. Everything a phone sends and
 * receives is recorded (`-trace_msg`) and parsed into SipMessage objects. No media by default: SDP
 * offers PCMU/PCMA on a port nobody listens on, and the PBX never hangs up for missing RTP. With
 * opts.audio (a pcap of PCMA RTP, e.g. /usr/share/sip-tester/g711a.pcap or test/helpers/rtp.ts'
 * writeSilencePcap), the SDP offers PCMA on sipp's own RTP port and sipp plays the pcap once the call
 * is answered; phone.rtpPort() is that port (where the PBX sends this phone's audio).
 *
 * API
 *   Phone.register(ext, opts?)    REGISTER with digest auth (password demo-sip-secret), resolve on
 *                                 200 OK (reject with the final response otherwise), then wait
 *                                 for calls according to opts.mode:
 *                                   'ring'   (default) 180 Ringing, never answers; CANCEL -> 200 + 487
 *                                   'answer' 180, then 200 OK after opts.answerAfterMs (default 0);
 *                                            answers BYE, or sends BYE itself after opts.hangupAfterMs
 *                                   'none'   only register
 *                                 Every incoming call is handled the same way (many calls per phone).
 *   Phone.call(from, to, opts?)   INVITE `to` as extension `from` (401 -> ACK -> INVITE with
 *                                 credentials, CSeq 2), ACK the 200, talk opts.talkMs then BYE (or
 *                                 until the far end's BYE / phone.stop()). Resolves once sipp runs.
 *                                 Failure responses (403, 404, 486, 603...) are ACKed and recorded.
 *   phone.waitFor(what, opts?)    wait (polling, deadline opts.timeoutMs default 10 s) for the
 *                                 opts.nth (default 1) received message matching `what`: a method
 *                                 ('INVITE', 'CANCEL', 'BYE'), a status ('180', 200) or a predicate;
 *                                 opts.direction 'sent' waits for what the phone sent (e.g. '487').
 *                                 Fails with the phone's message/log tail.
 *   phone.received(what?) / phone.sent(what?) / phone.messages()   recorded SipMessages so far
 *   phone.answered() / phone.gotCancel() / phone.gotBye()          quick facts
 *   phone.waitForExit(opts?)      wait for the current sipp run to end; resolves its exit code
 *   phone.stop()                  kill sipp, hang up any PBX channel of this phone's SIP calls (so
 *                                 Asterisk notices), and unregister a registered phone
 *   stopAllPhones()               stop every phone started by this process (use in t.teardown)
 *
 * Environment: KEEP_SIPP_FILES=1 keeps each phone's temp dir (scenario XML, message trace,
 * sipp errors) after stop(); SIPP_BIN overrides the sipp binary. See test/sipp/README.md.
 *
 * SipMessage: { direction, method?, status?, reason?, cseqMethod?, firstLine, header(name),
 *               headers, body, raw }. header() is case-insensitive and returns the first value.
 *
 * Example
 *   import { Phone, stopAllPhones } from '../helpers/phones.ts';
 *   t.teardown(stopAllPhones);
 *   const reception = await Phone.register('0003*210', { mode: 'ring' });
 *   const caller = await Phone.call('0003*300', '0003*210');
 *   const invite = await reception.waitFor('INVITE');
 *   invite.header('From');                 // '"Sales 300" <sip:0003*300@127.0.0.1>;tag=...'
 *   await caller.waitFor('180');
 *   await caller.stop();                   // PBX hangs up the call -> reception gets CANCEL
 *   await reception.waitFor('CANCEL');
 */
import { spawn, type ChildProcess } from 'node:child_process'
import dgram from 'node:dgram'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { amiAction, hangupChannels, listChannels, sipCallIdOf } from './pbx.ts'

export const PBX_SIP = { host: '127.0.0.1', port: 5060 } as const
export const DEMO_SIP_PASSWORD = 'demo-sip-secret'
const SIPP = process.env.SIPP_BIN ?? 'sipp'

// ------------------------------------------------------------------------------------------
// Parsed SIP messages

export interface SipMessage {
  direction: 'sent' | 'received';
  /** Timestamp line written by sipp. */
  time: string;
  firstLine: string;
  /** Request method (requests only). */
  method?: string;
  /** Status code (responses only). */
  status?: number;
  reason?: string;
  /** Method in the CSeq header (e.g. 'INVITE' for a 180). */
  cseqMethod?: string;
  /** Lower-case header name -> values in order. */
  headers: Record<string, string[]>;
  body: string;
  raw: string;
  /** First value of a header (case-insensitive), or undefined. */
  header(name: string): string | undefined;
}

/** What to wait for: a method ('INVITE'), a status ('180' or 180) or a predicate. */
export type SipMatch = string | number | ((m: SipMessage) => boolean)

const COMPACT: Record<string, string> = { f: 'from', t: 'to', i: 'call-id', m: 'contact', v: 'via', l: 'content-length', c: 'content-type' }

function parseSip (raw: string, direction: 'sent' | 'received', time: string): SipMessage | undefined {
  const text = raw.replace(/\r\n/g, '\n').replace(/^\n+/, '')
  const split = text.indexOf('\n\n')
  const head = split >= 0 ? text.slice(0, split) : text
  const body = split >= 0 ? text.slice(split + 2).replace(/\n+$/, '') : ''
  const lines = head.split('\n')
  const firstLine = lines[0]?.trim() ?? ''
  if (!firstLine) return undefined
  const headers: Record<string, string[]> = {}
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':')
    if (i <= 0) continue
    let name = line.slice(0, i).trim().toLowerCase()
    name = COMPACT[name] ?? name;
    (headers[name] ??= []).push(line.slice(i + 1).trim())
  }
  const msg: SipMessage = {
    direction,
    time,
    firstLine,
    headers,
    body,
    raw: text,
    header: (name) => headers[COMPACT[name.toLowerCase()] ?? name.toLowerCase()]?.[0],
  }
  const status = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(firstLine)
  if (status) {
    msg.status = Number(status[1])
    msg.reason = status[2]
  } else {
    msg.method = firstLine.split(' ')[0]
  }
  msg.cseqMethod = msg.header('CSeq')?.split(/\s+/)[1]
  return msg
}

/** Parses a sipp -trace_msg file. */
export function parseMessageFile (content: string): SipMessage[] {
  const out: SipMessage[] = []
  // Entries start with a line of dashes and a timestamp, then "UDP message sent (N bytes):" or
  // "UDP message received [N] bytes :", a blank line and the SIP message.
  for (const entry of content.split(/^-{20,} /m).slice(1)) {
    const nl = entry.indexOf('\n')
    const time = entry.slice(0, nl).trim()
    const rest = entry.slice(nl + 1)
    const kind = /^\S+ message (sent|received)[^\n]*\n/.exec(rest)
    if (!kind) continue
    const msg = parseSip(rest.slice(kind[0].length), kind[1] as 'sent' | 'received', time)
    if (msg) out.push(msg)
  }
  return out
}

function matches (m: SipMessage, what: SipMatch): boolean {
  if (typeof what === 'function') return what(m)
  const s = String(what)
  if (/^\d{3}$/.test(s)) return m.status === Number(s)
  return m.method === s.toUpperCase()
}

function describe (what: SipMatch): string {
  return typeof what === 'function' ? 'a matching message' : String(what)
}

// ------------------------------------------------------------------------------------------
// Local ports

const PORT_MIN = 5070
const PORT_MAX = 5999
const usedPorts = new Set<number>()
// Start at a random place so test files run one after another (separate processes) do not
// reuse each other's ports while the PBX may still hold dialogs or contacts for them.
let nextPort = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN + 1))

function udpPortFree (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4')
    s.once('error', () => resolve(false))
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

/** Whether some process has bound UDP `port` (Linux /proc/net/udp; read-only, unlike a bind probe). */
function udpPortBound (port: number): boolean {
  const hex = ':' + port.toString(16).toUpperCase().padStart(4, '0') + ' '
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    if (!existsSync(table)) continue
    for (const line of readFileSync(table, 'utf8').split('\n')) {
      // "  sl  local_address rem_address ...": the local address is the second column.
      const local = line.trim().split(/\s+/)[1]
      if (local !== undefined && (local + ' ').endsWith(hex)) return true
    }
  }
  return false
}

/** A free local SIP port and its sipp control port (port + 10000), never reused in this process. */
async function allocatePort (): Promise<number> {
  for (let tries = 0; tries <= PORT_MAX - PORT_MIN; tries++) {
    const port = nextPort
    nextPort = nextPort >= PORT_MAX ? PORT_MIN : nextPort + 1
    if (usedPorts.has(port)) continue
    if ((await udpPortFree(port)) && (await udpPortFree(port + 10_000))) {
      usedPorts.add(port)
      return port
    }
  }
  throw new Error(`no free UDP port in ${PORT_MIN}-${PORT_MAX} for a SIPp phone`)
}

async function waitUntil (cond: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await cond()) return
    if (Date.now() > deadline) throw new Error(what())
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

// ------------------------------------------------------------------------------------------
// Scenarios (generated per run, so timings are literal attribute values)

const xml = (name: string, body: string): string =>
  `<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n<scenario name="${name}">\n${body}\n</scenario>\n`

const msg = (text: string, attrs = ''): string => `  <send${attrs}><![CDATA[\n\n${text.trim()}\n\n  ]]></send>`

/** SDP of a phone; with audio, the port sipp's RTP socket really has and PCMA only (what the pcaps hold). */
function sdp (mediaPort: number, audio?: string): string {
  return [
    'v=0',
    'o=sipp 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    ...(audio === undefined
      ? [`m=audio ${mediaPort} RTP/AVP 0 8`, 'a=rtpmap:0 PCMU/8000']
      : ['m=audio [media_port] RTP/AVP 8']),
    'a=rtpmap:8 PCMA/8000',
    'a=sendrecv',
  ].join('\n')
}

/** G.711 A-law speech SIPp ships (about 6 s of RTP, payload 8): a phone that talks. */
export const AUDIO_PCAP = '/usr/share/sip-tester/g711a.pcap'

/** Starts playing a pcap's RTP toward the far end's SDP address (in the background). */
const playAudio = (audio: string | undefined): string[] =>
  audio === undefined ? [] : [`  <nop><action><exec play_pcap_audio="${audio}"/></action></nop>`]

function registerScenario (ext: string, expires: number): string {
  const req = (cseq: number, auth: boolean): string => `
REGISTER sip:${PBX_SIP.host}:${PBX_SIP.port} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:[local_port];branch=[branch]
From: <sip:${ext}@${PBX_SIP.host}>;tag=[pid]SIPpTag00[call_number]
To: <sip:${ext}@${PBX_SIP.host}>
Call-ID: [call_id]
CSeq: ${cseq} REGISTER
Contact: <sip:${ext}@127.0.0.1:[local_port]>
${auth ? '[authentication]\n' : ''}Max-Forwards: 70
Expires: ${expires}
User-Agent: uapi-test-sipp
Content-Length: 0`
  return xml(
    'register',
    [msg(req(1, false), ' retrans="500"'), '  <recv response="401" auth="true"/>', msg(req(2, true), ' retrans="500"'), '  <recv response="200"/>'].join('\n')
  )
}

export type AnswerMode = 'ring' | 'answer' | 'none'

function uasScenario (ext: string, port: number, o: { mode: 'ring' | 'answer'; answerAfterMs: number; hangupAfterMs?: number; audio?: string }): string {
  const toTag = '[last_To:];tag=[pid]SIPpTag01[call_number]'
  const contact = `Contact: <sip:${ext}@127.0.0.1:[local_port]>`
  const reply = (code: string, extra = ''): string => `
SIP/2.0 ${code}
[last_Via:]
[last_From:]
${toTag}
[last_Call-ID:]
[last_CSeq:]
${contact}
${extra}Content-Length: 0`
  const ok200Sdp = `
SIP/2.0 200 OK
[last_Via:]
[last_From:]
${toTag}
[last_Call-ID:]
[last_CSeq:]
${contact}
Content-Type: application/sdp
Content-Length: [len]

${sdp(port + 20_000, o.audio)}`
  const cancelled = [
    msg(reply('200 OK')),
    // 487 for the INVITE: same Via/From/Call-ID as the CANCEL, CSeq number of the INVITE.
    msg(`
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
${toTag}
[last_Call-ID:]
CSeq: [$cseq] INVITE
${contact}
Content-Length: 0`),
    '  <recv request="ACK" next="end"/>',
  ]
  const cancelRecv = (attrs: string): string =>
    `  <recv request="CANCEL"${attrs}>\n    <action><ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="cseq"/></action>\n  </recv>`
  // sipp rejects variables that are set but never used: capture the caller only when we send BYE.
  const sendsBye = o.mode === 'answer' && o.hangupAfterMs !== undefined
  const steps: string[] = [
    sendsBye
      ? '  <recv request="INVITE" rrs="true">\n    <action><ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer"/></action>\n  </recv>'
      : '  <recv request="INVITE" rrs="true"/>',
    msg(reply('180 Ringing')),
  ]
  if (o.mode === 'ring') {
    steps.push(cancelRecv(''), ...cancelled)
  } else {
    if (o.answerAfterMs > 0) {
      steps.push(cancelRecv(` timeout="${o.answerAfterMs}" ontimeout="answer"`), ...cancelled)
    }
    steps.push(
      '  <label id="answer"/>',
      msg(ok200Sdp, ' retrans="500"'),
      '  <recv request="ACK"/>',
      ...playAudio(o.audio),
      '  <label id="talk"/>',
      // The PBX may re-INVITE (connected line update, hold) or UPDATE during the call. sipp
      // applies a recv timeout of the first recv of an optional group, so it sits there.
      `  <recv request="INVITE" optional="true" next="reinvite"${sendsBye ? ` timeout="${Math.max(1, o.hangupAfterMs!)}" ontimeout="hangup"` : ''}/>`,
      '  <recv request="UPDATE" optional="true" next="update"/>',
      '  <recv request="BYE"/>',
      msg(reply('200 OK')),
      '  <nop next="end"/>',
      '  <label id="reinvite"/>',
      msg(ok200Sdp, ' retrans="500"'),
      '  <recv request="ACK" next="talk"/>',
      '  <label id="update"/>',
      msg(reply('200 OK')),
      '  <nop next="talk"/>'
    )
  }
  if (sendsBye) {
    steps.push(
      '  <label id="hangup"/>',
      msg(
        `
BYE [next_url] SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:[local_port];branch=[branch]
From: <sip:${ext}@${PBX_SIP.host}>;tag=[pid]SIPpTag01[call_number]
To: [$peer]
[last_Call-ID:]
CSeq: 1 BYE
${contact}
Max-Forwards: 70
Content-Length: 0`,
        ' retrans="500"'
      ),
      '  <recv response="200"/>'
    )
  }
  steps.push('  <label id="end"/>')
  return xml(`uas-${o.mode}`, steps.join('\n'))
}

const FAILURE_CODES = [401, 403, 404, 407, 408, 480, 484, 486, 487, 488, 500, 503, 603]

function uacScenario (from: string, to: string, port: number, talkMs: number | undefined, audio?: string): string {
  const ruri = `sip:${to}@${PBX_SIP.host}:${PBX_SIP.port}`
  const invite = (cseq: number, auth: boolean): string => `
INVITE ${ruri} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:[local_port];branch=[branch]
From: <sip:${from}@${PBX_SIP.host}>;tag=[pid]SIPpTag00[call_number]
To: <sip:${to}@${PBX_SIP.host}>
Call-ID: [call_id]
CSeq: ${cseq} INVITE
Contact: <sip:${from}@127.0.0.1:[local_port]>
${auth ? '[authentication]\n' : ''}Max-Forwards: 70
User-Agent: uapi-test-sipp
Content-Type: application/sdp
Content-Length: [len]

${sdp(port + 20_000, audio)}`
  // ACK for a non-2xx final response: same branch as the INVITE ([last_Via:] of the response).
  const ackFailure = (cseq: number): string => `
ACK ${ruri} SIP/2.0
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq: ${cseq} ACK
Max-Forwards: 70
Content-Length: 0`
  const inDialog = (method: string, cseq: number): string => `
${method} [next_url] SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:[local_port];branch=[branch]
[routes]
From: <sip:${from}@${PBX_SIP.host}>;tag=[pid]SIPpTag00[call_number]
To: <sip:${to}@${PBX_SIP.host}>[peer_tag_param]
[last_Call-ID:]
CSeq: ${cseq} ${method}
Contact: <sip:${from}@127.0.0.1:[local_port]>
Max-Forwards: 70
Content-Length: 0`
  const reply200 = (sdpBody: boolean): string => `
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:${from}@127.0.0.1:[local_port]>
${sdpBody ? `Content-Type: application/sdp\nContent-Length: [len]\n\n${sdp(port + 20_000, audio)}` : 'Content-Length: 0'}`
  const steps = [
    msg(invite(1, false), ' retrans="500"'),
    '  <recv response="100" optional="true"/>',
    '  <recv response="401" auth="true"/>',
    msg(ackFailure(1)),
    msg(invite(2, true), ' retrans="500"'),
    '  <recv response="100" optional="true"/>',
    '  <recv response="180" optional="true"/>',
    '  <recv response="183" optional="true"/>',
    ...FAILURE_CODES.map((c) => `  <recv response="${c}" optional="true" next="failed"/>`),
    '  <recv response="200" rrs="true"/>',
    msg(inDialog('ACK', 2)),
    ...playAudio(audio),
    '  <label id="talk"/>',
    // sipp applies the recv timeout of the first recv of an optional group.
    `  <recv request="INVITE" optional="true" next="reinvite"${talkMs !== undefined ? ` timeout="${Math.max(1, talkMs)}" ontimeout="hangup"` : ''}/>`,
    '  <recv request="UPDATE" optional="true" next="update"/>',
    '  <recv request="BYE"/>',
    msg(reply200(false)),
    '  <nop next="end"/>',
    '  <label id="reinvite"/>',
    msg(reply200(true), ' retrans="500"'),
    '  <recv request="ACK" next="talk"/>',
    '  <label id="update"/>',
    msg(reply200(false)),
    '  <nop next="talk"/>',
    '  <label id="hangup"/>',
    msg(inDialog('BYE', 3), ' retrans="500"'),
    '  <recv response="200"/>',
    '  <nop next="end"/>',
    '  <label id="failed"/>',
    msg(ackFailure(2)),
    '  <label id="end"/>',
  ]
  return xml('uac', steps.join('\n'))
}

// ------------------------------------------------------------------------------------------
// sipp runs

interface Run {
  name: string;
  proc: ChildProcess;
  messageFile: string;
  logFile: string;
  stderr: string;
  exit: Promise<number | null>;
  exitCode?: number | null;
}

const livePhones = new Set<Phone>()
const liveProcs = new Set<ChildProcess>()
let exitHookInstalled = false

function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Last resort: never leave sipp processes behind when a test process ends.
  process.on('exit', () => {
    for (const p of liveProcs) p.kill('SIGKILL')
  })
}

export interface RegisterOptions {
  mode?: AnswerMode;
  /** 'answer' mode: ring this long before the 200 OK (a CANCEL in this window is honoured). */
  answerAfterMs?: number;
  /** 'answer' mode: after answering, talk this long and then send BYE (default: wait for BYE). */
  hangupAfterMs?: number;
  /** SIP password (default demo-sip-secret). */
  password?: string;
  /** Registration lifetime in seconds (default 3600). */
  expires?: number;
  /** How long to wait for the 200 OK (default 5 s). */
  timeoutMs?: number;
  /** 'answer' mode: a pcap of PCMA RTP played once each call is answered (SDP then offers PCMA only). */
  audio?: string;
}

export interface CallOptions {
  /** Talk this long after the 200 OK, then send BYE (default: until BYE or stop()). */
  talkMs?: number;
  password?: string;
  /** A pcap of PCMA RTP played once the call is answered (SDP then offers PCMA only). */
  audio?: string;
  /** Place this many calls (default 1), `ratePerS` new calls a second (default 10). */
  calls?: number;
  ratePerS?: number;
}

export class Phone {
  readonly extension: string
  /** Local UDP port of this phone on 127.0.0.1. */
  readonly port: number
  readonly dir: string
  readonly kind: 'registered' | 'caller'
  private readonly password: string
  private readonly runs: Run[] = []
  private registered = false
  private stopped = false

  private constructor (extension: string, port: number, kind: 'registered' | 'caller', password: string) {
    this.extension = extension
    this.port = port
    this.kind = kind
    this.password = password
    this.dir = mkdtempSync(join(tmpdir(), `sipp-${extension.replace(/\W/g, '_')}-${port}-`))
    livePhones.add(this)
    installExitHook()
  }

  /** Registers `extension` and (unless mode 'none') waits for incoming calls. */
  static async register (extension: string, opts: RegisterOptions = {}): Promise<Phone> {
    const phone = new Phone(extension, await allocatePort(), 'registered', opts.password ?? DEMO_SIP_PASSWORD)
    try {
      await phone.doRegister(opts.expires ?? 3600, opts.timeoutMs ?? 5_000)
      phone.registered = true
      const mode = opts.mode ?? 'ring'
      if (mode !== 'none') {
        const scenario = uasScenario(extension, phone.port, { mode, answerAfterMs: opts.answerAfterMs ?? 0, hangupAfterMs: opts.hangupAfterMs, audio: opts.audio })
        phone.start(`uas-${mode}`, scenario, [])
        // sipp binds its port at start-up; resolve only once it can receive the PBX's INVITE. The check
        // reads the kernel's socket table: probing by binding the port ourselves could hold it at the
        // very moment sipp binds, and sipp would exit with "Address already in use".
        await waitUntil(() => udpPortBound(phone.port) || phone.current()?.exitCode !== undefined, 5_000, () => phone.failure('sipp did not bind its port'))
        if (phone.current()?.exitCode !== undefined) throw new Error(phone.failure('sipp (uas) exited at start'))
      }
      return phone
    } catch (err) {
      await phone.stop()
      throw err
    }
  }

  /** Calls `to` as extension `from`. Resolves once sipp runs; use waitFor('180'/'200'...). */
  static async call (from: string, to: string, opts: CallOptions = {}): Promise<Phone> {
    const phone = new Phone(from, await allocatePort(), 'caller', opts.password ?? DEMO_SIP_PASSWORD)
    const calls = opts.calls ?? 1
    const rate = calls > 1 ? ['-r', String(opts.ratePerS ?? 10), '-rp', '1000'] : []
    phone.start('uac', uacScenario(from, to, phone.port, opts.talkMs, opts.audio), ['-m', String(calls), ...rate, `${PBX_SIP.host}:${PBX_SIP.port}`])
    return phone
  }

  /** All recorded messages (every sipp run of this phone, in order). */
  messages (): SipMessage[] {
    return this.runs.flatMap((r) => (existsSync(r.messageFile) ? parseMessageFile(readFileSync(r.messageFile, 'utf8')) : []))
  }

  received (what?: SipMatch): SipMessage[] {
    return this.messages().filter((m) => m.direction === 'received' && (what === undefined || matches(m, what)))
  }

  sent (what?: SipMatch): SipMessage[] {
    return this.messages().filter((m) => m.direction === 'sent' && (what === undefined || matches(m, what)))
  }

  /** True once a call was answered (a 200 OK to an INVITE was sent or received). */
  answered (): boolean {
    return this.messages().some((m) => m.status === 200 && m.cseqMethod === 'INVITE')
  }

  gotCancel (): boolean {
    return this.received('CANCEL').length > 0
  }

  /** The RTP port of this phone's latest SDP (where the PBX sends its audio), or undefined. */
  rtpPort (): number | undefined {
    const sdps = this.sent((m) => /^m=audio /m.test(m.body))
    const m = /^m=audio (\d+) /m.exec(sdps[sdps.length - 1]?.body ?? '')
    return m ? Number(m[1]) : undefined
  }

  gotBye (): boolean {
    return this.received('BYE').length > 0
  }

  /** Waits for the nth (default first) received (or, with direction 'sent', sent) message matching `what`. */
  async waitFor (
    what: SipMatch,
    { timeoutMs = 10_000, nth = 1, direction = 'received' }: { timeoutMs?: number; nth?: number; direction?: 'received' | 'sent' } = {}
  ): Promise<SipMessage> {
    let found: SipMessage | undefined
    await waitUntil(
      () => {
        found = (direction === 'sent' ? this.sent(what) : this.received(what))[nth - 1]
        return found !== undefined
      },
      timeoutMs,
      () => this.failure(`did not ${direction === 'sent' ? 'send' : 'receive'} ${describe(what)}${nth > 1 ? ` #${nth}` : ''} within ${timeoutMs} ms`)
    )
    return found!
  }

  /** Waits for the current sipp run to exit; resolves its exit code (0 = scenario completed). */
  async waitForExit ({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<number | null> {
    const run = this.current()
    if (!run) return null
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(this.failure(`sipp (${run.name}) still running after ${timeoutMs} ms`))), timeoutMs)
    })
    try {
      return await Promise.race([run.exit, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Stops the phone: kills sipp, hangs up PBX channels still carrying this phone's SIP calls
   * (killing sipp sends nothing, and the PBX never times out a silent call), then unregisters a
   * registered phone so the PBX does not keep ringing a dead port. Idempotent.
   */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await Promise.all(this.runs.map((r) => this.kill(r)))
    await this.hangupMyChannels().catch(() => undefined)
    if (this.registered) {
      this.registered = false
      await this.doRegister(0, 3_000).catch(() => undefined)
    }
    livePhones.delete(this)
    if (!process.env.KEEP_SIPP_FILES) rmSync(this.dir, { recursive: true, force: true })
  }

  /** Last lines of the recorded SIP traffic and sipp's error output, for failure messages. */
  logTail (maxChars = 3_000): string {
    const parts: string[] = []
    for (const r of this.runs) {
      const err = existsSync(r.logFile) ? readFileSync(r.logFile, 'utf8') : ''
      parts.push(`--- sipp ${r.name} (exit ${r.exitCode === undefined ? 'running' : r.exitCode})${r.stderr ? `\n${r.stderr.trim()}` : ''}${err ? `\n${err.trim()}` : ''}`)
    }
    const msgs = this.messages().map((m) => `${m.direction === 'sent' ? '>>' : '<<'} ${m.firstLine}${m.cseqMethod && m.status ? ` (${m.cseqMethod})` : ''}`)
    const text = `${parts.join('\n')}\n--- SIP messages of ${this.extension}@${this.port}:\n${msgs.join('\n')}`
    return text.length > maxChars ? `...${text.slice(-maxChars)}` : text
  }

  // ---------------------------------------------------------------------------------------

  private current (): Run | undefined {
    return this.runs[this.runs.length - 1]
  }

  private failure (what: string): string {
    return `phone ${this.extension} (udp ${this.port}): ${what}\n${this.logTail()}`
  }

  private start (name: string, scenario: string, extraArgs: string[]): Run {
    const idx = this.runs.length + 1
    const scenarioFile = join(this.dir, `${idx}-${name}.xml`)
    const messageFile = join(this.dir, `${idx}-${name}.msg`)
    const logFile = join(this.dir, `${idx}-${name}.err`)
    writeFileSync(scenarioFile, scenario)
    const args = [
      ...extraArgs,
      '-sf', scenarioFile,
      '-i', '127.0.0.1',
      '-p', String(this.port),
      '-cp', String(this.port + 10_000),
      '-au', this.extension,
      '-ap', this.password,
      '-nostdin',
      '-trace_msg', '-message_file', messageFile,
      '-trace_err', '-error_file', logFile,
    ]
    const proc = spawn(SIPP, args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] })
    liveProcs.add(proc)
    const run: Run = { name, proc, messageFile, logFile, stderr: '', exit: Promise.resolve(null) }
    proc.stderr?.on('data', (d: Buffer) => {
      run.stderr = (run.stderr + d.toString()).slice(-2_000)
    })
    run.exit = new Promise((resolve) => {
      proc.once('error', (e) => {
        run.stderr += `\nspawn ${SIPP} failed: ${e.message}`
        run.exitCode = null
        liveProcs.delete(proc)
        resolve(null)
      })
      proc.once('exit', (code, signal) => {
        run.exitCode = code ?? (signal ? null : code)
        liveProcs.delete(proc)
        resolve(run.exitCode)
      })
    })
    this.runs.push(run)
    return run
  }

  private async doRegister (expires: number, timeoutMs: number): Promise<void> {
    const run = this.start(expires === 0 ? 'unregister' : 'register', registerScenario(this.extension, expires), ['-m', '1', `${PBX_SIP.host}:${PBX_SIP.port}`])
    let timer: NodeJS.Timeout | undefined
    const code = await Promise.race([
      run.exit,
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs)
      }),
    ])
    clearTimeout(timer)
    if (code === 'timeout') await this.kill(run)
    const ok = this.messagesOf(run).some((m) => m.direction === 'received' && m.status === 200 && m.cseqMethod === 'REGISTER')
    if (!ok) {
      const last = this.messagesOf(run).filter((m) => m.direction === 'received' && m.status !== undefined).pop()
      throw new Error(this.failure(`${expires === 0 ? 'unregister' : 'registration'} failed: ${last ? `final response ${last.status} ${last.reason}` : code === 'timeout' ? `no answer within ${timeoutMs} ms` : `sipp exit ${code}`}`))
    }
  }

  private messagesOf (run: Run): SipMessage[] {
    return existsSync(run.messageFile) ? parseMessageFile(readFileSync(run.messageFile, 'utf8')) : []
  }

  private async kill (run: Run): Promise<void> {
    if (run.exitCode !== undefined) return
    run.proc.kill('SIGTERM')
    const t = setTimeout(() => run.proc.kill('SIGKILL'), 2_000)
    await run.exit
    clearTimeout(t)
  }

  /** Hangs up PBX channels of this endpoint whose SIP Call-ID is one of this phone's calls. */
  private async hangupMyChannels (): Promise<void> {
    const callIds = new Set(this.messages().filter((m) => m.cseqMethod === 'INVITE').map((m) => m.header('Call-ID')).filter((c): c is string => !!c))
    if (callIds.size === 0) return
    const prefix = `PJSIP/${this.extension}-`
    const mine: string[] = []
    for (const ch of await listChannels()) {
      const name = ch.Channel ?? ''
      if (!name.startsWith(prefix)) continue
      const callId = await sipCallIdOf(name)
      if (callId && callIds.has(callId)) mine.push(name)
    }
    await hangupChannels(mine)
  }
}

/** Stops every phone this process started (kill sipp, hang up their calls, unregister). */
export async function stopAllPhones (): Promise<void> {
  await Promise.all([...livePhones].map((p) => p.stop()))
}

/** Registered contacts of an extension as the PBX sees them (AMI PJSIPShowContacts). */
export async function contactsOf (extension: string): Promise<string[]> {
  const r = await amiAction({ Action: 'PJSIPShowContacts' }, { allowError: true })
  return r.items.filter((i) => i.Endpoint === extension).map((i) => i.Uri ?? '')
}
