// PickUp end to end on the bundled PBX (scripts/pbx.sh: Asterisk 22, AMI 127.0.0.1:5038) with SIPp
// phones (test/helpers/phones.ts): the time from the PickUp request to the caller's BridgeEnter,
// minus the picking phone's answer delay, median of PICKUPS pickups.
//
// Per pickup: phone 0003*300 calls 0003*210 (which only rings); once the engine's mirror shows the
// 0003*210 leg ringing, user 12 sends PUT .../phoneCalls/@me/@self/<id> {action: PickUp, sendCallTo:
// 0003*024} through app.inject (t0 just before it); phone 0003*024 answers ANSWER_DELAY_MS after its
// INVITE; t1 is when the engine's own AMI connection delivers BridgeEnter for the caller's uniqueid.
// Reported: t1 - t0 - ANSWER_DELAY_MS. A sample counts only if the caller was bridged with our picker
// (the PBX may be shared with other test runs); then the caller hangs up and the bench waits for that
// call to end before the next pickup.
//
// Without a reachable PBX, sipp or the phone helper, the result is null with the reason.
import { pino } from 'pino'
import { buildApp, type App } from '../src/app.ts'
import { loadConfig, type Config } from '../src/config.ts'
import type { AmiEvent } from '../src/ami/index.ts'
import type { Leg } from '../src/calls/index.ts'
import { median, round, now, summarize, tokenFor, until } from './lib.ts'
import { lazyTestStorage } from '../test/helpers/pglite.ts'

export interface PickupE2eResult {
  pickup_e2e_ms_p50: number | null
  pickup_e2e_ms_p90?: number
  pickup_e2e_ms_max?: number
  pickup_e2e_pickups?: number
  pickup_e2e_rejected?: number
  pickup_e2e_answer_delay_ms?: number
  pickup_e2e_skipped?: string
}

const PICKUPS = 20
const ANSWER_DELAY_MS = 200
/** Attempts beyond PICKUPS that may fail validation (shared PBX) before giving up. */
const MAX_REJECTED = 10

// The parts of test/helpers/phones.ts used here. Loaded at run time so that the rest of the
// benchmarks (and the type check) do not depend on it.
interface PhoneLike { stop (): Promise<void> }
interface PhonesModule {
  Phone: {
    register (ext: string, opts?: { mode?: 'ring' | 'answer' | 'none', answerAfterMs?: number }): Promise<PhoneLike>
    call (from: string, to: string, opts?: { talkMs?: number }): Promise<PhoneLike>
  }
  stopAllPhones (): Promise<void>
}
const PHONES_MODULE = '../test/helpers/phones.ts'

export async function benchPickupE2e (log: (msg: string) => void = () => {}): Promise<PickupE2eResult> {
  let phones: PhonesModule
  try {
    phones = await import(PHONES_MODULE) as PhonesModule
  } catch (err) {
    return skipped(`SIPp phone helper ${PHONES_MODULE} not available (${(err as Error).message.split('\n')[0]})`)
  }
  // The real engine on the bundled PBX (config/default.json's AMI), rate limits lifted as elsewhere.
  const config = structuredClone(loadConfig({ LOG_LEVEL: 'silent' })) as Config
  ;(config.http as Record<string, unknown>).rateLimit = { max: 1_000_000, timeWindowMs: 60_000, tokenMax: 1_000_000 }
  let app: App | undefined
  try {
    app = await buildApp(config, { logger: pino({ level: 'silent' }), connect: true, storage: lazyTestStorage() })
    await app.ready()
    try {
      await app.engine.sync.whenLive(8000)
    } catch {
      return skipped(`the bundled PBX is not reachable on AMI ${config.ami.host}:${config.ami.port} (start it: npm run pbx:up)`)
    }
    return await run(app, phones, log)
  } catch (err) {
    return skipped(`failed: ${(err as Error).message.split('\n')[0]}`)
  } finally {
    await phones.stopAllPhones().catch(() => {})
    await app?.close()
  }
}

function skipped (reason: string): PickupE2eResult {
  return { pickup_e2e_ms_p50: null, pickup_e2e_skipped: reason }
}

