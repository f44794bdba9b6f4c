// UAPI routes without a PBX: authentication, path scope, parameter validation and the answer
// while Asterisk is unreachable. (Behaviour with live calls is proven in test/pbx/.)
import t from 'tap'
import { NO_PBX, build, expectErrorLines, tokenFor } from '../helpers/app.ts'

t.test('List PhoneCalls', async (t) => {
  const app = await build(t)
  const user12 = await tokenFor(app, 12)
  // null: send no Authorization header at all.
  const get = (url: string, token: string | null = user12) =>
    app.inject({ method: 'GET', url, headers: token === null ? {} : { authorization: `Bearer ${token}` } })

  t.test('no token, a bad token and a tampered token all answer 401 access_denied', async (t) => {
    // Tampering: claim to be the admin (user 1) while keeping user 12's signature.
    const [head, body, sig] = user12.split('.') as [string, string, string]
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString())
    const forged = `${head}.${Buffer.from(JSON.stringify({ ...claims, sub: '1' })).toString('base64url')}.${sig}`
    for (const token of [null, 'nonsense', forged, `${head}.${body}.`]) {
      const res = await get('/uapi/phoneCalls/@me/0003*210', token)
      t.equal(res.statusCode, 401)
      t.same(res.json(), { error: { code: 'access_denied', message: 'You are not authorized to use this request.' } })
    }
  })

  t.test('the token is accepted as accessRequestToken, bare or with Bearer', async (t) => {
    expectErrorLines(2, NO_PBX)
    for (const q of [user12, `Bearer%20${user12}`]) {
      const res = await get(`/uapi/phoneCalls/@me/0003*210?accessRequestToken=${q}`, null)
      t.equal(res.json().error?.code, 'pbx_unavailable', 'authenticated, then refused because the PBX is not connected')
    }
  })

  t.test('path scope errors come before the PBX check', async (t) => {
    const cases: Array<[string, number, string]> = [
      ['/uapi/phoneCalls/@me/0003*999', 400, 'extension_invalid'],
      ['/uapi/phoneCalls/99/0003*210', 400, 'user_invalid'],
      ['/uapi/phoneCalls/abc/0003*210', 400, 'user_invalid'],
      ['/uapi/phoneCalls/@me/0004*100', 401, 'access_denied'],
      ['/uapi/phoneCalls/13/0003*024', 401, 'access_denied'],
      ['/uapi/phoneCalls/@me/0003*210/not-alnum!', 400, 'pc_phonecall_invalid'],
      ['/uapi/phoneCalls/@me/0003*210?count=0', 400, 'count_invalid'],
      ['/uapi/phoneCalls/@me/0003*210?count=abc', 400, 'count_invalid'],
      ['/uapi/phoneCalls/@me/0003*210?startIndex=-1', 400, 'startindex_invalid'],
      ['/uapi/phoneCalls/@me/0003*210?filterBy=name', 400, 'filterby_invalid'],
      ['/uapi/phoneCalls/@me/0003*210?sortOrder=up', 400, 'sortorder_invalid'],
      ['/uapi/phoneCalls/@me/0003*210?filterBy=id&filterOp=like', 400, 'filterop_invalid']
    ]
    for (const [url, status, code] of cases) {
      const res = await get(url)
      t.equal(res.statusCode, status, url)
      t.equal(res.json().error?.code, code, url)
    }
  })

  t.test('while the PBX is unreachable a valid request gets 503 pbx_unavailable with Retry-After', async (t) => {
    expectErrorLines(4, NO_PBX)
    for (const url of ['/uapi/phoneCalls/@me/0003*210', '/uapi/phoneCalls/@me/0003%2A210/', '/unifiedapi/phoneCalls/@me/@self', '/uapi/phoneCalls/12/210']) {
      const res = await get(url)
      t.equal(res.statusCode, 503, url)
      t.equal(res.json().error.code, 'pbx_unavailable')
      t.equal(res.headers['retry-after'], '2')
    }
  })

  t.test('unknown routes answer the UAPI envelope', async (t) => {
    const res = await get('/uapi/nothing/here')
    t.equal(res.statusCode, 404)
    t.equal(res.json().error.code, 'resource_not_found')
  })
})

