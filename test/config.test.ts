import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig, parseConfig, readTlsFiles } from '../src/config.ts'
import { hasOpenssl, selfSigned } from './helpers/tls.ts'

const defaultFile = new URL('../config/default.json', import.meta.url)
const demo = (): Record<string, any> => JSON.parse(readFileSync(defaultFile, 'utf8'))

const dir = mkdtempSync(join(tmpdir(), 'uapi-config-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
function writeConfig (value: unknown): string {
  const file = join(dir, `config-${n++}.json`)
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value))
  return file
}

function issuesOf (fn: () => unknown): readonly string[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err.issues
    throw err
  }
  throw new Error('expected a ConfigError')
}

t.test('the bundled config loads with its documented defaults', async (t) => {
  const config = loadConfig({})
  t.same(config.http, { host: '127.0.0.1', port: 8080, bodyLimit: 65536 })
  t.same({ host: config.ami.host, port: config.ami.port, username: config.ami.username }, { host: '127.0.0.1', port: 5038, username: 'uapi' })
  t.equal(config.security.tokenTtlSeconds, 3600)
  t.equal(config.log.level, 'info')
  t.equal(config.directory.organizations.length, 2)
  t.equal(config.directory.users.length, 8)
  t.equal(config.directory.extensions.length, 7)
  t.same(config.directory.apps.map((a) => a.clientId), ['demo-1', 'demo-3', 'demo-4', 'demo-12', 'demo-13', 'demo-14', 'demo-15', 'demo-40'])
  t.notOk(JSON.stringify(config.directory.apps).includes('demo-secret-'), 'no clear-text app secret is stored')
})

t.test('the loaded config is deep-frozen', async (t) => {
  const config = loadConfig({})
  t.ok(Object.isFrozen(config))
  t.ok(Object.isFrozen(config.http))
  t.ok(Object.isFrozen(config.directory.extensions[0]))
  t.throws(() => { (config.http as { port: number }).port = 1 })
})

t.test('env variables override the file', async (t) => {
  const config = loadConfig({
    HOST: '0.0.0.0',
    PORT: '9090',
    PUBLIC_URL: 'https://pbx.example.com/',
    AMI_HOST: 'pbx',
    AMI_PORT: '15038',
    AMI_USERNAME: 'engine',
    AMI_SECRET: 's3cret',
    AMI_LOGIN: 'challenge',
    LOG_LEVEL: 'debug',
    TOKEN_SECRET: 'a-token-secret-of-enough-length',
    CALL_ID_SECRET: 'a-call-id-secret-of-enough-length'
  })
  t.same(config.http, { host: '0.0.0.0', port: 9090, publicUrl: 'https://pbx.example.com', bodyLimit: 65536 })
  t.same(config.ami, { host: 'pbx', port: 15038, username: 'engine', secret: 's3cret', login: 'challenge' })
  t.equal(config.log.level, 'debug')
  t.equal(config.security.tokenSecret, 'a-token-secret-of-enough-length')
  t.equal(config.security.callIdSecret, 'a-call-id-secret-of-enough-length')
})

t.test('UAPI_CONFIG names the file to load', async (t) => {
  const cfg = demo()
  cfg.http.port = 7000
  t.equal(loadConfig({ UAPI_CONFIG: writeConfig(cfg) }).http.port, 7000)
})

t.test('sections with defaults may be omitted', async (t) => {
  const cfg = demo()
  delete cfg.http
  delete cfg.log
  delete cfg.security.tokenTtlSeconds
  const config = loadConfig({ UAPI_CONFIG: writeConfig(cfg) })
  t.same(config.http, { host: '127.0.0.1', port: 8080, bodyLimit: 65536 })
  t.equal(config.log.level, 'info')
  t.equal(config.security.tokenTtlSeconds, 3600)
})

