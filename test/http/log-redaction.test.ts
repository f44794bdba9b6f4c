// Credentials never reach the logs. A representative session runs against the real engine (its AMI
// on a fake peer that plays a ringing call) with every log line captured at the most verbose level:
// tokens requested by form, JSON and HTTP Basic; requests with the token in the Authorization header
// and in the query (the documented accessRequestToken, also %-encoded and with "Bearer "); refused
// and failing requests; a PickUp that reaches AMI. No issued token, app secret, AMI secret, SIP
// password or token-signing secret may appear in any line, in any form a log would carry it.
import t from 'tap'
import { pino } from 'pino'
import { buildApp } from '../../src/app.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { redactUrl } from '../../src/http/redact.ts'
import { recordLine } from '../helpers/error-log.ts'
import { noRateLimit } from '../helpers/app.ts'
import { FakeAmi, frame } from '../helpers/fake-ami.ts'
import { UapiClient, statuses, viewOf } from '../helpers/uapi.ts'
import { syntheticCall } from '../../bench/lib.ts'
import { lazyTestStorage } from '../helpers/pglite.ts'

const APP_ID = 'demo-12'
const APP_SECRET = 'demo-secret-12'
const SIP_PASSWORD = 'demo-sip-secret' // asterisk/pjsip.conf: what a log must never learn either

t.test('redactUrl keeps the names and drops the values of credential parameters', async (t) => {
  t.equal(redactUrl('/uapi/x?accessRequestToken=abc.def&count=2'), '/uapi/x?accessRequestToken=[redacted]&count=2')
  t.equal(redactUrl('/uapi/x?count=2&ACCESSREQUESTTOKEN=Bearer%20abc'), '/uapi/x?count=2&ACCESSREQUESTTOKEN=[redacted]')
  t.equal(redactUrl('/oauth/token?client_id=a&client_secret=b'), '/oauth/token?client_id=a&client_secret=[redacted]')
  t.equal(redactUrl('/x?%61ccessRequestToken=abc'), '/x?%61ccessRequestToken=[redacted]', 'a %-encoded name')
  t.equal(redactUrl('/x?a=1'), '/x?a=1')
  t.equal(redactUrl('/x'), '/x')
})

