// The recordings route without a PBX: metadata and WAV files written into a temporary recordings
// directory, then served (whole, HEAD, Range) to those who may see them and to nobody else.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { build, tokenFor } from '../helpers/app.ts'
import type { Config } from '../../src/config.ts'
import { parseWavHeader } from '../../src/recordings/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'uapi-recordings-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

/** A PCM WAV header (8 kHz, 16-bit mono) followed by `seconds` of a square wave. */
function wav (seconds: number): Buffer {
  const data = Buffer.alloc(Math.round(seconds * 16000))
  for (let i = 0; i < data.length; i += 2) data.writeInt16LE(i % 64 < 32 ? 8000 : -8000, i)
  const h = Buffer.alloc(44)
  h.write('RIFF', 0, 'latin1'); h.writeUInt32LE(36 + data.length, 4); h.write('WAVE', 8, 'latin1')
  h.write('fmt ', 12, 'latin1'); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22)
  h.writeUInt32LE(8000, 24); h.writeUInt32LE(16000, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34)
  h.write('data', 36, 'latin1'); h.writeUInt32LE(data.length, 40)
  return Buffer.concat([h, data])
}

const CALL = '0123456789abcdef0123'
const ID = 'a'.repeat(32)
const audio = wav(3)
writeFileSync(join(dir, `${CALL}-${ID}.wav`), audio)
writeFileSync(join(dir, `${CALL}-${ID}.json`), JSON.stringify({ v: 1, id: ID, phoneCallId: CALL, format: 'wav', file: `${CALL}-${ID}.wav`, uniqueid: '1.1', started: '2026-01-01T10:00:00.000Z', stopped: '2026-01-01T10:00:03.000Z', parties: { '0003*210': '3', '0003*300': '3' } }))
// Metadata that names another file is ignored (it cannot point outside its own recording).
const EVIL = 'b'.repeat(32)
writeFileSync(join(dir, `${CALL}-${EVIL}.json`), JSON.stringify({ v: 1, id: EVIL, phoneCallId: CALL, format: 'wav', file: '../../etc/passwd', uniqueid: '1.2', started: '2026-01-01T10:00:00.000Z', parties: { '0003*210': '3' } }))

const withDir = (c: Config): Config => ({ ...c, recordings: { dir, pbxDir: '/var/spool/asterisk/recordings' } })

t.test('WAV headers: length is the data size over the byte rate', async (t) => {
  t.equal(parseWavHeader(audio.subarray(0, 4096), audio.length)?.duration, 3)
  t.equal(parseWavHeader(audio.subarray(0, 4096), 44 + 8000)?.duration, 0.5, 'a file cut short counts what is there')
  t.equal(parseWavHeader(Buffer.from('not a wav file at all'), 21), undefined)
})

