// HTTP hardening (src/http/security.ts) on the real app: security headers, the docs page under its
// own CSP, CORS off by default and on for listed origins, rate limits per app / IP / client_id, and
// the body-size cap.
import t from 'tap'
import type { Config } from '../../src/config.ts'
import { NO_PBX, build, expectErrorLines, tokenFor } from '../helpers/app.ts'

const withHttp = (http: Partial<Config['http']>) => (c: Config): Config => ({ ...c, http: { ...c.http, ...http } })
const form = 'application/x-www-form-urlencoded'
const tokenRequest = (clientId: string, secret: string) => `grant_type=client_credentials&client_id=${clientId}&client_secret=${secret}`

t.test('API responses carry strict security headers', async (t) => {
  const app = await build(t)
  for (const url of ['/health', '/uapi/phoneCalls/@me/@self', '/no/such/route']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'", url)
    t.equal(res.headers['x-content-type-options'], 'nosniff', url)
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url)
    t.equal(res.headers['referrer-policy'], 'no-referrer', url)
    t.match(res.headers['strict-transport-security'], /^max-age=\d+/, url)
    t.notOk(res.headers['x-powered-by'], url)
  }
})

t.test('the Swagger UI still renders, under a CSP that allows its own assets', async (t) => {
  const app = await build(t)
  const index = await app.inject({ method: 'GET', url: '/docs/static/index.html' })
  // @fastify/swagger-ui 5 serves the page at /docs/ and redirects its old index.html address there.
  const page = index.statusCode === 302 ? await app.inject({ method: 'GET', url: String(index.headers.location) }) : index
  t.equal(page.statusCode, 200)
  t.match(page.body, /<div id="swagger-ui">/)
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, /script-src 'self'/)
  t.match(csp, /style-src 'self' 'unsafe-inline'/)
  t.notMatch(csp, /unsafe-eval/)
  for (const asset of ['/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-initializer.js', '/docs/static/swagger-ui.css', '/docs/json']) {
    const res = await app.inject({ method: 'GET', url: asset })
    t.equal(res.statusCode, 200, asset)
  }
})

t.test('CORS is off unless origins are configured', async (t) => {
  const app = await build(t)
  const res = await app.inject({
    method: 'OPTIONS',
    url: '/uapi/phoneCalls/@me/0003*210',
    headers: { origin: 'https://crm.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' }
  })
  t.notOk(res.headers['access-control-allow-origin'])
  t.equal(res.statusCode, 404)
  t.equal(res.json().error.code, 'resource_not_found')
})

t.test('with CORS origins configured, a preflight with Authorization succeeds for a listed origin only', async (t) => {
  expectErrorLines(1, NO_PBX)
  const app = await build(t, { config: withHttp({ cors: { origins: ['https://crm.example.com'] } }) })
  const user12 = await tokenFor(app, 12)
  const preflight = (origin: string) => app.inject({
    method: 'OPTIONS',
    url: '/uapi/phoneCalls/@me/0003*210/b817d2618fe6f1804333',
    headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,content-type' }
  })
  const ok = await preflight('https://crm.example.com')
  t.equal(ok.statusCode, 204)
  t.equal(ok.headers['access-control-allow-origin'], 'https://crm.example.com')
  t.match(ok.headers['access-control-allow-methods'], /PUT/)
  t.match(String(ok.headers['access-control-allow-headers']).toLowerCase(), /authorization/)
  t.notOk(ok.headers['access-control-allow-credentials'], 'bearer tokens only, never cookies')

  const other = await preflight('https://evil.example.net')
  t.notOk(other.headers['access-control-allow-origin'])

  const get = await app.inject({ method: 'GET', url: '/uapi/phoneCalls/@me/0003*210', headers: { origin: 'https://crm.example.com', authorization: `Bearer ${user12}` } })
  t.equal(get.headers['access-control-allow-origin'], 'https://crm.example.com')
  t.match(String(get.headers['access-control-expose-headers']), /Retry-After/)
})

