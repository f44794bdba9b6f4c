// Webhook signatures: X-UAPI-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<payload>">
// under the subscription's secret, where payload is the form body (POST) or the query string
// without "?" (GET), byte for byte as sent. README "PhoneCallEvents" shows a receiver's check.
import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'x-uapi-signature'
export const EVENT_ID_HEADER = 'x-uapi-event-id'

/** The header value for `payload` signed at `t` (unix seconds). */
export function sign (secret: string, t: number, payload: string): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex')}`
}

/**
 * A receiver's check: the header parses, its time is within `toleranceSeconds` of `now` (replays of
 * old requests are refused), and one v1 signature matches in constant time.
 */
export function verify (header: string | undefined, payload: string, secret: string, options: { toleranceSeconds?: number, now?: number } = {}): boolean {
  if (header === undefined) return false
  let t: number | undefined
  const signatures: string[] = []
  for (const part of header.split(',')) {
    const eq = part.indexOf('=')
    const k = part.slice(0, eq).trim()
    const v = part.slice(eq + 1).trim()
    if (k === 't' && /^[0-9]{1,12}$/.test(v)) t = Number(v)
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) signatures.push(v)
  }
  if (t === undefined || signatures.length === 0) return false
  const now = options.now ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - t) > (options.toleranceSeconds ?? 300)) return false
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex'))
  return signatures.some((s) => timingSafeEqual(Buffer.from(s), expected))
}
