// AmiClient against the bundled Asterisk 22 (bash scripts/pbx.sh up): 127.0.0.1:5038, uapi.
// Proves on the real PBX: fast AUTH failure, CoreShowChannels completeness, header injection refused
// before the wire, fail-fast + reconnect across a PBX restart, and no listener leaks.
// Set AMI_SKIP_PBX_RESTART=1 to skip the restart test when others share the PBX.
import t from 'tap'
import type { Test } from 'tap'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import pino from 'pino'
import { AmiClient, AmiErrorCodes, isAmiError } from '../../src/ami/index.ts'
import type { AmiClientOptions, AmiSession } from '../../src/ami/index.ts'
import { AMI_DEFAULTS, AmiObserver } from '../helpers/ami-observer.ts'

const run = promisify(execFile)
const PBX = fileURLToPath(new URL('../../scripts/pbx.sh', import.meta.url))
const pbx = (cmd: 'up' | 'down' | 'status'): Promise<unknown> => run('bash', [PBX, cmd], { timeout: 100_000 })
/** `up` takes a lock others may hold for a while: only call it when AMI does not answer. */
const ensureUp = async (): Promise<void> => { await pbx('status').catch(async () => await pbx('up')) }
const tag = (): string => randomBytes(4).toString('hex')

function client (t: Test, opts: Partial<AmiClientOptions> = {}): AmiClient {
  const c = new AmiClient({ ...AMI_DEFAULTS, logger: pino({ level: 'silent' }), ...opts })
  t.teardown(() => c.close())
  return c
}

function nextEvent<T extends unknown[]> (c: AmiClient, name: 'ready' | 'disconnected', timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (...args: unknown[]): void => { clearTimeout(timer); resolve(args as T) }
    const timer = setTimeout(() => { c.off(name, on); reject(new Error(`no '${name}' within ${timeoutMs} ms`)) }, timeoutMs)
    c.once(name, on)
  })
}

async function ready (c: AmiClient, timeoutMs = 10_000): Promise<AmiSession> {
  const p = nextEvent<[AmiSession]>(c, 'ready', timeoutMs)
  c.start()
  return (await p)[0]
}

/** Hangs up by uniqueid, ignoring channels that are already gone. */
async function hangup (c: AmiClient, ids: Iterable<string>): Promise<void> {
  for (const id of ids) await c.action('Hangup', { Channel: id }).catch(() => undefined)
}

t.before(ensureUp)

t.test('(a) wrong secret: clear AMI_ERR_AUTH in about a second, never a hang', async (t) => {
  const c = client(t, { secret: 'definitely-wrong', authRetryMs: 60_000 })
  const t0 = Date.now()
  const p = nextEvent<[Error]>(c, 'disconnected', 5000)
  c.start()
  const [err] = await p
  const ms = Date.now() - t0
  t.ok(isAmiError(err, AmiErrorCodes.AUTH), 'AMI_ERR_AUTH')
  t.match(err.message, /Authentication failed/)
  t.equal(c.state, 'auth-failed')
  t.ok(ms < 3000, `reported after ${ms} ms (Asterisk delays a failed login ~1 s)`)
  t.comment(`auth failure reported after ${ms} ms`)
})

t.test('(b) CoreShowChannels lists every live channel of a call the test placed', async (t) => {
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const c = client(t)
  await ready(c)
  const id = `b-${tag()}`
  const mark = obs.mark()
  const ids = new Set([id, `${id}-2`])
  t.teardown(() => hangup(c, ids))
  const ack = await c.action('Originate', {
    Channel: 'Local/42420042@pstn', Application: 'Wait', Data: '30', Async: true, ChannelId: id, OtherChannelId: `${id}-2`
  })
  t.match(ack.message, /successfully queued/)
  // The call's channels, as Newchannel events announced them (both halves of the Local pair).
  await obs.waitFor({ event: 'Newchannel', uniqueid: id }, { from: mark, timeoutMs: 5000 })
  await obs.waitFor({ event: 'Newchannel', uniqueid: `${id}-2` }, { from: mark, timeoutMs: 5000 })
  const announced = obs.events((e) => e.event === 'Newchannel' && e.linkedid === id, mark).map((e) => e.uniqueid as string)
  for (const u of announced) ids.add(u)
  t.ok(announced.length >= 2, `${announced.length} channels announced`)
  const t0 = Date.now()
  const list = await c.list('CoreShowChannels')
  t.comment(`CoreShowChannels: ${list.items.length} items in ${Date.now() - t0} ms`)
  const listed = list.items.filter((i) => i.linkedid === id).map((i) => i.uniqueid as string)
  t.same(listed.sort(), announced.sort(), 'the list holds exactly the call\'s channels')
  t.equal(Number(list.complete.listitems), list.items.length, 'ListItems matches')
  t.ok(list.items.every((i) => i.event === 'CoreShowChannel' && i.actionid === list.response.actionid))
  await hangup(c, ids)
  await obs.waitFor({ event: 'Hangup', uniqueid: id }, { from: mark, timeoutMs: 5000 })
})

