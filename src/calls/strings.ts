// Strings the mirror keeps must not point into the AMI parser's buffers.
//
// asterisk-manager splits each socket chunk (a string of up to 64 KiB) into lines and each line at
// ': '. V8 makes a substring of 13 or more characters a SlicedString: a pointer into its parent plus
// an offset, so one uniqueid (14+ chars) or channel name kept in a leg keeps its whole chunk alive.
// Through the real input path that tripled the memory of 10,000 calls (bench/memory.ts). Shorter
// substrings are already flat copies (V8 copies below SlicedString::kMinLength = 13).
//
// How to copy (bench/string-copy.ts, Node 20, 14-23 char values):
// - s.repeat(1), s.concat(), [s].join(''), `${s}` return s itself: no copy at all;
// - (' ' + s).slice(1) detaches in ~45 ns but is itself a SlicedString over a private copy: ~68 bytes
//   a value instead of ~36;
// - [s.slice(0, 1), s.slice(1)].join('') detaches in ~65 ns and yields a flat string (~36 bytes):
//   Array.prototype.join with two non-empty parts writes one new sequential string (s.slice(0, 1)
//   comes from V8's single-character cache, s.slice(1) is a temporary). Used below;
// - String.fromCharCode(...), Buffer/JSON round trips and internalizing as an object key are flat
//   too but take 100-300 ns.
// Repeated values (contexts, extens, caller ids, endpoint resources) are interned instead: one
// bounded Map lookup, and every leg shares one copy.

/** A flat copy of `s` that shares no memory with the string it was cut from. */
export function detach (s: string): string {
  return s.length < 13 ? s : [s.slice(0, 1), s.slice(1)].join('')
}

/**
 * Interns values that repeat across legs and calls. Bounded: when full it starts over (values that
 * are in use stay valid: the legs hold them; only the sharing of new copies restarts).
 */
export class Interner {
  private readonly map = new Map<string, string>()
  constructor (private readonly max = 8192) {}

  intern (s: string): string {
    if (s.length === 0) return ''
    let v = this.map.get(s)
    if (v === undefined) {
      v = detach(s)
      if (this.map.size >= this.max) this.map.clear()
      this.map.set(v, v)
    }
    return v
  }

  get size (): number { return this.map.size }
}
