// Bad input, generated: whatever the path, query, headers or body, the engine answers a catalogued
// error in its envelope ({"error":{"code","message"}}, or the OAuth one on /oauth/*), never a 500,
// never a crash. No PBX here, so requests that pass every check end in 503 pbx_unavailable.
import fc from 'fast-check'
import t from 'tap'
import type { Response } from 'light-my-request'
import type { Config } from '../../src/config.ts'
import { UAPI_ERRORS } from '../../src/uapi/errors.ts'
import { build, tokenFor } from '../helpers/app.ts'

const RUNS = 300

// Limits out of the way: this test is about input handling, not rate limiting (429 would still pass).
const app = await build(t, { config: (c: Config) => ({ ...c, http: { ...c.http, rateLimit: { max: 1_000_000, timeWindowMs: 60_000, tokenMax: 1_000_000 } } }) })
const user12 = await tokenFor(app, 12)
const admin = await tokenFor(app, 1)
const bodyLimit = app.engine.config.http.bodyLimit

/** Throws (with the request, for fast-check's report) unless `res` is a catalogued error envelope. */
function assertEnvelope (res: Response, what: string): void {
  const fail = (why: string): never => { throw new Error(`${what}: ${why}; got ${res.statusCode} ${res.body.slice(0, 300)}`) }
  if (res.statusCode >= 500 && res.statusCode !== 501 && res.statusCode !== 502 && res.statusCode !== 503) fail('server error')
  let body: unknown
  try { body = res.json() } catch { fail('body is not JSON') }
  if (what.includes(' /oauth/')) {
    const b = body as { error?: unknown, error_description?: unknown }
    if (typeof b.error !== 'string') fail('not the OAuth envelope')
    if (res.statusCode < 400) fail('not an error')
    return
  }
  const e = (body as { error?: { code?: unknown, message?: unknown } }).error
  if (e === undefined || typeof e.code !== 'string' || typeof e.message !== 'string') fail('not the UAPI envelope')
  const entry = UAPI_ERRORS[e?.code as keyof typeof UAPI_ERRORS] as readonly [number, string] | undefined
  if (entry === undefined) fail(`code ${String(e?.code)} is not in the catalogue`)
  if (entry?.[0] !== res.statusCode) fail(`status does not match the code's (${String(entry?.[0])})`)
  if (e?.code === 'internal_server_error') fail('internal_server_error')
}

// ---- generators ----------------------------------------------------------------------------

const pct = (s: string) => encodeURIComponent(s)
/** Characters a client can only send percent-encoded: NUL, CR/LF, controls, anything non-ASCII. */
const nasty = fc.constantFrom('%00', '%0D%0A', '%0d%0aAction:%20Originate', '%2F', '%2e%2e', '%', '%zz', '%C0%AF', '%FF', '%E2%80%AE', '..', '.', '@me', '@viewer', '@owner', '@self', '0003*210', '0003%2A210', '*', '**', '0003*', '-1', '1e309', 'NaN')
const segment = fc.oneof(
  nasty,
  fc.string({ unit: 'binary', maxLength: 40 }).map(pct),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map(pct),
  fc.integer({ min: 200, max: 5000 }).map((n) => 'a'.repeat(n)),
  fc.webSegment()
)
const prefix = fc.constantFrom('/uapi/phoneCalls', '/unifiedapi/phoneCalls', '/uapi', '/uapi/phoneCalls/@me/0003*210', '')
const path = fc.tuple(prefix, fc.array(segment, { maxLength: 6 }), fc.boolean())
  .map(([p, segs, slash]) => `${p}/${segs.join('/')}${slash ? '/' : ''}`.replace(/^\/\//, '/'))

const QUERY_PARAMS = ['count', 'startIndex', 'fields', 'filterBy', 'filterValue', 'filterOp', 'sortOrder', 'updatedSince', 'format', 'accessRequestToken', 'wait']
const queryValue = fc.oneof(
  nasty,
  fc.constantFrom('', '0', '-1', '5001', '1.5', '0x10', '1e3', 'true', 'null', '[]', '{}', 'id', 'published', 'equals', 'inArray', 'ascending', 'json', 'xml'),
  fc.string({ unit: 'binary', maxLength: 30 }).map(pct),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => '9'.repeat(n))
)
const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_PARAMS), fc.string({ maxLength: 10 }).map(pct)), queryValue), { maxLength: 6 })
  .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'))

