import t from 'tap'
import { parseCallerId } from '../../src/calls/caller-id.ts'
import { asteriskCallerId, pickupOriginate } from '../../src/calls/recipes.ts'

t.test('UAPI caller ids parse into name and number', async (t) => {
  t.same(parseCallerId('John Doe <42420042>'), { name: 'John Doe', number: '42420042' })
  t.same(parseCallerId('John Doe <+3334444>'), { name: 'John Doe', number: '+3334444' })
  t.same(parseCallerId('Whisper To Me<42420042>'), { name: 'Whisper To Me', number: '42420042' })
  t.same(parseCallerId('<0003*024>'), { name: undefined, number: '0003*024' })
  t.same(parseCallerId('42420042'), { name: undefined, number: '42420042' })
  t.same(parseCallerId('Zoë Ünïcode <12>'), { name: 'Zoë Ünïcode', number: '12' })
})

t.test('anything that could escape a header or a SIP From is refused', async (t) => {
  for (const bad of ['', 'John', 'John <>', 'John <abc>', 'John <1> x', 'Jo"hn <1>', 'Jo\\hn <1>', 'A <1>\r\nAction: Hangup',
    'A\n <1>', 'A <1>\u0000', '\t42', 'A <1\r\n>', 'A <<1>>', 'x'.repeat(81) + ' <1>', '1'.repeat(33)]) {
    t.equal(parseCallerId(bad), undefined, JSON.stringify(bad))
  }
})

t.test('the PickUp recipe is the documented Originate', async (t) => {
  t.same(pickupOriginate({ endpoint: 'PJSIP/0003*024', targetUniqueid: '1795842829.11', callerId: asteriskCallerId('John Doe', '42420042'), timeoutMs: 20000, channelId: 'pk-1', callKey: '1795842829.10' }), {
    Channel: 'PJSIP/0003*024',
    Application: 'PickupChan',
    Data: '1795842829.11',
    CallerID: '"John Doe" <42420042>',
    Timeout: 20000,
    Async: 'true',
    ChannelId: 'pk-1',
    Variable: ['VN_OP=pickup', 'VN_CALL=1795842829.10']
  })
  t.equal(asteriskCallerId(undefined, '42420042'), '<42420042>')
})
