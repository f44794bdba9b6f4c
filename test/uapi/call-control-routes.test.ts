// Create Simple, Delete, Transfer and TransferToVoicemail without a PBX: authentication, scope,
// field validation in the order each route checks, and 503 once a request would reach Asterisk.
// Live behaviour is proven in test/pbx/call-control.test.ts.
import t from 'tap'
import { NO_PBX, build, expectErrorLines, tokenFor } from '../helpers/app.ts'

const C2C = { extension: '0003*300', phoneCallView: [{ source: ['0003*300'], destination: ['42420042'], callerId: 'Echo Line <42420042>' }], nonce: 'abc-1' }

t.test('POST /phoneCalls/{userId}/simple', async (t) => {
  expectErrorLines(11, NO_PBX)
  const app = await build(t)
  const user14 = await tokenFor(app, 14)
  const post = (url: string, body: unknown, token: string | null = user14, contentType = 'application/json') =>
    app.inject({ method: 'POST', url, headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), 'content-type': contentType }, payload: typeof body === 'string' ? body : JSON.stringify(body) })
  const view = (v: Record<string, unknown>) => ({ ...C2C, phoneCallView: [{ ...C2C.phoneCallView[0], ...v }] })
  const cases: Array<[string, string, unknown, number, string]> = [
    ['valid, PBX unreachable', '/uapi/phoneCalls/@me/simple', C2C, 503, 'pbx_unavailable'],
    ['alias with trailing slash', '/unifiedapi/phoneCalls/@me/simple/', C2C, 503, 'pbx_unavailable'],
    ['numeric user id', '/uapi/phoneCalls/14/simple', C2C, 503, 'pbx_unavailable'],
    ['strings for source and destination, short numbers', '/uapi/phoneCalls/@me/simple', { extension: '300', phoneCallView: [{ source: '300', destination: '024' }] }, 503, 'pbx_unavailable'],
    ['no extension, no source: the user\'s only phone', '/uapi/phoneCalls/@me/simple', { phoneCallView: [{ destination: '+42420042' }] }, 503, 'pbx_unavailable'],
    ['all query parameters', '/uapi/phoneCalls/@me/simple?waitForPickup=20&callDuration=60&allowPublicTransfer=true&video=0', C2C, 503, 'pbx_unavailable'],
    ['unknown user', '/uapi/phoneCalls/99/simple', C2C, 400, 'user_invalid'],
    ['another user of the organization', '/uapi/phoneCalls/12/simple', C2C, 401, 'access_denied'],
    ['waitForPickup 0', '/uapi/phoneCalls/@me/simple?waitForPickup=0', C2C, 400, 'pc_timeout_invalid'],
    ['waitForPickup words', '/uapi/phoneCalls/@me/simple?waitForPickup=soon', C2C, 400, 'pc_timeout_invalid'],
    ['callDuration 0', '/uapi/phoneCalls/@me/simple?callDuration=0', C2C, 400, 'pc_callduration_invalid'],
    ['callDuration fractional', '/uapi/phoneCalls/@me/simple?callDuration=1.5', C2C, 400, 'pc_callduration_invalid'],
    ['callDuration huge', '/uapi/phoneCalls/@me/simple?callDuration=99999999', C2C, 400, 'pc_callduration_invalid'],
    ['allowPublicTransfer yes', '/uapi/phoneCalls/@me/simple?allowPublicTransfer=yes', C2C, 400, 'pc_allowpublictransfer_invalid'],
    ['video twice', '/uapi/phoneCalls/@me/simple?video=true&video=false', C2C, 400, 'pc_video_invalid'],
    ['extension of a colleague', '/uapi/phoneCalls/@me/simple', { ...C2C, extension: '0003*210' }, 400, 'pc_extension_invalid'],
    ['extension of another organization', '/uapi/phoneCalls/@me/simple', { ...C2C, extension: '0004*100' }, 400, 'pc_extension_invalid'],
    ['extension @self', '/uapi/phoneCalls/@me/simple', { ...C2C, extension: '@self' }, 400, 'pc_extension_invalid'],
    ['extension a number', '/uapi/phoneCalls/@me/simple', { ...C2C, extension: 300 }, 400, 'pc_extension_invalid'],
    ['no phoneCallView', '/uapi/phoneCalls/@me/simple', { extension: '300' }, 400, 'pc_source_invalid'],
    ['phoneCallView an object', '/uapi/phoneCalls/@me/simple', { extension: '300', phoneCallView: { source: '300' } }, 400, 'pc_source_invalid'],
    ['two views', '/uapi/phoneCalls/@me/simple', { ...C2C, phoneCallView: [C2C.phoneCallView[0], C2C.phoneCallView[0]] }, 400, 'pc_source_invalid'],
    ['source of a colleague', '/uapi/phoneCalls/@me/simple', view({ source: '0003*210' }), 400, 'pc_source_invalid'],
    ['two public sources', '/uapi/phoneCalls/@me/simple', view({ source: ['5354353', '5302040'] }), 503, 'pbx_unavailable'],
    ['a phone and a public source', '/uapi/phoneCalls/@me/simple', view({ source: ['300', '+5302040'] }), 503, 'pbx_unavailable'],
    ['public source, no extension: the user\'s only phone is charged', '/uapi/phoneCalls/@me/simple', { phoneCallView: [{ source: '5354353', destination: '300' }] }, 503, 'pbx_unavailable'],
    ['source not a number', '/uapi/phoneCalls/@me/simple', view({ source: ['300', '12ab'] }), 400, 'pc_source_invalid'],
    ['one source of a colleague among several', '/uapi/phoneCalls/@me/simple', view({ source: ['300', '210'] }), 400, 'pc_source_invalid'],
    ['destination is one of the sources', '/uapi/phoneCalls/@me/simple', view({ source: ['300', '42420042'] }), 400, 'pc_destination_invalid'],
    ['source not a string', '/uapi/phoneCalls/@me/simple', view({ source: [300] }), 400, 'pc_source_invalid'],
    ['source with CR/LF', '/uapi/phoneCalls/@me/simple', view({ source: '300\r\nAction: Hangup' }), 400, 'pc_source_invalid'],
    ['destination empty', '/uapi/phoneCalls/@me/simple', view({ destination: [] }), 400, 'pc_destination_invalid'],
    ['two destinations', '/uapi/phoneCalls/@me/simple', view({ destination: ['42420042', '42420043'] }), 400, 'pc_destination_invalid'],
    ['destination too short to be public', '/uapi/phoneCalls/@me/simple', view({ destination: '1234' }), 400, 'pc_destination_invalid'],
    ['destination unknown extension', '/uapi/phoneCalls/@me/simple', view({ destination: '0003*999' }), 400, 'pc_destination_invalid'],
    ['destination in another organization', '/uapi/phoneCalls/@me/simple', view({ destination: '0004*100' }), 400, 'pc_destination_invalid'],
    ['destination with CR/LF', '/uapi/phoneCalls/@me/simple', view({ destination: '42420042\r\nAction: Hangup' }), 400, 'pc_destination_invalid'],
    ['callerId without brackets', '/uapi/phoneCalls/@me/simple', view({ callerId: 'Echo 42420042' }), 400, 'pc_callerid_invalid'],
    ['callerId with CR/LF', '/uapi/phoneCalls/@me/simple', view({ callerId: 'Echo <1>\r\nAction: Hangup' }), 400, 'pc_callerid_invalid'],
    ['callerID spelling, invalid', '/uapi/phoneCalls/@me/simple', view({ callerId: undefined, callerID: 7 }), 400, 'pc_callerid_invalid'],
    ['callerDestination invalid', '/uapi/phoneCalls/@me/simple', view({ callerDestination: '<>' }), 400, 'pc_callerid_invalid'],
    ['nonce with a newline', '/uapi/phoneCalls/@me/simple', { ...C2C, nonce: 'a\nb' }, 400, 'pc_nonce_invalid'],
    ['nonce an object', '/uapi/phoneCalls/@me/simple', { ...C2C, nonce: { a: 1 } }, 400, 'pc_nonce_invalid'],
    ['nonce too long', '/uapi/phoneCalls/@me/simple', { ...C2C, nonce: 'n'.repeat(129) }, 400, 'pc_nonce_invalid'],
    ['body an array', '/uapi/phoneCalls/@me/simple', '[1]', 400, 'request_invalid'],
    ['body not JSON', '/uapi/phoneCalls/@me/simple', '{"extension":', 400, 'request_invalid']
  ]
  for (const [name, url, body, status, code] of cases) {
    const res = await post(url, body)
    t.equal(res.statusCode, status, name)
    t.equal(res.json().error?.code, code, `${name}: ${res.body}`)
  }
  const anonymous = await post('/uapi/phoneCalls/@me/simple', C2C, null)
  t.equal(anonymous.statusCode, 401)
  const foreign = await post('/uapi/phoneCalls/@me/simple', C2C, await tokenFor(app, 40))
  t.equal(foreign.json().error.code, 'pc_extension_invalid', 'user 40 cannot use organization 3\'s phone')
  const org3 = await post('/uapi/phoneCalls/@me/simple', { phoneCallView: [{ source: '210', destination: '024' }] }, await tokenFor(app, 3))
  t.equal(org3.json().error.code, 'pbx_unavailable', 'the organization may ring any of its phones')
  const admin = await post('/uapi/phoneCalls/@me/simple', { phoneCallView: [{ source: '0004*100', destination: '42420042' }] }, await tokenFor(app, 1))
  t.equal(admin.json().error.code, 'pbx_unavailable', 'the admin may ring any phone (full number)')
  const xml = await post('/uapi/phoneCalls/@me/simple', '<x/>', user14, 'application/xml')
  t.equal(xml.statusCode, 415)
})

