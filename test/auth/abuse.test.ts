// Abuse of authentication and authority on the real app: expired, tampered and foreign tokens,
// requests across organizations and users, and brute force on the token endpoint.
import { createHmac } from 'node:crypto'
import t from 'tap'
import { createTokenService } from '../../src/auth/index.ts'
import { RATE_LIMIT_DEFAULTS } from '../../src/http/security.ts'
import { NO_PBX, build, expectErrorLines, tokenFor } from '../helpers/app.ts'

const DENIED = { error: { code: 'access_denied', message: 'You are not authorized to use this request.' } }
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
/** An HS256-style JWT over any header and claims, signed with `key`. */
const jwt = (header: unknown, claims: unknown, key: string) => {
  const unsigned = `${b64(header)}.${b64(claims)}`
  return `${unsigned}.${createHmac(header !== null && typeof header === 'object' && (header as { alg?: string }).alg === 'HS512' ? 'sha512' : 'sha256', key).update(unsigned).digest('base64url')}`
}

t.test('tokens', async (t) => {
  const app = await build(t)
  const secret = app.engine.config.security.tokenSecret
  const user12 = await tokenFor(app, 12)
  const get = (token: string, url = '/uapi/phoneCalls/@me/0003*210') =>
    app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } })
  const now = () => Math.floor(Date.now() / 1000)
  const demo12 = app.engine.directory.app('demo-12')
  if (demo12 === undefined) throw new Error('no demo-12 app')
  const akv = createTokenService({ secret, ttlSeconds: 3600 }).appKeyVersion(demo12)
  const claims12 = () => ({ sub: '12', cid: 'demo-12', aud: 'uapi', iat: now() - 10, exp: now() + 3600, jti: 'x', akv })

  t.test('a genuine token is accepted (the control case: refused only by the missing PBX)', async (t) => {
    expectErrorLines(2, NO_PBX)
    t.equal((await get(user12)).json().error.code, 'pbx_unavailable')
    t.equal((await get(jwt({ alg: 'HS256', typ: 'JWT' }, claims12(), secret))).json().error.code, 'pbx_unavailable', 'the hand-made signer matches the engine')
  })

  t.test('a token is refused from the second it expires', async (t) => {
    expectErrorLines(1, NO_PBX)
    // Issued by the engine's own token service, with a clock moved back: no waiting.
    const ttl = app.engine.config.security.tokenTtlSeconds
    const issuedAt = (secondsAgo: number) => createTokenService({ secret, ttlSeconds: ttl, now: () => Date.now() - secondsAgo * 1000 })
      .issue(demo12).accessToken
    t.equal((await get(issuedAt(ttl - 5))).json().error.code, 'pbx_unavailable', 'still valid 5 s before expiry')
    for (const age of [ttl, ttl + 1, 10 * ttl]) {
      const res = await get(issuedAt(age))
      t.equal(res.statusCode, 401, `issued ${age} s ago`)
      t.same(res.json(), DENIED)
    }
  })

  t.test('tampered, unsigned, wrongly signed and foreign tokens are refused with the same answer', async (t) => {
    const [head, body, sig] = user12.split('.') as [string, string, string]
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>
    const forged: Array<[string, string]> = [
      ['payload changed to the admin, signature kept', `${head}.${b64({ ...payload, sub: '1', cid: 'demo-1' })}.${sig}`],
      ['payload changed to user 13, signature kept', `${head}.${b64({ ...payload, sub: '13', cid: 'demo-13' })}.${sig}`],
      ['expiry extended, signature kept', `${head}.${b64({ ...payload, exp: now() + 86_400 * 365 })}.${sig}`],
      ['alg none, no signature', `${b64({ alg: 'none', typ: 'JWT' })}.${body}.`],
      ['alg none, signature kept', `${b64({ alg: 'none', typ: 'JWT' })}.${body}.${sig}`],
      ['signature stripped', `${head}.${body}.`],
      ['signed with another key', jwt({ alg: 'HS256', typ: 'JWT' }, claims12(), 'some-other-secret-of-length')],
      ['HS512 with the right key (algorithm not allowed)', jwt({ alg: 'HS512', typ: 'JWT' }, claims12(), secret)],
      ['another audience, right key', jwt({ alg: 'HS256', typ: 'JWT' }, { ...claims12(), aud: 'other-service' }, secret)],
      ['no audience, right key', jwt({ alg: 'HS256', typ: 'JWT' }, { ...claims12(), aud: undefined }, secret)],
      ['app of user 12 claimed for the admin, right key', jwt({ alg: 'HS256', typ: 'JWT' }, { ...claims12(), sub: '1' }, secret)],
      ['unknown app, right key', jwt({ alg: 'HS256', typ: 'JWT' }, { ...claims12(), cid: 'no-such-app' }, secret)],
      ['unknown user, right key', jwt({ alg: 'HS256', typ: 'JWT' }, { ...claims12(), sub: '999' }, secret)],
      ['exp as a string, right key', jwt({ alg: 'HS256', typ: 'JWT' }, { ...claims12(), exp: String(now() + 3600) }, secret)],
      ['two tokens glued', `${user12}.${user12}`],
      ['not a JWT', 'demo-secret-12']
    ]
    for (const [what, token] of forged) {
      const res = await get(token)
      t.equal(res.statusCode, 401, what)
      t.same(res.json(), DENIED, what)
    }
  })
})

