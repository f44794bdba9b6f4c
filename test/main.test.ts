// The engine as a process (src/main.ts): graceful shutdown on SIGTERM, observed from outside: the
// listening socket, an in-flight request on a raw connection, the exit code and a fake AMI server
// that records the Logoff.
import net from 'node:net'
import t from 'tap'
import { FakeAmi } from './helpers/fake-ami.ts'
import { expectErrorLines, recordLine } from './helpers/error-log.ts'
import { pgliteDir } from './helpers/db.ts'
import { EngineProcess, ROOT } from './helpers/engine-process.ts'

function connect (port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.off('error', reject); resolve(socket) })
    socket.once('error', reject)
  })
}

/** Reads from `socket` until `done(text)` holds or the socket ends; rejects after the deadline. */
function readUntil (socket: net.Socket, done: (text: string) => boolean, timeoutMs: number): Promise<{ text: string, ended: boolean }> {
  return new Promise((resolve, reject) => {
    let text = ''
    const finish = (ended: boolean) => { clearTimeout(timer); socket.off('data', onData); socket.off('close', onClose); resolve({ text, ended }) }
    const onData = (b: Buffer) => { text += b.toString('utf8'); if (done(text)) finish(false) }
    const onClose = () => finish(true)
    const timer = setTimeout(() => { socket.off('data', onData); socket.off('close', onClose); reject(new Error(`socket read timed out; got ${JSON.stringify(text)}`)) }, timeoutMs)
    socket.on('data', onData)
    socket.once('close', onClose)
  })
}

const closed = (socket: net.Socket, timeoutMs: number): Promise<void> =>
  socket.destroyed
    ? Promise.resolve()
    : new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket still open')), timeoutMs)
      socket.once('close', () => { clearTimeout(timer); resolve() })
    })

t.test('SIGTERM stops new connections, finishes the in-flight request, logs off AMI and exits 0', async (t) => {
  const ami = await FakeAmi.start({ username: 'uapi', secret: 'uapi-dev-secret' })
  t.teardown(() => ami.close())
  const engine = await EngineProcess.start({ amiPort: ami.port, inheritEnv: true, env: { UAPI_CONFIG: '', DATABASE_DIR: await pgliteDir() }, onLine: recordLine })
  const { child, port } = engine
  t.teardown(() => engine.kill())

  await engine.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening'), 20_000, 'Server listening')
  await ami.waitForAction((a) => a.name.toLowerCase() === 'login', 5000)
  // Only a logged-in session has anything to log off: wait for it, not just for the Login bytes.
  await engine.waitForLog((l) => l.msg === 'AMI ready', 5000, 'AMI ready')

  // An idle keep-alive connection (one request already answered) must not hold the shutdown up.
  const idle = await connect(port)
  idle.write('GET /health HTTP/1.1\r\nHost: engine\r\n\r\n')
  const first = await readUntil(idle, (s) => s.includes('"uptimeSeconds"'), 5000)
  t.match(first.text, /^HTTP\/1\.1 200/, 'the keep-alive connection served a request')

  // The in-flight request: a token request whose body is only half sent.
  const body = 'grant_type=client_credentials&client_id=demo-12&client_secret=demo-secret-12'
  const inflight = await connect(port)
  inflight.write(`POST /oauth/token HTTP/1.1\r\nHost: engine\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 20)}`)
  await engine.waitForLog((l) => l.msg === 'incoming request' && (l.req as { url?: string } | undefined)?.url === '/oauth/token', 5000, 'incoming request /oauth/token')

  child.kill('SIGTERM')
  await engine.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'), 5000, 'shutting down')

  // New connections are refused once the listening socket is closed (within a short deadline).
  const deadline = Date.now() + 3000
  let refused: string | undefined
  while (refused === undefined && Date.now() < deadline) {
    try {
      (await connect(port)).destroy()
      await new Promise((resolve) => setImmediate(resolve))
    } catch (err) {
      // ECONNRESET: accepted by the kernel just as the listening socket closed; try again.
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ECONNRESET') refused = code
    }
  }
  t.equal(refused, 'ECONNREFUSED', 'new connections are refused')
  await closed(idle, 3000)
  t.pass('the idle keep-alive connection was closed by the server')
  t.equal(child.exitCode, null, 'the process waits for the in-flight request')

  inflight.write(body.slice(20))
  const answer = await readUntil(inflight, (s) => s.includes('"access_token"'), 5000)
  t.match(answer.text, /^HTTP\/1\.1 200/, 'the in-flight request is answered normally')

  const exit = await Promise.race([engine.exited, new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('the engine did not exit within 5 s')), 5000))])
  t.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'the process exits 0')
  // The Logoff bytes may still be in flight to the fake server when the process exits: wait for them.
  const logoff = await ami.waitForAction((a) => a.name.toLowerCase() === 'logoff', 2_000).catch(() => undefined)
  t.ok(logoff, 'AMI was logged off')
  t.ok(engine.logs.some((l) => l.msg === 'shut down'), 'the shutdown completed')
})