t.test('DELETE /phoneCalls/{userId}/{extension}[/{phoneCallId}]', async (t) => {
  expectErrorLines(6, NO_PBX)
  const app = await build(t)
  const user12 = await tokenFor(app, 12)
  const del = async (url: string, token = user12) => app.inject({ method: 'DELETE', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } })
  const cases: Array<[string, number, string]> = [
    ['/uapi/phoneCalls/@me/0003*210/b817d2618fe6f1804333', 503, 'pbx_unavailable'],
    ['/uapi/phoneCalls/@me/0003*210', 503, 'pbx_unavailable'],
    ['/unifiedapi/phoneCalls/@me/@self/b817d2618fe6f1804333/', 503, 'pbx_unavailable'],
    ['/uapi/phoneCalls/@me/0003*210/7d280cc4feae3255a497?phoneNumber=8887777', 503, 'pbx_unavailable'],
    ['/uapi/phoneCalls/@me/0003*210/7d280cc4feae3255a497?phoneNumber=%2B8887777', 503, 'pbx_unavailable'],
    ['/uapi/phoneCalls/@me/0003*210/7d280cc4feae3255a497?phoneNumber=024', 503, 'pbx_unavailable'],
    ['/uapi/phoneCalls/@me/0003*210/bad-id', 400, 'pc_phonecall_invalid'],
    ['/uapi/phoneCalls/@me/0003*210/b817?phoneNumber=abc', 400, 'pc_phonenumber_invalid'],
    ['/uapi/phoneCalls/@me/0003*210/b817?phoneNumber=123', 400, 'pc_phonenumber_invalid'],
    ['/uapi/phoneCalls/@me/0003*210/b817?phoneNumber=0003*999', 400, 'pc_phonenumber_invalid'],
    ['/uapi/phoneCalls/@me/0003*210/b817?phoneNumber=1%0D%0AAction:%20Hangup', 400, 'pc_phonenumber_invalid'],
    [`/uapi/phoneCalls/@me/0003*210/b817?phoneNumber=${'1'.repeat(80)}`, 400, 'pc_phonenumber_invalid'],
    ['/uapi/phoneCalls/@me/0003*999', 400, 'extension_invalid'],
    ['/uapi/phoneCalls/99/@self', 400, 'user_invalid'],
    ['/uapi/phoneCalls/13/0003*024', 401, 'access_denied']
  ]
  for (const [url, status, code] of cases) {
    const res = await del(url)
    t.equal(res.statusCode, status, url)
    t.equal(res.json().error?.code, code, url)
  }
  const foreign = await del('/uapi/phoneCalls/12/0003*210', await tokenFor(app, 40))
  t.equal(foreign.statusCode, 401)
})

