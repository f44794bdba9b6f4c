// Which way of copying a string detaches it from the parser chunk it was sliced from, and at what
// cost? The evidence for src/calls/strings.ts. Not part of `npm run bench` (it has no target):
//
//   node --expose-gc --import tsx bench/string-copy.ts
//
// For each technique, in a fresh child process (so heaps do not mix):
// - retained_kb_per_value: 2,000 AMI-like chunks of 64 KiB are split as asterisk-manager splits
//   them, one uniqueid value (14 chars) of each is copied and kept, the chunks are dropped, and the
//   heap growth after gc() is divided by 2,000. ~64 KiB means the copy still holds its chunk.
// - bytes_per_copy: the heap cost of one kept copy of a 14-23 char value (a flat one-byte string
//   of that length costs 32-40 bytes; a SlicedString over a private copy costs about twice that).
// - ns_per_copy: 2,000,000 copies of such values.
import { spawnSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { detach } from '../src/calls/strings.ts'

const TECHNIQUES: Record<string, (s: string) => string> = {
  'none (keep the slice)': (s) => s,
  's.repeat(1) (also s.concat(), [s].join(), template literal)': (s) => s.repeat(1),
  "(' ' + s).slice(1)": (s) => (' ' + s).slice(1),
  "[s.slice(0, 1), s.slice(1)].join('') (detach)": detach,
  'String.fromCharCode(...codes)': (s) => { const a: number[] = new Array(s.length); for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i); return String.fromCharCode(...a) },
  "Buffer.from(s, 'latin1').toString('latin1')": (s) => Buffer.from(s, 'latin1').toString('latin1'),
  'JSON.parse(JSON.stringify(s))': (s) => JSON.parse(JSON.stringify(s)) as string,
  'Object.keys({ [s]: 0 })[0] (internalize)': (s) => Object.keys({ [s]: 0 })[0] as string
}

function chunk (i: number): string {
  let t = ''
  for (let k = 0; t.length < 65_536; k++) t += `Event: Newstate\r\nUniqueid: 1790000000.${i}${k}\r\nChannel: PJSIP/0003*300-${(i * 1000 + k).toString(16).padStart(8, '0')}\r\n\r\n`
  return t
}

function one (name: string): Record<string, number | string> {
  const copy = TECHNIQUES[name] as (s: string) => string
  const gc = (globalThis as { gc?: () => void }).gc as () => void
  gc()
  let base = process.memoryUsage().heapUsed
  const kept: string[] = []
  for (let i = 0; i < 2000; i++) kept.push(copy((chunk(i).split(/\r?\n/)[1] as string).split(': ')[1] as string))
  gc(); gc()
  const retained = (process.memoryUsage().heapUsed - base) / 2000
  // Cost of a kept copy, the source values all alive in one shared chunk.
  const vals = chunk(1).repeat(4).split(/\r?\n/).filter((l) => l.length > 0).map((l) => l.split(': ')[1] as string).filter((v) => v.length >= 13)
  const copies: string[] = new Array(vals.length)
  gc(); gc()
  base = process.memoryUsage().heapUsed
  for (let i = 0; i < vals.length; i++) copies[i] = copy(vals[i] as string)
  gc(); gc()
  const bytes = (process.memoryUsage().heapUsed - base) / vals.length
  let sink = 0
  const t0 = process.hrtime.bigint()
  for (let r = 0; r < 2_000_000; r++) sink += copy(vals[r % vals.length] as string).length
  const ns = Number(process.hrtime.bigint() - t0) / 2_000_000
  if (sink === 0 || kept.length !== 2000 || copies.length !== vals.length) throw new Error('unreachable')
  return { technique: name, retained_kb_per_value: Math.round(retained / 102.4) / 10, bytes_per_copy: Math.round(bytes), ns_per_copy: Math.round(ns) }
}

const HERE = fileURLToPath(import.meta.url)
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const name = process.argv[2]
  if (name !== undefined) {
    process.stdout.write(JSON.stringify(one(name)) + '\n')
  } else {
    for (const t of Object.keys(TECHNIQUES)) {
      const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', HERE, t], { encoding: 'utf8' })
      process.stdout.write(r.status === 0 ? r.stdout : `${t}: failed ${r.stderr}\n`)
    }
  }
}
