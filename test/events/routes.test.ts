// The PhoneCallEvents routes (src/uapi/routes/phone-call-events.ts) on both backends: CRUD,
// validation with their own codes, authority (organization 4 never sees organization 3's), the
// SSRF guard, the deliveries listing, and subscriptions surviving a restart on one PGlite directory.
import t from 'tap'
import type { Test } from 'tap'
import type { App } from '../../src/app.ts'
import type { Config, DatabaseConfig } from '../../src/config.ts'
import { build, tokenFor } from '../helpers/app.ts'
import { databaseConfig, forEachBackend, pgliteDir } from '../helpers/db.ts'
import { receiver } from '../helpers/receiver.ts'

const BASE = '/uapi/extensions'

async function appOn (t: Test, database: DatabaseConfig): Promise<App> {
  return await build(t, { configuredDatabase: true, config: (c: Config) => ({ ...c, database }) })
}

function client (app: App, token: string) {
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, contentType = 'application/json') => {
    const res = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {})
    })
    return { status: res.statusCode, body: res.body === '' ? undefined : res.json() }
  }
  return {
    get: async (url: string) => await call('GET', url),
    post: async (url: string, body: unknown, contentType?: string) => await call('POST', url, body, contentType),
    put: async (url: string, body: unknown) => await call('PUT', url, body),
    delete: async (url: string) => await call('DELETE', url)
  }
}