t.test('PUT Transfer and TransferToVoicemail', async (t) => {
  expectErrorLines(5, NO_PBX)
  const app = await build(t)
  const user12 = await tokenFor(app, 12)
  const put = (body: unknown, url = '/uapi/phoneCalls/@me/0003*210/b817d2618fe6f1804333') =>
    app.inject({ method: 'PUT', url, headers: { authorization: `Bearer ${user12}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) })
  const cases: Array<[string, unknown, number, string]> = [
    ['Transfer, page example', { action: 'Transfer', sendCallTo: '3334444', transferFromNumber: '0003*024', transferNumber: '0003*210' }, 503, 'pbx_unavailable'],
    ['Transfer, samples\' minimal form', { action: 'Transfer', sendCallTo: '024', phoneCallViewId: '01' }, 503, 'pbx_unavailable'],
    ['Transfer, numbers as JSON numbers', { action: 'Transfer', sendCallTo: '3334444', transferNumber: 3334445 }, 503, 'pbx_unavailable'],
    ['Transfer, no sendCallTo', { action: 'Transfer' }, 400, 'pc_sendcallto_invalid'],
    ['Transfer, sendCallTo too short', { action: 'Transfer', sendCallTo: '1234' }, 400, 'pc_sendcallto_invalid'],
    ['Transfer, sendCallTo of another organization', { action: 'Transfer', sendCallTo: '0004*100' }, 400, 'pc_sendcallto_invalid'],
    ['Transfer, sendCallTo with CR/LF', { action: 'Transfer', sendCallTo: '024\r\nAction: Hangup' }, 400, 'pc_sendcallto_invalid'],
    ['Transfer, transferNumber garbage', { action: 'Transfer', sendCallTo: '024', transferNumber: 'x' }, 400, 'pc_transfernumber_invalid'],
    ['Transfer, transferNumber an object', { action: 'Transfer', sendCallTo: '024', transferNumber: { a: 1 } }, 400, 'pc_transfernumber_invalid'],
    ['Transfer, transferFromNumber garbage', { action: 'Transfer', sendCallTo: '024', transferFromNumber: '0003*' }, 400, 'pc_transferfromnumber_invalid'],
    ['Voicemail, valid', { action: 'TransferToVoicemail', sendCallTo: '0003*024' }, 503, 'pbx_unavailable'],
    ['Voicemail, short number', { action: 'TransferToVoicemail', sendCallTo: '024', transferNumber: '0003*300' }, 503, 'pbx_unavailable'],
    ['Voicemail, no sendCallTo', { action: 'TransferToVoicemail' }, 400, 'pc_sendcallto_invalid'],
    ['Voicemail, public number', { action: 'TransferToVoicemail', sendCallTo: '3334444' }, 400, 'pc_sendcallto_invalid'],
    ['Voicemail, another organization', { action: 'TransferToVoicemail', sendCallTo: '0004*100' }, 400, 'pc_sendcallto_invalid'],
    ['Voicemail, transferNumber garbage', { action: 'TransferToVoicemail', sendCallTo: '024', transferNumber: '+' }, 400, 'pc_transfernumber_invalid']
  ]
  for (const [name, body, status, code] of cases) {
    const res = await put(body)
    t.equal(res.statusCode, status, name)
    t.equal(res.json().error?.code, code, `${name}: ${res.body}`)
  }
  const badId = await put({ action: 'Transfer', sendCallTo: '024' }, '/uapi/phoneCalls/@me/0003*210/bad-id')
  t.equal(badId.json().error.code, 'pc_phonecall_invalid')
})

t.test('the OpenAPI document describes create and delete', async (t) => {
  const app = await build(t)
  const doc = (await app.inject('/docs/json')).json()
  t.ok(doc.paths['/uapi/phoneCalls/{userId}/simple']?.post, 'create simple')
  t.ok(doc.paths['/uapi/phoneCalls/{userId}/{extension}/{phoneCallId}']?.delete, 'delete one')
  t.ok(doc.paths['/uapi/phoneCalls/{userId}/{extension}']?.delete, 'delete all')
  t.notOk(doc.paths['/unifiedapi/phoneCalls/{userId}/simple'], 'the alias is not documented twice')
})
