// Waiting for the mirror to show what an action made Asterisk do (e.g. the music on hold starting,
// the call in the parking lot): checked now and on each named mirror notification, never polled.
import type { Mirror, MirrorEvents } from '../mirror.ts'

/** Resolves true once `shown()` holds, false if it still does not after `timeoutMs`. */
export function mirrorShows (mirror: Mirror, events: ReadonlyArray<keyof MirrorEvents>, shown: () => boolean, timeoutMs: number): Promise<boolean> {
  if (shown()) return Promise.resolve(true)
  return new Promise((resolve) => {
    const check = (): void => { if (shown()) done(true) }
    const timer = setTimeout(() => { done(false) }, timeoutMs)
    timer.unref()
    function done (result: boolean): void {
      clearTimeout(timer)
      for (const name of events) mirror.off(name, check)
      resolve(result)
    }
    for (const name of events) mirror.on(name, check)
  })
}
