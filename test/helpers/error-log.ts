// Counts the error-level log lines (pino level >= 50) a test file produces, and checks at the end of
// the file that each one is a fault a test injected on purpose. The engine logs at error only for
// its own and the PBX's failures (src/uapi/error-handler.ts: 5xx except 501; AMI faults, outages),
// so an unexpected one is a bug the assertions did not see.
//
// tap runs each test file in its own process, so the count is per file: importing this module (the
// app builder test/helpers/app.ts does) queues one last test in the file, "error-level log lines",
// which asserts count == declared. A test that injects a fault declares the lines it expects with
// expectErrorLines(n, why). Engines run as child processes: pass their stdout lines to recordLine().
// TEST_LOG_LEVEL=debug (etc.) also prints the app loggers' lines at that level.
import t from 'tap'
import { pino, type Logger } from 'pino'

const lines: string[] = []
const declared: Array<{ n: number, why: string }> = []
/** Faults whose line count depends on timing (an outage while a test polls): excused by pattern. */
const excused: Array<{ match: RegExp, why: string, seen: number }> = []

/** Counts `line` (a pino JSON line, or an already parsed one) when its level is error or fatal. */
export function recordLine (line: string | Record<string, unknown>): void {
  let parsed: Record<string, unknown> | undefined
  if (typeof line === 'string') {
    try { parsed = JSON.parse(line) as Record<string, unknown> } catch { return }
  } else {
    parsed = line
  }
  if (typeof parsed?.level === 'number' && parsed.level >= 50) lines.push(typeof line === 'string' ? line.trimEnd() : JSON.stringify(line))
}

/** The reason route tests give: an app built with connect: false has no PBX, so every request that
 *  needs AMI answers 503 pbx_unavailable, which the error handler logs at error. */
export const NO_PBX = 'requests answered 503 pbx_unavailable by an app with no PBX (connect: false)'

/** Declares `n` error-level lines this file's tests cause on purpose (faults they inject). */
export function expectErrorLines (n: number, why: string): void {
  declared.push({ n, why })
}

/**
 * Declares that error-level lines matching `match` (tested against the JSON line) are expected in
 * any number, e.g. the 503s of requests a test keeps sending while it holds the PBX down: their count
 * depends on timing. At least one must occur (the fault was really injected).
 */
export function excuseErrorLines (match: RegExp, why: string): void {
  excused.push({ match, why, seen: 0 })
}

/** How many error-level lines this file has logged so far (for tests that check their own fault). */
export function errorLineCount (): number {
  return lines.length
}

const printLevel = process.env.TEST_LOG_LEVEL
const printFrom = printLevel !== undefined && printLevel in pino.levels.values ? pino.levels.values[printLevel] as number : Infinity

/**
 * A logger for engines under test: records error-level lines (always enabled, even when
 * TEST_LOG_LEVEL asks for less), prints lines at TEST_LOG_LEVEL and above when it is set.
 */
export function testLogger (): Logger {
  const level = printFrom < 50 ? printLevel as string : 'error'
  return pino({ level }, {
    write (line: string) {
      recordLine(line)
      const l = /"level":(\d+)/.exec(line)
      if (l !== null && Number(l[1]) >= printFrom) process.stdout.write(line)
    }
  })
}

// After every test the file queued at load (this runs once the test module has been evaluated).
setImmediate(() => {
  t.test('error-level log lines: only the faults the tests injected', async (t) => {
    const counted: string[] = []
    for (const line of lines) {
      const e = excused.find((x) => x.match.test(line))
      if (e !== undefined) e.seen++
      else counted.push(line)
    }
    for (const e of excused) t.ok(e.seen > 0, `${e.seen} error-level lines excused: ${e.why}`)
    const byWhy = new Map<string, number>()
    for (const d of declared) byWhy.set(d.why, (byWhy.get(d.why) ?? 0) + d.n)
    const expected = declared.reduce((sum, d) => sum + d.n, 0)
    const why = [...byWhy].map(([w, n]) => `${n}: ${w}`).join('; ') || 'none'
    t.equal(counted.length, expected, `${counted.length} error-level lines, ${expected} declared (${why})${counted.length !== expected ? `\n${counted.join('\n')}` : ''}`)
  })
})
