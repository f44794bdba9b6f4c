import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { Directory } from '../../src/directory/index.ts'

const directory = new Directory(loadConfig({}).directory)

t.test('users, organizations and apps are found by id', async (t) => {
  t.equal(directory.user(12)?.name, 'Front Desk')
  t.equal(directory.user(12)?.role, 'user')
  t.equal(directory.user(1)?.role, 'admin')
  t.equal(directory.user(99), undefined)
  t.equal(directory.organization(3)?.name, 'Default Organization')
  t.equal(directory.organization(4)?.extensionPrefix, '0004')
  t.equal(directory.organizationByPrefix('0003')?.id, 3)
  t.equal(directory.app('demo-40')?.userId, 40)
  t.equal(directory.app('demo-99'), undefined)
  t.equal(directory.allApps().length, 8)
})

t.test('an extension is found by its full number', async (t) => {
  const ext = directory.extension('0003*210')
  t.match(ext, {
    number: '0003*210',
    type: 'phone-terminal',
    ownerId: 12,
    organizationId: 3,
    shortNumber: '210',
    endpoint: 'PJSIP/0003*210',
    callerId: 'Reception 210 <0003*210>',
    context: 'org-0003',
    voicemail: true
  })
  t.equal(directory.extension('0003*999'), undefined)
})

t.test('a short number is found only within a given organization', async (t) => {
  t.equal(directory.extension('210', { orgId: 3 })?.number, '0003*210')
  t.equal(directory.extension('024', { orgId: 3 })?.number, '0003*024')
  t.equal(directory.extension('210'), undefined, 'no organization, no short form')
  t.equal(directory.extension('210', { orgId: 4 }), undefined)
  t.equal(directory.extension('100', { orgId: 4 })?.number, '0004*100')
  t.equal(directory.extension('24', { orgId: 3 }), undefined, 'leading zeros of a short number matter')
  t.equal(directory.extension('0003%2A210'), undefined, 'percent-decoding is the router\'s job')
})

t.test('extensions are listed by user and by organization', async (t) => {
  t.same(directory.extensionsOfUser(12).map((e) => e.number), ['0003*210', '0003*211', '0003*212'])
  t.same(directory.extensionsOfUser(3), [])
  t.same(directory.extensionsOfOrganization(3).map((e) => e.number), ['0003*210', '0003*024', '0003*300', '0003*301', '0003*211', '0003*212'])
  t.same(directory.extensionsOfOrganization(4).map((e) => e.number), ['0004*100'])
  t.same(directory.extensionsOfOrganization(9), [])
  t.equal(directory.allExtensions().length, 7)
})

t.test('a channel, an endpoint or a bare endpoint name maps to its extension', async (t) => {
  t.equal(directory.extensionByEndpoint('PJSIP/0003*210-0000000b')?.number, '0003*210')
  t.equal(directory.extensionByEndpoint('PJSIP/0003*210')?.number, '0003*210')
  t.equal(directory.extensionByEndpoint('pjsip/0004*100-000000ff')?.number, '0004*100')
  t.equal(directory.extensionByEndpoint('0003*024')?.number, '0003*024')
  t.equal(directory.extensionByEndpoint('Local/0003*210@org-0003-00000001;1'), undefined)
  t.equal(directory.extensionByEndpoint('SIP/0003*210-0000000b'), undefined, 'the technology must match')
  t.equal(directory.extensionByEndpoint('PJSIP/0003*999-0000000b'), undefined)
})

t.test('directory records are frozen', async (t) => {
  t.ok(Object.isFrozen(directory.extension('0003*210')))
  t.ok(Object.isFrozen(directory.extensionsOfUser(12)))
})
