// The operator panel in Debian's Chromium, without a PBX: the engine's real AMI client reads
// recorded Asterisk 22 streams from a fake AMI peer (as test/stream/stream.test.ts does). Sign-in,
// "my phone", the live view, token renewal and expiry, a lost stream, an outage, action errors in
// words, keyboard use and the layout at phone width.
import { lazyTestStorage } from '../helpers/pglite.ts'
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { buildApp, type App } from '../../src/app.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { FakeAmi, reply } from '../helpers/fake-ami.ts'
import { fixturePath } from '../helpers/fixtures.ts'
import { expectErrorLines } from '../helpers/app.ts'
import { testLogger } from '../helpers/error-log.ts'
import { errorsOf, launch, signIn, type Browser } from './browser.ts'

// Browser globals, used inside page.evaluate() callbacks only (the project's tsconfig has no DOM lib).
declare const document: any, window: any, localStorage: any, sessionStorage: any, getComputedStyle: any, HTMLElement: any

interface Engine { app: App, fake: FakeAmi, base: string }

let browser: Browser
t.before(async () => { browser = await launch(t) })

async function engine (t: Test, edit?: (c: Config) => void): Promise<Engine> {
  const cfg = loadConfig({ LOG_LEVEL: 'silent' })
  const fake = await FakeAmi.start({ username: cfg.ami.username, secret: cfg.ami.secret })
  const config = structuredClone(cfg) as Config
  config.ami.host = fake.host
  config.ami.port = fake.port
  config.ami.reconnectMinMs = 100
  config.ami.reconnectMaxMs = 500
  edit?.(config)
  const app = await buildApp(config, { logger: testLogger(), connect: true, storage: lazyTestStorage() })
  await app.listen({ host: '127.0.0.1', port: 0 })
  await app.engine.sync.whenLive(10_000)
  t.teardown(async () => { await app.close(); await fake.close() })
  const addr = app.server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no address')
  return { app, fake, base: `http://127.0.0.1:${addr.port}` }
}

/**
 * The frames of a recorded stream after its login, up to (not including) the `n`th frame that
 * matches: a call caught mid-way (ringing, or talking) that the fake AMI then leaves as it is.
 */
function framesBefore (name: string, match: RegExp, n = 1): string {
  const text = readFileSync(fixturePath(name), 'utf8')
  const frames = text.split('\r\n\r\n')
  const out: string[] = []
  let seen = 0
  for (const f of frames.slice(2)) { // banner + login response, then FullyBooted...
    if (match.test(f) && ++seen === n) break
    out.push(f)
  }
  return out.filter((f) => f.trim() !== '').map((f) => `${f}\r\n\r\n`).join('')
}

/** 0003*300 calls 0003*210, which rings (the caller then abandons: we stop before its Hangup). */
const RINGING = framesBefore('caller-abandons', /^Event: Hangup\r\n/m)
/** A two-party call, both on call, before it is put on hold. */
const TALKING = framesBefore('hold-offhold', /^Event: HangupHandlerPush\r\n/m)

const card = (page: Page, state: 'ringing' | 'live') => page.locator(`#${state === 'ringing' ? 'ringing' : 'live'}-list > li.call`)

async function twoCalls (t: Test, e: Engine, viewport?: { width: number, height: number }): Promise<Page> {
  const page = await browser.page(t, viewport)
  await signIn(page, e.base, 3, '0003*024')
  e.fake.send(RINGING)
  e.fake.send(TALKING)
  await card(page, 'ringing').first().waitFor()
  await card(page, 'live').first().waitFor()
  return page
}

