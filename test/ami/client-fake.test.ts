// AmiClient against the scripted fake AMI server: wire format, correlation, faults. No Asterisk needed.
import t from 'tap'
import type { Test } from 'tap'
import { once } from 'node:events'
import { Writable } from 'node:stream'
import pino from 'pino'
import { AmiClient, AmiErrorCodes, isAmiError } from '../../src/ami/index.ts'
import type { AmiClientOptions, AmiEvent, AmiSession } from '../../src/ami/index.ts'
import { FakeAmi, frame, reply } from '../helpers/fake-ami.ts'
import { expectErrorLines, recordLine, testLogger } from '../helpers/error-log.ts'

const SECRET = 'fake-secret-XYZ'

/** A debug-level logger whose output is kept, to check what is (not) logged. */
function memoryLogger (): { logger: pino.Logger, text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({ write (c, _e, cb) { chunks.push(String(c)); recordLine(String(c)); cb() } })
  return { logger: pino({ level: 'debug' }, stream), text: () => chunks.join('') }
}

async function setup (t: Test, fakeOpts: Parameters<typeof FakeAmi.start>[0] = {}, clientOpts: Partial<AmiClientOptions> = {}) {
  const ami = await FakeAmi.start({ username: 'uapi', secret: SECRET, ...fakeOpts })
  const log = memoryLogger()
  const client = new AmiClient({
    host: ami.host,
    port: ami.port,
    username: 'uapi',
    secret: SECRET,
    logger: log.logger,
    pingIntervalMs: 60_000,
    backoff: { initialMs: 20, maxMs: 100 },
    ...clientOpts
  })
  t.teardown(async () => {
    await client.close()
    await ami.close()
  })
  return { ami, client, log }
}

function waitFor<T extends unknown[]> (emitter: AmiClient, name: 'ready' | 'state' | 'event' | 'disconnected', pred: (...args: any[]) => boolean = () => true, timeoutMs = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const onEv = (...args: unknown[]): void => {
      if (!pred(...args)) return
      clearTimeout(timer)
      emitter.off(name, onEv)
      resolve(args as T)
    }
    const timer = setTimeout(() => {
      emitter.off(name, onEv)
      reject(new Error(`no '${name}' within ${timeoutMs} ms`))
    }, timeoutMs)
    emitter.on(name, onEv)
  })
}

async function started (client: AmiClient): Promise<AmiSession> {
  const p = waitFor<[AmiSession]>(client, 'ready')
  client.start()
  return (await p)[0]
}

t.test('logs in, reports the session and answers Ping; ActionIDs are unique and ours', async (t) => {
  const { ami, client, log } = await setup(t)
  const states: string[] = []
  client.on('state', (s) => states.push(s))
  const session = await started(client)
  t.same(session, { epoch: 1, uptimeSeconds: 42, lastReloadSeconds: 42 })
  t.equal(client.state, 'ready')
  t.same(states, ['connecting', 'authenticating', 'ready'])
  const [a, b] = await Promise.all([client.action('Ping'), client.action('Ping')])
  t.equal(a.ping, 'Pong')
  t.not(a.actionid, b.actionid)
  t.match(a.actionid, /^[0-9a-f]{8}-1-\d+$/)
  const ping = ami.actions.find((x) => x.name === 'Ping')
  t.same(ping?.lines[0], ['Action', 'Ping'], 'Action is the first line')
  t.equal(ping?.lines[1]?.[0], 'ActionID')
  t.equal(client.stats.pending, 0)
  await client.close()
  t.equal(client.state, 'closed')
  t.ok(ami.actions.some((x) => x.name === 'Logoff'), 'close() logs off')
  t.notMatch(log.text(), SECRET, 'the secret is never logged')
})

