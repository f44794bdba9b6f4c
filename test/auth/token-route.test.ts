import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { authPlugin } from '../../src/auth/index.ts'
import { loadConfig } from '../../src/config.ts'
import { Directory } from '../../src/directory/index.ts'

const config = loadConfig({})
const directory = new Directory(config.directory)

async function build (t: Test) {
  const app = Fastify()
  await app.register(authPlugin, { security: config.security, directory })
  t.teardown(() => app.close())
  return { app }
}

const form = 'application/x-www-form-urlencoded'
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`

t.test('a form-encoded client_credentials request gets a bearer token', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/oauth/token.php',
    headers: { 'content-type': form },
    // Extra fields real clients send (reference §1.2) are ignored.
    payload: 'grant_type=client_credentials&client_id=demo-12&client_secret=demo-secret-12&redirect_uri=https%3A%2F%2Fx.example%2Fcb&type=unifiedapi&state=0'
  })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'token_type'])
  t.equal(body.token_type, 'Bearer')
  t.equal(body.expires_in, 3600)
  t.match(body.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/)
})

t.test('a JSON request on /oauth/token gets a bearer token', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: 'demo-1', client_secret: 'demo-secret-1' }
  })
  t.equal(res.statusCode, 200)
  t.equal(res.json().token_type, 'Bearer')
})

t.test('HTTP Basic client authentication is accepted', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': form, authorization: basic('demo-40', 'demo-secret-40') },
    payload: 'grant_type=client_credentials'
  })
  t.equal(res.statusCode, 200)
})

t.test('a wrong secret and an unknown client get the same invalid_client answer', async (t) => {
  const { app } = await build(t)
  const wrong = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': form },
    payload: 'grant_type=client_credentials&client_id=demo-12&client_secret=demo-secret-13'
  })
  const unknown = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': form },
    payload: 'grant_type=client_credentials&client_id=nobody&client_secret=demo-secret-13'
  })
  t.equal(wrong.statusCode, 401)
  t.equal(unknown.statusCode, 401)
  t.equal(wrong.json().error, 'invalid_client')
  t.same(wrong.json(), unknown.json())
  t.equal(wrong.headers['cache-control'], 'no-store')
  t.equal(wrong.headers['www-authenticate'], undefined)
})

t.test('a failed Basic authentication carries a WWW-Authenticate challenge', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': form, authorization: basic('demo-40', 'nope') },
    payload: 'grant_type=client_credentials'
  })
  t.equal(res.statusCode, 401)
  t.equal(res.json().error, 'invalid_client')
  t.match(res.headers['www-authenticate'], /^Basic /)
})

t.test('a grant other than client_credentials is unsupported_grant_type', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    payload: { grant_type: 'authorization_code', code: 'x', client_id: 'demo-12', client_secret: 'demo-secret-12' }
  })
  t.equal(res.statusCode, 400)
  t.equal(res.json().error, 'unsupported_grant_type')
})

t.test('malformed token requests are invalid_request', async (t) => {
  const { app } = await build(t)
  const requests: Array<[string, { headers?: Record<string, string>, payload?: string | object }]> = [
    ['no grant_type', { payload: { client_id: 'demo-12', client_secret: 'demo-secret-12' } }],
    ['no client_secret', { payload: { grant_type: 'client_credentials', client_id: 'demo-12' } }],
    ['no client_id', { payload: { grant_type: 'client_credentials', client_secret: 'demo-secret-12' } }],
    ['no body at all', {}],
    ['a repeated parameter', { headers: { 'content-type': form }, payload: 'grant_type=client_credentials&client_id=demo-12&client_id=demo-13&client_secret=x' }],
    ['a non-string field', { payload: { grant_type: 'client_credentials', client_id: 'demo-12', client_secret: { a: 1 } } }],
    ['broken JSON', { headers: { 'content-type': 'application/json' }, payload: '{"grant_type":' }],
    ['an unsupported media type', { headers: { 'content-type': 'text/plain' }, payload: 'grant_type=client_credentials' }],
    ['both Basic and body credentials', {
      headers: { 'content-type': form, authorization: basic('demo-12', 'demo-secret-12') },
      payload: 'grant_type=client_credentials&client_secret=demo-secret-12'
    }],
    ['an unreadable Basic header', { headers: { 'content-type': form, authorization: 'Basic !!!' }, payload: 'grant_type=client_credentials' }]
  ]
  for (const [what, request] of requests) {
    const res = await app.inject({ method: 'POST', url: '/oauth/token', ...request })
    t.equal(res.statusCode, 400, `${what}: status`)
    t.equal(res.json().error, 'invalid_request', `${what}: error`)
    t.equal(res.headers['cache-control'], 'no-store', `${what}: not cached`)
  }
})

t.test('only POST is routed for the token endpoint', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'GET', url: '/oauth/token.php' })
  t.equal(res.statusCode, 404)
})
