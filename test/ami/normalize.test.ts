// normalizeItem on the shapes asterisk-manager's parser produces (the fake-server tests run the real parser).
import t from 'tap'
import { normalizeItem } from '../../src/ami/normalize.ts'
import { toPackageAction } from '../../src/ami/serialize.ts'
import { AmiErrorCodes } from '../../src/ami/index.ts'

t.test('flat items are returned as is (hot path: no copy)', async (t) => {
  const item = { event: 'Newstate', channel: 'PJSIP/a-1', uniqueid: '1.1' }
  t.equal(normalizeItem(item), item)
})

t.test('maps, arrays and stray colons', async (t) => {
  t.same(normalizeItem({ event: 'VarSet', variable: { DIALSTATUS: '' }, value: 'ANSWER' }),
    { event: 'VarSet', variable: 'DIALSTATUS', value: 'ANSWER' }, 'VarSet keeps Variable: NAME')
  t.same(normalizeItem({ event: 'Status', variable: { A: '1', B: 'x=y' } }),
    { event: 'Status', 'variable.A': '1', 'variable.B': 'x=y' })
  t.same(normalizeItem({ event: 'X', chanvariable: { VN_OP: 'op1' }, destchanvariable: ['VN_OP=op2', 'VN_NONCE=n'] }),
    { event: 'X', 'chanvariable.VN_OP': 'op1', 'destchanvariable.VN_OP': 'op2', 'destchanvariable.VN_NONCE': 'n' })
  t.same(normalizeItem({ response: 'Success', output: ['a', 'b', 'c'], message: ['first', 'second'] }),
    { response: 'Success', output: 'a\nb\nc', message: 'first' })
  t.same(normalizeItem({ event: 'E', 'empty:': '', 'k:v': '' }), { event: 'E', empty: '', k: 'v' })
})

t.test('serializer shape: lower-case keys, Variable map, reserved names refused', async (t) => {
  t.same(toPackageAction('Originate', 'id-1', { Channel: 'Local/1@x', Variable: ['A=1', 'B=2'], Async: true, Timeout: 5, Skip: undefined }),
    { action: 'Originate', actionid: 'id-1', channel: 'Local/1@x', variable: { A: '1', B: '2' }, async: 'true', timeout: '5' })
  t.throws(() => toPackageAction('Ping', 'id', { actionid: 'x' }), { code: AmiErrorCodes.BAD_HEADER })
  t.throws(() => toPackageAction('Ping', 'id', { Action: 'Hangup' }), { code: AmiErrorCodes.BAD_HEADER })
  t.throws(() => toPackageAction('Ping', 'id', { Variable: ['=1'] }), { code: AmiErrorCodes.BAD_HEADER })
})
