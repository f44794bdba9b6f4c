import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { canActOn, Directory, resolveScope, resolveTargetExtension, type Principal } from '../../src/directory/index.ts'

const directory = new Directory(loadConfig({}).directory)

function as (userId: number): Principal {
  const user = directory.user(userId)
  if (user === undefined) throw new Error(`no user ${userId}`)
  return { user, clientId: `demo-${userId}` }
}

const ALL_ORG3 = ['0003*210', '0003*024', '0003*300', '0003*301', '0003*211', '0003*212']
// User 12 owns phone 210, the Conference extension 211 and the Callback extension 212.
const USER12 = ['0003*210', '0003*211', '0003*212']

// [caller, userId segment, extension segment, expected: user id + extension numbers, or error code]
type Expected = { user: number, extensions: string[] } | 'user_invalid' | 'extension_invalid' | 'access_denied'
const cases: Array<[number, string, string, Expected]> = [
  // a plain user
  [12, '@me', '@self', { user: 12, extensions: USER12 }],
  [12, '@viewer', '@self', { user: 12, extensions: USER12 }],
  [12, '@me', '0003*210', { user: 12, extensions: ['0003*210'] }],
  [12, '@me', '210', { user: 12, extensions: ['0003*210'] }],
  [12, '@me', '0003*024', 'access_denied'],
  [12, '@me', '024', 'access_denied'],
  [12, '@me', '0003*999', 'extension_invalid'],
  [12, '@me', '999', 'extension_invalid'],
  [12, '@me', 'abc', 'extension_invalid'],
  [12, '@me', '0004*100', 'access_denied'],
  [12, '@me', '0004*999', 'access_denied'],
  [12, '12', '@self', { user: 12, extensions: USER12 }],
  [12, '0012', '0003*210', { user: 12, extensions: ['0003*210'] }],
  [12, '13', '@self', 'access_denied'],
  [12, '40', '@self', 'access_denied'],
  [12, '999', '@self', 'user_invalid'],
  [12, 'abc', '@self', 'user_invalid'],
  [12, '@someone', '@self', 'user_invalid'],
  [12, '@owner', '0003*210', { user: 12, extensions: ['0003*210'] }],
  [12, '@owner', '@self', { user: 12, extensions: USER12 }],
  [12, '@owner', '0003*024', 'access_denied'],
  [12, '@owner', '0003*999', 'extension_invalid'],
  // a user of another organization: org 3's numbers are neither visible nor addressable
  [40, '@me', '0003*210', 'access_denied'],
  [40, '@me', '0003*999', 'access_denied'],
  [40, '@owner', '0003*210', 'access_denied'],
  [40, '12', '0003*210', 'access_denied'],
  [40, '3', '@self', 'access_denied'],
  [40, '@me', '210', 'extension_invalid'],
  [40, '@me', '@self', { user: 40, extensions: ['0004*100'] }],
  // an organization account
  [3, '@me', '@self', { user: 3, extensions: ALL_ORG3 }],
  [3, '@me', '0003*024', { user: 3, extensions: ['0003*024'] }],
  [3, '@me', '024', { user: 3, extensions: ['0003*024'] }],
  [3, '@me', '0003*999', 'extension_invalid'],
  [3, '@me', '0004*100', 'access_denied'],
  [3, '12', '@self', { user: 12, extensions: USER12 }],
  [3, '12', '0003*210', { user: 12, extensions: ['0003*210'] }],
  [3, '12', '0003*024', 'access_denied'],
  [3, '@owner', '0003*024', { user: 13, extensions: ['0003*024'] }],
  [3, '@owner', '301', { user: 15, extensions: ['0003*301'] }],
  [3, '@owner', '@self', { user: 3, extensions: ALL_ORG3 }],
  [3, '40', '@self', 'access_denied'],
  [3, '4', '@self', 'access_denied'],
  [3, '1', '@self', 'access_denied'],
  [3, '999', '@self', 'user_invalid'],
  // the admin
  [1, '@me', '@self', { user: 1, extensions: [...ALL_ORG3, '0004*100'] }],
  [1, '@me', '0004*100', { user: 1, extensions: ['0004*100'] }],
  [1, '@me', '0003*999', 'extension_invalid'],
  [1, '@me', '210', 'extension_invalid'],
  [1, '12', '210', { user: 12, extensions: ['0003*210'] }],
  [1, '0040', '@self', { user: 40, extensions: ['0004*100'] }],
  [1, '40', '0003*210', 'access_denied'],
  [1, '3', '@self', { user: 3, extensions: ALL_ORG3 }],
  [1, '@owner', '0004*100', { user: 40, extensions: ['0004*100'] }],
  [1, '999', '@self', 'user_invalid']
]

t.test('resolveScope follows the authority rules for every kind of path', async (t) => {
  for (const [caller, userSegment, extensionSegment, expected] of cases) {
    const result = resolveScope(directory, as(caller), userSegment, extensionSegment)
    const title = `user ${caller} on /${userSegment}/${extensionSegment}`
    if (typeof expected === 'string') {
      t.match(result, { ok: false, code: expected, statusCode: expected === 'access_denied' ? 401 : 400 }, title)
    } else {
      t.same(result.ok ? { user: result.user.id, extensions: result.extensions.map((e) => e.number) } : result, expected, title)
    }
  }
})

t.test('resolveScope tells @self apart from a named extension', async (t) => {
  const all = resolveScope(directory, as(12), '@me', '@self')
  const one = resolveScope(directory, as(12), '@me', '0003*210')
  t.equal(all.ok && all.allExtensions, true)
  t.equal(one.ok && one.allExtensions, false)
})

t.test('a failure reason is for logs and the code is all the client gets', async (t) => {
  const result = resolveScope(directory, as(40), '@me', '0003*210')
  t.match(result, { ok: false, code: 'access_denied', reason: String })
})

t.test('canActOn grants own extensions to a user, the organization to its account, everything to the admin', async (t) => {
  const ext = (n: string) => directory.extension(n)!
  t.ok(canActOn(as(12), ext('0003*210')))
  t.notOk(canActOn(as(12), ext('0003*024')))
  t.ok(canActOn(as(3), ext('0003*024')))
  t.notOk(canActOn(as(3), ext('0004*100')))
  t.ok(canActOn(as(4), ext('0004*100')))
  t.ok(canActOn(as(1), ext('0004*100')))
  t.notOk(canActOn(as(40), ext('0003*210')))
  t.ok(canActOn(directory.user(40)!, ext('0004*100')), 'a bare user works as well as a principal')
})

t.test('resolveTargetExtension accepts full or short numbers of the same organization only', async (t) => {
  t.equal(resolveTargetExtension(directory, as(12), '300')?.number, '0003*300')
  t.equal(resolveTargetExtension(directory, as(12), '0003*024')?.number, '0003*024')
  t.equal(resolveTargetExtension(directory, as(12), '0004*100'), undefined)
  t.equal(resolveTargetExtension(directory, as(12), '999'), undefined)
  t.equal(resolveTargetExtension(directory, as(40), '210'), undefined)
  t.equal(resolveTargetExtension(directory, as(1), '0004*100')?.number, '0004*100')
  t.equal(resolveTargetExtension(directory, as(1), '100'), undefined)
  t.equal(resolveTargetExtension(directory, as(1), '100', 4)?.number, '0004*100')
  t.equal(resolveTargetExtension(directory, as(1), '0003*210', 4), undefined)
})
