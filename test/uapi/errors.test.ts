// The UAPI error catalogue: every code is well-formed, has a sensible status, and is documented.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { UAPI_ERRORS, UapiError } from '../../src/uapi/errors.ts'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const table = readme.slice(readme.indexOf('<!-- error-codes'), readme.indexOf('## How it works'))

t.test('every code is lower-case snake case with a 4xx/5xx status and a message', async (t) => {
  for (const [code, [status, message]] of Object.entries(UAPI_ERRORS)) {
    t.match(code, /^[a-z][a-z_]*[a-z]$/, code)
    t.ok(status >= 400 && status < 600, `${code}: ${status}`)
    t.ok(message.length > 10 && message.endsWith('.'), `${code} has a sentence for a message`)
    const err = new UapiError(code as keyof typeof UAPI_ERRORS)
    t.equal(err.code, code)
    t.equal(err.statusCode, status)
  }
})

t.test('every code is documented in the README error table with its status', async (t) => {
  for (const [code, [status]] of Object.entries(UAPI_ERRORS)) {
    const row = table.split('\n').find((line) => line.includes('`' + code + '`'))
    t.ok(row, `${code} is in the README`)
    t.ok(row?.startsWith(`| ${status} |`), `${code} is documented with HTTP ${status}`)
  }
})

t.test('no code is documented that the catalogue does not have', async (t) => {
  const documented = [...table.matchAll(/`([a-z][a-z_]+)`/g)].map((m) => m[1] as string).filter((c) => c.includes('_'))
  for (const code of documented) t.ok(code in UAPI_ERRORS, `${code} exists`)
})