async function run (app: App, phones: PhonesModule, log: (msg: string) => void): Promise<PickupE2eResult> {
  const { mirror, ami } = app.engine
  const token = await tokenFor(app, 12)
  await phones.Phone.register('0003*210', { mode: 'ring' })
  await phones.Phone.register('0003*024', { mode: 'answer', answerAfterMs: ANSWER_DELAY_MS })
  const samples: number[] = []
  const rejected: string[] = []
  // The PBX may be shared (other test runs): legs seen before are never taken for ours, and a sample
  // counts only when the caller was bridged with our picker (not answered by some other phone).
  const seen = new Set<string>(mirror.legs.keys())
  for (let attempt = 0; samples.length < PICKUPS && attempt < PICKUPS + MAX_REJECTED; attempt++) {
    const caller = await phones.Phone.call('0003*300', '0003*210', { talkMs: 60_000 })
    let target: Leg | undefined
    try {
      await until(() => {
        for (const l of mirror.legs.values()) {
          if (seen.has(l.uniqueid)) continue
          if (l.party?.extension === '0003*210' && l.role === 'callee' && l.state === 5 && l.dialedBy !== undefined) { target = l; return true }
        }
        return false
      }, 10_000, '0003*210 ringing in the mirror')
      const ringing = target as Leg
      for (const l of ringing.call.legs.values()) seen.add(l.uniqueid)
      const callerUniqueid = ringing.dialedBy as string
      let t1: bigint | undefined
      let bridge: string | undefined
      const onEvent = (e: AmiEvent): void => {
        if (t1 === undefined && e.event === 'BridgeEnter' && e.uniqueid === callerUniqueid) { t1 = now(); bridge = e.bridgeuniqueid }
      }
      ami.on('event', onEvent)
      try {
        const t0 = now()
        // ?wait=true: answered once the outcome is known (picked-up, or why not), after t0 anyway.
        const res = await app.inject({
          method: 'PUT',
          url: `/uapi/phoneCalls/@me/@self/${ringing.call.id}?wait=true`,
          headers: { authorization: `Bearer ${token}` },
          payload: { action: 'PickUp', sendCallTo: '0003*024', phoneCallViewId: ringing.viewId, waitForPickup: 10 }
        })
        if (res.statusCode !== 200) { rejected.push(`PickUp ${res.statusCode} ${res.body}`); continue }
        await until(() => t1 !== undefined, 10_000, 'BridgeEnter of the caller')
        const picker = [...mirror.legs.values()].find((l) => l.pickedFrom === ringing.uniqueid)
        if (picker === undefined || bridge === undefined) { rejected.push('caller bridged, but no picker of ours in the mirror'); continue }
        await until(() => picker.bridgeId !== undefined, 5000, 'picker bridged').catch(() => {})
        if (picker.bridgeId !== bridge) { rejected.push(`caller bridged with someone else (${bridge} vs picker ${String(picker.bridgeId)})`); continue }
        const ms = Number((t1 as bigint) - t0) / 1e6 - ANSWER_DELAY_MS
        // Faster than our phone's answer delay: another device registered as 0003*024 answered.
        if (ms < 0) { rejected.push(`bridged ${(ms + ANSWER_DELAY_MS).toFixed(1)} ms after the request: answered by another 0003*024 device`); continue }
        samples.push(ms)
        log(`pickup e2e ${samples.length}/${PICKUPS}: ${ms.toFixed(1)} ms (+ ${ANSWER_DELAY_MS} ms answer delay)`)
      } finally {
        ami.off('event', onEvent)
      }
    } finally {
      await caller.stop()
      if (target !== undefined) await hangUpCall(app, target.call.key)
    }
  }
  for (const r of rejected) log(`pickup e2e: attempt rejected: ${r}`)
  if (samples.length < PICKUPS) throw new Error(`only ${samples.length} valid pickups (${rejected.length} rejected: ${rejected[0] ?? ''})`)
  const s = summarize(samples)
  return {
    pickup_e2e_ms_p50: round(median(samples), 1),
    pickup_e2e_ms_p90: round(s.p90, 1),
    pickup_e2e_ms_max: round(s.max, 1),
    pickup_e2e_pickups: s.n,
    pickup_e2e_rejected: rejected.length,
    pickup_e2e_answer_delay_ms: ANSWER_DELAY_MS
  }
}

/** Waits for our call to end; hangs up its leftover legs (through the engine's AMI) after a grace period. */
async function hangUpCall (app: App, key: string): Promise<void> {
  const { mirror, ami } = app.engine
  const gone = (): boolean => !mirror.calls.has(key)
  try {
    await until(gone, 3000, 'call ended')
  } catch {
    const legs = [...(mirror.calls.get(key)?.legs.values() ?? [])]
    await Promise.all(legs.map((l) => ami.action('Hangup', { Channel: l.channel }).catch(() => {})))
    await until(gone, 5000, 'call hung up').catch(() => {})
  }
}
