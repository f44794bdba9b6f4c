// Reads the AMI streams recorded from a real Asterisk 22 (../shared/fixtures/ami) into events
// shaped like the AMI layer's (lower-cased keys, ChanVariable lines flattened to chanvariable.NAME).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import type { AmiEvent } from '../../src/ami/index.ts'

const here = dirname(fileURLToPath(import.meta.url))
/** A copy of shared/fixtures/ami, kept in the repository so a fresh clone is self-contained. */
export const FIXTURE_DIR = process.env.AMI_FIXTURES ?? join(here, '..', 'fixtures', 'ami')

export function fixturePath (name: string): string {
  return join(FIXTURE_DIR, name.endsWith('.ami') ? name : name + '.ami')
}

export function readFixture (name: string): Buffer {
  return readFileSync(fixturePath(name))
}

/** Every event of a recorded stream, in arrival order (the banner and action responses are skipped). */
export function fixtureEvents (name: string): AmiEvent[] {
  const text = readFixture(name).toString('utf8')
  const out: AmiEvent[] = []
  for (const frame of text.split('\r\n\r\n')) {
    const e: Record<string, string> = {}
    for (const line of frame.split('\r\n')) {
      const colon = line.indexOf(':')
      if (colon <= 0) continue
      const key = line.slice(0, colon).toLowerCase()
      const value = line.slice(colon + 1).replace(/^ /, '')
      if (key.endsWith('chanvariable')) {
        const eq = value.indexOf('=')
        e[key + '.' + value.slice(0, eq)] = value.slice(eq + 1)
      } else if (!(key in e)) {
        e[key] = value
      }
    }
    if (e.event !== undefined) out.push(e as AmiEvent)
  }
  return out
}