t.test('the page and its assets: own CSP (self only, no inline), ETag, nothing else served', async (t) => {
  const { app } = await engine(t)
  const page = await app.inject('/panel')
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, /default-src 'none'/)
  t.match(csp, /script-src 'self'/)
  t.match(csp, /connect-src 'self'/)
  t.notMatch(csp, /unsafe/, 'no unsafe-inline or unsafe-eval')
  t.notMatch(page.body, /<script>|\sstyle=|\son[a-z]+=/i, 'no inline script, style attribute or handler')
  t.notMatch(page.body, /https?:\/\//, 'nothing from another origin')
  t.equal(page.headers['x-content-type-options'], 'nosniff', 'the engine\'s security headers are kept')
  t.equal((await app.inject({ url: '/panel', headers: { 'if-none-match': String(page.headers.etag) } })).statusCode, 304)
  for (const asset of ['panel.js', 'session.js', 'stream.js', 'calls.js', 'words.js', 'panel.css']) {
    const res = await app.inject(`/panel/${asset}`)
    t.equal(res.statusCode, 200, asset)
    t.match(res.headers['content-type'], asset.endsWith('.css') ? /^text\/css/ : /^text\/javascript/)
    t.notMatch(res.body, /\b(localStorage|sessionStorage)\s*[.[]|document\.cookie|https?:\/\//, `${asset}: no storage, no cookie, no other origin`)
  }
  for (const url of ['/panel/index.html', '/panel/nope.js', '/panel/..%2Fplugin.ts', '/panel/plugin.ts']) {
    t.equal((await app.inject(url)).statusCode, 404, url)
  }
})

t.test('GET /uapi/extensions/@me lists the token\'s extensions; another organization\'s are not there', async (t) => {
  const { app } = await engine(t)
  const token = async (id: number): Promise<string> => {
    const r = await app.inject({ method: 'POST', url: '/oauth/token', payload: { grant_type: 'client_credentials', client_id: `demo-${id}`, client_secret: `demo-secret-${id}` } })
    return (r.json() as { access_token: string }).access_token
  }
  const list = async (id: number, path = '@me') => await app.inject({ url: `/uapi/extensions/${path}`, headers: { authorization: `Bearer ${await token(id)}` } })
  const org3 = (await list(3)).json()
  t.same(org3.entry.map((e: { extension: string }) => e.extension), ['0003*024', '0003*210', '0003*211', '0003*212', '0003*300', '0003*301'])
  t.match(org3.entry[0], { extension: '0003*024', shortNumber: '024', type: 'phone-terminal', name: 'Support 024', ownerId: '13', organizationId: '3' })
  t.same((await list(40)).json().entry.map((e: { extension: string }) => e.extension), ['0004*100'])
  t.same((await list(13)).json().entry.map((e: { extension: string }) => e.extension), ['0003*024'])
  t.equal((await list(40, '3')).statusCode, 401, 'user 40 cannot list organization 3')
  t.equal((await list(3, 'x')).json().error.code, 'user_invalid')
  t.equal((await app.inject('/uapi/extensions/@me')).statusCode, 401, 'no token')
})

t.test('sign in: wrong secret in words, then organization 3 picks 024 and sees a ringing and a live call', async (t) => {
  const e = await engine(t)
  const page = await browser.page(t)
  await page.goto(`${e.base}/panel`)
  t.equal(await page.evaluate(() => document.activeElement?.id), 'client-id', 'the client id field has the focus')
  await page.getByLabel('Client id').fill('demo-3')
  await page.getByLabel('Secret').fill('wrong')
  await page.keyboard.press('Enter')
  await page.locator('#signin-error').waitFor({ state: 'visible' })
  t.equal(await page.locator('#signin-error').textContent(), 'The client id or secret is not right.')
  t.equal(await page.getByLabel('Secret').inputValue(), '', 'the secret field is cleared')

  await page.getByLabel('Secret').fill('demo-secret-3')
  await page.keyboard.press('Enter')
  await page.getByLabel('My phone').waitFor()
  const phones = await page.locator('#my-phone option').evaluateAll((os) => os.map((o) => (o as any).value))
  t.same(phones, ['0003*024', '0003*210', '0003*300', '0003*301'], 'only phone terminals can be "my phone"')
  await page.getByLabel('My phone').selectOption('0003*024')
  await page.keyboard.press('Tab')
  await page.keyboard.press('Enter')
  await page.locator('#calls').waitFor()
  t.match(await page.locator('#who-text').textContent(), /demo-3 · my phone 024 \(Support 024\)/)
  t.same(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]), [0, 0, ''], 'nothing stored in the browser')

  e.fake.send(RINGING)
  const ringing = card(page, 'ringing').first()
  await ringing.waitFor()
  t.equal(await ringing.getAttribute('data-ringing'), '0003*210')
  t.match(await ringing.textContent(), /300.*Sales 300.*210.*Reception 210.*Ringing on 210/)
  t.equal(await page.locator('#ringing-count').textContent(), '1')
  t.equal(await ringing.getByRole('button').count(), 1, 'a ringing call offers Pick up only')
  e.fake.send(TALKING)
  const live = card(page, 'live').first()
  await live.waitFor()
  t.equal(await live.getAttribute('data-state'), 'on-call')
  const actions = await live.getByRole('button').evaluateAll((bs) => bs.map((b) => b.textContent))
  t.same(actions, ['Hang up', 'Transfer…', 'Hold', 'Park', 'Record', 'Listen', 'Whisper', 'Barge in'], 'my phone is not in the live call: supervision is offered')
  const timer = live.locator('.timer')
  const before = await timer.textContent()
  await page.waitForFunction((b) => document.querySelector('#live-list .timer')?.textContent !== b, before)
  t.pass(`the timer runs (${before} -> ${await timer.textContent()})`)

  // Keyboard: Tab reaches Pick up, its name says which call.
  await page.locator('#calls-title').focus()
  await page.keyboard.press('Tab')
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Pick up: call from 300 (Sales 300)')
  t.same(errorsOf(page).filter((m) => !/status of 401/.test(m)), [], 'no console error but the refused sign-in')
})

