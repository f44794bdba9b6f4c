// HTTPS served by the engine itself (config http.tls / TLS_CERT_FILE + TLS_KEY_FILE), driven the way
// 4PSA's own UAPI client does it: node's https.request only, a form POST to /oauth/token.php with
// type=unifiedapi and redirect_uri, then Authorization: Bearer. The engine runs as a process
// (src/main.ts through tsx) with AMI on the fake peer; the certificate is self-signed, made here,
// and trusted through `ca`.
import { spawn } from 'node:child_process'
import https from 'node:https'
import net from 'node:net'
import t from 'tap'
import { FakeAmi, frame } from './helpers/fake-ami.ts'
import { hasOpenssl, selfSigned } from './helpers/tls.ts'
import { recordLine } from './helpers/error-log.ts'
import { statuses, viewOf } from './helpers/uapi.ts'
import { syntheticCall } from '../bench/lib.ts'
import type { PhoneCall } from '../src/calls/index.ts'
import { pgliteDir } from './helpers/db.ts'
import { EngineProcess, ROOT, TSX_MAIN } from './helpers/engine-process.ts'

interface Answer { status: number, headers: Record<string, unknown>, body: string }

/** One request with https.request, as the 4PSA client makes it. */
function request (opts: https.RequestOptions, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(opts, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')))
    req.end(body)
  })
}

t.test('over HTTPS: token by form at /oauth/token.php, List and a PickUp with Bearer, all through https.request', { skip: hasOpenssl() ? false : 'openssl not installed' }, async (t) => {
  const cert = selfSigned()
  const ami = await FakeAmi.start({ username: 'uapi', secret: 'uapi-dev-secret' })
  t.teardown(() => ami.close())
  const engine = await EngineProcess.start({ amiPort: ami.port, inheritEnv: true, env: { UAPI_CONFIG: '', DATABASE_DIR: await pgliteDir(), TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile }, onLine: recordLine })
  t.teardown(() => engine.kill())
  const { port } = engine
  const listening = await engine.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening'), 20_000, 'Server listening')
  t.match(listening.msg, `https://127.0.0.1:${port}`, 'the engine says it listens on https://')
  await engine.waitForLog((l) => l.msg === 'AMI ready', 20_000, 'AMI ready')

  const base = { host: '127.0.0.1', port, servername: 'localhost', ca: cert.cert }
  // The client's token request: a form with its own extra fields.
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'demo-12', client_secret: 'demo-secret-12', redirect_uri: 'https://crm.example.com/uapi/callback', type: 'unifiedapi', state: '0' }).toString()
  const tok = await request({ ...base, method: 'POST', path: '/oauth/token.php', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form) } }, form)
  t.equal(tok.status, 200, 'token answered 200')
  const { access_token: token, token_type: type } = JSON.parse(tok.body) as { access_token: string, token_type: string }
  t.equal(type, 'Bearer')
  t.match(tok.headers['strict-transport-security'], /max-age=/, 'HSTS is sent (meaningful now that the engine speaks TLS)')
  const auth = { authorization: `Bearer ${token}`, accept: 'application/json' }

  // 0003*300 calls 0003*210, which rings (the events Asterisk 22 sends, through the fake peer).
  ami.send(syntheticCall(1, '0003*300', '0003*210', false).events.map((e) => frame(e)).join(''))
  let call: PhoneCall | undefined
  for (const deadline = Date.now() + 5_000; call === undefined && Date.now() < deadline;) {
    const list = await request({ ...base, method: 'GET', path: '/uapi/phoneCalls/@me/0003*210', headers: auth })
    t.equal(list.status, 200, 'List over HTTPS') // one assertion per poll; the poll ends within a few rounds
    const first = (JSON.parse(list.body) as { entry: PhoneCall[] }).entry[0]
    if (statuses(first)['0003*210'] === 3) call = first
    else await new Promise((resolve) => setTimeout(resolve, 50))
  }
  if (call === undefined) throw new Error('0003*210 never rang')
  const view = viewOf(call, '0003*210')?.id as string

  // The PickUp, a JSON PUT with the bearer token, as in the README's first example.
  const pickUp = JSON.stringify({ action: 'PickUp', sendCallTo: '0003*024', callerId: 'John Doe <42420042>', waitForPickup: '20', phoneCallViewId: view })
  const put = await request({ ...base, method: 'PUT', path: `/uapi/phoneCalls/@me/0003*210/${call.id}`, headers: { ...auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(pickUp) } }, pickUp)
  t.equal(put.status, 200, `PickUp answered ${put.status} ${put.body}`)
  const originate = await ami.waitForAction((a) => a.name.toLowerCase() === 'originate', 5_000)
  t.match(originate.headers.channel, /0003\*024/, 'the PickUp reached the PBX as an Originate to 0003*024')

  // Without the certificate in `ca`, the client refuses the server: it really is TLS with that cert.
  await t.rejects(request({ host: '127.0.0.1', port, servername: 'localhost', method: 'GET', path: '/health' }), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'an untrusted client refuses the self-signed certificate')

  // Plain HTTP on the HTTPS port is not served: the TLS layer drops the connection, no HTTP answer.
  const plain = await new Promise<{ text: string, ended: boolean }>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`plain HTTP: connection still open; got ${JSON.stringify(text)}`)) }, 5_000)
    socket.on('data', (b: Buffer) => { text += b.toString('latin1') })
    socket.on('error', () => {})
    socket.once('close', () => { clearTimeout(timer); resolve({ text, ended: true }) })
    socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  })
  t.ok(plain.ended, 'the server closed the plain-HTTP connection')
  t.notOk(plain.text.startsWith('HTTP/'), `and sent no HTTP response (got ${plain.text.length} bytes)`)
  await t.rejects(fetch(`http://127.0.0.1:${port}/health`), 'fetch over http:// fails')

  t.equal((await engine.stop()).code, 0, 'exits 0 on SIGTERM')
})

t.test('a missing certificate file is a clear config error at start (exit 78), not a stack trace', { skip: hasOpenssl() ? false : 'openssl not installed' }, async (t) => {
  const cert = selfSigned()
  const child = spawn(process.execPath, TSX_MAIN, {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', UAPI_CONFIG: '', TLS_CERT_FILE: `${cert.dir}/missing.pem`, TLS_KEY_FILE: cert.keyFile },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 78, 'EX_CONFIG')
  t.match(stderr, `/http/tls/certFile: cannot read ${cert.dir}/missing.pem: ENOENT`, stderr)
})