t.test('an unreadable or non-JSON file is a ConfigError naming the file', async (t) => {
  const missing = join(dir, 'nope.json')
  t.throws(() => loadConfig({ UAPI_CONFIG: missing }), { name: 'ConfigError', code: 'UAPI_ERR_CONFIG', source: missing })
  t.throws(() => loadConfig({ UAPI_CONFIG: writeConfig('{ not json') }), ConfigError)
})

t.test('schema errors list every bad path', async (t) => {
  const cfg = demo()
  cfg.ami.port = 'five'
  cfg.http.colour = 'blue'
  cfg.directory.extensions[0].type = 'fax'
  delete cfg.security.tokenSecret
  const issues = issuesOf(() => loadConfig({ UAPI_CONFIG: writeConfig(cfg), PORT: 'eighty' }))
  t.ok(issues.some((i) => i.startsWith('/http/port:')), 'bad PORT env is reported at its config path')
  t.ok(issues.some((i) => i.startsWith('/ami/port:')))
  t.ok(issues.some((i) => i === '/http: unknown properties "colour"'))
  t.ok(issues.some((i) => i.startsWith('/directory/extensions/0/type:')))
  t.ok(issues.some((i) => i.startsWith('/security:') && i.includes('tokenSecret')))
})

t.test('the message of a ConfigError lists the issues one per line', async (t) => {
  const err = t.throws(() => parseConfig({}, { source: 'x.json' })) as ConfigError
  t.match(err.message, /^Invalid configuration \(x\.json\):\n {2}- /)
  t.equal(err.message.split('\n').length, err.issues.length + 1)
})

t.test('cross-references in the directory are checked', async (t) => {
  const cfg = demo()
  cfg.directory.users.push({ id: 12, name: 'Twin', role: 'user', organizationId: 3 })
  cfg.directory.users.push({ id: 50, name: 'Lost', role: 'user', organizationId: 9 })
  cfg.directory.users.push({ id: 51, name: 'Loose', role: 'user' })
  cfg.directory.users.push({ id: 52, name: 'Root', role: 'admin', organizationId: 3 })
  cfg.directory.extensions.push({ number: '0004*999', type: 'queue', ownerId: 13, callerId: 'Q <0004*999>', context: 'org-0004' })
  cfg.directory.extensions.push({ number: '0003*998', type: 'phone-terminal', ownerId: 99, callerId: 'X <0003*998>', context: 'org-0003' })
  cfg.directory.extensions.push({ number: '0003*997', type: 'phone-terminal', ownerId: 12, endpoint: 'pjsip/0003*210', callerId: 'X <0003*997>', context: 'org-0003' })
  cfg.directory.apps.push({ ...cfg.directory.apps[0], userId: 77 })
  const issues = issuesOf(() => parseConfig(cfg))
  t.same(issues, [
    '/directory/users/8/id: duplicate user id 12',
    '/directory/users/9/organizationId: unknown organization 9',
    '/directory/users/10/organizationId: required for role user',
    '/directory/users/11/organizationId: an admin belongs to no organization',
    '/directory/extensions/7/number: must start with 0003* (organization 3 of the owner)',
    '/directory/extensions/8/ownerId: unknown user 99',
    '/directory/extensions/8/endpoint: required for a phone-terminal',
    '/directory/extensions/9/endpoint: duplicate endpoint pjsip/0003*210',
    '/directory/apps/8/clientId: duplicate client id demo-1',
    '/directory/apps/8/userId: unknown user 77'
  ])
})

t.test('production refuses every demo secret', async (t) => {
  const issues = issuesOf(() => loadConfig({ NODE_ENV: 'production' }))
  t.ok(issues.includes('/ami/secret: demo secret refused with NODE_ENV=production'))
  t.ok(issues.includes('/security/tokenSecret: demo secret refused with NODE_ENV=production'))
  t.ok(issues.includes('/security/callIdSecret: demo secret refused with NODE_ENV=production'))
  t.equal(issues.filter((i) => i.startsWith('/directory/apps/')).length, 8)
})

