// Create Callback and Create ConferenceInvite without a PBX: scope, field validation in the order
// each route checks, and 503 once a request would reach Asterisk. Live behaviour: test/pbx/create.test.ts.
import t from 'tap'
import { NO_PBX, build, expectErrorLines, tokenFor } from '../helpers/app.ts'

// The cases that pass every check reach the PBX test of an app without one: 503, logged at error.
expectErrorLines(6, NO_PBX)

const CB = { extension: '212', phoneCallView: [{ source: ['3334444'], destination: ['3235742879'], callerId: 'John Doe <4242425>' }] }
const INVITE = { extension: '211', phoneCallView: [{ source: ['211'], destination: ['3235742879'], callerId: 'John Doe <4242425>' }] }

t.test('POST /phoneCalls/{userId}/callback', async (t) => {
  const app = await build(t)
  const user12 = await tokenFor(app, 12)
  const post = async (url: string, body: unknown, token = user12) => app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) })
  const view = (v: Record<string, unknown>) => ({ ...CB, phoneCallView: [{ ...CB.phoneCallView[0], ...v }] })
  const cases: Array<[string, string, unknown, number, string]> = [
    ['the page\'s example, PBX unreachable', '/uapi/phoneCalls/@me/callback', CB, 503, 'pbx_unavailable'],
    ['strings, full number, /unifiedapi', '/unifiedapi/phoneCalls/12/callback/?waitForPickup=10&callDuration=60', { extension: '0003*212', phoneCallView: [{ source: '+3334444', destination: '3235742879' }] }, 503, 'pbx_unavailable'],
    ['no extension', '/uapi/phoneCalls/@me/callback', { phoneCallView: CB.phoneCallView }, 400, 'pc_extension_invalid'],
    ['extension @self', '/uapi/phoneCalls/@me/callback', { ...CB, extension: '@self' }, 400, 'pc_extension_invalid'],
    ['a phone, not a Callback extension', '/uapi/phoneCalls/@me/callback', { ...CB, extension: '210' }, 400, 'pc_extension_invalid'],
    ['a Conference extension', '/uapi/phoneCalls/@me/callback', { ...CB, extension: '211' }, 400, 'pc_extension_invalid'],
    ['waitForPickup 0', '/uapi/phoneCalls/@me/callback?waitForPickup=0', CB, 400, 'pc_timeout_invalid'],
    ['callDuration 0', '/uapi/phoneCalls/@me/callback?callDuration=0', CB, 400, 'pc_callduration_invalid'],
    ['source internal', '/uapi/phoneCalls/@me/callback', view({ source: '210' }), 400, 'pc_source_invalid'],
    ['two sources', '/uapi/phoneCalls/@me/callback', view({ source: ['3334444', '3334445'] }), 400, 'pc_source_invalid'],
    ['no source', '/uapi/phoneCalls/@me/callback', view({ source: undefined }), 400, 'pc_source_invalid'],
    ['destination internal', '/uapi/phoneCalls/@me/callback', view({ destination: '024' }), 400, 'pc_destination_invalid'],
    ['destination = source', '/uapi/phoneCalls/@me/callback', view({ destination: '+3334444' }), 400, 'pc_destination_invalid'],
    ['destination with CR/LF', '/uapi/phoneCalls/@me/callback', view({ destination: '3235742879\r\nAction: Hangup' }), 400, 'pc_destination_invalid'],
    ['callerId broken', '/uapi/phoneCalls/@me/callback', view({ callerId: 'x' }), 400, 'pc_callerid_invalid'],
    ['nonce broken', '/uapi/phoneCalls/@me/callback', { ...CB, nonce: 'a b' }, 400, 'pc_nonce_invalid']
  ]
  for (const [name, url, body, status, code] of cases) {
    const res = await post(url, body)
    t.equal(res.statusCode, status, name)
    t.equal(res.json().error?.code, code, `${name}: ${res.body}`)
  }
  t.equal((await post('/uapi/phoneCalls/@me/callback', CB, await tokenFor(app, 14))).json().error.code, 'pc_extension_invalid', 'a colleague\'s Callback extension')
  t.equal((await post('/uapi/phoneCalls/@me/callback', { ...CB, extension: '0003*212' }, await tokenFor(app, 40))).json().error.code, 'pc_extension_invalid', 'another organization\'s')
  t.equal((await post('/uapi/phoneCalls/@me/callback', { ...CB, extension: '0003*212' }, await tokenFor(app, 3))).json().error.code, 'pbx_unavailable', 'the organization account may use it')
})

t.test('POST /phoneCalls/{userId}/conferenceInvite', async (t) => {
  const app = await build(t)
  const user12 = await tokenFor(app, 12)
  const post = async (url: string, body: unknown, token = user12) => app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) })
  const url = '/uapi/phoneCalls/@me/conferenceInvite?number=3&pin=2233'
  const view = (v: Record<string, unknown>) => ({ ...INVITE, phoneCallView: [{ ...INVITE.phoneCallView[0], ...v }] })
  const cases: Array<[string, string, unknown, number, string]> = [
    ['the page\'s example, PBX unreachable', url, INVITE, 503, 'pbx_unavailable'],
    ['a phone as invitee, no source', url, view({ source: undefined, destination: '300' }), 503, 'pbx_unavailable'],
    ['conference without a PIN', '/uapi/phoneCalls/@me/conferenceInvite?number=4', INVITE, 503, 'pbx_unavailable'],
    ['wrong pin', '/uapi/phoneCalls/@me/conferenceInvite?number=3&pin=1', INVITE, 400, 'pc_pin_invalid'],
    ['no pin', '/uapi/phoneCalls/@me/conferenceInvite?number=3', INVITE, 400, 'pc_pin_invalid'],
    ['unknown number', '/uapi/phoneCalls/@me/conferenceInvite?number=7&pin=2233', INVITE, 400, 'pc_number_invalid'],
    ['no number', '/uapi/phoneCalls/@me/conferenceInvite?pin=2233', INVITE, 400, 'pc_number_invalid'],
    ['waitForPickup 0', `${url}&waitForPickup=0`, INVITE, 400, 'pc_timeout_invalid'],
    ['a phone, not a Conference extension', url, { ...INVITE, extension: '210' }, 400, 'pc_extension_invalid'],
    ['no extension', url, { phoneCallView: INVITE.phoneCallView }, 400, 'pc_extension_invalid'],
    ['source another extension', url, view({ source: '210' }), 400, 'pc_source_invalid'],
    ['destination of another organization', url, view({ destination: '0004*100' }), 400, 'pc_destination_invalid'],
    ['destination the Callback extension', url, view({ destination: '212' }), 400, 'pc_destination_invalid'],
    ['two destinations', url, view({ destination: ['300', '301'] }), 400, 'pc_destination_invalid'],
    ['callerId broken', url, view({ callerId: '<>' }), 400, 'pc_callerid_invalid']
  ]
  for (const [name, u, body, status, code] of cases) {
    const res = await post(u, body)
    t.equal(res.statusCode, status, name)
    t.equal(res.json().error?.code, code, `${name}: ${res.body}`)
  }
  t.equal((await post(url, INVITE, await tokenFor(app, 14))).json().error.code, 'pc_extension_invalid', 'a colleague\'s Conference extension')
})
