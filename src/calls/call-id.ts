import { createHmac } from 'node:crypto'

/**
 * PhoneCall ids are derived, never stored: an HMAC of the call's root linkedid under a shared
 * secret. Every engine instance connected to the same Asterisk (with the same secret) computes the
 * same id, ids survive engine restarts, and one id says nothing about another.
 */
export function callIdDeriver (secret: string): (key: string) => string {
  // The first 10 bytes as hex: the same 20 characters as digest('hex').slice(0, 20), but one flat
  // string (a slice would keep the whole 64-char digest alive in every call and index key).
  return (key) => createHmac('sha256', secret).update(key).digest().toString('hex', 0, 10)
}

/** A nonce for calls created without one: derived the same way, under another label. */
export function derivedNonce (secret: string, key: string): string {
  return createHmac('sha256', secret).update('nonce\0' + key).digest().toString('hex', 0, 16)
}
