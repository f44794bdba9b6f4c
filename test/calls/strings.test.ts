import t from 'tap'
import { detach, Interner } from '../../src/calls/strings.ts'

t.test('detach copies any string faithfully', async (t) => {
  for (const s of ['', 'a', '123456789012', '1790000000.123', 'PJSIP/0003*300-0000000b', 'Zoë Ünïcode 😀 caller name', 'x'.repeat(5000)]) {
    t.equal(detach(s), s)
  }
  const chunk = 'Uniqueid: 1790000000.12345\r\nChannel: PJSIP/0003*300-0000000b\r\n'.repeat(100)
  t.equal(detach(chunk.slice(10, 26)), '1790000000.12345')
})

t.test('the interner shares one copy of equal values, and stays bounded', async (t) => {
  const strings = new Interner(4)
  const a = strings.intern('Caller 0003*300 '.trim())
  t.equal(a, 'Caller 0003*300')
  t.equal(strings.intern('Caller 0003*300'), a)
  t.equal(strings.intern(''), '')
  for (let i = 0; i < 10; i++) t.equal(strings.intern(`value number ${i}`), `value number ${i}`)
  t.ok(strings.size <= 4)
})