t.test('action errors in plain words; a transfer and a hang-up through the keyboard', async (t) => {
  expectErrorLines(1, 'the fake AMI refuses the PickUp Originate: 502 pc_action_failed is logged at error')
  const e = await engine(t)
  const page = await twoCalls(t, e)
  e.fake.onAction('Originate', (a) => reply(a, { Response: 'Error', Message: 'No such channel' }))
  await card(page, 'ringing').first().getByRole('button', { name: /^Pick up/ }).click()
  const outcome = card(page, 'ringing').first().locator('.outcome')
  await page.waitForFunction(() => document.querySelector('#ringing-list .outcome')?.getAttribute('data-outcome') === 'error')
  t.equal(await outcome.textContent(), 'The phone system refused this action.')
  t.equal(await page.locator('#notice').textContent(), 'The phone system refused this action.')

  // Transfer: the dialog, Escape cancels, Enter sends; an unknown extension is explained.
  const live = card(page, 'live').first()
  await live.getByRole('button', { name: /^Transfer/ }).focus()
  await page.keyboard.press('Enter')
  await page.getByLabel('Transfer to (extension or phone number)').waitFor()
  await page.keyboard.press('Escape')
  t.notOk(await page.locator('#transfer-dialog').evaluate((d) => (d as any).open), 'Escape closes the dialog')
  await live.getByRole('button', { name: /^Transfer/ }).click()
  await page.keyboard.type('999')
  await page.keyboard.press('Enter')
  await page.waitForFunction(() => document.querySelector('#live-list .outcome')?.getAttribute('data-outcome') === 'error')
  t.equal(await live.locator('.outcome').textContent(), 'That number is not a phone of your organization.')

  await live.getByRole('button', { name: /^Hang up/ }).focus()
  await page.keyboard.press('Enter')
  await page.waitForFunction(() => document.querySelector('#live-list .outcome')?.textContent === 'Hung up.')
  t.ok(e.fake.actions.some((a) => a.name === 'Hangup'), 'the engine sent Hangup')
  t.same(errorsOf(page).filter((m) => !/status of (400|502)/.test(m)), [], 'no console error but the refused requests')
})

t.test('the token is renewed before it expires and the stream goes on with it; a token that cannot be renewed ends in "expired"', async (t) => {
  const e = await engine(t, (c) => { c.security.tokenTtlSeconds = 3 })
  const page = await browser.page(t)
  const tokens: number[] = []
  const streams: Array<{ at: number, lastEventId: string | undefined }> = []
  const started = Date.now()
  page.on('request', (r) => {
    if (r.url().endsWith('/oauth/token')) tokens.push(Date.now() - started)
    if (/\/stream(\?|$)/.test(r.url())) streams.push({ at: Date.now() - started, lastEventId: r.headers()['last-event-id'] })
  })
  await signIn(page, e.base, 13)
  t.match(await page.locator('#who-text').textContent(), /my phone 024/, 'one phone: chosen without asking')
  await page.waitForTimeout(4_500)
  t.ok(tokens.length >= 3, `renewed before each expiry (token requests at ${tokens.join(', ')} ms)`)
  t.ok(streams.length >= 2 && streams.slice(1).every((s) => s.lastEventId !== undefined), `the stream reopened with each new token, resuming (${JSON.stringify(streams)}; tokens ${tokens.join(', ')})`)
  t.equal(await page.locator('#banner').isVisible(), false, 'no outage, no reconnect shown')

  // Renewal refused from now on (the app's secret changed, say): the session ends at expiry.
  await page.route('**/oauth/token', (route) => route.fulfill({ status: 401, contentType: 'application/json', body: '{"error":"invalid_client"}' }))
  await page.locator('#banner[data-state="expired"]').waitFor({ timeout: 6_000 })
  t.equal(await page.locator('#banner').textContent(), 'Your session has expired. Sign in again to see calls.')
  t.ok(await page.locator('#signin').isVisible(), 'the sign-in form is back')
  t.equal(await page.getByLabel('Client id').inputValue(), 'demo-13', 'with the client id kept, the secret not')
  t.equal(await page.getByLabel('Secret').inputValue(), '')
})

