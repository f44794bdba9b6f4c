// postgres/entrypoint.sh, the compose stack's database start, run here with this machine's own
// PostgreSQL binaries (Debian's, as in postgres/Dockerfile) as the postgres user: the first start of
// an empty data directory makes the uapi role and database with the given password (a quote in it
// included), TCP on 127.0.0.1 takes that password and refuses another, a second start on the same
// directory keeps the data, and SIGINT (the image's STOPSIGNAL) stops it cleanly. The image itself
// is proven by npm run test:docker.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import pg from 'pg'
import { ROOT, freePort } from '../helpers/engine-process.ts'

const BIN = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`).find((d) => existsSync(`${d}/initdb`)) : undefined
const asPostgres = process.getuid?.() === 0 && spawnSync('id', ['postgres']).status === 0 && spawnSync('setpriv', ['--version']).status === 0
const skip = BIN === undefined || !existsSync('/var/run/postgresql') ? 'no PostgreSQL server here' : !asPostgres ? 'needs root (to run as the postgres user)' : false

const PASSWORD = "it's a secret"

t.test('first start initialises role and database uapi; a restart keeps them; SIGINT stops it', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'uapi-pg-entrypoint-'))
  chmodSync(dir, 0o755)
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // A copy the postgres user can read, as the image has it.
  const script = join(dir, 'uapi-postgres')
  cpSync(join(ROOT, 'postgres/entrypoint.sh'), script)
  spawnSync('chown', ['-R', 'postgres', dir])
  const port = await freePort()
  const start = (): { proc: ChildProcess, out: () => string } => {
    // The script as the image runs it. Its socket goes to /var/run/postgresql like this machine's own
    // server's, named after the port, so the two do not meet.
    const env = `PATH=${BIN}:/usr/bin:/bin PGDATA=${dir}/data PGPORT=${port} POSTGRES_PASSWORD='${PASSWORD.replace(/'/g, "'\\''")}'`
    const cmd = `${env} exec sh ${script}`
    // setpriv execs (su would fork and stand between the signal and PostgreSQL).
    const proc = spawn('setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '/bin/sh', '-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    proc.stdout?.on('data', (d: Buffer) => { text += d.toString() })
    proc.stderr?.on('data', (d: Buffer) => { text += d.toString() })
    return { proc, out: () => text }
  }
  const connect = async (password: string): Promise<pg.Client> => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'uapi', database: 'uapi', password, connectionTimeoutMillis: 2000 })
    await client.connect()
    return client
  }
  const whenUp = async (out: () => string): Promise<void> => {
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      if (/ready to accept connections/.test(out())) return
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`PostgreSQL did not start: ${out()}`)
  }
  const stop = async (proc: ChildProcess): Promise<number | null> => {
    // The shell exec'd postgres: the signal reaches it (fast shutdown).
    proc.kill('SIGINT')
    return await new Promise((resolve) => proc.once('exit', (code) => resolve(code)))
  }

  const first = start()
  t.teardown(() => { if (first.proc.exitCode === null) first.proc.kill('SIGKILL') })
  await whenUp(first.out)
  t.match(first.out(), /uapi-postgres: initialised .*\(role and database uapi\)/, 'the first start initialised the data directory')
  t.match(first.out(), new RegExp(`listening on IPv4 address "127.0.0.1", port ${port}`), 'listens on 127.0.0.1 only, on PGPORT')
  const client = await connect(PASSWORD)
  const who = await client.query('SELECT current_user AS u, current_database() AS d')
  t.same(who.rows[0], { u: 'uapi', d: 'uapi' }, 'role uapi in database uapi, with the password')
  await client.query('CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)')
  await client.end()
  await t.rejects(connect('not the password'), /password authentication failed/, 'another password is refused')
  t.equal(await stop(first.proc), 0, 'SIGINT: a clean stop')

  const second = start()
  t.teardown(() => { if (second.proc.exitCode === null) second.proc.kill('SIGKILL') })
  await whenUp(second.out)
  t.notMatch(second.out(), /initialised/, 'a restart does not initialise again')
  const again = await connect(PASSWORD)
  t.same((await again.query('SELECT n FROM kept')).rows, [{ n: 42 }], 'the data is still there')
  await again.end()
  t.equal(await stop(second.proc), 0, 'SIGINT again')
})
