// The SIPp test bench against the bundled PBX (bash scripts/pbx.sh up): phones register, call
// each other by full and short numbers, across organizations and to the simulated public
// network, answer and hang up. Every phone and call is cleaned up by stopAllPhones().
import t from 'tap'
import { ensurePbx, listChannels, pbxCli } from '../helpers/pbx.ts'
import { Phone, contactsOf, stopAllPhones } from '../helpers/phones.ts'

t.before(ensurePbx)
t.afterEach(stopAllPhones)
t.teardown(stopAllPhones)

t.test('Extensions 0003*210 and 0003*300 register and the PBX lists their contacts', async (t) => {
  const reception = await Phone.register('0003*210')
  const sales = await Phone.register('0003*300')
  t.same(await contactsOf('0003*210'), [`sip:0003*210@127.0.0.1:${reception.port}`])
  t.same(await contactsOf('0003*300'), [`sip:0003*300@127.0.0.1:${sales.port}`])
  const cli = await pbxCli('pjsip show contacts')
  t.match(cli, `0003*210/sip:0003*210@127.0.0.1:${reception.port}`)
  t.match(cli, `0003*300/sip:0003*300@127.0.0.1:${sales.port}`)
})

t.test('A call from 0003*300 to 0003*210 rings the registered phone with the caller identity', async (t) => {
  const reception = await Phone.register('0003*210', { mode: 'ring' })
  const caller = await Phone.call('0003*300', '0003*210')
  const invite = await reception.waitFor('INVITE')
  t.match(invite.header('From'), /^"Sales 300" <sip:0003\*300@127\.0\.0\.1>/)
  await caller.waitFor('180')
  await reception.waitFor('180', { direction: 'sent' })
  t.equal(reception.sent('180').length, 1, 'the called phone sent 180 Ringing once')
  t.notOk(caller.answered(), 'nobody answered')

  // Hanging up the caller makes the PBX cancel the ringing leg.
  await caller.stop()
  await reception.waitFor('CANCEL')
  await reception.waitFor('487', { direction: 'sent' })
  t.pass('the ringing INVITE was terminated with 487')
})

t.test('Inside organization 3 the short number 210 reaches 0003*210', async (t) => {
  const reception = await Phone.register('0003*210')
  const caller = await Phone.call('0003*300', '210')
  const invite = await reception.waitFor('INVITE')
  t.match(invite.firstLine, /^INVITE sip:0003\*210@127\.0\.0\.1:\d+ SIP\/2\.0$/)
  await caller.waitFor('180')
})

t.test('A public number is answered by the simulated public network within a few seconds', async (t) => {
  for (const number of ['42420042', '+42420042']) {
    const started = Date.now()
    const caller = await Phone.call('0003*300', number, { talkMs: 300 })
    await caller.waitFor('180', { timeoutMs: 3_000 })
    await caller.waitFor('200', { timeoutMs: 5_000 })
    t.ok(Date.now() - started < 5_000, `${number} answered in ${Date.now() - started} ms`)
    t.equal(await caller.waitForExit({ timeoutMs: 5_000 }), 0, 'the caller hung up with BYE and got 200')
    t.equal(caller.sent('BYE').length, 1)
  }
})

t.test('A phone of organization 3 can call the full number 0004*100 of organization 4', async (t) => {
  const frontDesk = await Phone.register('0004*100')
  const caller = await Phone.call('0003*300', '0004*100')
  const invite = await frontDesk.waitFor('INVITE')
  t.match(invite.header('From'), /"Sales 300" <sip:0003\*300@/)
  await caller.waitFor('180')
})

t.test('Inside organization 4 the short number 100 reaches 0004*100', async (t) => {
  const a = await Phone.register('0004*100')
  // 0004*100 calls itself by its short number: the PBX rings the registered phone.
  const caller = await Phone.call('0004*100', '100')
  const invite = await a.waitFor('INVITE')
  t.match(invite.header('From'), /"Front Desk 100" <sip:0004\*100@/)
  await caller.waitFor('180')
})

