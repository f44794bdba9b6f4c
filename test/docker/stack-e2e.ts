// End-to-end check of the Docker stack (`docker compose up -d`: engine + PBX containers, host
// networking), run by scripts/test-docker.sh once both are up. Not a tap file: it talks to the
// engine over real HTTP like any client (the engine in its container, UAPI_URL), and to the PBX
// with SIPp phones and AMI on 127.0.0.1, as the test/pbx tests do. Prints one line per check and
// exits 1 if any failed.
//
//   UAPI_URL=http://127.0.0.1:8080 npx tsx test/docker/stack-e2e.ts
//
// The scene is the PickUp page's: 0003*300 calls 0003*210 (ringing), user 12 picks the call up
// to 0003*024 showing "John Doe <42420042>", 024 answers, and Asterisk has 300 and 024 in one
// bridge. Then user 13 records 024's leg for 2 s and downloads the recording: Asterisk wrote it
// into the shared bind mount and the non-root engine read it from there.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensurePbx, hangupAllChannels, listChannels } from '../helpers/pbx.ts'
import { AUDIO_PCAP, Phone, stopAllPhones } from '../helpers/phones.ts'
import { eventually } from '../helpers/wait.ts'

const BASE = (process.env.UAPI_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '')
let checks = 0
let failed = 0

const say = (msg: string): void => { console.log(`[e2e] ${msg}`) }
function check (ok: boolean, msg: string): boolean {
  checks++
  if (!ok) failed++
  say(`${ok ? 'ok  ' : 'FAIL'} ${msg}`)
  return ok
}

interface Answer { status: number, body: any, headers: Headers, raw: Buffer }

async function http (method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(BASE + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  const raw = Buffer.from(await res.arrayBuffer())
  let parsed: unknown
  try { parsed = JSON.parse(raw.toString('utf8')) } catch { parsed = undefined }
  return { status: res.status, body: parsed, headers: res.headers, raw }
}

/** A bearer token the way 4PSA's client gets one: a form POST to /oauth/token.php. */
async function tokenFor (user: number): Promise<string> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: `demo-${user}`, client_secret: `demo-secret-${user}` })
  const res = await fetch(`${BASE}/oauth/token.php`, { method: 'POST', body: form })
  const body = await res.json() as { access_token?: string }
  if (res.status !== 200 || body.access_token === undefined) throw new Error(`token for user ${user}: ${res.status} ${JSON.stringify(body)}`)
  return body.access_token
}