t.test('a whole session leaves no credential in the log', async (t) => {
  const lines: string[] = []
  const logger = pino({ level: 'trace' }, { write: (s: string) => { lines.push(s); recordLine(s) } })
  const base = loadConfig({ LOG_LEVEL: 'trace' })
  const fake = await FakeAmi.start({ username: base.ami.username, secret: base.ami.secret })
  t.teardown(() => fake.close())
  const config = noRateLimit(structuredClone(base) as Config)
  config.ami.host = fake.host
  config.ami.port = fake.port
  const app = await buildApp(config, { logger, connect: true, storage: lazyTestStorage() })
  t.teardown(() => app.close())
  await app.ready()
  await app.engine.sync.whenLive(5_000)

  // Tokens, three ways.
  const form = await app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=client_credentials&client_id=${APP_ID}&client_secret=${APP_SECRET}` })
  const json = await app.inject({ method: 'POST', url: '/oauth/token.php', payload: { grant_type: 'client_credentials', client_id: APP_ID, client_secret: APP_SECRET, type: 'unifiedapi', redirect_uri: 'https://x' } })
  const basic = await app.inject({ method: 'POST', url: '/oauth/token', headers: { authorization: 'Basic ' + Buffer.from(`${APP_ID}:${APP_SECRET}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' })
  const tokens = [form, json, basic].map((r) => r.json().access_token as string)
  t.ok(tokens.every((x) => typeof x === 'string' && x.length > 20), 'three tokens issued')
  const wrong = await app.inject({ method: 'POST', url: `/oauth/token?client_secret=${APP_SECRET}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=client_credentials&client_id=${APP_ID}&client_secret=${APP_SECRET}x` })
  t.equal(wrong.statusCode, 401, 'a wrong secret (and a secret in the query) is refused')

  // The token in the header and in the query, plain, %-encoded and with "Bearer ".
  const [a, b, c] = tokens as [string, string, string]
  const inHeader = await app.inject({ url: '/uapi/phoneCalls/@me/0003*210', headers: { authorization: `Bearer ${a}` } })
  t.equal(inHeader.statusCode, 200)
  t.equal((await app.inject({ url: `/uapi/phoneCalls/@me/0003*210?accessRequestToken=${b}` })).statusCode, 200)
  t.equal((await app.inject({ url: `/uapi/phoneCalls/@me/0003*210?count=5&accessRequestToken=Bearer%20${c}` })).statusCode, 200)
  t.equal((await app.inject({ url: `/unifiedapi/phoneCalls/@me/0003*210/?accessRequestToken=${encodeURIComponent(a)}` })).statusCode, 200)
  // Refusals and failures: an expired-looking token, a foreign extension, an unknown action, bad JSON.
  t.equal((await app.inject({ url: `/uapi/phoneCalls/@me/0003*210?accessRequestToken=${a}x` })).statusCode, 401)
  t.equal((await app.inject({ url: '/uapi/phoneCalls/@me/0004*100', headers: { authorization: `Bearer ${b}` } })).statusCode, 401)
  t.equal((await app.inject({ method: 'PUT', url: `/uapi/phoneCalls/@me/0003*210/abc?accessRequestToken=${c}`, payload: { action: 'Teleport', phoneCallViewId: '01' } })).statusCode, 400)
  t.equal((await app.inject({ method: 'PUT', url: '/uapi/phoneCalls/@me/0003*210/abc', headers: { authorization: `Bearer ${a}`, 'content-type': 'application/json' }, payload: '{"action":' })).statusCode, 400)

  // A PickUp that reaches AMI (the fake peer plays the ringing call and records the Originate).
  fake.send(syntheticCall(1, '0003*300', '0003*210', false).events.map((e) => frame(e)).join(''))
  const user12 = await UapiClient.as(app, 12)
  const call = await user12.until('@me/0003*210', (l) => (statuses(l.entry[0])['0003*210'] === 3 ? l.entry[0] : undefined), '210 ringing')
  const picked = await app.inject({ method: 'PUT', url: `/uapi/phoneCalls/@me/0003*210/${call.id}?accessRequestToken=${b}`, payload: { action: 'PickUp', sendCallTo: '0003*024', phoneCallViewId: viewOf(call, '0003*210')?.id } })
  t.equal(picked.statusCode, 200, picked.body)
  await fake.waitForAction((x) => x.name.toLowerCase() === 'originate', 5_000)

  await app.close()
  const log = lines.join('')
  t.ok(lines.length > 30, `${lines.length} log lines captured`)
  t.ok(log.includes('accessRequestToken=[redacted]'), 'the request lines still say a token was sent in the query')
  // Routine client behaviour (refusals, an unknown action) is no error of the engine's.
  const errors = lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)
  t.same(errors.map((l) => l.slice(0, 200)), [], 'no error-level line: 4xx and 501 are logged at info')
  const secrets: Array<[string, string]> = [
    ['app secret', APP_SECRET],
    ['AMI secret', base.ami.secret],
    ['SIP password', SIP_PASSWORD],
    ['token-signing secret', base.security.tokenSecret],
    ['Basic credentials', Buffer.from(`${APP_ID}:${APP_SECRET}`).toString('base64')]
  ]
  for (const [i, token] of tokens.entries()) {
    // A JWT's signature alone is enough to forge nothing, but the whole token is a credential; any
    // of its three parts in a line would mean the token leaked (the payload part is shared by tokens
    // issued in the same second, so the signatures are checked separately too).
    secrets.push([`issued token ${i + 1}`, token], [`signature of token ${i + 1}`, token.split('.')[2] as string])
  }
  for (const [what, value] of secrets) {
    const found = lines.filter((l) => l.includes(value) || l.includes(encodeURIComponent(value)))
    t.same(found.map((l) => l.slice(0, 200)), [], `no ${what} in the log`)
  }
})
