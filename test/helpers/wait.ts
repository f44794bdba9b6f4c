// Waiting with deadlines, never with fixed sleeps: poll a condition until it holds or time runs out.

export interface EventuallyOptions {
  readonly timeoutMs?: number
  readonly intervalMs?: number
  /** Says what was awaited, for the failure message. */
  readonly what?: string
}

/**
 * Calls `probe` until it returns a value other than undefined (or stops throwing), and returns
 * that value. On timeout, fails with the last error or value seen.
 */
export async function eventually<T> (probe: () => Promise<T | undefined> | T | undefined, opts: EventuallyOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000)
  let last: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
      last = undefined
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? last.message : String(last ?? 'condition not met')
      throw new Error(`timed out waiting for ${opts.what ?? 'a condition'}: ${why}`)
    }
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 50))
  }
}