t.test('a party\'s user lists the call\'s recordings and gets the file whole, by HEAD and by range', async (t) => {
  const app = await build(t, { config: withDir })
  const auth = { authorization: `Bearer ${await tokenFor(app, 12)}` }
  const list = await app.inject({ url: `/uapi/phoneCalls/@me/0003*210/${CALL}/recordings`, headers: auth })
  t.equal(list.statusCode, 200, list.body)
  const body = list.json()
  t.equal(body.totalResults, 1, 'the inconsistent metadata is not listed')
  t.match(body.entry[0], { id: ID, phoneCallId: CALL, format: 'wav', status: 'done', started: '2026-01-01T10:00:00Z', stopped: '2026-01-01T10:00:03Z', duration: 3, size: audio.length, contentType: 'audio/wav' })
  t.match(body.entry[0].links.self, new RegExp(`/uapi/phoneCalls/12/0003\\*210/${CALL}/recordings/${ID}$`))

  const url = `/uapi/phoneCalls/@me/0003*210/${CALL}/recordings/${ID}`
  const whole = await app.inject({ url, headers: auth })
  t.equal(whole.statusCode, 200)
  t.equal(whole.headers['content-type'], 'audio/wav')
  t.equal(whole.headers['content-length'], String(audio.length))
  t.equal(whole.headers['accept-ranges'], 'bytes')
  t.equal(whole.headers['x-recording-duration'], '3.00')
  t.equal(whole.headers['cache-control'], 'private, no-store')
  t.ok(whole.rawPayload.equals(audio), 'the bytes of the file')
  const head = await app.inject({ method: 'HEAD', url, headers: auth })
  t.same([head.statusCode, head.headers['content-length'], head.rawPayload.length], [200, String(audio.length), 0], 'HEAD: the length, no body')
  const part = await app.inject({ url, headers: { ...auth, range: 'bytes=0-43' } })
  t.same([part.statusCode, part.headers['content-range'], part.rawPayload.length], [206, `bytes 0-43/${audio.length}`, 44])
  t.ok(part.rawPayload.equals(audio.subarray(0, 44)), 'the header bytes')
  const tail = await app.inject({ url, headers: { ...auth, range: 'bytes=-10' } })
  t.ok(tail.rawPayload.equals(audio.subarray(-10)), 'a suffix range')
  const beyond = await app.inject({ url, headers: { ...auth, range: `bytes=${audio.length}-` } })
  t.same([beyond.statusCode, beyond.json().error.code, beyond.headers['content-range']], [416, 'range_not_satisfiable', `bytes */${audio.length}`])
  const viaQuery = await app.inject({ url: `${url}?accessRequestToken=${auth.authorization.slice(7)}` })
  t.equal(viaQuery.statusCode, 200, 'the token may come in the query (an <audio src>)')
})

t.test('nobody else gets it: another organization, a colleague who was no party, unknown ids', async (t) => {
  const app = await build(t, { config: withDir })
  const url = (who: string, id = ID) => `/uapi/phoneCalls/${who}/${CALL}/recordings/${id}`
  const as = async (user: number) => ({ authorization: `Bearer ${await tokenFor(app, user)}` })
  const org4 = await app.inject({ url: url('@me/@self'), headers: await as(4) })
  t.same([org4.statusCode, org4.json().error.code], [404, 'resource_not_found'], 'organization 4\'s account')
  const user40 = await app.inject({ url: url('@me/0004*100'), headers: await as(40) })
  t.same([user40.statusCode, user40.json().error.code], [404, 'resource_not_found'], 'organization 4\'s user')
  const throughOrg3 = await app.inject({ url: url('12/0003*210'), headers: await as(40) })
  t.same([throughOrg3.statusCode, throughOrg3.json().error.code], [401, 'access_denied'], 'in the name of a party\'s user')
  const colleague = await app.inject({ url: url('@me/0003*024'), headers: await as(13) })
  t.equal(colleague.statusCode, 404, 'user 13 (024 was no party)')
  const listed = await app.inject({ url: `/uapi/phoneCalls/@me/0003*024/${CALL}/recordings`, headers: await as(13) })
  t.same(listed.json().entry, [], 'and lists nothing')
  const org3 = await app.inject({ url: url('@me/@self'), headers: await as(3) })
  t.equal(org3.statusCode, 200, 'organization 3\'s account (its extensions were parties)')
  const admin = await app.inject({ method: 'HEAD', url: url('@me/@self'), headers: await as(1) })
  t.equal(admin.statusCode, 200, 'the admin')
  for (const id of ['x'.repeat(32), EVIL, '..%2F..%2Fetc%2Fpasswd', 'A'.repeat(32)]) {
    const res = await app.inject({ url: url('@me/@self', id), headers: await as(3) })
    t.same([res.statusCode, res.json().error.code], [404, 'resource_not_found'], `id ${id}`)
  }
})

t.test('without recordings in the config the routes answer 501', async (t) => {
  const app = await build(t, { config: (c) => { const { recordings: _r, ...rest } = c; return rest as Config } })
  const res = await app.inject({ url: `/uapi/phoneCalls/@me/0003*210/${CALL}/recordings`, headers: { authorization: `Bearer ${await tokenFor(app, 12)}` } })
  t.same([res.statusCode, res.json().error.code], [501, 'request_not_implemented'])
})