t.test('(c) CR/LF in a value is refused before it is written; Asterisk never sees the injection', async (t) => {
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const c = client(t)
  await ready(c)
  const inj = `inj-${tag()}`
  const clean = `clean-${tag()}`
  t.teardown(() => hangup(c, [inj, `${inj}-2`, clean, `${clean}-2`]))
  const mark = obs.mark()
  const sentBefore = c.stats.actionsSent
  // Each payload would end the Setvar frame and start a second action if it reached the wire.
  const payloads = [
    `x\r\n\r\nAction: Originate\r\nChannel: Local/answer-hangup@vn-test\r\nApplication: Wait\r\nData: 1\r\nAsync: true\r\nChannelId: ${inj}\r\nOtherChannelId: ${inj}-2`,
    'x\r\n\r\nAction: UserEvent\r\nUserEvent: Injected',
    'x\nAction: UserEvent\nUserEvent: Injected',
    'x\u0000\r\n\r\nAction: UserEvent\r\nUserEvent: Injected'
  ]
  for (const value of payloads) {
    await t.rejects(c.action('Setvar', { Variable: `UAPI_T_${tag()}`, Value: value }), { code: AmiErrorCodes.BAD_HEADER })
  }
  await t.rejects(c.action('Originate', {
    Channel: 'Local/answer-hangup@vn-test', Application: 'Wait', Data: '1', Async: true, Variable: ['X=1\r\n\r\nAction: UserEvent\r\nUserEvent: Injected']
  }), { code: AmiErrorCodes.BAD_HEADER })
  t.equal(c.stats.actionsSent, sentBefore, 'nothing was sent')
  // Control: the same Originate sent cleanly afterwards is seen by the observer. Asterisk runs one
  // session's actions in order and the observer gets events in order, so had the injected Originate
  // reached Asterisk, its Newchannel would have arrived first.
  await c.action('Originate', {
    Channel: 'Local/answer-hangup@vn-test', Application: 'Wait', Data: '1', Async: true, ChannelId: clean, OtherChannelId: `${clean}-2`
  })
  await obs.waitFor({ event: 'Newchannel', uniqueid: clean }, { from: mark, timeoutMs: 5000 })
  t.same(obs.events((e) => e.uniqueid === inj || e.uniqueid === `${inj}-2`, mark), [], 'no channel of the injected Originate')
  t.same(obs.events({ event: 'UserEvent', userevent: 'Injected' }, mark), [], 'no injected UserEvent')
  await obs.waitFor({ event: 'Hangup', uniqueid: clean }, { from: mark, timeoutMs: 5000 })
})