t.test('fixture stream: every event once, normalized, OriginateResponse is an event', async (t) => {
  for (const chunkSize of [undefined, 7]) {
    const { ami, client } = await setup(t)
    await started(client)
    const events: AmiEvent[] = []
    client.on('event', (e) => events.push(e))
    await ami.streamFixture(new URL('../fixtures/ami/pickup-answered.ami', import.meta.url).pathname, chunkSize === undefined ? {} : { chunkSize })
    const done = (): boolean => events.length >= 123
    const deadline = Date.now() + 3000
    while (!done() && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve))
    t.equal(events.length, 123, `123 events, each emitted once (chunk ${chunkSize ?? 'whole'})`)
    t.ok(events.every((e) => Object.keys(e).every((k) => k === k.toLowerCase())), 'lower-case keys')
    t.ok(events.every((e) => Object.values(e).every((v) => typeof v === 'string')), 'string values only')
    const orig = events.find((e) => e.event === 'OriginateResponse')
    t.match(orig, { event: 'OriginateResponse', response: 'Success', actionid: 'bars-5', uniqueid: 'pickup-0001', reason: '4' })
    const varset = events.find((e) => e.event === 'VarSet')
    t.type(varset?.variable, 'string', 'VarSet keeps Variable as a plain header')
    t.ok(events.some((e) => e.event === 'Pickup'))
    t.equal(client.stats.unmatchedResponses, 0)
    await client.close()
    await ami.close()
  }
})

t.test('snapshot fixture: a foreign list reply is dropped, its items still arrive as events', async (t) => {
  const { ami, client } = await setup(t)
  await started(client)
  const events: AmiEvent[] = []
  client.on('event', (e) => events.push(e))
  await ami.streamFixture(new URL('../fixtures/ami/snapshot-mixed.ami', import.meta.url).pathname)
  const deadline = Date.now() + 3000
  while (events.length < 161 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve))
  t.equal(events.length, 161)
  t.equal(events.filter((e) => e.event === 'CoreShowChannel' && e.actionid === 'rec-snapshot').length, 4)
  t.equal(client.stats.unmatchedResponses, 1, 'the recorded session\'s own ack matches nothing here')
})

t.test('normalization of ChanVariable maps, Dest* variables, repeats, Output, bare "Key:" and split UTF-8', async (t) => {
  const { ami, client } = await setup(t)
  await started(client)
  const got = waitFor<[AmiEvent]>(client, 'event', (e: AmiEvent) => e.event === 'Custom')
  const text = 'Event: Custom\r\nChannel: PJSIP/a-1\r\nChannel: PJSIP/b-2\r\nChanVariable: VN_OWNER=0003*210\r\n' +
    'ChanVariable: VN_X=a=b\r\nDestChanVariable: VN_OWNER=0003*024\r\nDestChanVariable: VN_Y=y\r\n' +
    'TransfereeChanVariable: VN_T=t\r\nEmpty:\r\nCallerIDName: Zoë Ångström ☎\r\nOutput: one\r\nOutput: two\r\n\r\n'
  const bytes = Buffer.from(text, 'utf8')
  // One byte per write: every multi-byte character is split across TCP chunks.
  for (const c of ami.live) {
    c.socket.setNoDelay(true)
    for (let i = 0; i < bytes.length; i++) c.socket.write(bytes.subarray(i, i + 1))
  }
  const [e] = await got
  t.same(e, {
    event: 'Custom',
    channel: 'PJSIP/a-1',
    'chanvariable.VN_OWNER': '0003*210',
    'chanvariable.VN_X': 'a=b',
    'destchanvariable.VN_OWNER': '0003*024',
    'destchanvariable.VN_Y': 'y',
    'transfereechanvariable.VN_T': 't',
    empty: '',
    calleridname: 'Zoë Ångström ☎',
    output: 'one\ntwo'
  })
})