type View = { id: string, extension: string, status: number }
type Call = { id: string, phoneCallView: View[] }
const viewOf = (call: Call | undefined, ext: string): View | undefined => call?.phoneCallView.find((v) => v.extension === ext)
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function listUntil<T> (token: string, path: string, accept: (calls: Call[]) => T | undefined, what: string): Promise<T> {
  return await eventually(async () => {
    const res = await http('GET', `/uapi/phoneCalls/${path}`, token)
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`)
    return accept((res.body as { entry: Call[] }).entry)
  }, { what, timeoutMs: 10_000, intervalMs: 100 })
}

async function main (): Promise<void> {
  say(`engine ${BASE}, PBX AMI 127.0.0.1:5038, SIP 127.0.0.1:5060`)
  await ensurePbx()
  await hangupAllChannels()
  const ready = await http('GET', '/health/ready')
  check(ready.status === 200, `GET /health/ready: ${ready.status}`)
  const user12 = await tokenFor(12)
  const user13 = await tokenFor(13)
  check(true, 'tokens for users 12 and 13 from POST /oauth/token.php')

  // 210 rings and never answers; 024 answers 300 ms after it rings; 300 and 024 send speech.
  const reception = await Phone.register('0003*210', { mode: 'ring' })
  const picker = await Phone.register('0003*024', { mode: 'answer', answerAfterMs: 300, audio: AUDIO_PCAP })
  check(true, 'SIPp phones 0003*210 and 0003*024 registered (200 OK to REGISTER)')
  await Phone.call('0003*300', '0003*210', { audio: AUDIO_PCAP })
  await reception.waitFor('INVITE')
  const call = await listUntil(user12, '@me/0003*210', (calls) => viewOf(calls[0], '0003*210')?.status === 3 ? calls[0] : undefined, '210 ringing in List')
  const ringing = viewOf(call, '0003*210') as View
  check(true, `300 calls 210: 210 rings (List as user 12: call ${call.id}, view ${ringing.id} status 3)`)

  const t0 = Date.now()
  const pick = await http('PUT', `/uapi/phoneCalls/@me/0003*210/${call.id}`, user12,
    { action: 'PickUp', sendCallTo: '0003*024', callerId: 'John Doe <42420042>', waitForPickup: '20', phoneCallViewId: ringing.id })
  check(pick.status === 200, `PUT PickUp to 0003*024: ${pick.status} in ${Date.now() - t0} ms`)
  const invite = await picker.waitFor('INVITE')
  check(/^"John Doe" <sip:42420042@/.test(invite.header('From') ?? ''), `024 rings with From ${invite.header('From')}`)
  await picker.waitFor((m) => m.status === 200 && m.cseqMethod === 'INVITE', { direction: 'sent' })
  check(true, '024 answered (sent 200 OK)')
  await reception.waitFor('CANCEL')
  check(true, '210 stopped ringing (got CANCEL)')

  // Asterisk's own word: the caller's and the picker's channels are in the same bridge.
  const bridged = await eventually(async () => {
    const channels = await listChannels()
    const a = channels.find((c) => c.Channel?.startsWith('PJSIP/0003*300-'))
    const b = channels.find((c) => c.Channel?.startsWith('PJSIP/0003*024-'))
    return a?.BridgeId && a.BridgeId === b?.BridgeId ? { a, b } : undefined
  }, { what: '300 and 024 in one bridge', timeoutMs: 10_000 })
  check(true, `Asterisk: ${bridged.a.Channel} and ${bridged.b.Channel} in bridge ${bridged.a.BridgeId}`)
  const after = await listUntil(user12, `@me/0003*210/${call.id}`, (calls) =>
    viewOf(calls[0], '0003*300')?.status === 5 && viewOf(calls[0], '0003*024')?.status === 5 ? calls[0] : undefined, '300 and 024 on call in List')
  check(after.id === call.id && viewOf(after, '0003*210') === undefined, 'List: same call, 300 and 024 talking, 210 gone')

  // A recording through the shared directory: Asterisk (its container) writes, the engine reads.
  const path = `/uapi/phoneCalls/@me/0003*024/${call.id}`
  const view024 = viewOf(after, '0003*024') as View
  const start = await http('PUT', path, user13, { action: 'StartRecording', format: 'wav', phoneCallViewId: view024.id })
  check(start.status === 200, `StartRecording as user 13: ${start.status}${start.status === 200 ? '' : ' ' + JSON.stringify(start.body)}`)
  await sleep(2_000)
  const stop = await http('PUT', path, user13, { action: 'StopRecording', phoneCallViewId: view024.id })
  check(stop.status === 200, `StopRecording: ${stop.status}${stop.status === 200 ? '' : ' ' + JSON.stringify(stop.body)}`)
  const rec = await eventually(async () => {
    const res = await http('GET', `${path}/recordings`, user13)
    const r = (res.body as { entry?: Array<{ id: string, status: string }> } | undefined)?.entry?.[0]
    return r?.status === 'done' ? r : undefined
  }, { what: 'the recording listed as done', timeoutMs: 10_000, intervalMs: 200 })
  const file = await http('GET', `${path}/recordings/${rec.id}`, user13)
  const work = mkdtempSync(join(tmpdir(), 'uapi-docker-e2e-'))
  const wav = join(work, 'rec.wav')
  writeFileSync(wav, file.raw)
  const seconds = Number(spawnSync('soxi', ['-D', wav], { encoding: 'utf8' }).stdout)
  rmSync(work, { recursive: true, force: true })
  check(file.status === 200 && file.headers.get('content-type') === 'audio/wav' && file.raw.subarray(0, 4).toString() === 'RIFF' && seconds > 1,
    `GET the recording: ${file.status} ${file.headers.get('content-type')}, ${file.raw.length} bytes, ${Number.isFinite(seconds) ? seconds.toFixed(2) + ' s (soxi)' : 'length unknown'}`)
  say(`recording id ${rec.id}`)
}

try {
  await main()
} catch (err) {
  check(false, `stopped: ${(err as Error).message}`)
} finally {
  await stopAllPhones().catch(() => {})
  await hangupAllChannels().catch(() => {})
}
say(`${checks - failed} passed, ${failed} failed`)
process.exit(failed === 0 && checks > 0 ? 0 : 1)