const authorization = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(`Bearer ${user12}`, `Bearer ${admin}`, 'Bearer', 'Bearer ', 'bearer x.y.z', 'Basic Zm9vOmJhcg==', 'Basic !!', 'Token abc', `Bearer ${user12}x`, `Bearer ${user12.split('.').slice(0, 2).join('.')}.`, `Bearer eyJhbGciOiJub25lIn0.${user12.split('.')[1] ?? ''}.`),
  fc.string({ unit: 'grapheme-ascii', maxLength: 60 }),
  fc.integer({ min: 1000, max: 8000 }).map((n) => `Bearer ${'A'.repeat(n)}`)
)

const ACTION_FIELDS = ['action', 'sendCallTo', 'callerId', 'callerID', 'waitForPickup', 'waitForPickUp', 'phoneCallViewId', 'transferFromNumber', 'transferNumber', 'format', 'maxInParking', 'private']
const strangeString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.constantFrom('PickUp', 'Transfer', 'Dance', '', '\u0000', 'PickUp\u0000', '0003*024\r\nAction: Originate', 'John <1>', '<>', '25', '0', '-5', '1e400', 'NaN'),
  fc.integer({ min: 100, max: 30_000 }).map((n) => 'x'.repeat(n))
)
const fieldValue = fc.oneof(strangeString, fc.jsonValue({ maxDepth: 3 }), fc.double(), fc.integer(), fc.boolean(), fc.constant(null))
const actionBody = fc.dictionary(fc.oneof(fc.constantFrom(...ACTION_FIELDS), fc.string({ maxLength: 12 })), fieldValue, { maxKeys: 8 })
  .map((o) => JSON.stringify(o))
