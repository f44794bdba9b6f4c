// UAPI-Caller-Id: "John Doe <+3334444>" or a bare number (reference 1.4, with the spaces every
// example has). Anything that could break out of an AMI header or a SIP From is refused here.

export interface CallerId {
  readonly name: string | undefined
  readonly number: string
}

// Names: printable text without <, >, ", \ or control characters; numbers: digits, *, #, leading +.
// eslint-disable-next-line no-control-regex -- names must not contain control characters
const NAMED = /^([^<>"\\\u0000-\u001f\u007f-\u009f]{0,80}?)\s*<(\+?[0-9*#]{1,32})>$/u
const BARE = /^\+?[0-9*#]{1,32}$/

// eslint-disable-next-line no-control-regex -- this regex exists to find control characters
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u

export function parseCallerId (value: string): CallerId | undefined {
  // Control characters are refused anywhere, even where trimming would remove them.
  if (CONTROL.test(value)) return undefined
  const text = value.trim()
  const bare = BARE.exec(text)
  if (bare !== null) return { name: undefined, number: text }
  const named = NAMED.exec(text)
  if (named === null) return undefined
  const name = (named[1] ?? '').trim()
  return { name: name === '' ? undefined : name, number: named[2] as string }
}
