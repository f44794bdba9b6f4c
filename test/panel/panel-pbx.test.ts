// The operator panel against the real Asterisk with SIPp phones, in Debian's Chromium: 300 calls
// 210; organization 3's panel (my phone 024) shows it ringing, picks it up to 024, shows the
// outcome and the call on 024, then drops it when 300 hangs up; organization 4's panel sees none of
// it. Then an outage: Asterisk stopped and started again under the open panel.
// Run under the PBX lock: flock /tmp/uapi-pbx-tests.lock npx tap test/panel/panel-pbx.test.ts
// Bridging is asserted from Asterisk's own events (AmiObserver), never from the engine's answers.
import { mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { build, noRateLimit, whenLive } from '../helpers/app.ts'
import { ensurePbx, hangupAllChannels, pbxScript } from '../helpers/pbx.ts'
import { Phone, stopAllPhones } from '../helpers/phones.ts'
import { AmiObserver } from '../helpers/ami-observer.ts'
import type { App } from '../../src/app.ts'
import type { AmiEvent } from '../../src/ami/index.ts'
import { errorsOf, launch, signIn, type Browser } from './browser.ts'

// Browser globals, used inside page.evaluate() callbacks only (the project's tsconfig has no DOM lib).
declare const document: any, window: any, MutationObserver: any, performance: any

// The README's picture: written to docs/ only when asked (UPDATE_PANEL_SCREENSHOT=1), so that a test
// run leaves the working tree clean.
const SCREENSHOT = process.env.UPDATE_PANEL_SCREENSHOT === '1'
  ? fileURLToPath(new URL('../../docs/panel.png', import.meta.url))
  : join(tmpdir(), `panel-${process.pid}.png`)

let browser: Browser
t.before(async () => {
  await ensurePbx()
  browser = await launch(t)
})
t.beforeEach(hangupAllChannels)
t.afterEach(async () => {
  await stopAllPhones()
  await hangupAllChannels()
})

async function engine (t: Test): Promise<{ app: App, base: string }> {
  const app = await build(t, { connect: true, config: noRateLimit })
  await app.listen({ host: '127.0.0.1', port: 0 })
  await whenLive(app)
  const addr = app.server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no address')
  return { app, base: `http://127.0.0.1:${addr.port}` }
}

/**
 * Starts recording in the page when a selector first matches (`appear`) or stops matching
 * (`vanish`): Date.now() of that DOM change, read later with `when()`. Measures the page itself,
 * not how often the test polls it.
 */
async function watch (page: Page, name: string, selector: string, on: 'appear' | 'vanish'): Promise<() => Promise<number>> {
  await page.evaluate(({ name, selector, on }) => {
    const w = window as any
    w.__seen ??= {}
    const check = (): boolean => {
      const present = document.querySelector(selector) !== null
      if ((on === 'appear') === present && w.__seen[name] === undefined) w.__seen[name] = Date.now()
      return w.__seen[name] !== undefined
    }
    if (check()) return
    const mo = new MutationObserver(() => { if (check()) mo.disconnect() })
    mo.observe(document.body, { subtree: true, childList: true, attributes: true })
  }, { name, selector, on })
  return async () => {
    await page.waitForFunction((n) => (window as any).__seen?.[n] !== undefined, name, { timeout: 10_000 })
    return await page.evaluate((n) => (window as any).__seen[n] as number, name)
  }
}

const asteriskMs = (e: AmiEvent): number => Math.round(Number(e.timestamp) * 1000)

t.test('300 calls 210: the panel shows it ringing, picks it up to 024 (bridged by Asterisk), shows "picked up", drops it when 300 hangs up; organization 4 sees none of it', async (t) => {
  const { base } = await engine(t)
  const obs = await AmiObserver.connect()
  t.teardown(() => obs.close())
  const org3 = await browser.page(t, { width: 900, height: 640 })
  await signIn(org3, base, 3, '0003*024')
  const org4 = await browser.page(t, { width: 900, height: 640 })
  await signIn(org4, base, 40)
  t.match(await org4.locator('#who-text').textContent(), /my phone 100/)
  await org3.evaluate(() => { (window as any).__sameDocument = true })

  const reception = await Phone.register('0003*210', { mode: 'ring' })
  const picker = await Phone.register('0003*024', { mode: 'answer', answerAfterMs: 500 })
  const ringingCard = '#ringing-list li[data-ringing~="0003*210"]'
  const shown = await watch(org3, 'ringing', ringingCard, 'appear')
  const mark = obs.mark()
  const caller = await Phone.call('0003*300', '0003*210')
  await reception.waitFor('INVITE')
  const rang = await obs.waitFor((e) => e.event === 'Newstate' && e.channelstatedesc === 'Ringing' && e.channel?.startsWith('PJSIP/0003*210-') === true, { from: mark, timeoutMs: 10_000 })
  const ringMs = (await shown()) - asteriskMs(rang)
  t.ok(ringMs < 1000, `the page showed the call ringing on 210 ${ringMs} ms after Asterisk's Newstate Ringing`)
  const card = org3.locator(ringingCard)
  const callId = await card.getAttribute('data-call-id') as string
  t.match(await card.textContent(), /300.*Sales 300.*210.*Reception 210.*Ringing on 210/)
  t.equal(await org4.locator('li.call').count(), 0, 'organization 4: no call shown')

  // The screenshot for the README: a second call rings on 210 while the first is live on 024 (below).
  const callerLeg = await obs.waitFor((e) => e.event === 'Newchannel' && e.channel?.startsWith('PJSIP/0003*300-') === true, { from: mark })
  const pickMark = obs.mark()
  await card.getByRole('button', { name: /^Pick up/ }).click()
  t.match(await org3.locator(`li[data-call-id="${callId}"] .outcome`).textContent(), /Ringing your phone \(024\)/, 'while 024 rings: said so')
  const invite = await picker.waitFor('INVITE')
  t.ok(invite, '024 rang')
  const pickup = await obs.waitFor((e) => e.event === 'Pickup' && e.channel?.startsWith('PJSIP/0003*024-') === true, { from: pickMark, timeoutMs: 10_000 })
  const callerIn = await obs.waitFor({ event: 'BridgeEnter', uniqueid: callerLeg.uniqueid as string }, { from: pickMark, timeoutMs: 10_000 })
  const pickerIn = await obs.waitFor({ event: 'BridgeEnter', uniqueid: pickup.uniqueid as string }, { from: pickMark, timeoutMs: 10_000 })
  t.equal(pickerIn.bridgeuniqueid, callerIn.bridgeuniqueid, 'Asterisk bridged 300 with 024')
  const live = org3.locator(`#live-list li[data-call-id="${callId}"]`)
  await live.locator('.outcome[data-outcome="picked-up"]').waitFor({ timeout: 10_000 })
  t.equal(await live.locator('.outcome').textContent(), 'Picked up on 024.', 'the outcome in words')
  await org3.waitForFunction((id) => document.querySelector(`#live-list li[data-call-id="${id}"]`)?.dataset.parties === '0003*300 0003*024', callId)
  t.equal(await live.getAttribute('data-state'), 'on-call', 'the call is on 024, on call')
  t.ok(await org3.evaluate(() => (window as any).__sameDocument === true && performance.getEntriesByType('navigation').length === 1), 'without a reload')
  t.equal(await org3.locator('#ringing-list li').count(), 0, 'nothing rings any more')

  const second = await Phone.call('0003*301', '0003*210')
  await org3.locator('#ringing-list li[data-ringing~="0003*210"]').waitFor()
  mkdirSync(join(SCREENSHOT, '..'), { recursive: true })
  await org3.screenshot({ path: SCREENSHOT })
  if (process.env.UPDATE_PANEL_SCREENSHOT !== '1') t.teardown(() => { rmSync(SCREENSHOT, { force: true }) })
  t.pass(`screenshot: ${SCREENSHOT}`)
  await second.stop()
  await org3.locator('#ringing-list li').waitFor({ state: 'detached' })

  // 300 hangs up: the call leaves the page.
  const gone = await watch(org3, 'gone', `li[data-call-id="${callId}"]`, 'vanish')
  const hangMark = obs.mark()
  await caller.stop()
  const hangup = await obs.waitFor({ event: 'Hangup', uniqueid: callerLeg.uniqueid as string }, { from: hangMark, timeoutMs: 10_000 })
  const goneMs = (await gone()) - asteriskMs(hangup)
  t.ok(goneMs < 1000, `the call left the page ${goneMs} ms after Asterisk's Hangup of 300`)
  t.equal(await org4.locator('li.call').count(), 0, 'organization 4 saw none of it')
  t.ok(await org4.locator('#no-calls').isVisible())
  t.same(errorsOf(org3), [], 'organization 3\'s page: no console error')
  t.same(errorsOf(org4), [], 'organization 4\'s page: no console error')
})

t.test('Asterisk stopped: the panel shows the outage; started again: the live view resumes and shows new calls', async (t) => {
  t.teardown(async () => { await pbxScript('up') }) // the shared PBX is never left down
  const { base } = await engine(t)
  const page = await browser.page(t)
  await signIn(page, base, 12)
  await pbxScript('down')
  await page.locator('#banner[data-state="outage"]').waitFor({ timeout: 10_000 })
  t.match(await page.locator('#banner').textContent(), /phone system is not reachable/)
  await pbxScript('up')
  const upAt = Date.now()
  await page.locator('#banner').waitFor({ state: 'hidden', timeout: 30_000 })
  t.pass(`the live view resumed ${Date.now() - upAt} ms after pbx.sh up returned`)
  await Phone.register('0003*210', { mode: 'ring' })
  await Phone.call('0003*300', '0003*210')
  await page.locator('#ringing-list li[data-ringing~="0003*210"]').waitFor({ timeout: 10_000 })
  t.pass('a new call shows ringing')
})