t.test('production starts once no demo secret is left', async (t) => {
  const cfg = demo()
  cfg.directory.apps = cfg.directory.apps.map(({ demo: _, ...app }: Record<string, unknown>) => app)
  const config = loadConfig({
    NODE_ENV: 'production',
    UAPI_CONFIG: writeConfig(cfg),
    AMI_SECRET: 'real-ami-secret',
    TOKEN_SECRET: 'real-token-secret-0123456789',
    CALL_ID_SECRET: 'real-call-id-secret-0123456789'
  })
  t.equal(config.ami.secret, 'real-ami-secret')
})

t.test('outside production the demo secrets are accepted', async (t) => {
  t.doesNotThrow(() => loadConfig({ NODE_ENV: 'development' }))
})

t.test('http.cors, http.rateLimit and http.metricsToken are optional, validated and defaulted', async (t) => {
  const cfg = demo()
  cfg.http.cors = { origins: ['https://crm.example.com', '*'] }
  cfg.http.rateLimit = { tokenMax: 5 }
  const config = parseConfig(cfg)
  t.same(config.http.cors, { origins: ['https://crm.example.com', '*'] })
  t.same(config.http.rateLimit, { max: 600, timeWindowMs: 60_000, tokenMax: 5 }, 'missing limits take their defaults')

  const bad = demo()
  bad.http.cors = { origins: ['crm.example.com/path'] }
  bad.http.rateLimit = { max: 0 }
  bad.http.metricsToken = 'short'
  const issues = issuesOf(() => parseConfig(bad))
  t.ok(issues.some((i) => i.startsWith('/http/cors/origins/0:')), 'an origin is scheme://host[:port] or *')
  t.ok(issues.some((i) => i.startsWith('/http/rateLimit/max:')))
  t.ok(issues.some((i) => i.startsWith('/http/metricsToken:')))
})

t.test('http.tls: env TLS_CERT_FILE/TLS_KEY_FILE set it; unreadable, garbled or mismatched files are config errors naming them', { skip: hasOpenssl() ? false : 'openssl not installed' }, async (t) => {
  const a = selfSigned()
  const b = selfSigned()
  const config = loadConfig({ TLS_CERT_FILE: a.certFile, TLS_KEY_FILE: a.keyFile })
  t.same(config.http.tls, { certFile: a.certFile, keyFile: a.keyFile })
  t.ok(readTlsFiles(config)?.cert.equals(a.cert), 'a matching pair is read')
  t.equal(readTlsFiles(loadConfig({})), undefined, 'no tls: plain HTTP')
  t.throws(() => loadConfig({ TLS_CERT_FILE: a.certFile }), /\/http\/tls.*keyFile/, 'a certificate without a key is refused')
  const issues = (env: Record<string, string>): string => {
    try { readTlsFiles(loadConfig(env)) } catch (err) { if (err instanceof ConfigError) return err.issues.join('\n'); throw err }
    return 'no error'
  }
  t.match(issues({ TLS_CERT_FILE: join(a.dir, 'nope.pem'), TLS_KEY_FILE: join(a.dir, 'nope-key.pem') }), /certFile: cannot read .*nope\.pem: ENOENT[^]*keyFile: cannot read .*nope-key\.pem: ENOENT/, 'both missing files are named')
  t.match(issues({ TLS_CERT_FILE: a.certFile, TLS_KEY_FILE: a.dir }), /keyFile: cannot read .*EISDIR/, 'a directory is unreadable')
  const garbled = join(dir, 'garbled.pem')
  writeFileSync(garbled, 'not a certificate\n')
  t.match(issues({ TLS_CERT_FILE: garbled, TLS_KEY_FILE: a.keyFile }), /\/http\/tls: .*garbled\.pem .* not a usable PEM certificate/, 'a garbled certificate')
  t.match(issues({ TLS_CERT_FILE: a.certFile, TLS_KEY_FILE: b.keyFile }), /\/http\/tls: .*not a usable PEM certificate and matching private key/, 'a key of another certificate')
})
