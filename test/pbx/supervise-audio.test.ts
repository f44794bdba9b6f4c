// Audio direction of BargeIn, Whisper and Monitor, proven from the packets: 0003*300 talks to
// 0003*210, both phones sending A-law digital silence (a pcap written by test/helpers/rtp.ts); the
// supervisor 0003*024 sends speech (SIPp's g711a.pcap). tcpdump on lo captures the RTP Asterisk
// really sends to each phone's SDP port once ChanSpy has started; the decoded loudness (RMS, 16-bit
// scale) per phone says who hears the supervisor:
//   Monitor  neither party     Whisper (on 210)  210 only     BargeIn (on 210)  210 and 300
// The supervisor's own stream toward Asterisk is measured too: it must be speech in every mode, or
// "nobody hears it" would prove nothing.
// Run under the PBX lock: flock /tmp/uapi-pbx-tests.lock npx tap test/pbx/supervise-audio.test.ts
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { build, noRateLimit, whenLive } from '../helpers/app.ts'
import { ensurePbx, hangupAllChannels } from '../helpers/pbx.ts'
import { Phone, stopAllPhones } from '../helpers/phones.ts'
import { AmiObserver } from '../helpers/ami-observer.ts'
import { UapiClient, statuses, viewOf } from '../helpers/uapi.ts'
import { Capture, energy, writeSilencePcap, type PortEnergy } from '../helpers/rtp.ts'

const SPEECH = '/usr/share/sip-tester/g711a.pcap'
// g711a.pcap is 7 s: about 1 s of near silence, then speech. Measure 3 s from 1.2 s after the
// supervisor's phone started playing it (its ACK), or from when the capture listened if later, ending
// by 6.5 s.
const WINDOW = { fromMs: 1_200, lengthMs: 3_000, latestEndMs: 6_500 } as const
// Loud: speech mixed in (g711a.pcap alone measures about 2000 in this window). Quiet: the parties'
// silence (A-law 0xD5 decodes to 8), with room for comfort noise or jitter-buffer artefacts.
const LOUD = 500
const QUIET = 100

const dir = mkdtempSync(join(tmpdir(), 'supervise-audio-'))
const SILENCE = join(dir, 'silence.pcap')
writeSilencePcap(SILENCE, { seconds: 20 })

t.before(ensurePbx)
t.beforeEach(hangupAllChannels)
t.afterEach(async () => {
  await stopAllPhones()
  await hangupAllChannels()
})
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

interface Heard {
  /** What each phone received from Asterisk. */
  readonly to300: PortEnergy
  readonly to210: PortEnergy
  readonly to024: PortEnergy
  /** What the supervisor's phone sent to Asterisk. */
  readonly from024: PortEnergy
}

const fmt = (e: PortEnergy): string => `rms ${Math.round(e.rms)} over ${e.packets} packets (PT ${e.payloadTypes.join(',')})`

/** 300 talks to 210 (both silent), 024 supervises 210's party with `action`: loudness per phone. */
async function measure (t: Test, action: 'BargeIn' | 'Whisper' | 'Monitor'): Promise<Heard> {
  const app = await build(t, { connect: true, config: noRateLimit })
  await whenLive(app)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const user12 = await UapiClient.as(app, 12)
  const reception = await Phone.register('0003*210', { mode: 'answer', answerAfterMs: 100, audio: SILENCE })
  const caller = await Phone.call('0003*300', '0003*210', { audio: SILENCE })
  await caller.waitFor('200')
  const call = await user12.until('@me/0003*210', (c) => {
    const st = statuses(c.entry[0])
    return st['0003*300'] === 5 && st['0003*210'] === 5 ? c.entry[0] : undefined
  }, '300 and 210 on call')
  const supervisor = await Phone.register('0003*024', { mode: 'answer', answerAfterMs: 100, audio: SPEECH })

  const mark = obs.mark()
  const res = await user12.put(`@me/0003*210/${call.id}?wait=true`, { action, sendCallTo: '0003*024', phoneCallViewId: viewOf(call, '0003*210')?.id })
  t.equal(res.status, 200, `${action}: ${JSON.stringify(res.body)}`)
  await obs.waitFor({ event: 'ChanSpyStart' }, { from: mark, timeoutMs: 10_000 })
  const ack = await supervisor.waitFor('ACK')
  const playing = Date.parse(ack.time)
  t.ok(Number.isFinite(playing), `024's ACK time (${ack.time})`)

  const ports = { p300: caller.rtpPort(), p210: reception.rtpPort(), p024: supervisor.rtpPort() }
  if (ports.p300 === undefined || ports.p210 === undefined || ports.p024 === undefined) throw new Error(`RTP ports not in the SDPs: ${JSON.stringify(ports)}`)
  t.equal(new Set(Object.values(ports)).size, 3, `three RTP ports ${JSON.stringify(ports)}`)
  const cap = await Capture.start([ports.p300, ports.p210, ports.p024])
  // tcpdump can start listening late on a loaded machine: the window then slides after it, as long as
  // it still ends inside the speech.
  const from = Math.max(playing + WINDOW.fromMs, cap.listeningAt + 50)
  const to = from + WINDOW.lengthMs
  t.ok(to <= playing + WINDOW.latestEndMs, `the capture listened in time (${from - playing} ms after 024's ACK)`)
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, to - Date.now()) + 100))
  const packets = (await cap.stop()).filter((p) => p.time >= from && p.time <= to)
  t.notOk(reception.gotBye() || caller.gotBye() || supervisor.gotBye(), 'everyone still up after the capture')

  const heard: Heard = {
    to300: energy(packets.filter((p) => p.dstPort === ports.p300)),
    to210: energy(packets.filter((p) => p.dstPort === ports.p210)),
    to024: energy(packets.filter((p) => p.dstPort === ports.p024)),
    from024: energy(packets.filter((p) => p.srcPort === ports.p024))
  }
  t.comment(`${action}: to 300 ${fmt(heard.to300)}; to 210 ${fmt(heard.to210)}; to 024 ${fmt(heard.to024)}; from 024 ${fmt(heard.from024)}`)
  // Every stream flowed through the whole 3 s window (Asterisk sends 20 ms packets, 150; g711a.pcap
  // has 30 ms ones, 100): a silent phone is a phone that got silence, not one that got nothing.
  for (const [name, e] of Object.entries(heard)) t.ok(e.packets >= 90, `${name}: ${e.packets} RTP packets in the 3 s window`)
  t.ok(heard.from024.rms > LOUD, `the supervisor really talks (${fmt(heard.from024)})`)
  return heard
}

t.test('Monitor: the supervisor\'s speech reaches neither party', async (t) => {
  const h = await measure(t, 'Monitor')
  t.ok(h.to300.rms < QUIET, `300 hears silence (${fmt(h.to300)})`)
  t.ok(h.to210.rms < QUIET, `210 hears silence (${fmt(h.to210)})`)
})

t.test('Whisper on 210: the supervisor\'s speech reaches 210 only', async (t) => {
  const h = await measure(t, 'Whisper')
  t.ok(h.to210.rms > LOUD, `210 hears the supervisor (${fmt(h.to210)})`)
  t.ok(h.to300.rms < QUIET, `300 hears silence (${fmt(h.to300)})`)
})

t.test('BargeIn on 210: the supervisor\'s speech reaches both parties', async (t) => {
  const h = await measure(t, 'BargeIn')
  t.ok(h.to210.rms > LOUD, `210 hears the supervisor (${fmt(h.to210)})`)
  t.ok(h.to300.rms > LOUD, `300 hears the supervisor (${fmt(h.to300)})`)
})
