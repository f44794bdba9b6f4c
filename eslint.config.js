// neostandard, the linter of Fastify, pino and their demo (style reference, practice 15), with
// TypeScript support; plus the architecture rule that only src/ami/ may import asterisk-manager.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['node_modules/**', '.tap/**', 'coverage/**'] }),
  // `void promise` as a statement marks a deliberately detached promise (a resync, a reply send).
  { rules: { 'no-void': ['error', { allowAsStatement: true }] } },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/ami/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'asterisk-manager', message: 'Only src/ami/ talks to asterisk-manager.' }] }]
    }
  }
]
