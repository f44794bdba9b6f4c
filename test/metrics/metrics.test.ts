// GET /metrics on the real app: the Prometheus text format, latency per route pattern, and engine
// gauges/counters read from a live AMI session with a fake AMI server (a registry per app).
import { once } from 'node:events'
import t from 'tap'
import type { Config } from '../../src/config.ts'
import { NO_PBX, build, expectErrorLines, tokenFor } from '../helpers/app.ts'
import { FakeAmi, frame } from '../helpers/fake-ami.ts'

/** The value of one sample line, e.g. sample(text, 'uapi_mirror_calls') or with its labels. */
function sample (text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('GET /metrics answers the Prometheus text format without a UAPI token', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  for (const family of [
    'uapi_http_request_duration_seconds', 'uapi_ami_events_received_total', 'uapi_ami_pending_actions',
    'uapi_ami_reconnects_total', 'uapi_ami_connection_state', 'uapi_mirror_calls', 'uapi_mirror_legs',
    'uapi_mirror_drift_total', 'uapi_mirror_resyncs_total', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds'
  ]) t.match(res.body, new RegExp(`^# TYPE ${family} `, 'm'), family)
  t.equal(sample(res.body, 'uapi_ami_connection_state{state="idle"}'), 1, 'not connected in this test')
  t.equal(sample(res.body, 'uapi_ami_connection_state{state="ready"}'), 0)
})

t.test('request latency is recorded by route pattern and status code, never by raw URL', async (t) => {
  expectErrorLines(1, NO_PBX)
  const app = await build(t)
  const user12 = await tokenFor(app, 12)
  await app.inject({ method: 'GET', url: '/uapi/phoneCalls/@me/0003*210', headers: { authorization: `Bearer ${user12}` } })
  await app.inject({ method: 'GET', url: '/uapi/phoneCalls/@me/0003*999', headers: { authorization: `Bearer ${user12}` } })
  await app.inject({ method: 'GET', url: '/wp-admin/secret-scan-1' })
  await app.inject({ method: 'GET', url: '/wp-admin/secret-scan-2' })
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const count = (labels: string) => sample(text, `uapi_http_request_duration_seconds_count{${labels}}`)
  t.equal(count('method="GET",route="/uapi/phoneCalls/:userId/:extension",status_code="503"'), 1)
  t.equal(count('method="GET",route="/uapi/phoneCalls/:userId/:extension",status_code="400"'), 1)
  t.equal(count('method="POST",route="/oauth/token",status_code="200"'), 1)
  t.equal(count('method="GET",route="(unmatched)",status_code="404"'), 2, 'unknown paths share one series')
  t.notMatch(text, /0003\*210|secret-scan/, 'no raw path appears in a label')
})

t.test('AMI and mirror metrics follow the live session', async (t) => {
  const ami = await FakeAmi.start({ username: 'uapi', secret: 'uapi-dev-secret' })
  t.teardown(() => ami.close())
  const app = await build(t, { connect: true, config: (c: Config) => ({ ...c, ami: { ...c.ami, host: ami.host, port: ami.port } }) })
  await app.engine.sync.whenLive(5000)
  const before = app.engine.ami.stats.eventsReceived

  const received = once(app.engine.ami, 'event')
  ami.send(frame({ Event: 'PeerStatus', Privilege: 'system,all', ChannelType: 'PJSIP', Peer: 'PJSIP/0003*210', PeerStatus: 'Reachable' }))
  await received
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.equal(sample(text, 'uapi_ami_connection_state{state="ready"}'), 1)
  t.equal(sample(text, 'uapi_ami_connection_state{state="idle"}'), 0)
  t.equal(sample(text, 'uapi_ami_events_received_total'), before + 1, 'events are counted (rate() gives per second)')
  t.equal(sample(text, 'uapi_ami_pending_actions'), app.engine.ami.stats.pending)
  t.equal(sample(text, 'uapi_ami_reconnects_total'), 0)
  t.equal(sample(text, 'uapi_mirror_resyncs_total'), app.engine.sync.totals.resyncs)
  t.ok(app.engine.sync.totals.resyncs >= 1, 'the first sync counts as a resync')
  t.equal(sample(text, 'uapi_mirror_drift_total{direction="added"}'), 0)
  t.equal(sample(text, 'uapi_mirror_calls'), 0)
  t.equal(sample(text, 'uapi_mirror_legs'), 0)

  // A dropped connection is a reconnect.
  const reconnected = new Promise<void>((resolve) => app.engine.ami.on('ready', () => resolve()))
  ami.dropConnections()
  await reconnected
  const after = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.equal(sample(after, 'uapi_ami_reconnects_total'), 1)
})

t.test('each app has its own registry', async (t) => {
  const [a, b] = [await build(t), await build(t)]
  await a.inject({ method: 'GET', url: '/health' })
  const series = 'uapi_http_request_duration_seconds_count{method="GET",route="/health",status_code="200"}'
  t.equal(sample((await a.inject({ method: 'GET', url: '/metrics' })).body, series), 1)
  t.equal(sample((await b.inject({ method: 'GET', url: '/metrics' })).body, series), undefined)
})

t.test('with http.metricsToken set, /metrics needs that bearer token', async (t) => {
  const token = 'scrape-token-0123456789'
  const app = await build(t, { config: (c: Config) => ({ ...c, http: { ...c.http, metricsToken: token } }) })
  for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${token}`]) {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: authorization === undefined ? {} : { authorization } })
    t.equal(res.statusCode, 401, String(authorization))
    t.equal(res.json().error.code, 'access_denied')
  }
  t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
})