t.test('header validation: control characters are refused before anything is written', async (t) => {
  const { ami, client } = await setup(t)
  await started(client)
  const before = ami.bytesAfterLogin()
  const injection = 'x\r\nAction: UserEvent\r\nUserEvent: Injected'
  const bad: Array<[string, Record<string, any>]> = [
    ['Setvar', { Channel: 'PJSIP/a', Variable: 'V', Value: injection }],
    ['Setvar', { Value: 'a\nb' }],
    ['Setvar', { Value: 'a\rb' }],
    ['Setvar', { Value: 'a\u0000b' }],
    ['Setvar', { Value: 'a\u007fb' }],
    ['Setvar', { Value: 'a\tb' }],
    ['Setvar', { 'Bad\r\nName': 'v' }],
    ['Setvar', { 'Bad Name': 'v' }],
    ['Setvar', { 'Bad:Name': 'v' }],
    ['Originate', { Variable: ['GOOD=1', 'BAD\r\nAction: Hangup=1'] }],
    ['Originate', { Variable: ['GOOD=1', 'BAD=1\r\nAction: Hangup'] }],
    ['Originate', { Variable: ['NOVALUE'] }],
    ['Originate', { ActionID: 'mine' }],
    ['Originate', { Channel: 'a', channel: 'b' }],
    ['Bad\r\nAction', {}]
  ]
  for (const [name, headers] of bad) {
    await t.rejects(client.action(name, headers), { code: AmiErrorCodes.BAD_HEADER }, `${name} ${JSON.stringify(headers)}`)
  }
  t.equal(ami.bytesAfterLogin(), before, 'the server received nothing')
  t.equal(client.stats.pending, 0)
  await client.action('Setvar', { Channel: 'PJSIP/a', Variable: 'V', Value: 'clean' })
  await client.action('Originate', { Channel: 'Local/1@x', Variable: ['A=1', 'B=x=y'], Async: true, Priority: 1 })
  const o = ami.actions.find((a) => a.name === 'Originate')
  t.same(o?.lines.filter(([k]) => k === 'Variable').map(([, v]) => v), ['A=1', 'B=x=y'], 'one Variable line each')
  t.equal(o?.headers.async, 'true')
  t.notOk(ami.actions.some((a) => a.name === 'UserEvent' || a.name === 'Hangup'), 'no injected action')
})

t.test('Response: Error rejects with ACTION_FAILED and the message', async (t) => {
  const { ami, client } = await setup(t)
  ami.onAction('Hangup', (a) => reply(a, { Response: 'Error', Message: 'No such channel' }))
  await started(client)
  const err = await client.action('Hangup', { Channel: 'PJSIP/nope' }).catch((e: unknown) => e)
  t.ok(isAmiError(err, AmiErrorCodes.ACTION_FAILED))
  t.match(err, { amiMessage: 'No such channel', action: 'Hangup', response: { response: 'Error' } })
})

t.test('timeout: entry removed, no listener left, late reply dropped', async (t) => {
  const { ami, client } = await setup(t)
  let held: ReturnType<typeof reply> | undefined
  ami.onAction('Originate', (a) => { held = reply(a, { Message: 'Originate successfully queued' }); return null })
  await started(client)
  const started0 = Date.now()
  const err = await client.action('Originate', { Channel: 'Local/1@x', Application: 'Wait', Data: '1' }, { timeoutMs: 150 }).catch((e: unknown) => e)
  t.ok(isAmiError(err, AmiErrorCodes.TIMEOUT))
  t.ok(Date.now() - started0 < 1000, 'rejected near its deadline')
  const id = isAmiError(err) ? err.actionId : undefined
  t.type(id, 'string')
  t.equal(client.stats.pending, 0, 'no pending entry')
  t.equal(client.packageListenerCount(id as string), 0, 'no asterisk-manager listener for the id')
  t.equal(client.stats.timeouts, 1)
  ami.send(held as string)
  t.equal((await client.action('Ping')).ping, 'Pong', 'the session still works after the late reply')
  t.equal(client.stats.unmatchedResponses, 1, 'late reply dropped')
})

t.test('no listener is left behind after many actions', async (t) => {
  const { client } = await setup(t)
  await started(client)
  const replies = await Promise.all(Array.from({ length: 500 }, () => client.action('Ping')))
  t.equal(replies.length, 500)
  t.equal(new Set(replies.map((r) => r.actionid)).size, 500)
  t.ok(replies.every((r) => client.packageListenerCount(r.actionid as string) === 0))
  t.equal(client.stats.pending, 0)
})