forEachBackend(t, async (t, backend) => {
  const app = await appOn(t, await databaseConfig(t, backend))
  const user12 = client(app, await tokenFor(app, 12))
  const org3 = client(app, await tokenFor(app, 3))
  const org4 = client(app, await tokenFor(app, 4))
  const user40 = client(app, await tokenFor(app, 40))
  const admin = client(app, await tokenFor(app, 1))
  const rx = await receiver(t)
  const events210 = `${BASE}/@me/0003*210/phoneCallEvents`

  t.test('create, read, update and delete', async (t) => {
    const created = await user12.post(`${events210}/`, { type: '0', url: rx.url, method: '1', status: '1', note: 'CRM hook' })
    t.equal(created.status, 200)
    t.match(created.body, { type: 0, url: rx.url, method: 1, status: 1, note: 'CRM hook', id: /^[0-9a-f]{20}$/, secret: /^[A-Za-z0-9_-]{43}$/ })
    t.match(created.body.modified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    t.equal(created.body.links.self, `http://localhost:80/uapi/extensions/12/0003*210/phoneCallEvents/0/${created.body.id as string}`)
    const id = created.body.id as string

    const named = await user12.post(events210, { type: 2, id: 'hangupHook', url: rx.url })
    t.equal(named.status, 200)
    t.match(named.body, { id: 'hangupHook', type: 2, method: 0, status: 1 }, 'defaults: GET, enabled')
    t.notOk('note' in named.body, 'an empty note is omitted')

    const form = await user12.post(events210, `type=3&id=answerHook&url=${encodeURIComponent(rx.url)}&method=0&status=0`, 'application/x-www-form-urlencoded')
    t.equal(form.status, 200, 'a form body works too')
    t.match(form.body, { id: 'answerHook', type: 3, status: 0 })

    const dup = await user12.post(events210, { type: 2, id: 'hangupHook', url: rx.url })
    t.equal(dup.status, 409)
    t.equal(dup.body.error.code, 'pce_id_conflict')

    const list = await user12.get(events210)
    t.equal(list.status, 200)
    t.match(list.body, { startIndex: 0, itemsPerPage: 20, totalResults: 3, filtered: false, sorted: true })
    t.notOk(list.body.entry.some((e: Record<string, unknown>) => 'secret' in e), 'the secret is never listed')
    t.equal((await user12.get(`${events210}/2`)).body.totalResults, 1, 'by type')
    t.same((await user12.get(`${events210}/0/${id}`)).body.entry.map((e: { id: string }) => e.id), [id], 'by type and id')
    t.equal((await user12.get(`${events210}/0/nothere`)).body.totalResults, 0, 'an unknown id is an empty collection')
    t.same((await user12.get(`${events210}?filterBy=status&filterValue=0`)).body.entry.map((e: { id: string }) => e.id), ['answerHook'])
    t.same((await user12.get(`${events210}?filterBy=id&filterValue=Hook`)).body.entry.map((e: { id: string }) => e.id).sort(), ['answerHook', 'hangupHook'])
    t.same((await user12.get(`${events210}?filterBy=type&filterOp=greaterThan&filterValue=1`)).body.totalResults, 2)
    t.same((await user12.get(`${events210}?filterBy=note&filterOp=present`)).body.totalResults, 1)
    t.same((await user12.get(`${events210}?fields=url,type&count=1`)).body.entry, [{ id: list.body.entry[0].id, url: rx.url, type: list.body.entry[0].type }])
    const page = await user12.get(`${events210}?count=2&startIndex=0&sortOrder=descending`)
    t.match(page.body.paging.next, /phoneCallEvents\?startIndex=2&count=2&sortOrder=descending$/)

    const upd = await user12.put(`${events210}/0/${id}/`, { method: 0, status: '0', note: 'paused' })
    t.equal(upd.status, 200)
    t.match(upd.body, { id, method: 0, status: 0, note: 'paused' })
    t.equal((await user12.put(`${events210}/0/nothere`, { status: 1 })).body.error.code, 'pce_not_found')
    t.equal((await user12.put(`${events210}/0/${id}`, {})).body.error.code, 'request_invalid', 'nothing to change')

    const del = await user12.delete(`${events210}/0/${id}`)
    t.equal(del.status, 200)
    t.same(del.body.map((e: { id: string }) => e.id), [id])
    t.equal((await user12.delete(`${events210}/0/${id}`)).status, 404, 'gone')
    const delType = await app.inject({ method: 'DELETE', url: `${events210}/3`, headers: { authorization: `Bearer ${await tokenFor(app, 12)}`, 'content-type': 'application/json' } })
    t.equal(delType.statusCode, 200, 'DELETE with Content-Type: application/json and no body')
    t.same(delType.json().map((e: { id: string }) => e.id), ['answerHook'])
    t.same((await user12.delete(events210)).body.map((e: { id: string }) => e.id), ['hangupHook'], 'all of the extension')
    t.equal((await user12.get(events210)).body.totalResults, 0)
  })

  t.test('every field answers its own code, never a 500', async (t) => {
    const ok = { type: 1, url: rx.url }
    const cases: Array<[string, unknown, number, string]> = [
      ['type missing', { url: rx.url }, 400, 'pcet_type_invalid'],
      ['type 5', { ...ok, type: 5 }, 400, 'pcet_type_invalid'],
      ['type "x"', { ...ok, type: 'x' }, 400, 'pcet_type_invalid'],
      ['type 1.5', { ...ok, type: 1.5 }, 400, 'pcet_type_invalid'],
      ['method 2', { ...ok, method: 2 }, 400, 'pce_method_invalid'],
      ['method object', { ...ok, method: { a: 1 } }, 400, 'pce_method_invalid'],
      ['status "yes"', { ...ok, status: 'yes' }, 400, 'pce_status_invalid'],
      ['id with a dash', { ...ok, id: 'a-b' }, 400, 'pce_id_invalid'],
      ['id too long', { ...ok, id: 'a'.repeat(256) }, 400, 'pce_id_invalid'],
      ['note not a string', { ...ok, note: 5 }, 400, 'pce_note_invalid'],
      ['note too long', { ...ok, note: 'x'.repeat(1025) }, 400, 'pce_note_invalid'],
      ['url missing', { type: 1 }, 400, 'pce_url_invalid'],
      ['url ftp', { ...ok, url: 'ftp://example.com/x' }, 400, 'pce_url_invalid'],
      ['url relative', { ...ok, url: '/hook' }, 400, 'pce_url_invalid'],
      ['url with a space', { ...ok, url: 'http://127.0.0.1/a b' }, 400, 'pce_url_invalid'],
      ['url private 10.0.0.1', { ...ok, url: 'http://10.0.0.1/hook' }, 400, 'pce_url_forbidden'],
      ['url link-local metadata', { ...ok, url: 'http://169.254.169.254/latest/meta-data' }, 400, 'pce_url_forbidden'],
      ['url IPv6 loopback', { ...ok, url: 'http://[::1]:8080/x' }, 400, 'pce_url_forbidden'],
      ['url IPv4-mapped loopback', { ...ok, url: 'http://[::ffff:127.0.0.2]/x' }, 400, 'pce_url_forbidden'],
      ['url CGNAT', { ...ok, url: 'https://100.64.1.1/x' }, 400, 'pce_url_forbidden'],
      ['url 0.0.0.0', { ...ok, url: 'http://0.0.0.0/x' }, 400, 'pce_url_forbidden'],
      ['url loopback outside the allowed 127.0.0.1', { ...ok, url: 'http://127.0.0.2:9/x' }, 400, 'pce_url_forbidden'],
      ['not an object', '[1]', 400, 'request_invalid'],
      ['broken JSON', '{"type":', 400, 'request_invalid']
    ]
    for (const [name, body, status, code] of cases) {
      const res = await user12.post(events210, body)
      t.equal(res.status, status, name)
      t.equal(res.body?.error?.code, code, name)
    }
    const forbidden = await user12.post(events210, { ...ok, url: 'http://10.0.0.1/hook' })
    t.match(forbidden.body.error.message, /10\.0\.0\.1 is not a public address/)
    const paths: Array<[string, string]> = [
      [`${events210}/9`, 'pcet_type_invalid'],
      [`${events210}/0/bad-id!`, 'pce_id_invalid'],
      [`${events210}?count=0`, 'count_invalid'],
      [`${events210}?filterBy=secret&filterValue=x`, 'filterby_invalid'],
      [`${events210}?filterBy=type&filterValue=one`, 'filtervalue_invalid'],
      [`${events210}?filterBy=url&filterOp=greaterThan&filterValue=a`, 'filterop_invalid'],
      [`${events210}?fields=secret`, 'fields_invalid'],
      [`${events210}/deliveries?state=lost`, 'pced_state_invalid'],
      [`${BASE}/@me/@self/phoneCallEvents`, 'pce_extension_invalid'],
      [`${BASE}/@me/0003*212/phoneCallEvents`, 'pce_extension_invalid'],
      [`${BASE}/@me/0003*999/phoneCallEvents`, 'extension_invalid'],
      [`${BASE}/99/0003*210/phoneCallEvents`, 'user_invalid']
    ]
    for (const [url, code] of paths) {
      const res = await user12.get(url)
      t.equal(res.status, 400, url)
      t.equal(res.body?.error?.code, code, url)
    }
    t.equal((await user12.put(`${events210}/0/x`, { method: 'PUT' })).body.error.code, 'pce_method_invalid')
    t.equal((await user12.put(`${events210}/0/x`, { url: 'http://192.168.1.1/' })).body.error.code, 'pce_url_forbidden')
    t.equal((await user12.delete(`${events210}/7`)).body.error.code, 'pcet_type_invalid')
  })

  t.test('authority: users, organizations and the admin, like PhoneCalls', async (t) => {
    const mine = await user12.post(events210, { type: 0, id: 'mine', url: rx.url })
    t.equal(mine.status, 200)
    // Organization 4 and its user never see organization 3's subscriptions, by any path.
    for (const c of [org4, user40]) {
      for (const url of [`${BASE}/@me/0003*210/phoneCallEvents`, `${BASE}/12/0003*210/phoneCallEvents`, `${BASE}/3/0003*210/phoneCallEvents/0/mine`, `${BASE}/@me/0003*210/phoneCallEvents/deliveries`]) {
        const res = await c.get(url)
        t.equal(res.status, 401, url)
        t.equal(res.body.error.code, 'access_denied')
      }
      t.equal((await c.delete(`${BASE}/12/0003*210/phoneCallEvents`)).status, 401)
      t.equal((await c.post(`${BASE}/@me/0003*210/phoneCallEvents`, { type: 0, url: rx.url })).status, 401)
    }
    t.equal((await user12.get(`${BASE}/@me/0003*024/phoneCallEvents`)).status, 401, 'user 12 does not own 024')
    t.equal((await org3.get(`${BASE}/12/0003*210/phoneCallEvents`)).body.totalResults, 1, 'the organization sees its user\'s')
    t.equal((await org3.get(`${BASE}/@me/210/phoneCallEvents`)).body.totalResults, 1, 'short numbers inside the organization')
    t.equal((await admin.get(`${BASE}/@me/0003*210/phoneCallEvents`)).body.totalResults, 1, 'the admin sees all')
    t.equal((await user40.get(`${BASE}/@me/0004*100/phoneCallEvents`)).body.totalResults, 0, 'organization 4 has its own, empty')
    t.equal((await org3.delete(`${BASE}/12/0003*210/phoneCallEvents/0/mine`)).status, 200)
  })

  t.test('deliveries: what was sent, and what was given up', async (t) => {
    await user12.post(events210, { type: 1, id: 'live', url: rx.url })
    const published = await app.engine.events.publish({ key: 'c1:l1:1', type: 1, extension: '0003*210', organizationId: '3', at: Date.now(), params: { CallID: 'c1' } })
    t.equal(published, 1)
    await rx.until(1)
    await app.engine.events.idle()
    const res = await user12.get(`${events210}/deliveries?state=delivered`)
    t.equal(res.status, 200)
    t.match(res.body.entry, [{ phoneCallEventId: 'live', type: 1, eventKey: 'c1:l1:1', state: 'delivered', attempts: 1, lastStatusCode: 200 }])
    t.equal((await user12.get(`${events210}/deliveries?state=dead`)).body.totalResults, 0)
    t.equal((await user40.get(`${BASE}/@me/0004*100/phoneCallEvents/deliveries`)).body.totalResults, 0)
    const metrics = await app.inject({ method: 'GET', url: '/metrics' })
    t.match(metrics.body, /uapi_events_delivered_total 1/)
    t.match(metrics.body, /uapi_event_delivery_latency_seconds_count\{first_attempt="true"\} 1/)
  })
})

t.test('subscriptions survive an app restart on the same PGlite directory', async (t) => {
  const database = { dataDir: await pgliteDir(), poolSize: 10, connectTimeoutMs: 5000 }
  const first = await build(t, { configuredDatabase: true, config: (c) => ({ ...c, database }) })
  const created = await client(first, await tokenFor(first, 12)).post(`${BASE}/@me/0003*210/phoneCallEvents`, { type: 4, id: 'kept', url: 'http://127.0.0.1:9/x' })
  t.equal(created.status, 200)
  await first.close()
  const second = await build(t, { configuredDatabase: true, config: (c) => ({ ...c, database }) })
  const list = await client(second, await tokenFor(second, 12)).get(`${BASE}/@me/0003*210/phoneCallEvents/4/kept`)
  t.match(list.body.entry, [{ id: 'kept', type: 4, url: 'http://127.0.0.1:9/x' }])
})