t.test('changing an app\'s secret in the config file revokes its tokens at once; removing it too', async (t) => {
  const { mkdtempSync, readFileSync, writeFileSync, renameSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const { hashSecret } = await import('../src/auth/secret-hash.ts')
  const ami = await FakeAmi.start({ username: 'uapi', secret: 'uapi-dev-secret' })
  t.teardown(() => ami.close())
  const file = join(mkdtempSync(join(tmpdir(), 'uapi-config-')), 'config.json')
  const original = JSON.parse(readFileSync(join(ROOT, 'config/default.json'), 'utf8')) as { directory: { apps: Array<{ clientId: string, secretHash: string }> } }
  writeFileSync(file, JSON.stringify(original))
  // Like an operator's editor or a config-management tool: write a new file, rename it over the old.
  const rewrite = (apps: typeof original.directory.apps): void => {
    writeFileSync(file + '.new', JSON.stringify({ ...original, directory: { ...original.directory, apps } }))
    renameSync(file + '.new', file)
  }
  const engine = await EngineProcess.start({ amiPort: ami.port, inheritEnv: true, env: { UAPI_CONFIG: file, DATABASE_DIR: await pgliteDir() }, onLine: recordLine })
  const { child } = engine
  t.teardown(() => engine.kill())
  await engine.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening'), 20_000, 'Server listening')
  const { base } = engine
  const token = async (id: string, secret: string): Promise<Response> => await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=client_credentials&client_id=${id}&client_secret=${secret}` })
  const whoami = async (tok: string): Promise<number> => (await fetch(`${base}/uapi/phoneCalls/@me/@self`, { headers: { authorization: `Bearer ${tok}` } })).status
  const old12 = ((await (await token('demo-12', 'demo-secret-12')).json()) as { access_token: string }).access_token
  const old13 = ((await (await token('demo-13', 'demo-secret-13')).json()) as { access_token: string }).access_token
  t.not(await whoami(old12), 401, 'the token works before the change')

  // demo-12 gets a new secret.
  const newHash = await hashSecret('a-brand-new-secret-12')
  const rotated = original.directory.apps.map((a) => (a.clientId === 'demo-12' ? { ...a, secretHash: newHash } : a))
  const changedAt = Date.now()
  rewrite(rotated)
  let ms = -1
  while (Date.now() - changedAt < 5_000) {
    if (await whoami(old12) === 401) { ms = Date.now() - changedAt; break }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  t.ok(ms >= 0 && ms <= 1_500, `the old token answers 401 ${ms} ms after the file changed`)
  t.equal((await token('demo-12', 'demo-secret-12')).status, 401, 'the old secret no longer gets a token')
  const new12 = ((await (await token('demo-12', 'a-brand-new-secret-12')).json()) as { access_token: string }).access_token
  t.not(await whoami(new12), 401, 'the new secret does')
  t.not(await whoami(old13), 401, 'other apps\' tokens are untouched')

  // demo-13 is removed; a broken file changes nothing.
  rewrite(rotated.filter((a) => a.clientId !== 'demo-13'))
  await engine.waitForLog((l) => l.msg === 'config re-read: apps updated (other changes need a restart)' && Array.isArray(l.removed) && (l.removed as string[]).includes('demo-13'), 5_000, 'demo-13 removed')
  t.equal(await whoami(old13), 401, 'a removed app\'s token answers 401')
  writeFileSync(file, '{ not json')
  expectErrorLines(1, 'the engine logs the broken config file it refuses')
  await engine.waitForLog((l) => l.msg === 'config re-read failed: keeping the current config', 5_000, 'a broken file refused')
  t.not(await whoami(new12), 401, 'a broken file changes nothing')
  child.kill('SIGTERM')
  await engine.exited
})