t.test('authority across organizations and users', async (t) => {
  const app = await build(t)
  const tokens = { user40: await tokenFor(app, 40), org4: await tokenFor(app, 4), user12: await tokenFor(app, 12), org3: await tokenFor(app, 3) }
  const get = (who: keyof typeof tokens, url: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${tokens[who]}` } })

  t.test('denied requests are refused before the PBX is consulted', async (t) => {
    const denied: Array<[keyof typeof tokens, string]> = [
      // User 40 (organization 4) on organization 3.
      ['user40', '/uapi/phoneCalls/@me/0003*210'],
      ['user40', '/uapi/phoneCalls/12/0003*210'],
      ['user40', '/uapi/phoneCalls/12/@self'],
      ['user40', '/uapi/phoneCalls/3/@self'],
      // The organization account 4 on 0003* extensions and organization 3's users.
      ['org4', '/uapi/phoneCalls/@me/0003*210'],
      ['org4', '/uapi/phoneCalls/3/0003*210'],
      ['org4', '/uapi/phoneCalls/12/0003*210'],
      ['org4', '/uapi/phoneCalls/3/@self'],
      // User 12 on user 13's extension, by full number, short number and user id.
      ['user12', '/uapi/phoneCalls/13/0003*024'],
      ['user12', '/uapi/phoneCalls/@me/0003*024'],
      ['user12', '/uapi/phoneCalls/@me/024'],
      ['user12', '/uapi/phoneCalls/13/@self'],
      ['user12', '/uapi/phoneCalls/3/@self'],
      // The organization account 3 on organization 4.
      ['org3', '/uapi/phoneCalls/@me/0004*100'],
      ['org3', '/uapi/phoneCalls/40/0004*100']
    ]
    for (const [who, url] of denied) {
      const res = await get(who, url)
      t.equal(res.statusCode, 401, `${who} ${url}`)
      t.same(res.json(), DENIED, `${who} ${url}`)
    }
    // A short number is resolved inside the caller's own organization only: 210 is not one of org 4's.
    t.equal((await get('user40', '/uapi/phoneCalls/@me/210')).json().error.code, 'extension_invalid')
  })

  t.test('the same shapes of request are allowed inside the caller\'s authority (control cases)', async (t) => {
    expectErrorLines(4, NO_PBX)
    for (const [who, url] of [['org4', '/uapi/phoneCalls/@me/@self'], ['org3', '/uapi/phoneCalls/13/0003*024'], ['user40', '/uapi/phoneCalls/@me/0004*100'], ['user12', '/uapi/phoneCalls/@me/210']] as const) {
      t.equal((await get(who, url)).json().error.code, 'pbx_unavailable', `${who} ${url}`)
    }
  })

  t.test('a call cannot be sent to another organization\'s phone', async (t) => {
    expectErrorLines(1, NO_PBX)
    const put = (who: keyof typeof tokens, url: string, sendCallTo: string) => app.inject({
      method: 'PUT', url, headers: { authorization: `Bearer ${tokens[who]}` }, payload: { action: 'PickUp', sendCallTo }
    })
    t.equal((await put('user12', '/uapi/phoneCalls/@me/0003*210/abc', '0004*100')).json().error.code, 'pc_sendcallto_invalid')
    t.equal((await put('user40', '/uapi/phoneCalls/@me/0004*100/abc', '0003*024')).json().error.code, 'pc_sendcallto_invalid')
    t.equal((await put('user12', '/uapi/phoneCalls/@me/0003*210/abc', '0003*024')).json().error.code, 'pbx_unavailable', 'control: a phone of the same organization')
  })
})

t.test('brute force on the token endpoint hits the rate limit', async (t) => {
  const app = await build(t)
  const tokenMax = app.engine.config.http.rateLimit?.tokenMax ?? RATE_LIMIT_DEFAULTS.tokenMax
  const attempt = (secret: string) => app.inject({
    method: 'POST', url: '/oauth/token', payload: { grant_type: 'client_credentials', client_id: 'demo-12', client_secret: secret }
  })
  for (let i = 0; i < tokenMax; i++) {
    const res = await attempt(`guess-${i}`)
    if (res.statusCode !== 401) t.fail(`attempt ${i + 1}: expected 401, got ${res.statusCode}`)
  }
  t.pass(`${tokenMax} wrong secrets are answered 401 invalid_client`)
  const blocked = await attempt('demo-secret-12')
  t.equal(blocked.statusCode, 429, 'then even the right secret is refused')
  t.equal(blocked.json().error, 'rate_limited')
  t.match(blocked.headers['retry-after'], /^[1-9]\d*$/)
})
