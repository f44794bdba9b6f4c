// neostandard, the linter of Fastify, pino and their demo (style reference, practice 15), with
// TypeScript support; plus the architecture rules: only src/ami/ may import asterisk-manager, and
// src/uapi/ reaches src/calls/ through its public face (index.ts) only.
import neostandard from 'neostandard'

const ONLY_AMI = { name: 'asterisk-manager', message: 'Only src/ami/ talks to asterisk-manager.' }

export default [
  ...neostandard({ ts: true, ignores: ['node_modules/**', '.tap/**', 'coverage/**', 'dist/**'] }),
  // `void promise` as a statement marks a deliberately detached promise (a resync, a reply send).
  { rules: { 'no-void': ['error', { allowAsStatement: true }] } },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/ami/**', 'src/uapi/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [ONLY_AMI] }]
    }
  },
  // The HTTP layer reaches the calls module through its public face only (src/calls/index.ts).
  {
    files: ['src/uapi/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [ONLY_AMI],
        patterns: [{ regex: '/calls/(?!index\\.ts$)', message: 'src/uapi imports src/calls only through src/calls/index.ts.' }]
      }]
    }
  }
]
