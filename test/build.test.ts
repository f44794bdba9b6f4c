// The production build (npm run build: tsc to dist/, then the one-file bundle dist/engine.js that
// `npm start` runs) runs on plain `node`, with no TypeScript loader in the process, and serves the
// README's example: the bundle, and tsc's per-module output it is made from. npm test builds before tap
// runs; this test builds again only when dist/ is missing, so it also works from `npm run test:unit`.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'
import { FakeAmi } from './helpers/fake-ami.ts'
import { recordLine } from './helpers/error-log.ts'
import { pgliteDir } from './helpers/db.ts'
import { EngineProcess, ROOT } from './helpers/engine-process.ts'

const run = promisify(execFile)

t.before(async () => {
  if (!existsSync(`${ROOT}dist/engine.js`)) await run(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, timeout: 180_000 })
})

for (const entry of ['dist/engine.js', 'dist/main.js']) {
  t.test(`node ${entry} serves the README example with no TypeScript loader in the process`, async (t) => {
    const ami = await FakeAmi.start({ username: 'uapi', secret: 'uapi-dev-secret' })
    t.teardown(() => ami.close())
    // A clean environment: no NODE_OPTIONS (the test runner's own TypeScript loader must not leak in).
    const engine = await EngineProcess.start({ args: [entry], amiPort: ami.port, logLevel: 'warn', env: { DATABASE_DIR: await pgliteDir() }, onLine: recordLine })
    t.teardown(() => engine.kill())
    const { child, base } = engine
    await t.resolves(engine.waitReady(15_000), 'ready (AMI logged in, mirror live)')

    const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '')
    t.same(cmdline.slice(1), [entry], `plain node: ${cmdline.join(' ')}`)
    // The test runner tracks child processes through NODE_OPTIONS (@tapjs/processinfo), whatever env
    // is passed: what must not be there is a transpiler (tsx, ts-node, tap's TypeScript loader).
    const nodeOptions = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0').filter((e) => e.startsWith('NODE_OPTIONS=')).join(' ')
    t.notOk(/tsx|ts-node|typescript|esbuild|loader/.test(nodeOptions), `no TypeScript loader in NODE_OPTIONS (${nodeOptions || 'none'})`)
    t.notOk(cmdline.some((a) => /tsx|ts-node|\.ts$/.test(a)), 'no transpiler and no .ts file on the command line')

    // The README's curl example: a token by form, then List with it.
    const tok = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&client_id=demo-12&client_secret=demo-secret-12' })
    t.equal(tok.status, 200)
    const { access_token: token } = await tok.json() as { access_token: string }
    const list = await fetch(`${base}/uapi/phoneCalls/@me/0003*210`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(list.status, 200)
    t.match(await list.json(), { totalResults: 0, entry: [] }, 'List answers the collection envelope')
    // Files the build serves from disk: the panel's (copied to dist/), Swagger UI's (its package's).
    const panel = await fetch(`${base}/panel`)
    t.equal(panel.status, 200, 'the operator panel is served')
    t.match(await panel.text(), /<html/i)
    const docs = await fetch(`${base}/docs/static/index.html`)
    t.equal(docs.status, 200, 'Swagger UI is served')
    t.match(await docs.text(), /swagger/i)
    t.equal((await engine.stop()).code, 0, 'exits 0 on SIGTERM')
  })
}
