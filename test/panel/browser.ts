// Debian's Chromium (/usr/bin/chromium) driven by playwright-core for the panel's tests: never a
// downloaded browser, a fresh profile per launch, no background traffic (closed network).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync']

export interface Browser {
  readonly context: BrowserContext
  /** A new tab, closed at the end of test `t`. */
  page: (t: Test, opts?: { width?: number, height?: number }) => Promise<Page>
}

const pageErrors = new WeakMap<Page, string[]>()

/** Every console error and uncaught error of a page so far, for "the page logged no error" checks. */
export const errorsOf = (page: Page): string[] => pageErrors.get(page) ?? []

/**
 * One Chromium with a fresh --user-data-dir, closed (and its profile removed) at the end of `t`
 * (a file launches one and opens a tab per test: a launch costs about 1.5 s).
 */
export async function launch (t: Test): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'panel-chromium-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS })
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  return {
    context,
    page: async (pt, { width = 1024, height = 768 } = {}) => {
      const page = await context.newPage()
      pt.teardown(() => page.close())
      const errors: string[] = []
      pageErrors.set(page, errors)
      await page.setViewportSize({ width, height })
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
      page.on('pageerror', (e) => { errors.push(String(e)) })
      return page
    }
  }
}

/** Signs in on the panel at `base` with a demo app and, when asked, picks "my phone". */
export async function signIn (page: Page, base: string, userId: number, myPhone?: string): Promise<void> {
  await page.goto(`${base}/panel`)
  await page.getByLabel('Client id').fill(`demo-${userId}`)
  await page.getByLabel('Secret').fill(`demo-secret-${userId}`)
  await page.getByRole('button', { name: 'Sign in' }).click()
  if (myPhone !== undefined) {
    await page.getByLabel('My phone').selectOption(myPhone)
    await page.getByRole('button', { name: 'Use this phone' }).click()
  }
  await page.locator('#calls').waitFor({ state: 'visible' })
}
