import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { AccessDeniedError, authPlugin, createTokenService, principalOf, requireAuth } from '../../src/auth/index.ts'
import { loadConfig } from '../../src/config.ts'
import { Directory } from '../../src/directory/index.ts'

const config = loadConfig({})
const directory = new Directory(config.directory)
const T0 = Date.UTC(2025, 0, 1)

// The auth plugin plus one protected route in its own scope, as the UAPI plugin will use it
// (the real src/app.ts is built elsewhere). The clock is injected so tokens expire without waiting.
async function build (t: Test, security = config.security) {
  let clock = T0
  const app = Fastify()
  await app.register(authPlugin, { security, directory, now: () => clock })
  await app.register(async function uapi (scope) {
    scope.addHook('onRequest', requireAuth)
    // Stand-in for the UAPI error handler: the envelope of reference §1.7.
    scope.setErrorHandler((err: FastifyError, _request, reply) =>
      reply.code(err.statusCode ?? 500).send({ error: { code: err.code, message: err.message } }))
    scope.get('/uapi/whoami', async (request) => {
      const principal = principalOf(request)
      return { userId: principal.user.id, clientId: principal.clientId }
    })
  })
  app.get('/open', async (request) => ({ principal: request.principal }))
  t.teardown(() => app.close())
  return { app, advance: (ms: number) => { clock += ms } }
}

async function tokenFor (app: FastifyInstance, userId: number): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: `demo-${userId}`, client_secret: `demo-secret-${userId}` }
  })
  if (res.statusCode !== 200) throw new Error(`token request failed: ${res.body}`)
  return res.json().access_token
}

const DENIED = { error: { code: 'access_denied', message: 'You are not authorized to use this request.' } }

t.test('a bearer token in the Authorization header identifies the user and the app', async (t) => {
  const { app } = await build(t)
  const token = await tokenFor(app, 12)
  const res = await app.inject({ url: '/uapi/whoami', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { userId: 12, clientId: 'demo-12' })
})

t.test('the accessRequestToken query parameter works with and without the Bearer word', async (t) => {
  const { app } = await build(t)
  const token = await tokenFor(app, 40)
  for (const query of [`Bearer%20${token}`, `Bearer+${token}`, token]) {
    const res = await app.inject({ url: `/uapi/whoami?accessRequestToken=${query}` })
    t.equal(res.statusCode, 200, query.slice(0, 7))
    t.equal(res.json().userId, 40)
  }
})

t.test('a request without a token is access_denied', async (t) => {
  const { app } = await build(t)
  for (const headers of [{}, { authorization: 'Basic ZGVtby0xMjp4' }, { authorization: 'Bearer' }]) {
    const res = await app.inject({ url: '/uapi/whoami', headers })
    t.equal(res.statusCode, 401)
    t.same(res.json(), DENIED)
  }
})

t.test('a tampered token is access_denied', async (t) => {
  const { app } = await build(t)
  const token = await tokenFor(app, 12)
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
  const forged = Buffer.from(JSON.stringify({ ...claims, sub: '1', cid: 'demo-1' })).toString('base64url')
  const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA')
  for (const bad of [`${header}.${forged}.${signature}`, `${header}.${payload}.${flipped}`, 'not-a-jwt', `${header}.${payload}.`]) {
    const res = await app.inject({ url: '/uapi/whoami', headers: { authorization: `Bearer ${bad}` } })
    t.equal(res.statusCode, 401)
    t.same(res.json(), DENIED)
  }
})

t.test('a token signed with another secret is access_denied', async (t) => {
  const { app } = await build(t)
  const other = createTokenService({ secret: 'some-other-secret-0123456789', ttlSeconds: 3600, now: () => T0 })
  const { accessToken } = other.issue({ clientId: 'demo-12', userId: 12, secretHash: 'x' })
  const res = await app.inject({ url: '/uapi/whoami', headers: { authorization: `Bearer ${accessToken}` } })
  t.equal(res.statusCode, 401)
})

t.test('a token expires after tokenTtlSeconds', async (t) => {
  const { app, advance } = await build(t)
  const token = await tokenFor(app, 12)
  const whoami = () => app.inject({ url: '/uapi/whoami', headers: { authorization: `Bearer ${token}` } })
  advance(3599_000)
  t.equal((await whoami()).statusCode, 200, 'valid one second before expiry')
  advance(1_000)
  const res = await whoami()
  t.equal(res.statusCode, 401, 'refused at expiry')
  t.same(res.json(), DENIED)
})

t.test('a short ttl from config is honoured and reported as expires_in', async (t) => {
  const { app, advance } = await build(t, { ...config.security, tokenTtlSeconds: 5 })
  const res = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: 'demo-12', client_secret: 'demo-secret-12' }
  })
  t.equal(res.json().expires_in, 5)
  advance(5_000)
  const after = await app.inject({ url: '/uapi/whoami', headers: { authorization: `Bearer ${res.json().access_token}` } })
  t.equal(after.statusCode, 401)
})

t.test('another engine instance sharing the token secret accepts the token', async (t) => {
  const one = await build(t)
  const two = await build(t)
  const token = await tokenFor(one.app, 3)
  const res = await two.app.inject({ url: '/uapi/whoami', headers: { authorization: `Bearer ${token}` } })
  t.same(res.json(), { userId: 3, clientId: 'demo-3' })
})

t.test('a validly signed token for an app missing from the directory is access_denied', async (t) => {
  const { app } = await build(t)
  const tokens = createTokenService({ secret: config.security.tokenSecret, ttlSeconds: 3600, now: () => T0 })
  for (const app2 of [{ clientId: 'ghost', userId: 12, secretHash: 'x' }, { clientId: 'demo-12', userId: 13, secretHash: 'x' }]) {
    const { accessToken } = tokens.issue(app2)
    const res = await app.inject({ url: '/uapi/whoami', headers: { authorization: `Bearer ${accessToken}` } })
    t.equal(res.statusCode, 401, app2.clientId)
  }
})

t.test('routes outside the protected scope are not authenticated', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ url: '/open' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { principal: null })
})

t.test('AccessDeniedError carries the UAPI code and status', async (t) => {
  const err = new AccessDeniedError({ cause: new Error('why') })
  t.equal(err.code, 'access_denied')
  t.equal(err.statusCode, 401)
  t.equal(err.message, 'You are not authorized to use this request.')
  t.ok(err instanceof Error)
  t.ok(err instanceof AccessDeniedError)
  t.equal((err.cause as Error).message, 'why')
})