t.test('the general rate limit counts per app, and per IP without a valid token', async (t) => {
  expectErrorLines(4, NO_PBX)
  const app = await build(t, { config: withHttp({ rateLimit: { max: 3, timeWindowMs: 60_000, tokenMax: 20 } }) })
  const [user12, user13] = [await tokenFor(app, 12), await tokenFor(app, 13)]
  const get = (token: string | undefined, remoteAddress = '127.0.0.1') => app.inject({
    method: 'GET', url: '/uapi/phoneCalls/@me/@self', remoteAddress, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }
  })
  for (let i = 0; i < 3; i++) t.equal((await get(user12)).statusCode, 503, 'within the limit: reaches the route (no PBX here)')
  const limited = await get(user12)
  t.equal(limited.statusCode, 429)
  t.same(limited.json(), { error: { code: 'rate_limited', message: limited.json().error.message } })
  t.match(limited.json().error.message, /^Too many requests; retry in \d+ s\.$/)
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.equal(limited.headers['x-ratelimit-remaining'], '0')
  t.equal(limited.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'", 'security headers stay on a 429')

  t.equal((await get(user13)).statusCode, 503, 'another app has its own budget, even from the same IP')
  // Requests without a valid token are counted per IP, before the bearer check refuses them.
  for (let i = 0; i < 3; i++) t.equal((await get('forged.token.value', '10.0.0.7')).statusCode, 401)
  t.equal((await get('forged.token.value', '10.0.0.7')).statusCode, 429, 'bad tokens are limited too')
  t.equal((await get(undefined, '10.0.0.8')).statusCode, 401, 'another IP has its own budget')
})

t.test('the token endpoint is limited per IP and per client_id, with an OAuth-style 429', async (t) => {
  const app = await build(t, { config: withHttp({ rateLimit: { max: 600, timeWindowMs: 60_000, tokenMax: 4 } }) })
  const post = (payload: string, remoteAddress: string) =>
    app.inject({ method: 'POST', url: '/oauth/token', remoteAddress, headers: { 'content-type': form }, payload })

  // Per IP: any client ids.
  for (let i = 0; i < 4; i++) t.equal((await post(tokenRequest(`guess-${i}`, 'x'), '10.1.0.1')).statusCode, 401)
  const byIp = await post(tokenRequest('demo-12', 'demo-secret-12'), '10.1.0.1')
  t.equal(byIp.statusCode, 429, 'even a correct secret is refused once the IP is over the limit')
  t.same(byIp.json(), { error: 'rate_limited', error_description: byIp.json().error_description })
  t.match(byIp.headers['retry-after'], /^\d+$/)
  t.equal(byIp.headers['cache-control'], 'no-store')

  // Per client_id: one app's secret guessed from many addresses.
  for (let i = 0; i < 4; i++) t.equal((await post(tokenRequest('demo-13', `guess-${i}`), `10.2.0.${i}`)).statusCode, 401)
  t.equal((await post(tokenRequest('demo-13', 'guess-x'), '10.2.0.99')).statusCode, 429, 'the fifth guess for demo-13 is refused from a fresh IP')
  const basic = `Basic ${Buffer.from('demo-13:demo-secret-13').toString('base64')}`
  const viaBasic = await app.inject({ method: 'POST', url: '/oauth/token', remoteAddress: '10.2.0.100', headers: { 'content-type': form, authorization: basic }, payload: 'grant_type=client_credentials' })
  t.equal(viaBasic.statusCode, 429, 'the client id is read from HTTP Basic credentials too')
  t.equal((await post(tokenRequest('demo-14', 'demo-secret-14'), '10.2.0.101')).statusCode, 200, 'other clients are unaffected')
})

t.test('a body over http.bodyLimit is refused with 413 payload_too_large', async (t) => {
  const app = await build(t)
  const user12 = await tokenFor(app, 12)
  const limit = app.engine.config.http.bodyLimit
  const big = JSON.stringify({ action: 'PickUp', sendCallTo: '0003*024', padding: 'x'.repeat(limit) })
  const res = await app.inject({
    method: 'PUT',
    url: '/uapi/phoneCalls/@me/0003*210/b817d2618fe6f1804333',
    headers: { authorization: `Bearer ${user12}`, 'content-type': 'application/json' },
    payload: big
  })
  t.equal(res.statusCode, 413)
  t.same(res.json(), { error: { code: 'payload_too_large', message: 'The request body is too large.' } })

  const token = await app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': form }, payload: `${tokenRequest('demo-12', 'demo-secret-12')}&pad=${'x'.repeat(limit)}` })
  t.equal(token.statusCode, 400, 'the token endpoint answers its own OAuth envelope')
  t.same(token.json(), { error: 'invalid_request', error_description: 'Malformed token request.' })
})
