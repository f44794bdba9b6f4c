import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { hashSecret, verifySecret } from '../../src/auth/index.ts'
import { loadConfig } from '../../src/config.ts'

const cheap = { N: 1024, r: 8, p: 1 }

t.test('a hashed secret verifies and a different one does not', async (t) => {
  const hash = await hashSecret('s3cret', cheap)
  t.match(hash, /^scrypt\$1024\$8\$1\$[\w-]+\$[\w-]+$/)
  t.equal(await verifySecret('s3cret', hash), true)
  t.equal(await verifySecret('s3cret ', hash), false)
  t.equal(await verifySecret('', hash), false)
})

t.test('the same secret hashes differently every time (per-hash salt)', async (t) => {
  t.not(await hashSecret('same', cheap), await hashSecret('same', cheap))
})

t.test('malformed or abusive hashes never verify', async (t) => {
  const good = await hashSecret('x', cheap)
  const [, , r, p, salt, key] = good.split('$')
  for (const bad of [
    '',
    'plain',
    `bcrypt$1024$${r}$${p}$${salt}$${key}`,
    `scrypt$1000$${r}$${p}$${salt}$${key}`, // N not a power of two
    `scrypt$${2 ** 24}$${r}$${p}$${salt}$${key}`, // N too large: would exhaust memory
    `scrypt$1024$${r}$${p}$$${key}`,
    `scrypt$1024$${r}$${p}$${salt}$`
  ]) {
    t.equal(await verifySecret('x', bad), false, bad.slice(0, 20))
  }
})

t.test('every demo app hash matches demo-secret-<userId>', async (t) => {
  for (const app of loadConfig({}).directory.apps) {
    t.equal(await verifySecret(`demo-secret-${app.userId}`, app.secretHash), true, app.clientId)
  }
})

t.test('scripts/hash-secret.ts prints a hash of its argument', async (t) => {
  const script = fileURLToPath(new URL('../../scripts/hash-secret.ts', import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, 'from-the-script'])
  const hash = stdout.trim()
  t.equal(await verifySecret('from-the-script', hash), true)
})
