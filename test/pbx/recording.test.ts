// StartRecording / StopRecording on the real Asterisk with SIPp phones that talk (SIPp plays
// G.711 speech both ways). What is asserted: Asterisk's MixMonitorStart/Stop, the file the engine
// serves (a WAV as long as the recorded span, not silence, measured with sox), who may get it, and
// that no refused request reaches Asterisk. Run under the PBX lock:
//   flock /tmp/uapi-pbx-tests.lock npx tap test/pbx/recording.test.ts
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { build, expectErrorLines, noRateLimit, whenLive } from '../helpers/app.ts'
import { ensurePbx, hangupAllChannels } from '../helpers/pbx.ts'
import { AUDIO_PCAP, Phone, stopAllPhones } from '../helpers/phones.ts'
import { AmiObserver } from '../helpers/ami-observer.ts'
import { UapiClient, statuses, viewOf } from '../helpers/uapi.ts'
import type { App } from '../../src/app.ts'
import type { Config } from '../../src/config.ts'
import type { PhoneCall } from '../../src/calls/index.ts'

t.before(ensurePbx)
t.beforeEach(hangupAllChannels)
t.afterEach(async () => {
  await stopAllPhones()
  await hangupAllChannels()
})

const work = mkdtempSync(join(tmpdir(), 'uapi-rec-test-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))

async function setup (t: Test, config: (c: Config) => Config = noRateLimit): Promise<{ app: App, obs: AmiObserver }> {
  const app = await build(t, { connect: true, config })
  await whenLive(app)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  return { app, obs }
}

/** 300 calls 210, 210 answers; both send speech. The call as user 12 lists it, both on call. */
async function talkingCall (app: App): Promise<{ user12: UapiClient, caller: Phone, call: PhoneCall }> {
  const user12 = await UapiClient.as(app, 12)
  await Phone.register('0003*210', { mode: 'answer', answerAfterMs: 100, audio: AUDIO_PCAP })
  const caller = await Phone.call('0003*300', '0003*210', { audio: AUDIO_PCAP })
  await caller.waitFor('200')
  const call = await user12.until('@me/0003*210', (c) => {
    const st = statuses(c.entry[0])
    return st['0003*210'] === 5 && st['0003*300'] === 5 ? c.entry[0] : undefined
  }, '210 and 300 on call')
  return { user12, caller, call }
}

const legOf = (app: App, callId: string, extension: string): string =>
  [...(app.engine.mirror.callById(callId)?.legs.values() ?? [])].find((l) => l.party?.extension === extension)?.uniqueid ?? ''

/** Downloads a recording and measures it with sox: length (s), RMS amplitude, encoding. */
async function fetchAndMeasure (client: UapiClient, url: string, name: string): Promise<{ status: number, headers: Record<string, unknown>, seconds: number, rms: number, encoding: string }> {
  const res = await client.app.inject({ url: `/uapi/phoneCalls/${url}`, headers: { authorization: `Bearer ${client.token}` } })
  const file = join(work, name)
  writeFileSync(file, res.rawPayload)
  const soxi = spawnSync('soxi', [file], { encoding: 'utf8' })
  const stat = spawnSync('sox', [file, '-n', 'stat'], { encoding: 'utf8' })
  return {
    status: res.statusCode,
    headers: res.headers,
    seconds: Number(spawnSync('soxi', ['-D', file], { encoding: 'utf8' }).stdout),
    rms: Number(/RMS\s+amplitude:\s+([\d.]+)/.exec(stat.stderr)?.[1] ?? 0),
    encoding: /Sample Encoding:\s*(.+)/.exec(soxi.stdout)?.[1]?.trim() ?? ''
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

t.test('a 3 s recording of a talking call: recording shows on every instance, the served WAV is as long as the span and not silence, and another organization cannot get it', async (t) => {
  const { app, obs } = await setup(t)
  const other = await build(t, { connect: true, config: noRateLimit })
  await whenLive(other)
  const { user12, call } = await talkingCall(app)
  const leg210 = legOf(app, call.id, '0003*210')
  const mark = obs.mark()
  const start = await user12.put(`@me/0003*210/${call.id}`, { action: 'StartRecording', format: 'wav', phoneCallViewId: viewOf(call, '0003*210')?.id })
  t.equal(start.status, 200, JSON.stringify(start.body))
  t.equal(start.body.id, call.id, 'the answer is the PhoneCall')
  t.ok(start.body.phoneCallView.every((v: { recording?: string }) => typeof v.recording === 'string'), 'every view shows since when it is recorded')
  const started = await obs.waitFor({ event: 'MixMonitorStart', uniqueid: leg210 }, { from: mark })
  t.pass('Asterisk records 210\'s leg')
  const onOther = await (await UapiClient.as(other, 12)).until(`@me/0003*210/${call.id}`, (c) => c.entry[0]?.phoneCallView.every((v) => v.recording !== undefined) === true ? c.entry[0] : undefined, 'the other instance to show recording')
  t.equal(viewOf(onOther, '0003*300')?.recording, viewOf(start.body, '0003*300')?.recording, 'a second engine instance shows the same recording time')

  await sleep(3_000)
  const stop = await user12.put(`@me/0003*210/${call.id}`, { action: 'StopRecording', phoneCallViewId: viewOf(call, '0003*210')?.id })
  t.equal(stop.status, 200, JSON.stringify(stop.body))
  t.notOk(stop.body.phoneCallView.some((v: { recording?: string }) => v.recording !== undefined), 'no view shows recording once stopped')
  const stopped = await obs.waitFor({ event: 'MixMonitorStop', uniqueid: leg210 }, { from: mark })
  const span = Number(stopped.timestamp) - Number(started.timestamp)
  t.ok(span >= 2.9 && span < 4, `Asterisk recorded for ${span.toFixed(2)} s`)

  const list = await user12.get(`@me/0003*210/${call.id}/recordings`)
  t.equal(list.status, 200, JSON.stringify(list.body))
  t.equal(list.body.totalResults, 1)
  const rec = list.body.entry[0]
  t.match(rec, { phoneCallId: call.id, format: 'wav', status: 'done', contentType: 'audio/wav' })
  t.match(rec.id, /^[0-9a-f]{32}$/, 'an id nobody can guess')
  t.ok(Math.abs(rec.duration - span) <= 1, `listed duration ${rec.duration} s within 1 s of ${span.toFixed(2)} s`)
  const path = `@me/0003*210/${call.id}/recordings/${rec.id}`
  const got = await fetchAndMeasure(user12, path, 'wav.wav')
  t.equal(got.status, 200)
  t.equal(got.headers['content-type'], 'audio/wav')
  t.equal(got.encoding, '16-bit Signed Integer PCM', 'a PCM WAV, as sox reads it')
  t.ok(Math.abs(got.seconds - span) <= 1, `sox: ${got.seconds} s, within 1 s of the recorded ${span.toFixed(2)} s`)
  t.ok(got.rms > 0.01, `not silence: RMS amplitude ${got.rms}`)
  t.comment(`wav: span ${span.toFixed(2)} s, file ${got.seconds} s, RMS ${got.rms}`)

  const user40 = await UapiClient.as(app, 40)
  const foreign = await user40.get(`@me/@self/${call.id}/recordings/${rec.id}`)
  t.same([foreign.status, foreign.body.error?.code], [404, 'resource_not_found'], 'another organization\'s user: no such recording')
  const org4 = await (await UapiClient.as(app, 4)).get(`@me/@self/${call.id}/recordings/${rec.id}`)
  t.same([org4.status, org4.body.error?.code], [404, 'resource_not_found'], 'another organization\'s account: no such recording')
  const inTheirName = await user40.get(`12/0003*210/${call.id}/recordings/${rec.id}`)
  t.same([inTheirName.status, inTheirName.body.error?.code], [401, 'access_denied'], 'in the name of a party\'s user')
  t.same((await user40.get(`@me/@self/${call.id}/recordings`)).body.entry, [], 'and it lists nothing')
})

t.test('wav49 until the call ends: the hangup stops it, and the parties still get it after the call is over', async (t) => {
  const { app, obs } = await setup(t)
  const { user12, caller, call } = await talkingCall(app)
  const leg300 = legOf(app, call.id, '0003*300')
  const mark = obs.mark()
  // No view given: the path extension's own leg is recorded (300's, user 14's phone).
  const user14 = await UapiClient.as(app, 14)
  const start = await user14.put(`@me/0003*300/${call.id}`, { action: 'StartRecording', format: 'WAV49' })
  t.equal(start.status, 200, JSON.stringify(start.body))
  const started = await obs.waitFor({ event: 'MixMonitorStart', uniqueid: leg300 }, { from: mark })
  await sleep(2_000)
  await caller.stop()
  // The recording ends with the leg. Asterisk may not send MixMonitorStop then (its thread finishes
  // after the channel is gone from the cache the event is built from): the Hangup says it.
  const stopped = await obs.waitFor((e) => (e.event === 'MixMonitorStop' || e.event === 'Hangup') && e.uniqueid === leg300, { from: mark })
  const span = Number(stopped.timestamp) - Number(started.timestamp)
  await user12.until(`@me/0003*210/${call.id}`, (c) => (c.totalResults === 0 ? c : undefined), 'the call to be over')
  const listed = await user12.get(`@me/0003*210/${call.id}/recordings`)
  t.equal(listed.status, 200, JSON.stringify(listed.body))
  const rec = listed.body.entry[0]
  t.match(rec, { format: 'wav49', status: 'done' }, 'user 12 (210 was a party) still lists it after the call')
  t.ok(typeof rec.stopped === 'string', 'with its stop time')
  const got = await fetchAndMeasure(user12, `@me/0003*210/${call.id}/recordings/${rec.id}`, 'wav49.wav')
  t.equal(got.encoding, 'GSM', 'wav49 is GSM 6.10 in a WAV')
  t.ok(Math.abs(got.seconds - span) <= 1, `sox: ${got.seconds} s, within 1 s of the recorded ${span.toFixed(2)} s`)
  t.ok(got.rms > 0.01, `not silence: RMS amplitude ${got.rms}`)
  t.comment(`wav49: span ${span.toFixed(2)} s, file ${got.seconds} s, RMS ${got.rms}`)
  const colleague = await (await UapiClient.as(app, 13)).get(`@me/0003*024/${call.id}/recordings/${rec.id}`)
  t.equal(colleague.status, 404, 'a colleague whose extension was no party cannot get it')
})

t.test('every refusal of StartRecording / StopRecording has its code, and nothing reaches Asterisk', async (t) => {
  const { app, obs } = await setup(t)
  const { user12, call } = await talkingCall(app)
  const url = `@me/0003*210/${call.id}`
  const mark = obs.mark()
  const cases: Array<[string, string, unknown, number, string]> = [
    ['StopRecording of a call not recorded', url, { action: 'StopRecording' }, 409, 'pc_recording_inactive'],
    ['format mp3', url, { action: 'StartRecording', format: 'mp3' }, 400, 'pc_format_invalid'],
    ['format as a number', url, { action: 'StartRecording', format: 49 }, 400, 'pc_format_invalid'],
    ['format too long', url, { action: 'StartRecording', format: 'w'.repeat(40) }, 400, 'pc_format_invalid'],
    ['StartRecording of view 99', url, { action: 'StartRecording', phoneCallViewId: '99' }, 400, 'pc_phonecallview_invalid'],
    ['StopRecording of view 99', url, { action: 'StopRecording', phoneCallViewId: '99' }, 400, 'pc_phonecallview_invalid'],
    ['StartRecording of no live call', '@me/0003*210/0123456789abcdef0123', { action: 'StartRecording' }, 400, 'pc_phonecall_invalid'],
    ['StopRecording of a malformed id', '@me/0003*210/not-an-id!', { action: 'StopRecording' }, 400, 'pc_phonecall_invalid']
  ]
  const user40 = await UapiClient.as(app, 40)
  for (const [name, path, payload, status, code] of cases) {
    const res = await user12.put(path, payload)
    t.same([res.status, res.body.error?.code], [status, code], `${name}: ${JSON.stringify(res.body)}`)
  }
  const foreign = await user40.put(`@me/@self/${call.id}`, { action: 'StartRecording' })
  t.same([foreign.status, foreign.body.error?.code], [400, 'pc_phonecall_invalid'], 'another organization does not see the call')
  const inTheirName = await user40.put(`12/0003*210/${call.id}`, { action: 'StopRecording' })
  t.same([inTheirName.status, inTheirName.body.error?.code], [401, 'access_denied'], 'nor acts in the name of its party')
  t.same(await obs.tracesAfter(mark), [], 'nothing reached Asterisk, watched for 1 s after the last request')

  // Started once, a second start is refused before anything is sent.
  const first = await user12.put(url, { action: 'StartRecording' })
  t.equal(first.status, 200, JSON.stringify(first.body))
  const recording = obs.mark()
  const twice = await user12.put(url, { action: 'StartRecording', format: 'wav49' })
  t.same([twice.status, twice.body.error?.code], [409, 'pc_recording_active'], 'starting twice')
  t.same(await obs.tracesAfter(recording, { match: (e) => e.event === 'MixMonitorStart' }), [], 'no second MixMonitor, watched for 1 s')
  t.equal((await user12.put(url, { action: 'StopRecording' })).status, 200)
})

t.test('recordings directory unusable: 503 recording_unavailable; not configured: 501; nothing reaches Asterisk', async (t) => {
  expectErrorLines(2, 'StartRecording with a recordings directory that does not exist: the metadata write fails, the request answers 503 recording_unavailable')
  const { app: broken, obs } = await setup(t, (c) => noRateLimit({ ...c, recordings: { dir: join(work, 'does-not-exist'), pbxDir: '/var/spool/asterisk/recordings' } }))
  const { call } = await talkingCall(broken)
  const mark = obs.mark()
  const brokenUser = await UapiClient.as(broken, 12)
  const res = await brokenUser.put(`@me/0003*210/${call.id}`, { action: 'StartRecording' })
  t.same([res.status, res.body.error?.code], [503, 'recording_unavailable'])
  const bare = await build(t, { connect: true, config: (c) => { const { recordings: _r, ...rest } = noRateLimit(c); return rest as Config } })
  await whenLive(bare)
  const off = await (await UapiClient.as(bare, 12)).put(`@me/0003*210/${call.id}`, { action: 'StartRecording' })
  t.same([off.status, off.body.error?.code], [501, 'request_not_implemented'])
  t.same(await obs.tracesAfter(mark), [], 'nothing reached Asterisk, watched for 1 s')
})
