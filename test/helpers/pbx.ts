/**
 * Test helpers for the bundled PBX (scripts/pbx.sh, Asterisk on 127.0.0.1).
 *
 *   await ensurePbx()                      // fails fast with "run npm run pbx:up" if AMI is down
 *   const out = await pbxCli('pjsip show contacts')
 *   await hangupAllChannels()              // test cleanup
 *   const r = await amiAction({ Action: 'CoreShowChannels' })  // one-shot AMI action (own login)
 *
 * amiAction opens its own short AMI session per call (login, action, logoff). It is for test
 * set-up and clean-up only; the engine under test has its own AMI layer.
 */
import { execFile } from 'node:child_process'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const AMI = { host: '127.0.0.1', port: 5038, username: 'uapi', secret: 'uapi-dev-secret' } as const

const REPO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const PBX_SH = join(REPO_DIR, 'scripts', 'pbx.sh')

/** Runs an Asterisk CLI command through `bash scripts/pbx.sh cli` and returns its output. */
export function pbxCli (command: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [PBX_SH, 'cli', command], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`pbx.sh cli "${command}" failed: ${err.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

/** One AMI message: header name -> value (repeated headers joined with "\n"). */
export type AmiMessage = Record<string, string>

export interface AmiResult {
  /** The action's response (Response: Success/Error ...). */
  response: AmiMessage;
  /** List items of list actions (CoreShowChannels...), without the final *Complete event. */
  items: AmiMessage[];
}

function parseAmi (raw: string): AmiMessage {
  const msg: AmiMessage = {}
  for (const line of raw.split('\r\n')) {
    const i = line.indexOf(':')
    if (i <= 0) continue
    const key = line.slice(0, i)
    const value = line.slice(i + 1).trim()
    msg[key] = msg[key] === undefined ? value : `${msg[key]}\n${value}`
  }
  return msg
}

/**
 * Sends one AMI action on a fresh session and resolves with its response and list items.
 * Rejects when login fails, the response is "Error" (unless allowError) or on timeout.
 */
export function amiAction (
  fields: Record<string, string>,
  { timeoutMs = 5_000, allowError = false }: { timeoutMs?: number; allowError?: boolean } = {}
): Promise<AmiResult> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(AMI.port, AMI.host)
    const actionId = `test-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`
    let buf = ''
    let loggedIn = false
    let response: AmiMessage | undefined
    const items: AmiMessage[] = []
    const finish = (err?: Error, result?: AmiResult): void => {
      clearTimeout(timer)
      sock.destroy()
      if (err) reject(err)
      else resolve(result!)
    }
    const timer = setTimeout(
      () => finish(new Error(`AMI ${fields.Action ?? '?'}: no complete answer within ${timeoutMs} ms`)),
      timeoutMs
    )
    const write = (f: Record<string, string>): void => {
      sock.write(Object.entries(f).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n')
    }
    sock.on('error', (e) => finish(new Error(`AMI ${AMI.host}:${AMI.port} unreachable (${e.message}); run npm run pbx:up`)))
    sock.on('connect', () => write({ Action: 'Login', Username: AMI.username, Secret: AMI.secret, Events: 'off', ActionID: `${actionId}-login` }))
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8')
      let end: number
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const msg = parseAmi(buf.slice(0, end))
        buf = buf.slice(end + 4)
        if (!loggedIn) {
          if (msg.ActionID !== `${actionId}-login`) continue
          if (msg.Response !== 'Success') return finish(new Error(`AMI login failed: ${msg.Message ?? JSON.stringify(msg)}`))
          loggedIn = true
          write({ ...fields, ActionID: actionId })
          continue
        }
        if (msg.ActionID !== actionId) continue
        if (msg.Response !== undefined) {
          response = msg
          if (msg.Response === 'Error' && !allowError) {
            return finish(new Error(`AMI ${fields.Action ?? '?'} failed: ${msg.Message ?? ''}`))
          }
          // List actions announce "EventList: start" and end with an "EventList: Complete" event.
          if (msg.EventList !== 'start') return finish(undefined, { response, items })
        } else if (msg.EventList === 'Complete') {
          return finish(undefined, { response: response!, items })
        } else if (msg.Event !== undefined) {
          items.push(msg)
        }
      }
    })
  })
}

/** Checks that AMI on 127.0.0.1:5038 accepts uapi's login; throws a clear message if not. */
export async function ensurePbx (): Promise<void> {
  try {
    await amiAction({ Action: 'Ping' }, { timeoutMs: 3_000 })
  } catch (err) {
    throw new Error(`The test PBX is not reachable (${(err as Error).message}). Run npm run pbx:up first.`)
  }
}

/** Active channels as CoreShowChannel items (Channel, Uniqueid, ChannelStateDesc, ...). */
export async function listChannels (): Promise<AmiMessage[]> {
  return (await amiAction({ Action: 'CoreShowChannels' })).items
}

/** Hangs up the named channels; channels already gone are ignored. */
export async function hangupChannels (names: Iterable<string>): Promise<void> {
  await Promise.all([...names].map((Channel) => amiAction({ Action: 'Hangup', Channel }, { allowError: true })))
}

/** Hangs up every channel on the PBX (test clean-up); resolves once none is left (or after 5 s). */
export async function hangupAllChannels (): Promise<void> {
  const deadline = Date.now() + 5_000
  for (;;) {
    const channels = await listChannels()
    if (channels.length === 0 || Date.now() > deadline) return
    await hangupChannels(channels.map((c) => c.Channel!).filter(Boolean))
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The SIP Call-ID of a PJSIP channel, or undefined when the channel is gone. */
export async function sipCallIdOf (channel: string): Promise<string | undefined> {
  const r = await amiAction({ Action: 'Getvar', Channel: channel, Variable: 'CHANNEL(pjsip,call-id)' }, { allowError: true })
  return r.response.Response === 'Success' ? r.response.Value || undefined : undefined
}

/** Runs `bash scripts/pbx.sh up|down` (outage tests stop and restart the shared test PBX). */
export function pbxScript (command: 'up' | 'down', timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [PBX_SH, command], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`pbx.sh ${command} failed: ${err.message}\n${stdout}${stderr}`))
      else resolve(stdout)
    })
  })
}
