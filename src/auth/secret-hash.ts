// App secrets are stored only as scrypt hashes: "scrypt$N$r$p$<salt>$<hash>", base64url parts.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

export interface ScryptCost {
  readonly N: number
  readonly r: number
  readonly p: number
}

// N=2^14, r=8: ~16 MiB and a few tens of ms per check, the classic interactive-login cost.
// It bounds the token endpoint at roughly one verification per core per few tens of ms; raise N for
// stronger hashes if token requests are rare.
export const DEFAULT_SCRYPT_COST: ScryptCost = { N: 16384, r: 8, p: 1 }

const KEY_LENGTH = 32
const SALT_LENGTH = 16
// Refuse absurd parameters from a config file instead of letting them exhaust memory or CPU.
const MAX_N = 1 << 20

function derive (secret: string, salt: Buffer, cost: ScryptCost, keyLength: number): Promise<Buffer> {
  // scrypt needs 128*N*r bytes; give it headroom above that so valid costs never fail on maxmem.
  const options: ScryptOptions = { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r }
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keyLength, options, (err, key) => { if (err === null) resolve(key); else reject(err) })
  })
}

/** Hashes a secret with a fresh random salt. */
export async function hashSecret (secret: string, cost: ScryptCost = DEFAULT_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(SALT_LENGTH)
  const key = await derive(secret, salt, cost, KEY_LENGTH)
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

interface ParsedHash { cost: ScryptCost, salt: Buffer, key: Buffer }

export function parseSecretHash (encoded: string): ParsedHash | undefined {
  const parts = encoded.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  const salt = Buffer.from(parts[4] ?? '', 'base64url')
  const key = Buffer.from(parts[5] ?? '', 'base64url')
  const validN = Number.isInteger(N) && N > 1 && N <= MAX_N && (N & (N - 1)) === 0
  if (!validN || !Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) return undefined
  if (salt.length < 8 || key.length < 16) return undefined
  return { cost: { N, r, p }, salt, key }
}

/** True when `secret` matches `encoded`. Malformed hashes never match. Constant-time compare. */
export async function verifySecret (secret: string, encoded: string): Promise<boolean> {
  const parsed = parseSecretHash(encoded)
  if (parsed === undefined) return false
  const key = await derive(secret, parsed.salt, parsed.cost, parsed.key.length)
  return timingSafeEqual(key, parsed.key)
}