t.test('NOT_CONNECTED before start and after close; OVERLOADED at maxPending', async (t) => {
  const { ami, client } = await setup(t, {}, { maxPending: 2 })
  await t.rejects(client.action('Ping'), { code: AmiErrorCodes.NOT_CONNECTED })
  ami.onAction('Status', () => null)
  await started(client)
  const p1 = client.action('Status', {}, { timeoutMs: 5000 })
  const p2 = client.action('Status', {}, { timeoutMs: 5000 })
  await t.rejects(client.action('Status'), { code: AmiErrorCodes.OVERLOADED })
  await client.close()
  await t.rejects(p1, { code: AmiErrorCodes.CONNECTION_LOST })
  await t.rejects(p2, { code: AmiErrorCodes.CONNECTION_LOST })
  await t.rejects(client.action('Ping'), { code: AmiErrorCodes.NOT_CONNECTED })
})

t.test('list(): aggregates items until Complete; Error ack rejects; timeout cleans up', async (t) => {
  const { ami, client, log } = await setup(t)
  ami.onAction('CoreShowChannels', (a) => {
    const id = a.headers.actionid as string
    return [
      reply(a, { EventList: 'start', Message: 'Channels will follow' }),
      frame({ Event: 'Newstate', Channel: 'PJSIP/x-1' }), // unrelated traffic interleaved
      ...[1, 2, 3].map((n) => frame({ Event: 'CoreShowChannel', ActionID: id, Channel: `PJSIP/${n}`, Uniqueid: `u.${n}`, ChanVariable: `VN_N=${n}` })),
      frame({ Event: 'CoreShowChannelsComplete', ActionID: id, EventList: 'Complete', ListItems: 4 })
    ]
  })
  ami.onAction('BridgeList', (a) => reply(a, { Response: 'Error', Message: 'Permission denied' }))
  ami.onAction('Status', () => null)
  await started(client)
  const seen: AmiEvent[] = []
  client.on('event', (e) => seen.push(e))
  const res = await client.list('CoreShowChannels')
  t.equal(res.response.eventlist, 'start')
  t.same(res.items.map((i) => i.uniqueid), ['u.1', 'u.2', 'u.3'])
  t.equal(res.items[0]?.['chanvariable.VN_N'], '1')
  t.equal(res.complete.event, 'CoreShowChannelsComplete')
  t.same(seen.map((e) => e.event), ['Newstate'], 'list items are not emitted as events')
  t.match(log.text(), 'list item count mismatch', 'ListItems mismatch is logged')
  await t.rejects(client.list('BridgeList'), { code: AmiErrorCodes.ACTION_FAILED, amiMessage: 'Permission denied' })
  await t.rejects(client.list('Status', {}, { timeoutMs: 100 }), { code: AmiErrorCodes.TIMEOUT })
  t.equal(client.stats.pending, 0)
})

t.test('half-open socket: a missed Ping destroys the socket and the client reconnects', async (t) => {
  const { ami, client } = await setup(t, {}, { pingIntervalMs: 100, pingTimeoutMs: 150 })
  await started(client)
  const first = ami.connections[0]
  ami.silent = true
  const t0 = Date.now()
  const [reason] = await waitFor<[Error]>(client, 'disconnected')
  t.ok(isAmiError(reason, AmiErrorCodes.TIMEOUT), 'reported as a Ping timeout')
  t.ok(Date.now() - t0 < 1000, `detected in ${Date.now() - t0} ms`)
  ami.silent = false
  const [session] = await waitFor<[AmiSession]>(client, 'ready')
  t.equal(session.epoch, 2)
  t.equal(client.stats.pingMisses, 1)
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(first?.socket.destroyed || first?.socket.readableEnded, 'the old connection was dropped by the client')
})

t.test('connection drop: pending actions fail at once with CONNECTION_LOST, never replayed; reconnects', async (t) => {
  const { ami, client } = await setup(t)
  ami.onAction('Originate', () => null)
  await started(client)
  const pending = client.action('Originate', { Channel: 'Local/1@x', Application: 'Wait', Data: '1' })
  await ami.waitForAction((a) => a.name === 'Originate')
  const t0 = Date.now()
  const lost = waitFor<[Error]>(client, 'disconnected')
  const ready = waitFor<[AmiSession]>(client, 'ready')
  ami.dropConnections()
  await t.rejects(pending, { code: AmiErrorCodes.CONNECTION_LOST })
  t.ok(Date.now() - t0 < 500, `rejected in ${Date.now() - t0} ms, not after its 10 s timeout`)
  t.match((await lost)[0], { code: AmiErrorCodes.CONNECTION_LOST })
  t.equal((await ready)[0].epoch, 2)
  t.equal(ami.actions.filter((a) => a.name === 'Originate').length, 1, 'not replayed')
  t.equal((await client.action('Ping')).ping, 'Pong')
})