t.test('(e) no listener left: a timed-out real action and 300 Pings', async (t) => {
  const c = client(t)
  await ready(c)
  const replies = await Promise.all(Array.from({ length: 300 }, () => c.action('Ping')))
  t.ok(replies.every((r) => r.ping === 'Pong' && c.packageListenerCount(r.actionid as string) === 0), '300 Pongs, no listener')
  t.equal(c.stats.pending, 0)
  // A synchronous Originate to a phone that never answers blocks until its own Timeout (1.5 s):
  // our 300 ms deadline fires first; Asterisk's late 'Originate failed' must be dropped.
  const slow = client(t)
  await ready(slow)
  const chanId = `e-${tag()}`
  t.teardown(() => hangup(c, [chanId, `${chanId}-2`]))
  const t0 = Date.now()
  const err = await slow.action('Originate', {
    Channel: 'Local/ring@vn-test', Application: 'Wait', Data: '1', Timeout: 1500, ChannelId: chanId, OtherChannelId: `${chanId}-2`
  }, { timeoutMs: 300 }).catch((e: unknown) => e)
  t.ok(isAmiError(err, AmiErrorCodes.TIMEOUT), `AMI_ERR_TIMEOUT after ${Date.now() - t0} ms`)
  const id = isAmiError(err) ? err.actionId as string : ''
  t.equal(slow.stats.pending, 0, 'pending entry removed')
  t.equal(slow.packageListenerCount(id), 0, 'no asterisk-manager listener for the ActionID')
  const deadline = Date.now() + 5000
  while (slow.stats.unmatchedResponses === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(slow.stats.unmatchedResponses, 1, 'the late reply arrived and was dropped')
  t.equal((await slow.action('Ping')).ping, 'Pong', 'the session is fine afterwards')
})

t.test('(d) PBX stop: outstanding actions fail at once, never replayed; the client reconnects when it returns', { skip: process.env.AMI_SKIP_PBX_RESTART === '1' }, async (t) => {
  t.teardown(ensureUp) // restore the shared PBX whatever happens
  const c = client(t, { backoff: { initialMs: 100, maxMs: 500 } })
  const first = await ready(c)
  // A synchronous Originate to a never-answering target stays outstanding for its whole Timeout;
  // Pings queued behind it wait too (Asterisk runs one session's actions in order).
  const orig = c.action('Originate', {
    Channel: 'Local/ring@vn-test', Application: 'Wait', Data: '1', Timeout: 60_000, ChannelId: `d-${tag()}`
  }, { timeoutMs: 90_000 })
  const pings = [1, 2, 3].map(() => c.action('Ping', undefined, { timeoutMs: 90_000 }))
  const outstanding = [orig, ...pings].map(async (p) => await p.then(() => 'resolved', (e: unknown) => e))
  const lost = nextEvent<[Error]>(c, 'disconnected', 30_000)
  const t0 = Date.now()
  const down = pbx('down')
  const results = await Promise.all(outstanding)
  const failMs = Date.now() - t0
  for (const r of results) {
    // Graceful `core stop now` answers every queued action with Error ('Originate failed',
    // 'Asterisk is shutting down') before closing; a socket that closes first gives CONNECTION_LOST.
    t.ok(isAmiError(r, AmiErrorCodes.ACTION_FAILED) || isAmiError(r, AmiErrorCodes.CONNECTION_LOST),
      `outstanding action failed: ${isAmiError(r) ? `${r.code} ${r.amiMessage ?? ''}` : String(r)}`)
  }
  t.ok(failMs < 15_000, `all outstanding actions settled ${failMs} ms after the stop began (their timeout: 90 s)`)
  t.match((await lost)[0], { code: AmiErrorCodes.CONNECTION_LOST }, "'disconnected' with CONNECTION_LOST")
  t.equal(c.stats.pending, 0, 'nothing left pending')
  await down
  await t.rejects(c.action('Ping'), { code: AmiErrorCodes.NOT_CONNECTED }, 'refused at once while down (no queueing)')
  const back = nextEvent<[AmiSession]>(c, 'ready', 90_000)
  const t1 = Date.now()
  await pbx('up')
  const [session] = await back
  t.comment(`outstanding actions failed ${failMs} ms after 'pbx.sh down' began; ready again ${Date.now() - t1} ms after 'pbx.sh up' began`)
  t.equal(c.state, 'ready')
  t.ok(session.epoch > first.epoch, `new session epoch ${session.epoch}`)
  if (session.uptimeSeconds !== undefined && first.uptimeSeconds !== undefined && first.uptimeSeconds > 5) {
    t.ok(session.uptimeSeconds < first.uptimeSeconds, 'Uptime shows the restart')
  }
  t.equal((await c.action('Ping')).ping, 'Pong')
})

/** Captures the loopback traffic of AMI's port while `during` runs; returns every captured byte. */
async function captureAmi (during: () => Promise<void>): Promise<Buffer> {
  const { spawn } = await import('node:child_process')
  const { mkdtempSync, readFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const file = join(mkdtempSync(join(tmpdir(), 'ami-cap-')), 'ami.pcap')
  // -Z root: keep writing to a file in our private temp dir (tcpdump otherwise drops to its own user);
  // --immediate-mode: hand each packet over at once (libpcap otherwise holds them up to a second).
  const dump = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-Z', 'root', '-s', '0', '-w', file, 'tcp', 'port', String(AMI_DEFAULTS.port)], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  dump.stderr.on('data', (d: Buffer) => { err += d.toString() })
  // tcpdump says "listening on lo" once its capture runs.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 5_000)
    dump.stderr.on('data', () => { if (err.includes('listening on')) { clearTimeout(timer); resolve() } })
    dump.once('exit', (code) => { clearTimeout(timer); reject(new Error(`tcpdump exited ${code}: ${err}`)) })
  })
  // "listening on" comes a moment before the filter sees packets.
  await new Promise((resolve) => setTimeout(resolve, 500))
  try {
    await during()
    await new Promise((resolve) => setTimeout(resolve, 300)) // the last segments reach the capture
  } finally {
    dump.kill('SIGINT')
    await new Promise((resolve) => dump.once('exit', resolve))
  }
  return readFileSync(file)
}

t.test('(g) challenge login: the AMI secret never crosses the wire; plain login (the switch) sends it', async (t) => {
  const secret = AMI_DEFAULTS.secret
  const challenged = await captureAmi(async () => {
    const c = client(t, { login: 'challenge' })
    const session = await ready(c)
    t.ok(session.epoch >= 1, 'logged in with the MD5 challenge')
    await c.action('Ping')
    await c.close()
  })
  t.ok(challenged.includes('Action: Challenge'), 'the capture holds the AMI conversation (Challenge)')
  t.ok(challenged.includes('Authentication accepted'), '... and the accepted login')
  t.notOk(challenged.includes(secret), `the secret ("${secret}") is nowhere in ${challenged.length} captured bytes`)
  const plain = await captureAmi(async () => {
    const c = client(t, { login: 'plain' })
    await ready(c)
    await c.close()
  })
  t.ok(plain.includes(`Secret: ${secret}`), 'control: with login "plain" the same capture shows the secret')
  // A wrong secret is still refused under challenge login.
  const wrong = client(t, { login: 'challenge', secret: 'definitely-wrong', authRetryMs: 60_000 })
  const p = nextEvent<[Error]>(wrong, 'disconnected', 5000)
  wrong.start()
  const [err] = await p
  t.ok(isAmiError(err, AmiErrorCodes.AUTH), 'a wrong secret: AMI_ERR_AUTH')
})
