import { createHmac } from 'node:crypto'

/**
 * PhoneCall ids are derived, never stored: an HMAC of the call's root linkedid under a shared
 * secret. Every engine instance connected to the same Asterisk (with the same secret) computes the
 * same id, ids survive engine restarts, and one id says nothing about another.
 */
export function callIdDeriver (secret: string): (key: string) => string {
  return (key) => createHmac('sha256', secret).update(key).digest('hex').slice(0, 20)
}

/** A nonce for calls created without one: derived the same way, under another label. */
export function derivedNonce (secret: string, key: string): string {
  return createHmac('sha256', secret).update('nonce\0' + key).digest('hex').slice(0, 32)
}