const deepJson = fc.integer({ min: 100, max: 20_000 }).chain((depth) => fc.constantFrom(
  '['.repeat(depth) + ']'.repeat(depth),
  '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
  '{"action":' + '['.repeat(depth) + ']'.repeat(depth) + '}'
))
const rawBody = fc.oneof(
  actionBody,
  fc.jsonValue().map((v) => JSON.stringify(v)),
  deepJson,
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom('', '{', '{"action":', 'null', '"PickUp"', '[]', '{"action":"PickUp"}x', '\u0000', '{"action":"PickUp","__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}')
)
const contentType = fc.oneof(
  fc.constantFrom(undefined, 'application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'application/json;charset=latin1', 'APPLICATION/JSON', 'application/json;;', 'application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', 'application/xml', '*/*', ''),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 })
)
const method = fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS')

// ---- properties --------------------------------------------------------------------------

const inject = async (m: string, url: string, headers: Record<string, string | undefined>, payload?: string) => {
  const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>
  const res = await app.inject({ method: m as 'GET', url, headers: clean, ...(payload === undefined ? {} : { payload }) })
  return res
}
const describe = (m: string, url: string, extra = '') => `${m} ${url.slice(0, 200)}${extra}`

t.test('any path answers a catalogued error, never a 500', async (t) => {
  await fc.assert(fc.asyncProperty(method, path, authorization, async (m, url, auth) => {
    const res = await inject(m, url, { authorization: auth })
    // Outside the UAPI prefixes a success is legitimate ("/uapi/.." may resolve to a public route).
    if (!/^\/+(uapi|unifiedapi)\//.test(url) && res.statusCode < 400) return
    assertEnvelope(res, describe(m, url))
  }), { numRuns: RUNS })
  t.pass(`${RUNS} requests`)
})

t.test('any query on the List route answers a catalogued error, never a 500', async (t) => {
  await fc.assert(fc.asyncProperty(fc.constantFrom('/uapi/phoneCalls/@me/0003*210', '/uapi/phoneCalls/1/@self', '/uapi/phoneCalls/@me/0003*210/abc123'), query, authorization, async (p, q, auth) => {
    const url = `${p}?${q}`
    assertEnvelope(await inject('GET', url, { authorization: auth }), describe('GET', url))
  }), { numRuns: RUNS })
  t.pass(`${RUNS} requests`)
})

t.test('any PUT body, content type and query answers a catalogued error, never a 500', async (t) => {
  await fc.assert(fc.asyncProperty(rawBody, contentType, fc.oneof(fc.constant(''), query), fc.constantFrom(`Bearer ${user12}`, `Bearer ${admin}`), async (body, type, q, auth) => {
    const url = `/uapi/phoneCalls/@me/0003*210/b817d2618fe6f1804333${q === '' ? '' : `?${q}`}`
    const res = await inject('PUT', url, { authorization: auth, 'content-type': type }, body)
    assertEnvelope(res, describe('PUT', url, ` [${String(type)}] ${body.slice(0, 120)}`))
  }), { numRuns: RUNS })
  t.pass(`${RUNS} requests`)
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution')
})

// Create Simple and Delete (call-control routes): generated payloads and queries.
const C2C_QUERY = ['waitForPickup', 'callDuration', 'allowPublicTransfer', 'video', 'phoneNumber']
const c2cQuery = fc.array(fc.tuple(fc.constantFrom(...C2C_QUERY), queryValue), { maxLength: 5 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'))
const numberish = fc.oneof(fieldValue, fc.constantFrom('0003*300', '300', '42420042', '+42420042', '0004*100', '@self', '0003*300\r\nAction: Hangup'), fc.array(fc.constantFrom('0003*300', '300', '42420042', 'x'), { maxLength: 3 }))
const c2cBody = fc.record({
  extension: numberish,
  nonce: fieldValue,
  phoneCallView: fc.oneof(fieldValue, fc.array(fc.record({ source: numberish, destination: numberish, callerId: fieldValue, callerDestination: fieldValue }, { requiredKeys: [] }), { maxLength: 2 }))
}, { requiredKeys: [] }).map((o) => JSON.stringify(o))

t.test('any Create Simple or Delete request answers a catalogued error, never a 500', async (t) => {
  await fc.assert(fc.asyncProperty(fc.oneof(c2cBody, rawBody), contentType, c2cQuery, fc.constantFrom('POST', 'DELETE'), fc.constantFrom(`Bearer ${user12}`, `Bearer ${admin}`), async (body, type, q, m, auth) => {
    const base = m === 'POST' ? '/uapi/phoneCalls/@me/simple' : '/uapi/phoneCalls/@me/0003*210/b817d2618fe6f1804333'
    const url = `${base}${q === '' ? '' : `?${q}`}`
    assertEnvelope(await inject(m, url, { authorization: auth, 'content-type': type }, body), describe(m, url, ` [${String(type)}] ${body.slice(0, 120)}`))
  }), { numRuns: RUNS })
  t.pass(`${RUNS} requests`)
})

t.test('bodies over the limit answer 413 payload_too_large', async (t) => {
  await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 4 * bodyLimit }), fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain'), async (extra, type) => {
    const body = JSON.stringify({ action: 'PickUp', pad: 'x'.repeat(bodyLimit + extra) })
    const res = await inject('PUT', '/uapi/phoneCalls/@me/0003*210/b817d2618fe6f1804333', { authorization: `Bearer ${user12}`, 'content-type': type }, body)
    assertEnvelope(res, `PUT of ${body.length} bytes [${type}]`)
    if (type !== 'text/plain' && res.json().error.code !== 'payload_too_large') throw new Error(`expected payload_too_large, got ${res.body}`)
  }), { numRuns: 50 })
  t.pass('50 requests')
})

t.test('any token request answers the OAuth error envelope, never a 500', async (t) => {
  const formBody = fc.array(fc.tuple(fc.constantFrom('grant_type', 'client_id', 'client_secret', 'scope', 'x'), fc.oneof(strangeString.map(pct), fc.constantFrom('client_credentials', 'demo-12', 'password'))), { maxLength: 5 })
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'))
  await fc.assert(fc.asyncProperty(fc.oneof(formBody, rawBody), contentType, authorization, fc.constantFrom('/oauth/token', '/oauth/token.php'), async (body, type, auth, url) => {
    const res = await inject('POST', url, { authorization: auth, 'content-type': type }, body)
    assertEnvelope(res, describe('POST', url, ` [${String(type)}] ${body.slice(0, 120)}`))
  }), { numRuns: RUNS })
  t.pass(`${RUNS} requests`)
})

t.test('the engine still serves normally after the fuzzing', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/uapi/phoneCalls/@me/0003*210', headers: { authorization: `Bearer ${user12}` } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().error.code, 'pbx_unavailable')
})

// Found by the path property: the router refused these with Fastify's own JSON (a 414 for the long
// segment), outside the envelope. Fixed with Fastify's frameworkErrors option (src/app.ts).
t.test('router refusals (over-long segment, malformed %-encoding) answer 400 request_invalid in the envelope', async (t) => {
  const cases: Array<[string, string]> = [
    [`/uapi/phoneCalls/${'a'.repeat(300)}`, 'A path segment is too long.'],
    [`/uapi/phoneCalls/@me/${'1'.repeat(300)}/abc`, 'A path segment is too long.'],
    ['/uapi/phoneCalls/%zz/0003*210', 'The request path is not a valid URL.'],
    ['/uapi/phoneCalls/@me/%E0%A4%A/abc', 'The request path is not a valid URL.']
  ]
  for (const [url, message] of cases) {
    const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${user12}` } })
    t.equal(res.statusCode, 400, url.slice(0, 60))
    t.same(res.json(), { error: { code: 'request_invalid', message } }, url.slice(0, 60))
  }
})