t.test('An answering phone takes the call and receives the caller hang-up', async (t) => {
  const support = await Phone.register('0003*024', { mode: 'answer', answerAfterMs: 200 })
  const caller = await Phone.call('0003*300', '0003*024', { talkMs: 500 })
  await caller.waitFor('200')
  t.ok(support.answered(), 'the called phone answered')
  await support.waitFor('BYE', { timeoutMs: 5_000 })
  t.equal(await caller.waitForExit(), 0)
})

t.test('A phone that hangs up after talking sends BYE and the caller receives it', async (t) => {
  await Phone.register('0003*024', { mode: 'answer', hangupAfterMs: 300 })
  const caller = await Phone.call('0003*301', '0003*024')
  await caller.waitFor('200')
  await caller.waitFor('BYE', { timeoutMs: 5_000 })
  t.equal(await caller.waitForExit(), 0, 'the caller answered the BYE and finished')
})

t.test('Re-registering an extension replaces its previous contact', async (t) => {
  const first = await Phone.register('0003*301')
  const second = await Phone.register('0003*301')
  t.same(await contactsOf('0003*301'), [`sip:0003*301@127.0.0.1:${second.port}`])
  const caller = await Phone.call('0003*300', '0003*301')
  await second.waitFor('INVITE')
  await caller.waitFor('180')
  t.equal(first.received('INVITE').length, 0, 'the replaced phone was not called')
})

t.test('A wrong SIP password is rejected for REGISTER and INVITE', async (t) => {
  await t.rejects(Phone.register('0003*301', { password: 'wrong-secret', mode: 'none' }), /registration failed: final response 401/)
  const caller = await Phone.call('0003*300', '42420042', { password: 'wrong-secret' })
  await caller.waitFor('401', { nth: 2 })
  t.equal(await caller.waitForExit(), 0, 'the caller gave up after the second 401')
  t.notOk(caller.answered())
})

t.test('Stopping phones leaves no channel of theirs on the PBX', async (t) => {
  const support = await Phone.register('0003*024', { mode: 'answer' })
  const caller = await Phone.call('0003*300', '0003*024') // talks until stopped
  await caller.waitFor('200')
  await support.waitFor('ACK')
  const mine = (await listChannels()).filter((c) => /^PJSIP\/0003\*(300|024)-/.test(c.Channel ?? ''))
  t.equal(mine.length, 2, 'both legs are up')
  await stopAllPhones()
  const deadline = Date.now() + 5_000
  let left = mine
  while (Date.now() < deadline) {
    const now = new Set((await listChannels()).map((c) => c.Channel))
    left = mine.filter((c) => now.has(c.Channel))
    if (left.length === 0) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.same(left.map((c) => c.Channel), [], 'all legs hung up')
  t.notOk((await contactsOf('0003*024')).includes(`sip:0003*024@127.0.0.1:${support.port}`), 'the stopped phone unregistered')
})

t.test('An unanswered extension keeps ringing for at least 60 s', async (t) => {
  const reception = await Phone.register('0003*210', { mode: 'ring' })
  const caller = await Phone.call('0003*300', '0003*210')
  const invite = await reception.waitFor('INVITE')
  await caller.waitFor('180')
  const ringingLeg = async (): Promise<boolean> =>
    (await listChannels()).some((c) => /^PJSIP\/0003\*210-/.test(c.Channel ?? '') && c.ChannelStateDesc === 'Ringing')
  t.ok(await ringingLeg(), '210 is ringing')
  // Watch for 61 s that nothing ends the ringing: no CANCEL, no final response to the caller.
  const deadline = Date.parse(invite.time) + 61_000
  while (Date.now() < deadline && !reception.gotCancel()) await new Promise((resolve) => setTimeout(resolve, 1_000))
  t.notOk(reception.gotCancel(), 'no CANCEL reached 210')
  t.ok(await ringingLeg(), '210 still rings after 61 s')
  // (the 401 digest challenge to the first INVITE does not count)
  t.equal(caller.received((m) => m.status !== undefined && m.status >= 200 && m.status !== 401 && m.status !== 407).length, 0, 'the caller got no final answer')
})