t.test('PUT actions are validated field by field with the PickUp page codes', async (t) => {
  expectErrorLines(5, NO_PBX)
  const app = await build(t)
  const user12 = await tokenFor(app, 12)
  const put = (body: unknown, url = '/uapi/phoneCalls/@me/0003*210/b817d2618fe6f1804333', contentType = 'application/json') =>
    app.inject({ method: 'PUT', url, headers: { authorization: `Bearer ${user12}`, 'content-type': contentType }, payload: typeof body === 'string' ? body : JSON.stringify(body) })
  const ok = { action: 'PickUp', sendCallTo: '0003*024', callerId: 'John Doe <42420042>', waitForPickup: '20', phoneCallViewId: '01' }
  const cases: Array<[string, unknown, number, string]> = [
    ['missing action', { ...ok, action: undefined }, 400, 'pc_action_invalid'],
    ['unknown action', { ...ok, action: 'Dance' }, 400, 'pc_action_invalid'],
    ['action of the wrong type', { ...ok, action: 7 }, 400, 'pc_action_invalid'],
    ['waitForPickup zero', { ...ok, waitForPickup: '0' }, 400, 'pc_timeout_invalid'],
    ['waitForPickup negative', { ...ok, waitForPickup: -5 }, 400, 'pc_timeout_invalid'],
    ['waitForPickup not numeric', { ...ok, waitForPickup: 'soon' }, 400, 'pc_timeout_invalid'],
    ['waitForPickup an object', { ...ok, waitForPickup: { s: 1 } }, 400, 'pc_timeout_invalid'],
    ['waitForPickUp spelling, invalid', { ...ok, waitForPickup: undefined, waitForPickUp: 'x' }, 400, 'pc_timeout_invalid'],
    ['callerId without brackets', { ...ok, callerId: 'John Doe 42420042' }, 400, 'pc_callerid_invalid'],
    ['callerId with CR/LF', { ...ok, callerId: 'John <1>\r\nAction: Hangup' }, 400, 'pc_callerid_invalid'],
    ['callerId with a trailing newline', { ...ok, callerId: 'John Doe <42420042>\n' }, 400, 'pc_callerid_invalid'],
    ['callerId with a quote', { ...ok, callerId: 'John" <1>' }, 400, 'pc_callerid_invalid'],
    ['callerID spelling, invalid', { ...ok, callerId: undefined, callerID: '<>' }, 400, 'pc_callerid_invalid'],
    ['sendCallTo missing', { ...ok, sendCallTo: undefined }, 400, 'pc_sendcallto_invalid'],
    ['sendCallTo unknown', { ...ok, sendCallTo: '0003*999' }, 400, 'pc_sendcallto_invalid'],
    ['sendCallTo in another organization', { ...ok, sendCallTo: '0004*100' }, 400, 'pc_sendcallto_invalid'],
    ['sendCallTo garbage', { ...ok, sendCallTo: '\u0000' }, 400, 'pc_sendcallto_invalid'],
    ['not an object', '[1,2]', 400, 'request_invalid'],
    ['broken JSON (as on the PickUp page)', '{"action":"PickUp", "callerId:"John"}', 400, 'request_invalid'],
    ['valid fields but the PBX is unreachable', ok, 503, 'pbx_unavailable'],
    ['short sendCallTo is valid', { ...ok, sendCallTo: '024' }, 503, 'pbx_unavailable'],
    ['numeric waitForPickup is valid', { ...ok, waitForPickup: 20 }, 503, 'pbx_unavailable'],
    ['bare-number callerId is valid', { ...ok, callerId: '+40212345678' }, 503, 'pbx_unavailable'],
    ['every UAPI action is implemented: Whisper reaches its own checks', { ...ok, action: 'Whisper' }, 503, 'pbx_unavailable'],
    ['an action UAPI does not define', { ...ok, action: 'Teleport' }, 400, 'pc_action_invalid']
  ]
  for (const [name, body, status, code] of cases) {
    const res = await put(body)
    t.equal(res.statusCode, status, name)
    t.equal(res.json().error?.code, code, name)
  }
  const bad = await put(ok, '/uapi/phoneCalls/@me/0003*210/bad-id')
  t.equal(bad.json().error.code, 'pc_phonecall_invalid', 'a malformed phoneCallId')
  const foreign = await app.inject({ method: 'PUT', url: '/uapi/phoneCalls/@me/0003*210/b817d2618fe6f1804333', headers: { authorization: `Bearer ${await tokenFor(app, 40)}` }, payload: ok })
  t.equal(foreign.statusCode, 401, 'user 40 cannot act on organization 3')
  const xml = await put('<x/>', undefined, 'application/xml')
  t.equal(xml.statusCode, 415)
  t.equal(xml.json().error.code, 'media_type_unsupported')
})

t.test('health says degraded until AMI is up and the mirror synced', async (t) => {
  const app = await build(t)
  const live = await app.inject('/health')
  t.equal(live.statusCode, 200)
  t.match(live.json(), { status: 'degraded', ami: 'idle', mirror: 'stale' })
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 503)
})

t.test('the OpenAPI document describes the UAPI routes', async (t) => {
  const app = await build(t)
  const res = await app.inject('/docs/json')
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.equal(doc.openapi, '3.0.3')
  t.ok(doc.paths['/uapi/phoneCalls/{userId}/{extension}']?.get, 'list')
  t.ok(doc.paths['/uapi/phoneCalls/{userId}/{extension}/{phoneCallId}']?.put, 'update')
  t.notOk(doc.paths['/unifiedapi/phoneCalls/{userId}/{extension}'], 'the alias is not documented twice')
  t.ok(doc.paths['/oauth/token'], 'token endpoint')
})
