// Reads what a client needs to know about a WAV file from its header: format and length. Asterisk
// writes `wav` as 16-bit PCM and `wav49` as GSM 6.10 in a RIFF WAVE (format tag 0x31), and fixes the
// sizes in the header when it closes the file; the length is the data size over the byte rate.
import { open } from 'node:fs/promises'

export interface WavInfo {
  /** RIFF format tag: 1 PCM, 0x31 GSM 6.10 (wav49). */
  readonly formatTag: number
  readonly sampleRate: number
  readonly channels: number
  /** Audio bytes per second (fmt chunk). */
  readonly byteRate: number
  /** Bytes of audio in the data chunk. */
  readonly dataBytes: number
  /** Seconds of audio. */
  readonly duration: number
}

// Enough for the RIFF header, fmt (with the GSM extension) and a fact chunk before data.
const HEAD_BYTES = 4096

/** The header of the WAV file at `path`, or undefined when it is not a WAV file Asterisk wrote. */
export async function readWavInfo (path: string): Promise<WavInfo | undefined> {
  const fh = await open(path, 'r')
  try {
    const { size } = await fh.stat()
    const buf = Buffer.alloc(Math.min(HEAD_BYTES, size))
    await fh.read(buf, 0, buf.length, 0)
    return parseWavHeader(buf, size)
  } finally {
    await fh.close()
  }
}

/** Parses a RIFF WAVE header from the first bytes of a file of `fileSize` bytes. */
export function parseWavHeader (buf: Buffer, fileSize: number): WavInfo | undefined {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') return undefined
  let at = 12
  let fmt: { formatTag: number, channels: number, sampleRate: number, byteRate: number } | undefined
  while (at + 8 <= buf.length) {
    const id = buf.toString('latin1', at, at + 4)
    const size = buf.readUInt32LE(at + 4)
    const body = at + 8
    if (id === 'fmt ' && body + 16 <= buf.length) {
      fmt = { formatTag: buf.readUInt16LE(body), channels: buf.readUInt16LE(body + 2), sampleRate: buf.readUInt32LE(body + 4), byteRate: buf.readUInt32LE(body + 8) }
    } else if (id === 'data') {
      if (fmt === undefined || fmt.byteRate === 0) return undefined
      // A file still being written (or cut short) has fewer bytes than its header says.
      const dataBytes = Math.min(size, Math.max(0, fileSize - body))
      return { ...fmt, dataBytes, duration: dataBytes / fmt.byteRate }
    }
    at = body + size + (size % 2) // chunks are padded to an even size
  }
  return undefined
}
