// Prints an scrypt hash for an app secret, to paste into config `directory.apps[].secretHash`.
// Usage: npx tsx scripts/hash-secret.ts <secret>    (or pipe the secret on stdin to keep it out of shell history)
import { text } from 'node:stream/consumers'
import { hashSecret } from '../src/auth/index.ts'

const fromArgs = process.argv[2]
const secret = fromArgs ?? (await text(process.stdin)).replace(/\r?\n$/, '')
if (secret === '') {
  process.stderr.write('usage: npx tsx scripts/hash-secret.ts <secret>\n')
  process.exit(2)
}
process.stdout.write(`${await hashSecret(secret)}\n`)
