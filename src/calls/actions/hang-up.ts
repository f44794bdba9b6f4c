// Delete PhoneCalls (reference 3.6, E.4.3): hang up whole calls, or one party's leg of them.
// Resolve (the calls the selection sees) → preconditions (phoneNumber is a party) → one AMI Hangup
// per leg, by uniqueid. The caller snapshots each call before anything is sent.
import type { Call, Leg } from '../mirror.ts'
import type { CallSelection } from '../service.ts'
import { hangupLeg } from '../recipes.ts'
import { CallActionError } from './errors.ts'
import { legsOfNumber, partyLegs } from './parties.ts'
import { resolveCall, type ActionDeps } from './context.ts'

export interface HangUpInput {
  /** One call by id; undefined: every call of the selection. */
  readonly phoneCallId: string | undefined
  readonly selection: CallSelection
  /** Only this party's leg(s) (canonical number: full extension or public number). */
  readonly phoneNumber: string | undefined
}

export interface HangUpTarget {
  readonly call: Call
  readonly legs: readonly Leg[]
}

/**
 * What a Delete would hang up. With an id: that call if the selection sees it, else nothing (an
 * ended call is not an error, clients poll for it), and only if the selection has authority over a
 * current party of it. With phoneNumber: only that party's legs; a
 * number that is no party of the addressed call is pc_phonenumber_invalid, and calls without it
 * are skipped when no id is given.
 */
export function hangUpTargets (deps: Pick<ActionDeps, 'calls'>, input: HangUpInput): HangUpTarget[] {
  // An ended (invisible) call is nothing to do; a call the scope only sees because one of its
  // extensions was a party once is refused (resolveCall). Without an id such calls are skipped.
  const calls = input.phoneCallId !== undefined
    ? (deps.calls.find(input.phoneCallId, input.selection) !== undefined ? [resolveCall(deps, input.phoneCallId, input.selection)] : [])
    : deps.calls.select(input.selection).filter((call) => deps.calls.mayActOn(call, input.selection))
  const out: HangUpTarget[] = []
  for (const call of calls) {
    if (input.phoneNumber === undefined) {
      // The whole call: every leg a phone or trunk holds. Local/ halves go with them; only a call
      // made of Local legs alone needs them hung up directly.
      const legs = partyLegs(call)
      out.push({ call, legs: legs.length > 0 ? legs : [...call.legs.values()] })
      continue
    }
    const legs = legsOfNumber(call, input.phoneNumber)
    if (legs.length > 0) out.push({ call, legs })
    else if (input.phoneCallId !== undefined) throw new CallActionError('pc_phonenumber_invalid', 'phoneNumber is not a party of this call')
  }
  return out
}

/** Sends one Hangup per leg. A leg that ended meanwhile ("No such channel") is not an error. */
export async function hangUp (deps: ActionDeps, targets: readonly HangUpTarget[]): Promise<void> {
  const sends: Array<Promise<unknown>> = []
  for (const target of targets) {
    for (const leg of target.legs) {
      sends.push(deps.ami.action('Hangup', hangupLeg(leg.uniqueid)).catch((err: unknown) => {
        if (deps.mirror.legs.has(leg.uniqueid) && (err as { amiMessage?: string }).amiMessage !== 'No such channel') throw err
      }))
    }
  }
  const results = await Promise.allSettled(sends)
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  deps.log.info({ op: 'hangup', calls: targets.map((t) => t.call.id), legs: targets.reduce((n, t) => n + t.legs.length, 0) }, 'hung up')
}
