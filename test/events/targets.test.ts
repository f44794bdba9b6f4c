// The SSRF guard (src/events/targets.ts): which addresses a callback URL may reach.
import t from 'tap'
import { TargetGuard } from '../../src/events/index.ts'

t.test('non-public addresses are refused, public ones pass', async (t) => {
  const guard = new TargetGuard()
  for (const a of ['10.0.0.1', '172.16.5.4', '192.168.1.1', '127.0.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255',
    '::', '::1', 'fc00::1', 'fd12::1', 'fe80::1', 'ff02::1', '::ffff:10.0.0.1', '::ffff:7f00:1', '64:ff9b::a00:1', '2002:a00:1::1']) {
    t.ok(guard.forbidden(a), `${a} refused`)
  }
  for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8']) t.notOk(guard.forbidden(a), `${a} allowed`)
})

t.test('allowedTargets: CIDRs, addresses and host names', async (t) => {
  const resolve = async (host: string) => host === 'hooks.internal' ? [{ address: '10.1.2.3', family: 4 }] : host === 'mixed.example' ? [{ address: '8.8.8.8', family: 4 }, { address: '10.9.9.9', family: 4 }] : []
  const guard = new TargetGuard(['10.1.0.0/16', '::1', 'hooks.internal'], resolve)
  t.notOk(guard.forbidden('10.1.200.1'))
  t.ok(guard.forbidden('10.2.0.1'))
  t.notOk(guard.forbidden('::1'))
  t.equal((await guard.check('https://hooks.internal/x')).ok, true)
  t.equal((await guard.check('http://[::1]:8080/x')).ok, true)
  t.match(await guard.check('http://mixed.example/x'), { ok: false, reason: 'forbidden' }, 'one bad address among good ones is enough')
  t.match(await guard.check('http://nowhere.example/x'), { ok: false, reason: 'unresolvable' })
  t.match(await guard.check('gopher://x/'), { ok: false, reason: 'url' })
  t.match(await guard.check('http://' + 'a'.repeat(2100)), { ok: false, reason: 'url' })
})

t.test('lookup refuses the connection itself, for one address or all', async (t) => {
  const guard = new TargetGuard([], async () => [{ address: '10.0.0.1', family: 4 }])
  await new Promise<void>((resolve) => {
    guard.lookup('evil.example', { all: true }, (err) => {
      t.equal((err as NodeJS.ErrnoException | null)?.code, 'ETARGETFORBIDDEN')
      resolve()
    })
  })
  const ok = new TargetGuard([], async () => [{ address: '8.8.8.8', family: 4 }])
  await new Promise<void>((resolve) => {
    ok.lookup('good.example', {}, (err, address, family) => {
      t.equal(err, null)
      t.equal(address, '8.8.8.8')
      t.equal(family, 4)
      resolve()
    })
  })
})
