// Call recordings on disk: the audio Asterisk's MixMonitor writes, and beside each one a small
// JSON file the engine writes (which call, which parties, which format, when). Both live in the
// one recordings directory every engine instance reads (config `recordings`), so any instance can
// serve any recording and apply the same visibility rule, whichever one started it.
//
// Names: `<phoneCallId>-<id>.wav` (or `.WAV`, Asterisk's extension for wav49) and
// `<phoneCallId>-<id>.json`, where id is 128 random bits: a name cannot be guessed, and files are
// only ever found by listing the directory and matching its own entries, never by turning a
// client's path segment into a file name.
import { randomBytes } from 'node:crypto'
import { access, constants, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { readWavInfo, type WavInfo } from './wav.ts'

export const RECORDING_FORMATS = ['wav', 'wav49'] as const
export type RecordingFormat = typeof RECORDING_FORMATS[number]

/** The file extension that selects the format in MixMonitor (format_wav, format_wav_gsm). */
const EXTENSION: Readonly<Record<RecordingFormat, string>> = { wav: 'wav', wav49: 'WAV' }

const ID = /^[0-9a-f]{32}$/
const META_NAME = /^([A-Za-z0-9]{1,128})-([0-9a-f]{32})\.json$/

/** What the engine keeps about a recording (the JSON beside the audio). */
export interface RecordingMeta {
  readonly v: 1
  readonly id: string
  readonly phoneCallId: string
  readonly format: RecordingFormat
  /** Base name of the audio file in the recordings directory. */
  readonly file: string
  /** The recorded leg (Asterisk uniqueid): while it is recorded, the recording is in progress. */
  readonly uniqueid: string
  readonly started: string
  /** Set by the instance that started it, when Asterisk stopped it. */
  readonly stopped?: string
  /**
   * Every extension that was a party of the call while it was recorded (extension -> organization):
   * who may get the recording once the call is over.
   */
  readonly parties: Readonly<Record<string, string>>
}

export interface NewRecording {
  readonly phoneCallId: string
  readonly format: RecordingFormat
  readonly uniqueid: string
  readonly parties: ReadonlyMap<string, string>
  readonly started: Date
}

export class RecordingStore {
  constructor (
    /** The directory as this engine sees it. */
    readonly dir: string,
    /** The same directory as Asterisk sees it. */
    readonly pbxDir: string,
    private readonly log: Logger
  ) {}

  /** Whether the engine can write metadata into the directory (and so list and serve from it). */
  async usable (): Promise<boolean> {
    try {
      await access(this.dir, constants.R_OK | constants.W_OK | constants.X_OK)
      return true
    } catch {
      return false
    }
  }

  /**
   * Writes the metadata of a new recording and returns it with the path MixMonitor must write to.
   * Written before Asterisk is asked, so a recording never exists that no rule covers.
   */
  async create (input: NewRecording): Promise<{ meta: RecordingMeta, pbxFile: string }> {
    const id = randomBytes(16).toString('hex')
    const base = `${input.phoneCallId}-${id}`
    const meta: RecordingMeta = {
      v: 1,
      id,
      phoneCallId: input.phoneCallId,
      format: input.format,
      file: `${base}.${EXTENSION[input.format]}`,
      uniqueid: input.uniqueid,
      started: input.started.toISOString(),
      parties: Object.fromEntries(input.parties)
    }
    // 'wx': never overwrite (an id collision would be a bug, not something to paper over).
    const fh = await open(join(this.dir, `${base}.json`), 'wx', 0o640)
    try {
      await fh.writeFile(JSON.stringify(meta))
    } finally {
      await fh.close()
    }
    return { meta, pbxFile: `${this.pbxDir.replace(/\/+$/, '')}/${meta.file}` }
  }

  /** Forgets a recording Asterisk refused to start. */
  async discard (meta: RecordingMeta): Promise<void> {
    await rm(join(this.dir, `${meta.phoneCallId}-${meta.id}.json`), { force: true })
  }

  /** Records the stop time and the parties the call had meanwhile (atomically: temp file + rename). */
  async finalize (meta: RecordingMeta, stopped: Date, parties: ReadonlyMap<string, string>): Promise<RecordingMeta> {
    const next: RecordingMeta = { ...meta, stopped: stopped.toISOString(), parties: { ...meta.parties, ...Object.fromEntries(parties) } }
    const name = `${meta.phoneCallId}-${meta.id}.json`
    const tmp = join(this.dir, `.${name}.${process.pid}.tmp`)
    await writeFile(tmp, JSON.stringify(next), { mode: 0o640 })
    await rename(tmp, join(this.dir, name))
    return next
  }

  /** The recordings of a call, oldest first. */
  async list (phoneCallId: string): Promise<RecordingMeta[]> {
    const out: RecordingMeta[] = []
    for (const name of await this.names()) {
      const m = META_NAME.exec(name)
      if (m === null || m[1] !== phoneCallId) continue
      const meta = await this.load(name, m[1], m[2] as string)
      if (meta !== undefined) out.push(meta)
    }
    return out.sort((a, b) => (a.started < b.started ? -1 : a.started > b.started ? 1 : 0))
  }

  /** One recording of a call, if it exists. */
  async get (phoneCallId: string, id: string): Promise<RecordingMeta | undefined> {
    if (!ID.test(id)) return undefined
    return (await this.list(phoneCallId)).find((meta) => meta.id === id)
  }

  /** Where the audio is on this host, and its header; undefined while Asterisk has not created it. */
  async audio (meta: RecordingMeta): Promise<{ path: string, size: number, modified: Date, wav: WavInfo | undefined } | undefined> {
    // meta.file was checked against the metadata's own name when loaded (load()).
    const path = join(this.dir, meta.file)
    try {
      const { size, mtime } = await stat(path)
      return { path, size, modified: mtime, wav: await readWavInfo(path) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  private async names (): Promise<string[]> {
    try {
      return await readdir(this.dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
  }

  private async load (name: string, phoneCallId: string, id: string): Promise<RecordingMeta | undefined> {
    try {
      const meta = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as RecordingMeta
      // The file it names must be this recording's own: metadata cannot point elsewhere.
      const expected = RECORDING_FORMATS.includes(meta.format) ? `${phoneCallId}-${id}.${EXTENSION[meta.format]}` : undefined
      if (meta.v !== 1 || meta.id !== id || meta.phoneCallId !== phoneCallId || meta.file !== expected) throw new Error('inconsistent metadata')
      return meta
    } catch (err) {
      this.log.warn({ err, file: name }, 'unreadable recording metadata; skipped')
      return undefined
    }
  }
}