t.test('a lost stream reconnects and resumes; a PBX outage shows, then the live view comes back', async (t) => {
  const e = await engine(t)
  const page = await twoCalls(t, e)
  const resumes: Array<string | undefined> = []
  page.on('request', (r) => { if (/\/stream(\?|$)/.test(r.url())) resumes.push(r.headers()['last-event-id']) })

  e.app.server.closeAllConnections()
  await page.locator('#banner[data-state="reconnecting"]').waitFor()
  t.match(await page.locator('#banner').textContent(), /Connection lost\. Reconnecting/)
  await page.locator('#banner').waitFor({ state: 'hidden' })
  t.ok(resumes.length >= 1 && resumes[0] !== undefined, `reconnected with Last-Event-ID ${resumes[0]}`)
  t.equal(await card(page, 'ringing').count(), 1, 'the calls are still shown after the resume')

  e.fake.dropConnections()
  await page.locator('#banner[data-state="outage"]').waitFor()
  t.match(await page.locator('#banner').textContent(), /phone system is not reachable/)
  // The fake AMI takes the engine back at once with no channel: the resync's snapshot empties the view.
  await page.locator('#banner').waitFor({ state: 'hidden', timeout: 15_000 })
  await page.locator('#no-calls').waitFor()
  t.pass('the outage cleared and the live view resumed with the PBX\'s calls (none)')
})

t.test('an outage at sign-in (503 on the stream) is shown and retried until the PBX is back', async (t) => {
  const e = await engine(t)
  const page = await browser.page(t)
  let refuse = true
  await page.route('**/stream', async (route) => {
    if (refuse) await route.fulfill({ status: 503, contentType: 'application/json', headers: { 'retry-after': '1' }, body: '{"error":{"code":"pbx_unavailable","message":"x"}}' })
    else await route.continue()
  })
  await signIn(page, e.base, 12)
  await page.locator('#banner[data-state="outage"]').waitFor()
  refuse = false
  await page.unroute('**/stream')
  await page.locator('#banner').waitFor({ state: 'hidden', timeout: 10_000 })
  e.fake.send(RINGING)
  await card(page, 'ringing').first().waitFor()
  t.pass('the live view came back and shows new calls')
})

t.test('at phone width (375 px) nothing overflows, buttons are finger-sized, text keeps its contrast', async (t) => {
  const e = await engine(t)
  const page = await twoCalls(t, e, { width: 375, height: 740 })
  const layout = await page.evaluate(() => {
    const buttons = [...document.querySelectorAll('#calls button')].map((b) => b.getBoundingClientRect())
    return {
      scrollWidth: document.documentElement.scrollWidth,
      outside: buttons.filter((r) => r.left < 0 || r.right > window.innerWidth).length,
      small: buttons.filter((r) => r.height < 44).length,
      buttons: buttons.length
    }
  })
  t.ok(layout.scrollWidth <= 375, `no horizontal scroll (${layout.scrollWidth} px)`)
  t.equal(layout.outside, 0, `all ${layout.buttons} buttons inside the screen`)
  t.equal(layout.small, 0, 'every button at least 44 px high')
  // WCAG AA: the contrast of text against its background, for the panel's text styles.
  const worst = await page.evaluate(() => {
    const rgb = (s: string): number[] => (s.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number)
    const lum = (c: number[]): number => {
      const [r, g, b] = c.map((v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4 }) as [number, number, number]
      return 0.2126 * r + 0.7152 * g + 0.0722 * b
    }
    const bgOf = (el: any): number[] => {
      for (let n = el; n !== null; n = n.parentElement) {
        const c = getComputedStyle(n).backgroundColor
        if (!/rgba\(.*,\s*0\)$/.test(c) && c !== 'transparent') return rgb(c)
      }
      return [255, 255, 255]
    }
    let min = { ratio: 99, text: '' }
    for (const n of document.querySelectorAll('#calls *, .bar *')) {
      if (!(n instanceof HTMLElement) || n.children.length > 0 || n.textContent?.trim() === '' || n.offsetParent === null) continue
      const fg = lum(rgb(getComputedStyle(n).color))
      const bg = lum(bgOf(n))
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)
      if (ratio < min.ratio) min = { ratio, text: n.textContent ?? '' }
    }
    return min
  })
  t.ok(worst.ratio >= 4.5, `lowest text contrast ${worst.ratio.toFixed(2)}:1 ("${worst.text}")`)
})