t.test('wrong secret: AMI_ERR_AUTH quickly, state auth-failed, slow retry, no hang', async (t) => {
  const { ami, client } = await setup(t, { secret: 'other' }, { authRetryMs: 300 })
  const t0 = Date.now()
  client.start()
  const [err] = await waitFor<[Error]>(client, 'disconnected')
  t.ok(isAmiError(err, AmiErrorCodes.AUTH), 'AMI_ERR_AUTH')
  t.match(err.message, /Authentication failed/)
  t.ok(Date.now() - t0 < 1000)
  t.equal(client.state, 'auth-failed')
  await t.rejects(client.action('Ping'), { code: AmiErrorCodes.NOT_CONNECTED })
  await ami.waitForConnections(2, 2000)
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.ok(ami.connections.length <= 3, `retried slowly (${ami.connections.length} attempts in ~700 ms)`)
  t.equal(client.stats.authFailures >= 1, true)
})

t.test('login timeout: a server that never answers Login does not hang the client', async (t) => {
  const { ami, client } = await setup(t, { silentLogin: true }, { loginTimeoutMs: 150 })
  ami.silent = true
  client.start()
  const [err] = await waitFor<[Error]>(client, 'disconnected')
  t.match(err, { code: AmiErrorCodes.TIMEOUT, message: /login timed out/ })
  await ami.waitForConnections(2, 2000) // backoff retry
})

t.test('connection refused: backoff retries until close()', async (t) => {
  const ami = await FakeAmi.start()
  const port = ami.port
  await ami.close()
  const client = new AmiClient({ host: '127.0.0.1', port, username: 'u', secret: 's', logger: testLogger(), backoff: { initialMs: 10, maxMs: 40 } })
  t.teardown(() => client.close())
  const reasons: Error[] = []
  client.on('disconnected', (e) => reasons.push(e))
  client.start()
  const deadline = Date.now() + 3000
  while (client.stats.connectAttempts < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.ok(client.stats.connectAttempts >= 4)
  t.ok(reasons.every((e) => isAmiError(e, AmiErrorCodes.CONNECTION_LOST)))
  await client.close()
  const n = client.stats.connectAttempts
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(client.stats.connectAttempts, n, 'no attempt after close()')
  t.equal(client.state, 'closed')
})

t.test('garbled frames and a throwing listener do not break the session', async (t) => {
  const { ami, client } = await setup(t)
  await started(client)
  let calls = 0
  expectErrorLines(1, 'the AMI client logs the listener that throws on purpose')
  client.on('event', () => { calls++; if (calls === 1) throw new Error('consumer bug') })
  ami.send('this is not a header\r\n\r\n')
  ami.send('\u0000\u0001\u0002: \r\n:::\r\nResponse\r\n\r\n')
  ami.send('Event: First\r\n\r\nEvent: Second\r\n\r\n')
  ami.send('Response: Success\r\nActionID: nobody\r\n\r\n')
  const got = waitFor<[AmiEvent]>(client, 'event', (e: AmiEvent) => e.event === 'Second')
  t.equal((await got)[0].event, 'Second')
  t.equal((await client.action('Ping')).ping, 'Pong')
  t.ok(client.stats.malformed >= 1, 'a frame with neither Event nor Response is counted and dropped')
  t.equal(client.state, 'ready')
})

t.test('Asterisk not fully booted: ready after the short wait, without uptime', async (t) => {
  const { client } = await setup(t, { fullyBooted: false }, { fullyBootedWaitMs: 50 })
  const session = await started(client)
  t.same(session, { epoch: 1 })
})

t.test('once() on ready resolves; close() twice is fine', async (t) => {
  const { client } = await setup(t)
  client.start()
  const [session] = await once(client, 'ready')
  t.equal(session.epoch, 1)
  await Promise.all([client.close(), client.close()])
  t.equal(client.state, 'closed')
})
